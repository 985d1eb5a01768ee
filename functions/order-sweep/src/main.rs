//! The order sweep Lambda: wiring only (ARCHITECTURE.md, "Thin handlers"). One function, two
//! event sources: its EventBridge schedule (fan out) and its job queue (one job per connection).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::telemetry::init_tracing("info");
    let config = runtime::Config::from_env()?;
    if config.job_queue_url.is_none() {
        return Err(format!(
            "environment variable {} is not set: the jobs need a queue",
            runtime::config::JOB_QUEUE_URL
        )
        .into());
    }
    let deps = runtime::Deps::build(&config).await;
    let sweep = order_sweep::Sweep::new(order_sweep::Ports::from_deps(&deps), order_sweep::Settings::default());
    jobs::run_lambda(jobs::Runner::new(sweep, jobs::Ports::from_deps(&deps), jobs::Settings::from_config(&config)))
        .await
}
