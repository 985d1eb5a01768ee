//! `millwright local up`: the local world in one process.
//!
//! Starts `moto_server` (the AWS emulator, a child process) and the sandbox doubles (in-process),
//! creates the resources the SAM template creates under the same names, seeds the demo connection
//! (profile, secrets, sandbox data), runs the functions, registers the demo store's order hooks,
//! writes the environment file, and runs until SIGINT or SIGTERM, then stops what it started.
//!
//! The functions run in the `local-runtime` crate with Lambda's wiring: the webhook receiver behind
//! an HTTP port on 127.0.0.1, and the order worker on an SQS poller with partial batch failures.
//! The order queue gets a short visibility timeout here (`--visibility-timeout`, 5 s by default;
//! the template keeps 180 s) so that a failed order is retried, and ends in the dead-letter queue,
//! within seconds instead of minutes, and the order sweep runs every 10 s (`--sweep-every`; the
//! template's schedule is every 5 minutes) so a new mapping releases held orders at once.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use domain::ConnectionProfile;
use local_runtime::{LocalRuntime, RuntimeOptions};
use millwright_aws::provision::{ProvisionOptions, ResourceNames};
use runtime::config::{self, Config};
use tokio::process::{Child, Command};

/// The region the local world pretends to be in; moto accepts any.
const LOCAL_REGION: &str = "us-east-1";

pub struct UpOptions {
    pub stack: String,
    pub env_file: PathBuf,
    pub moto_port: u16,
    /// The webhook receiver's port; 0 picks a free one.
    pub webhook_port: u16,
    pub sandbox: sandbox::SandboxConfig,
    pub alert_email: String,
    /// The order queue's visibility timeout: how soon a failed order is delivered again.
    pub visibility_timeout: Duration,
    /// How often the order sweep runs; `None` runs none.
    pub sweep_every: Option<Duration>,
    /// How often the webhook health check runs; `None` runs none.
    pub webhook_health_every: Option<Duration>,
    /// How often the stock sync runs; `None` runs none.
    pub inventory_sync_every: Option<Duration>,
    /// The scheduled functions' connections; every connection when empty.
    pub schedule_connections: Vec<domain::ConnectionId>,
}

pub async fn up(options: UpOptions) -> anyhow::Result<ExitCode> {
    let moto_port = if options.moto_port == 0 { free_port()? } else { options.moto_port };
    let mut moto = start_moto(moto_port).await?;
    let result = run_world(&options, moto_port, moto.id()).await;
    moto.kill().await.ok();
    result
}

async fn run_world(options: &UpOptions, moto_port: u16, moto_pid: Option<u32>) -> anyhow::Result<ExitCode> {
    let aws_endpoint = format!("http://127.0.0.1:{moto_port}");
    let sdk = millwright_aws::config::sdk_config_for_endpoint(&aws_endpoint, LOCAL_REGION).await;

    let sandbox = sandbox::Sandbox::start(options.sandbox.clone()).await.context("starting the sandbox")?;
    let names = ResourceNames::for_stack(&options.stack);
    let visibility_timeout_seconds = i32::try_from(options.visibility_timeout.as_secs())
        .context("the visibility timeout is too long for SQS (at most 12 hours)")?;
    let provision_options = ProvisionOptions {
        alert_email: Some(options.alert_email.clone()),
        visibility_timeout_seconds,
        ..ProvisionOptions::default()
    };
    let provisioned = millwright_aws::provision::provision(&sdk, &names, &provision_options)
        .await
        .context("creating the template's resources in moto")?;

    let mut env: Vec<(&'static str, String)> = vec![
        (config::AUDIT_TABLE_NAME, provisioned.audit_table.clone()),
        (config::STATE_TABLE_NAME, provisioned.state_table.clone()),
        (config::ORDER_QUEUE_URL, provisioned.queue_url.clone()),
        (config::ALERT_TOPIC_ARN, provisioned.topic_arn.clone()),
        (config::AWS_ENDPOINT_URL, aws_endpoint.clone()),
        (config::BIGCOMMERCE_API_BASE_URL, sandbox.bigcommerce_url.clone()),
        (config::PLEX_CONNECT_BASE_URL, sandbox.plex_url.clone()),
        (config::PLEX_DATASOURCE_BASE_URL, sandbox.plex_url.clone()),
        (config::MONDAY_API_URL, format!("{}/v2", sandbox.monday_url)),
    ];
    let config = Config::from_lookup(|name| env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()))?;
    let deps = runtime::Deps::from_sdk_config(&config, &sdk);
    // Base URLs from the deployment defaults, which the local world points at the sandbox.
    let profile = local_runtime::install_demo_connection(&deps, sandbox::demo::CONNECTION_ID, None, |_| {})
        .await
        .context("seeding the demo connection")?;
    // Each scheduled function on its timer and its own job queue, with the template's timeout.
    let schedule = |every: Option<Duration>, job: &str, timeout: Duration| -> anyhow::Result<_> {
        let Some(every) = every else { return Ok(None) };
        let queue = provisioned.job_queue_url(job).with_context(|| format!("no job queue for {job}"))?;
        Ok(Some(local_runtime::Schedule::new(every, queue, timeout).only(options.schedule_connections.clone())))
    };
    let sweep = schedule(options.sweep_every, order_sweep::JOB, order_sweep::FUNCTION_TIMEOUT)?;
    let webhook_health = schedule(options.webhook_health_every, webhook_health::JOB, webhook_health::FUNCTION_TIMEOUT)?;
    let inventory_sync = schedule(options.inventory_sync_every, inventory_sync::JOB, inventory_sync::FUNCTION_TIMEOUT)?;
    let functions = LocalRuntime::start(
        deps.clone(),
        &sdk,
        RuntimeOptions {
            receiver_port: options.webhook_port,
            sweep: sweep.clone(),
            webhook_health: webhook_health.clone(),
            inventory_sync: inventory_sync.clone(),
            // The worker knows the last receive from the queue's own redrive policy.
            ..RuntimeOptions::for_visibility_timeout(options.visibility_timeout)
                .with_max_receive_count(provision_options.max_receive_count)
        },
    )
    .await?;
    let receiver_url = functions.receiver_url.clone();
    register_order_hooks(&deps, &profile, &receiver_url).await?;

    // Everything a command needs to reach this world: the configuration plus the emulator's
    // region and dummy credentials, and the sandbox's control planes for tests and the demo.
    env = config.to_env();
    env.extend([
        ("AWS_REGION", LOCAL_REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("SANDBOX_BIGCOMMERCE_URL", sandbox.bigcommerce_url.clone()),
        ("SANDBOX_PLEX_URL", sandbox.plex_url.clone()),
        ("SANDBOX_MONDAY_URL", sandbox.monday_url.clone()),
        ("ORDER_DLQ_URL", provisioned.dlq_url.clone()),
        // Each scheduled function's own JOB_QUEUE_URL, for invoking it by hand (events/README.md).
        ("ORDER_SWEEP_JOB_QUEUE_URL", provisioned.job_queue_url(order_sweep::JOB).unwrap_or_default().to_owned()),
        ("WEBHOOK_HEALTH_JOB_QUEUE_URL", provisioned.job_queue_url(webhook_health::JOB).unwrap_or_default().to_owned()),
        ("INVENTORY_SYNC_JOB_QUEUE_URL", provisioned.job_queue_url(inventory_sync::JOB).unwrap_or_default().to_owned()),
        // Hooks are registered at `{WEBHOOK_RECEIVER_URL}/webhooks/bigcommerce/{connection}`.
        ("WEBHOOK_RECEIVER_URL", receiver_url.clone()),
        ("MILLWRIGHT_STACK", options.stack.clone()),
    ]);
    if let Some(pid) = moto_pid {
        env.push(("MOTO_PID", pid.to_string()));
    }
    write_env_file(&options.env_file, &env)?;

    println!("local world up (stack {})", options.stack);
    println!("  aws (moto)          {aws_endpoint}");
    println!("  bigcommerce double  {}", sandbox.bigcommerce_url);
    println!("  plex double         {}", sandbox.plex_url);
    println!("  monday double       {}", sandbox.monday_url);
    println!("  webhook receiver    {receiver_url}{}{{connection}}", webhook_receiver::edge::ROUTE_PREFIX);
    println!(
        "  order worker        polling {} (visibility timeout {} s)",
        provisioned.queue_url,
        options.visibility_timeout.as_secs()
    );
    for (name, schedule) in
        [("order sweep", &sweep), ("webhook health", &webhook_health), ("stock sync", &inventory_sync)]
    {
        match schedule {
            Some(schedule) => println!(
                "  {name:<19} every {} s, its jobs on {} ({} at once)",
                schedule.every.as_secs(),
                schedule.job_queue_url,
                schedule.jobs.concurrency
            ),
            None => println!("  {name:<19} off"),
        }
    }
    println!("  demo connection     {}", sandbox::demo::CONNECTION_ID);
    println!("  environment         {}", options.env_file.display());

    wait_for_shutdown_signal().await?;
    let report = functions.shutdown().await;
    println!(
        "local world stopped: {} order batches, {} messages handled, {} sent back to the queue; \
         {} order sweeps, {} webhook health checks",
        report.orders.batches,
        report.orders.handled,
        report.orders.failed,
        report.sweeps.runs,
        report.health_checks.runs
    );
    sandbox.shutdown().await;
    std::fs::remove_file(&options.env_file).ok();
    Ok(ExitCode::SUCCESS)
}

/// Subscribes the demo store's order events to the local receiver through the production
/// BigCommerce client, as an operator registers a real store's hooks: destination
/// `{receiver}/webhooks/bigcommerce/{connection}`, carrying the shared secret in the header the
/// connection's profile checks.
/// Registers the demo store's order hooks at the receiver: one run of the webhook health check,
/// the code that keeps them registered in a deployment.
async fn register_order_hooks(
    deps: &runtime::Deps,
    profile: &ConnectionProfile,
    receiver_url: &str,
) -> anyhow::Result<()> {
    let settings = webhook_health::Settings { receiver_url: receiver_url.to_owned(), ..Default::default() };
    let check = webhook_health::HealthCheck::new(webhook_health::Ports::from_deps(deps), settings);
    let report = check.check(profile, true, chrono::Utc::now()).await;
    if !report.is_healthy() {
        bail!("registering the demo store's order hooks: {}", report.problems.join("; "));
    }
    Ok(())
}

/// Finds `moto_server`: `$MOTO_SERVER`, then the repository's virtualenv, then `PATH`.
fn moto_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = Path::new(".venv").join("bin").join("moto_server");
    if venv.exists() { venv } else { PathBuf::from("moto_server") }
}

async fn start_moto(port: u16) -> anyhow::Result<Child> {
    let binary = moto_binary();
    let mut child = Command::new(&binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {} (run `make setup` to install it)", binary.display()))?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(address).await.is_ok() {
            return Ok(child);
        }
        if let Some(status) = child.try_wait()? {
            bail!("moto_server exited before listening ({status})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().await.ok();
    bail!("moto_server did not listen on {address} within 10 s")
}

/// Asks the OS for a free loopback port. The port is released before moto binds it; on a busy
/// machine another process could take it in between, which shows as a clear start-up error.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Writes `export NAME='value'` lines atomically, so a reader never sources half a file.
fn write_env_file(path: &Path, vars: &[(&str, String)]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let body: String =
        vars.iter().map(|(name, value)| format!("{name}='{}'\n", value.replace('\'', "'\\''"))).collect();
    let partial = path.with_extension("partial");
    std::fs::write(&partial, body).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

async fn wait_for_shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
