//! The order sweep Lambda: wiring only (ARCHITECTURE.md, "Thin handlers").

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::telemetry::init_tracing("info");
    let config = runtime::Config::from_env()?;
    let deps = runtime::Deps::build(&config).await;
    let sweep = order_sweep::Sweep::new(order_sweep::Ports::from_deps(&deps), order_sweep::Settings::default());
    order_sweep::run_lambda(sweep).await
}
