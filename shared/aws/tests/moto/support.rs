//! Shared set-up: the moto endpoint, SDK configuration and a freshly provisioned stack per test.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use chrono::{DateTime, Utc};
use domain::ConnectionId;
use millwright_aws::provision::{ProvisionOptions, Provisioned, ResourceNames, provision};

/// The region used when `AWS_REGION` is unset; moto accepts any.
const DEFAULT_REGION: &str = "us-east-1";

/// moto's URL from `AWS_ENDPOINT_URL`. These tests must never run against real AWS nor be skipped
/// silently, so a missing variable fails the test with what to do.
pub fn endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "AWS_ENDPOINT_URL is not set: these tests need moto_server. Run them through `make test`, which \
             starts moto (or start `.venv/bin/moto_server -p PORT` and set AWS_ENDPOINT_URL=http://127.0.0.1:PORT)"
        ),
    }
}

/// An SDK configuration for moto with dummy credentials, whatever keys the environment holds.
pub async fn sdk() -> SdkConfig {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| DEFAULT_REGION.to_owned());
    millwright_aws::config::sdk_config_for_endpoint(&endpoint(), &region).await
}

/// One test's own resources in moto.
pub struct Stack {
    pub sdk: SdkConfig,
    pub names: ResourceNames,
    pub provisioned: Provisioned,
}

impl Stack {
    pub async fn new() -> Self {
        Self::with_options(ProvisionOptions::default()).await
    }

    pub async fn with_options(options: ProvisionOptions) -> Self {
        let sdk = sdk().await;
        let names = ResourceNames::for_stack(&unique_stack_name());
        let provisioned = provision(&sdk, &names, &options).await.expect("provisioning a test stack in moto");
        Self { sdk, names, provisioned }
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }
}

/// `t-` and eight hex digits: unique per test, short enough for every resource name limit.
pub fn unique_stack_name() -> String {
    format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

pub fn acme() -> ConnectionId {
    ConnectionId::new("acme").expect("valid connection id")
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).expect("valid RFC 3339 time").with_timezone(&Utc)
}

/// DynamoDB operations that write (the `X-Amz-Target` suffix); the race gate holds these.
const WRITE_OPERATIONS: [&str; 4] = ["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"];

/// How long a write waits for the other racers before going ahead anyway, so an implementation
/// that writes fewer times than expected fails its assertions instead of hanging.
const GATE_PATIENCE: Duration = Duration::from_secs(5);

/// The worst schedule for two racing callers, made deterministic.
///
/// Every DynamoDB write sent through [`RaceGate::sdk`] waits until `racers` writes have arrived
/// (so whatever each caller read beforehand, all reads happened before any write), then the writes
/// reach moto one at a time. A read-then-write implementation therefore always lets both callers
/// win, and a conditional write always lets exactly one win.
///
/// Why not simply fire both requests at moto: moto has no locking around conditional writes, so two
/// requests handled at the same instant on its threads can both pass a condition (seen in about one
/// race in twenty on a busy machine). Real DynamoDB evaluates each condition atomically; sending the
/// writes one at a time gives moto that property and keeps the test about our code.
#[derive(Clone, Debug)]
pub struct RaceGate {
    arrived: Arc<tokio::sync::Barrier>,
    one_at_a_time: Arc<tokio::sync::Mutex<()>>,
}

impl RaceGate {
    pub fn new(racers: usize) -> Self {
        Self { arrived: Arc::new(tokio::sync::Barrier::new(racers)), one_at_a_time: Arc::default() }
    }

    /// `sdk` with its HTTP connector wrapped by this gate.
    pub fn sdk(&self, sdk: &SdkConfig) -> SdkConfig {
        let gate = self.clone();
        let client = http_client_fn(move |settings, components| {
            let inner = aws_smithy_http_client::default_connector(settings, components.sleep_impl())
                .expect("the SDK's default HTTP connector");
            SharedHttpConnector::new(GatedConnector { inner, gate: gate.clone() })
        });
        sdk.to_builder().http_client(client).build()
    }
}

#[derive(Debug)]
struct GatedConnector {
    inner: SharedHttpConnector,
    gate: RaceGate,
}

impl HttpConnector for GatedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let is_write = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|target| WRITE_OPERATIONS.iter().any(|op| target.ends_with(&format!(".{op}"))));
        let inner = self.inner.clone();
        let gate = self.gate.clone();
        HttpConnectorFuture::new(async move {
            if is_write {
                tokio::time::timeout(GATE_PATIENCE, gate.arrived.wait()).await.ok();
                let _turn = gate.one_at_a_time.lock().await;
                inner.call(request).await
            } else {
                inner.call(request).await
            }
        })
    }
}
