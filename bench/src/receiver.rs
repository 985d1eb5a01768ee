//! Webhook verify + enqueue: how long the receiver takes to authenticate a BigCommerce callback,
//! de-duplicate it and queue its order message, measured three ways:
//! - in-process: `webhook_receiver::handle` over the in-memory fakes (`domain::ports::memory`), so
//!   the figure is the receiver's own work (auth over the raw body, parsing, audit);
//! - through moto: the same `handle` over the deployment's adapters (`runtime::Deps`): profile and
//!   secret reads, `SendMessage` to an SQS FIFO queue, the queued mark in DynamoDB, the audit put
//!   (the callbacks carry no `webhook-id`, so there is no delivery claim to check);
//! - through the local runtime: an HTTP POST to the local world's receiver (`WEBHOOK_RECEIVER_URL`),
//!   which adds axum, the API Gateway request conversion and a loopback round trip.
//!
//! No delivery carries a `webhook-id`, so none is a duplicate: each one is a full enqueue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use chrono::Utc;
use domain::ports::ConnectionStore;
use domain::ports::memory::{
    InMemoryAuditLog, InMemoryConnectionStore, InMemoryDedupeStore, InMemoryQueueMarks, RecordingQueue, StaticSecrets,
};
use domain::{ConnectionProfile, SecretName, System};
use http::{HeaderMap, HeaderValue, StatusCode};
use millwright_aws::SqsQueue;
use sandbox::demo;
use serde_json::json;
use webhook_receiver::{Delivery, Ports, handle};

use crate::stats::Latencies;
use crate::world::Env;

/// Deliveries made before measuring, so one-off costs (the first secret read, connection set-up,
/// lazily built SDK clients) are not counted as webhook latency.
const WARM_UP: usize = 10;

/// A `store/order/created` callback of the demo store; `nonce` makes its `hash` unique.
pub fn callback(order_id: u64, nonce: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "scope": "store/order/created",
        "store_id": demo::BIGCOMMERCE_STORE_ID.to_string(),
        "data": {"type": "order", "id": order_id},
        "hash": format!("{nonce:040x}"),
        "created_at": Utc::now().timestamp(),
        "producer": format!("stores/{}", demo::BIGCOMMERCE_STORE_HASH),
    }))
    .unwrap_or_default()
}

/// The headers BigCommerce sends with the demo connection's custom authentication header.
pub fn callback_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("x-millwright-auth", HeaderValue::from_static(demo::BIGCOMMERCE_WEBHOOK_SECRET));
    headers
}

/// `handle` over in-memory fakes holding the demo connection, `n` deliveries.
pub async fn in_process(n: usize) -> anyhow::Result<Latencies> {
    let profile: ConnectionProfile = serde_json::from_value(demo::connection_profile(demo::CONNECTION_ID, None))?;
    let connections = InMemoryConnectionStore::default();
    connections.put(&profile).await?;
    let mut secrets = StaticSecrets::default();
    for (system, document) in demo::connection_secrets() {
        let system: System = serde_json::from_value(json!(system))?;
        secrets = secrets.with(&SecretName::new("millwright", profile.id.clone(), system), document.to_string());
    }
    let dedupe = InMemoryDedupeStore::default();
    let marks = InMemoryQueueMarks::default();
    let queue = RecordingQueue::default();
    let audit = InMemoryAuditLog::default();
    let ports = Ports {
        connections: &connections,
        secrets: &secrets,
        dedupe: &dedupe,
        queue: &queue,
        queue_marks: &marks,
        audit: &audit,
        secret_prefix: "millwright",
    };
    measure(&ports, demo::CONNECTION_ID, n).await
}

/// `handle` over the deployment's adapters in moto for `connection`, queueing on `queue_url`.
pub async fn through_moto(env: &Env, connection: &str, queue_url: &str, n: usize) -> anyhow::Result<Latencies> {
    let mut deps = env.deps.clone();
    deps.queue = Arc::new(SqsQueue::new(&env.sdk, queue_url));
    measure(&Ports::from_deps(&deps), connection, n).await
}

async fn measure(ports: &Ports<'_>, connection: &str, n: usize) -> anyhow::Result<Latencies> {
    let headers = callback_headers();
    let mut samples = Vec::with_capacity(n);
    for i in 0..WARM_UP + n {
        let body = callback(1_000 + i as u64, i as u64 + 1);
        let delivery = Delivery { connection_id: connection, headers: &headers, body: &body, now: Utc::now() };
        let started = Instant::now();
        let reply = handle(ports, &delivery).await;
        let took = started.elapsed();
        ensure!(reply.status == StatusCode::OK, "delivery {i} answered {}: {}", reply.status, reply.body);
        if i >= WARM_UP {
            samples.push(took);
        }
    }
    Ok(Latencies::new(samples))
}

/// HTTP POSTs of callbacks to the local world's receiver for the demo connection. The order ids
/// do not exist in the local world's store, so whatever drains its queue audits them as not in
/// the store and writes nothing to Plex.
pub async fn through_http(receiver_url: &str, n: usize) -> anyhow::Result<Latencies> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let url = format!("{}/webhooks/bigcommerce/{}", receiver_url.trim_end_matches('/'), demo::CONNECTION_ID);
    let nonce_base = u64::try_from(Utc::now().timestamp_micros()).unwrap_or_default() << 16;
    let mut samples = Vec::with_capacity(n);
    for i in 0..WARM_UP + n {
        let body = callback(900_000_000 + i as u64, nonce_base + i as u64);
        let started = Instant::now();
        let response = http
            .post(&url)
            .headers(callback_headers())
            .body(body)
            .send()
            .await
            .with_context(|| format!("posting to {url}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let took = started.elapsed();
        ensure!(status == reqwest::StatusCode::OK, "the local receiver answered {status}: {text}");
        if i >= WARM_UP {
            samples.push(took);
        }
    }
    Ok(Latencies::new(samples))
}
