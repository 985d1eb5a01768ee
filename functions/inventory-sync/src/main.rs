//! The stock sync Lambda: wiring only (ARCHITECTURE.md, "Thin handlers"). One function, two event
//! sources: its EventBridge schedule (fan out onto `JOB_QUEUE_URL`) and its job queue (one job per
//! connection).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::telemetry::init_tracing("info");
    let config = runtime::Config::from_env()?;
    let deps = runtime::Deps::build(&config).await;
    let sync = inventory_sync::StockSync::new(inventory_sync::Ports::from_deps(&deps));
    jobs::run_lambda(jobs::Runner::new(sync, jobs::Ports::from_deps(&deps), jobs::Settings::from_config(&config))).await
}
