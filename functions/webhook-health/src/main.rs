//! The webhook health check Lambda: wiring only (ARCHITECTURE.md, "Thin handlers").

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::telemetry::init_tracing("info");
    let config = runtime::Config::from_env()?;
    let receiver_url = config.webhook_receiver_url.clone().ok_or_else(|| {
        format!(
            "environment variable {} is not set: the hooks must point somewhere",
            runtime::config::WEBHOOK_RECEIVER_URL
        )
    })?;
    let deps = runtime::Deps::build(&config).await;
    let settings = webhook_health::Settings { receiver_url, ..webhook_health::Settings::default() };
    webhook_health::run_lambda(webhook_health::HealthCheck::new(webhook_health::Ports::from_deps(&deps), settings))
        .await
}
