//! The scheduled-job runner's fan-out, measured on the webhook health check: one connection, then
//! many, each with a healthy hook set, in one local world. Each run is what a deployment does: the
//! scheduled invocation (`jobs::Runner::handle_scheduled`) queues one job per connection on the
//! function's job queue in moto, and the local runtime's `JobPoller` (the job queue's event source,
//! `local_runtime::DEFAULT_JOB_CONCURRENCY` invocations at once, as the template's default) runs
//! each job in an invocation of its own. A run's wall time is from the scheduled invocation until
//! the job queue is empty (every job done, audited and deleted); its API calls are counted in the
//! BigCommerce double's request log.
//!
//! Every connection is a store of its own in the BigCommerce double (`bench-store-{n}`, with the
//! demo's API account, so its own rate budget and its own hooks, as in a deployment). Each hook
//! listing is held for [`BIGCOMMERCE_LATENCY`] (a fault rule), a real store's round trip, where the
//! double answers in microseconds: what a connection's job waits for is its store, and that wait
//! is what runs side by side.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use domain::hooks::{ORDER_SCOPES, destination};
use domain::ports::WebhookRegistry;
use domain::{ConnectionId, ConnectionProfile, Outcome, RecordKey, RecordKind};
use local_runtime::{JobPoller, PollerOptions, Shutdown};
use millwright_aws::SqsEventSource;
use serde_json::json;

use crate::world::{Api, Doubles, Env};

/// How long the BigCommerce double holds each hook listing: a real store's round trip.
pub const BIGCOMMERCE_LATENCY: Duration = Duration::from_millis(150);

/// Where the hooks point; nothing is delivered in this scenario.
const RECEIVER_URL: &str = "https://millwright-bench.example.test";

/// One run of the health check over some connections.
#[derive(Debug, Clone, Copy)]
pub struct RunFigures {
    pub connections: usize,
    pub wall: Duration,
    pub bigcommerce_calls: usize,
}

/// One connection's run and `many` connections' run.
#[derive(Debug, Clone, Copy)]
pub struct FanOutFigures {
    pub one: RunFigures,
    pub many: RunFigures,
    /// Jobs at once (the job queue's event source's maximum concurrency).
    pub concurrency: usize,
}

pub async fn webhook_health(env: &Env, many: usize) -> anyhow::Result<FanOutFigures> {
    let doubles = Doubles::start(1.0).await?;
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let queue = format!("bench-fan-{suffix}-webhook-health-jobs");
    let queue_url = millwright_aws::provision::provision_job_queues(
        &env.sdk,
        std::slice::from_ref(&queue),
        &format!("bench-fan-{suffix}-jobs-dlq"),
        &millwright_aws::provision::ProvisionOptions::default(),
    )
    .await
    .context("creating the scenario's job queue in moto")?
    .remove(0);
    let result = measure(env, &doubles, &suffix, &queue_url, many).await;
    doubles.shutdown().await;
    env.delete_queue(&queue_url).await;
    result
}

async fn measure(
    env: &Env,
    doubles: &Doubles,
    suffix: &str,
    queue_url: &str,
    many: usize,
) -> anyhow::Result<FanOutFigures> {
    let one = install(env, doubles, &format!("bench-fan1-{suffix}"), 1).await?;
    let all = install(env, doubles, &format!("bench-fan{many}-{suffix}"), many).await?;
    let latency = json!({"method": "GET", "path_contains": "/v3/hooks",
        "fault": {"kind": "delay", "ms": BIGCOMMERCE_LATENCY.as_millis()}});
    doubles.control(Api::BigCommerce, reqwest::Method::POST, "faults", Some(&latency)).await?;

    // The function as its `main` builds it, on the scenario's job queue, and the queue's event source.
    let deps = env.deps.with_job_queue(queue_url);
    let settings = webhook_health::Settings { receiver_url: RECEIVER_URL.to_owned(), ..Default::default() };
    let check = webhook_health::HealthCheck::new(webhook_health::Ports::from_deps(&deps), settings);
    let runner = jobs::Runner::new(check, jobs::Ports::from_deps(&deps), jobs::Settings::from_config(&deps.config));
    let concurrency = local_runtime::DEFAULT_JOB_CONCURRENCY;
    let options = PollerOptions::for_jobs(webhook_health::FUNCTION_TIMEOUT, concurrency);
    let (trigger, shutdown) = Shutdown::new();
    let poller =
        tokio::spawn(JobPoller::new(SqsEventSource::new(&env.sdk, queue_url), runner.clone(), options).run(shutdown));

    let measured = async {
        let one = run(env, doubles, &runner, queue_url, &one).await?;
        let many = run(env, doubles, &runner, queue_url, &all).await?;
        Ok(FanOutFigures { one, many, concurrency })
    }
    .await;
    trigger.trigger();
    poller.await.context("the job poller")?;
    measured
}

/// Stores `count` connections named `{stem}-{n}`, each on a store of its own in the double, with
/// its two order hooks registered, active and current (through the production adapter, as a
/// repair would register them).
async fn install(env: &Env, doubles: &Doubles, stem: &str, count: usize) -> anyhow::Result<Vec<ConnectionProfile>> {
    let stores: Vec<serde_json::Value> = (0..count)
        .map(|n| {
            json!({"store_hash": format!("{stem}-store-{n}"), "api_accounts": [{
                "client_id": sandbox::demo::BIGCOMMERCE_CLIENT_ID,
                "access_token": sandbox::demo::BIGCOMMERCE_ACCESS_TOKEN,
                "client_secret": sandbox::demo::BIGCOMMERCE_CLIENT_SECRET,
            }]})
        })
        .collect();
    doubles.control(Api::BigCommerce, reqwest::Method::POST, "seed", Some(&json!({ "stores": stores }))).await?;
    let mut profiles = Vec::with_capacity(count);
    for n in 0..count {
        let id = format!("{stem}-{n}");
        let store = format!("{stem}-store-{n}");
        let profile = local_runtime::install_demo_connection(&env.deps, &id, Some(&doubles.sandbox), |profile| {
            profile["bigcommerce"]["store_hash"] = json!(store);
        })
        .await
        .with_context(|| format!("storing connection {id}"))?;
        let hooks = env.deps.order_hooks(&profile).await?;
        for scope in ORDER_SCOPES {
            hooks.register(scope, &destination(RECEIVER_URL, &profile.id)).await?;
        }
        profiles.push(profile);
    }
    Ok(profiles)
}

/// One scheduled run over `profiles`: the fan-out, then every job, timed until the queue is empty;
/// then every job's result is checked on its run record.
async fn run(
    env: &Env,
    doubles: &Doubles,
    runner: &jobs::Runner<webhook_health::HealthCheck>,
    queue_url: &str,
    profiles: &[ConnectionProfile],
) -> anyhow::Result<RunFigures> {
    let ids: Vec<ConnectionId> = profiles.iter().map(|profile| profile.id.clone()).collect();
    doubles.clear_request_logs().await?;
    let started = Instant::now();
    let asked = chrono::Utc::now();
    let fanned = runner
        .handle_scheduled(local_runtime::scheduled_event(&ids))
        .await
        .map_err(|error| anyhow::anyhow!("the scheduled invocation failed: {error}"))?;
    ensure!(fanned["queued"].as_array().map(Vec::len) == Some(ids.len()), "the fan-out queued {fanned}");
    let deadline = started + Duration::from_secs(120);
    while env.queue_depth(queue_url).await? > 0 {
        ensure!(Instant::now() < deadline, "the jobs of {} connections were not done in 120 s", ids.len());
        // Not faster: each look at the queue is a call to moto, which the jobs are waiting on too.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wall = started.elapsed();
    let bigcommerce_calls = doubles.requests(Api::BigCommerce).await?.len();
    for id in &ids {
        let key = RecordKey::new(id.clone(), RecordKind::Run, webhook_health::JOB);
        let trail = env.deps.audit.history(&key).await?;
        let done = trail.iter().any(|event| event.outcome == Outcome::Ok && event.at >= asked);
        ensure!(done, "connection {id}'s job is not recorded done: {trail:?}");
    }
    Ok(RunFigures { connections: ids.len(), wall, bigcommerce_calls })
}
