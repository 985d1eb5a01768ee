//! The order worker Lambda: wiring only (ARCHITECTURE.md, "Thin handlers").

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::telemetry::init_tracing("info");
    let config = runtime::Config::from_env()?;
    let deps = runtime::Deps::build(&config).await;
    let worker =
        order_worker::Worker::new(order_worker::Ports::from_deps(&deps), order_worker::Settings::from_config(&config));
    order_worker::run_lambda(worker).await
}
