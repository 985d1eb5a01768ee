//! The Lambda entry point: configuration and adapters once per container, then one
//! [`webhook_receiver::handle_http`] call per request.

use lambda_http::{Error, Request, service_fn};
use runtime::{Config, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::telemetry::init_tracing("info");
    let config = Config::from_env()?;
    let deps = Deps::build(&config).await;
    lambda_http::run(service_fn(|request: Request| async {
        Ok::<_, Error>(webhook_receiver::handle_http(&deps, request).await)
    }))
    .await
}
