//! The webhook health check Lambda: wiring only (ARCHITECTURE.md, "Thin handlers"). One function,
//! two event sources: its EventBridge schedule (fan out onto `JOB_QUEUE_URL`; without it a fan-out
//! fails, naming the variable) and its job queue (one job per connection).

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
    let check = webhook_health::HealthCheck::new(webhook_health::Ports::from_deps(&deps), settings);
    jobs::run_lambda(jobs::Runner::new(check, jobs::Ports::from_deps(&deps), jobs::Settings::from_config(&config)))
        .await
}
