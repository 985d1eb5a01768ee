//! Loading the AWS SDK configuration every adapter is built from.
//!
//! Only entry points call these (at start-up); adapters take the resulting `SdkConfig` by reference.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// The standard chain: region, credentials and endpoint from the environment, profile or instance
/// role. It honours `AWS_ENDPOINT_URL` by itself, which is how the functions reach moto locally.
pub async fn sdk_config_from_env() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// A configuration for an AWS emulator (moto) at `endpoint`: the given region and fixed dummy
/// credentials, so nothing in the environment or `~/.aws` is consulted and no real account is
/// ever reached with real keys.
pub async fn sdk_config_for_endpoint(endpoint: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("local", "local", None, None, "millwright-local"))
        .load()
        .await
}
