//! The order sweep Lambda: wiring only (ARCHITECTURE.md, "Thin handlers"). One function, two
//! event sources: its EventBridge schedule (fan out onto `JOB_QUEUE_URL`; without it a fan-out
//! fails, naming the variable) and its job queue (one job per connection).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::telemetry::init_tracing("info");
    let config = runtime::Config::from_env()?;
    let deps = runtime::Deps::build(&config).await;
    let sweep = order_sweep::Sweep::new(order_sweep::Ports::from_deps(&deps), order_sweep::Settings::default());
    jobs::run_lambda(jobs::Runner::new(sweep, jobs::Ports::from_deps(&deps), jobs::Settings::from_config(&config)))
        .await
}
