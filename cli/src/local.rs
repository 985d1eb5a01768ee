//! `millwright local up`: the local world in one process.
//!
//! Starts `moto_server` (the AWS emulator, a child process) and the sandbox doubles (in-process),
//! creates the resources the SAM template creates under the same names, seeds the demo connection
//! (profile, secrets, sandbox data), serves the functions, writes the environment file, and runs
//! until SIGINT or SIGTERM, then stops what it started.
//!
//! The functions run with Lambda's wiring: the webhook receiver is an HTTP server on 127.0.0.1 whose
//! every request becomes the same `lambda_http::Request` API Gateway would hand the function, and
//! goes through the same `webhook_receiver::handle_http` the Lambda `main` calls.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::extract::{Path as RoutePath, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::{ConnectionProfile, System};
use millwright_aws::provision::{ProvisionOptions, ResourceNames};
use runtime::config::{self, Config};
use secrecy::SecretString;
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
    let provisioned = millwright_aws::provision::provision(
        &sdk,
        &names,
        &ProvisionOptions { alert_email: Some(options.alert_email.clone()), ..ProvisionOptions::default() },
    )
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
    seed_demo_connection(&deps).await.context("seeding the demo connection")?;
    let (receiver_url, receiver) = serve_webhook_receiver(deps.clone(), options.webhook_port).await?;

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
    println!("  demo connection     {}", sandbox::demo::CONNECTION_ID);
    println!("  environment         {}", options.env_file.display());

    wait_for_shutdown_signal().await?;
    receiver.abort();
    sandbox.shutdown().await;
    std::fs::remove_file(&options.env_file).ok();
    Ok(ExitCode::SUCCESS)
}

/// The demo connection: its profile in the state table and its secrets in Secrets Manager, with the
/// credentials the sandbox's demo seed accepts. Base URLs come from the deployment defaults, which
/// the local world points at the sandbox.
async fn seed_demo_connection(deps: &runtime::Deps) -> anyhow::Result<()> {
    let profile: ConnectionProfile =
        serde_json::from_value(sandbox::demo::connection_profile(sandbox::demo::CONNECTION_ID, None))?;
    let mut secrets = Vec::new();
    for (system, document) in sandbox::demo::connection_secrets() {
        let system: System = serde_json::from_value(serde_json::json!(system))?;
        secrets.push((system, SecretString::from(document.to_string())));
    }
    deps.install_connection(&profile, &secrets).await?;
    Ok(())
}

/// The largest request the local receiver reads. Lambda refuses request payloads over 6 MB before
/// the function runs, so a larger one never reaches the handler in production either.
const LAMBDA_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// Serves the webhook receiver on 127.0.0.1 at the route API Gateway has in the template; returns
/// its base URL and the server task.
async fn serve_webhook_receiver(
    deps: runtime::Deps,
    port: u16,
) -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .with_context(|| format!("binding the webhook receiver to 127.0.0.1:{port}"))?;
    let address = listener.local_addr()?;
    let route = format!("{}{{connection_id}}", webhook_receiver::edge::ROUTE_PREFIX);
    let app = axum::Router::new().route(&route, axum::routing::post(receive_webhook)).with_state(Arc::new(deps));
    let server = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(error.message = %error, "the webhook receiver stopped");
        }
    });
    Ok((format!("http://{address}"), server))
}

/// One request, converted into what API Gateway would hand the Lambda function and back.
async fn receive_webhook(
    State(deps): State<Arc<runtime::Deps>>,
    RoutePath(connection_id): RoutePath<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, LAMBDA_PAYLOAD_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request payload too large or unreadable").into_response();
    };
    let request = webhook_receiver::request_from_parts(parts, body.to_vec(), &connection_id);
    let response = webhook_receiver::handle_http(&deps, request).await;
    response.map(|body| axum::body::Body::from(body.to_vec()))
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
