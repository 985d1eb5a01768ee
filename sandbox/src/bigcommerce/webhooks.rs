//! The webhook sender: "place an order" on the control plane, and BigCommerce's callbacks to every
//! active hook of the event's scope, signed as configured, retried on BigCommerce's schedule.
//!
//! Control endpoints (mounted under `/__control/`):
//! - `POST /orders`: an order in the seed format, plus delivery options (`store_hash`, needed when the
//!   double has more than one store; `deliveries`: send each callback N times, default 1; `forge`: a
//!   deliberately bad callback; `scope`, default `store/order/created`; `retries`, default `true`).
//!   Stores the order (ids and dates from the double's clock) and answers `201 {order_id,
//!   deliveries: [ids]}` at once; the callbacks go out from background tasks.
//! - `PUT /orders/{id}`: the fields to replace (`status_id`, `customer_id`, `billing_address`,
//!   `shipping_addresses`, `products`, `currency_code`, `customer_message`; lists replace whole),
//!   plus the same options (scope default `store/order/updated`); bumps `date_modified`.
//! - `GET /deliveries[?after=SEQ]`, `DELETE /deliveries`: one entry per attempt.
//!
//! Placing an order also takes the ordered quantities off the default location's stock of tracked
//! items (see `inventory::apply_order`) and sends the inventory callbacks of each change; the
//! inventory endpoints and control endpoints send theirs through [`BigCommerce::send_events`].
//!
//! A callback is `{"created_at", "store_id" (a string), "producer": "stores/{hash}", "scope",
//! "hash", "data": {"type": "order", "id"}}` with `Content-Type: application/json`, where `hash` is
//! the SHA-1 (hex) of the JSON-encoded `data` (BigCommerce notes §5.1). Inventory callbacks carry
//! `"data": {"type": "product" | "sku", "id", "location_id", "inventory": {"product_id", "method",
//! "value", "variant_id"?}}` (see [`EventData`]). Which authenticators it
//! carries is the store's choice (`webhook_signing` in its seed) over the double's configuration
//! (`webhooks.signing`), by default the first two:
//! - `custom_headers`: the hook's registered `headers`, exactly as registered;
//! - `standard_webhooks`: `webhook-id` (one per message, the same on every copy and retry),
//!   `webhook-timestamp` (the attempt's time on the double's clock, Unix seconds) and
//!   `webhook-signature: v1,<base64 HMAC-SHA256(client secret bytes, "{id}.{timestamp}.{body}")>`;
//! - `x_bc_signature`: `off`, `hex` or `base64` HMAC-SHA256 of the raw body with the client secret.
//!
//! The key is the client secret of the API account that owns the hook; an account without one gets
//! no signatures. `forge` spoils one thing on purpose: `signature` (signed with the wrong key),
//! `stale_timestamp` (10 minutes old, correctly signed), `missing_signature` (no signature headers),
//! `missing_headers` (no custom headers) or `wrong_headers` (custom header values altered).
//!
//! Retries follow BigCommerce's schedule (notes §5.3): a non-2xx answer, a failed connection or no
//! answer within `webhooks.timeout_ms` is tried again after 60, 180, 300, 600, 900, 1800, 3600, 7200,
//! 21600, 50400 and 86400 s (`webhooks.retry_delays_ms`, each multiplied by the time scale by
//! default); when the last retry fails too, the hook is deactivated (`is_active: false`). Each
//! attempt uses the hook as it is then: a hook deleted or deactivated meanwhile stops its
//! deliveries. Everything stops when the sandbox stops or the double is reset.
//!
//! Unlike BigCommerce, the double only delivers to loopback addresses (127.0.0.0/8, `::1`,
//! `localhost`): any other destination fails like an unreachable host, so the sandbox never sends
//! anything off the machine.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::model::{OrderSeed, Store};
use super::orders::{OrderChange, build_order, change_order};
use super::{BigCommerce, inventory};
use crate::control::{self, ControlError};
use crate::lock;
use crate::ratelimit::scaled_ms;
use crate::requestlog::{REDACTED, is_secret_name, redact_query};

/// BigCommerce's retry delays after a failed delivery, in seconds (about 48 h in all).
const RETRY_DELAYS_S: [u64; 11] = [60, 180, 300, 600, 900, 1800, 3600, 7200, 21_600, 50_400, 86_400];
/// BigCommerce documents no timeout; 10 s is the figure integrators quote.
const DEFAULT_TIMEOUT_MS: f64 = 10_000.0;
/// A scaled-down timeout never goes below this, so a busy machine does not fail healthy receivers.
const MIN_TIMEOUT_MS: u64 = 1_000;
/// Upper bounds that keep a mistyped option from flooding a receiver or never ending.
const MAX_COPIES: u32 = 100;
const MAX_RETRIES: usize = 32;
const MAX_DELAY_MS: u64 = 7 * 24 * 3_600_000;
/// Entries kept in the delivery log.
const LOG_CAPACITY: usize = 10_000;
/// How old a `stale_timestamp` forgery is: well outside the usual 5-minute tolerance.
const STALE_BY_SECONDS: i64 = 600;

/// `webhooks` in `POST /__control/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookConfig {
    pub signing: Signing,
    /// How long a delivery waits for the receiver's answer.
    pub timeout_ms: u64,
    /// The wait before each retry; after the last one fails, the hook is deactivated.
    pub retry_delays_ms: Vec<u64>,
}

impl WebhookConfig {
    pub(crate) fn defaults(time_scale: f64) -> Self {
        let timeout = u64::try_from(scaled_ms(DEFAULT_TIMEOUT_MS, time_scale)).unwrap_or(MIN_TIMEOUT_MS);
        WebhookConfig {
            signing: Signing::default(),
            timeout_ms: timeout.max(MIN_TIMEOUT_MS),
            retry_delays_ms: RETRY_DELAYS_S
                .iter()
                .map(|&seconds| u64::try_from(scaled_ms(seconds as f64 * 1000.0, time_scale)).unwrap_or(1))
                .collect(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.timeout_ms == 0 {
            return Err("webhooks.timeout_ms must be at least 1".to_owned());
        }
        if self.retry_delays_ms.len() > MAX_RETRIES {
            return Err(format!("webhooks.retry_delays_ms may list at most {MAX_RETRIES} retries"));
        }
        if self.retry_delays_ms.iter().any(|&delay| delay > MAX_DELAY_MS) {
            return Err(format!("webhooks.retry_delays_ms entries must be at most {MAX_DELAY_MS} (7 days)"));
        }
        Ok(())
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig::defaults(1.0)
    }
}

/// Which authenticators a callback carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Signing {
    pub custom_headers: bool,
    pub standard_webhooks: bool,
    pub x_bc_signature: XbcSignature,
}

impl Default for Signing {
    /// Both documented mechanisms; `X-BC-Signature` only exists in the product description.
    fn default() -> Self {
        Signing { custom_headers: true, standard_webhooks: true, x_bc_signature: XbcSignature::Off }
    }
}

/// The encoding of `X-BC-Signature`, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum XbcSignature {
    Off,
    Hex,
    Base64,
}

/// A store's `webhook_signing`: what it changes from the configured [`Signing`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SigningOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_headers: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard_webhooks: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_bc_signature: Option<XbcSignature>,
}

impl SigningOverride {
    /// This override with `newer`'s settings on top (seeding again changes only what it names).
    pub(crate) fn merged(self, newer: SigningOverride) -> SigningOverride {
        SigningOverride {
            custom_headers: newer.custom_headers.or(self.custom_headers),
            standard_webhooks: newer.standard_webhooks.or(self.standard_webhooks),
            x_bc_signature: newer.x_bc_signature.or(self.x_bc_signature),
        }
    }

    fn over(self, base: Signing) -> Signing {
        Signing {
            custom_headers: self.custom_headers.unwrap_or(base.custom_headers),
            standard_webhooks: self.standard_webhooks.unwrap_or(base.standard_webhooks),
            x_bc_signature: self.x_bc_signature.unwrap_or(base.x_bc_signature),
        }
    }
}

/// A deliberately bad callback, for testing a receiver's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Forge {
    Signature,
    StaleTimestamp,
    MissingSignature,
    MissingHeaders,
    WrongHeaders,
}

impl Forge {
    fn name(self) -> &'static str {
        match self {
            Forge::Signature => "signature",
            Forge::StaleTimestamp => "stale_timestamp",
            Forge::MissingSignature => "missing_signature",
            Forge::MissingHeaders => "missing_headers",
            Forge::WrongHeaders => "wrong_headers",
        }
    }
}

/// The delivery options beside the order in `POST`/`PUT /__control/orders`.
#[derive(Debug)]
struct DeliveryOptions {
    store_hash: Option<String>,
    /// How many copies of each callback to send (BigCommerce's duplicates).
    deliveries: u32,
    forge: Option<Forge>,
    scope: Option<String>,
    retries: bool,
}

/// Takes one option out of the body, naming it if it does not parse.
fn option<T: serde::de::DeserializeOwned>(body: &mut Map<String, Value>, key: &str) -> Result<Option<T>, ControlError> {
    body.remove(key)
        .map(|value| {
            serde_json::from_value(value).map_err(|error| ControlError::bad_request(format!("{key}: {error}")))
        })
        .transpose()
}

/// Splits a control body into the delivery options and the order part.
fn split_body(body: Value) -> Result<(DeliveryOptions, Value), ControlError> {
    let Value::Object(mut order) = body else {
        return Err(ControlError::bad_request("the body must be a JSON object"));
    };
    let options = DeliveryOptions {
        store_hash: option(&mut order, "store_hash")?,
        deliveries: option(&mut order, "deliveries")?.unwrap_or(1),
        forge: option(&mut order, "forge")?,
        scope: option(&mut order, "scope")?,
        retries: option(&mut order, "retries")?.unwrap_or(true),
    };
    if options.deliveries == 0 || options.deliveries > MAX_COPIES {
        return Err(ControlError::bad_request(format!("deliveries must be between 1 and {MAX_COPIES}")));
    }
    if options.scope.as_deref().is_some_and(|scope| !scope.starts_with("store/")) {
        return Err(ControlError::bad_request("scope must be a webhook scope such as store/order/created"));
    }
    Ok((options, Value::Object(order)))
}

/// One line of `GET /__control/deliveries`: one attempt to deliver one callback.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Entry {
    pub seq: u64,
    /// Shared by the attempts of one delivery (one copy of one callback to one hook).
    pub delivery_id: u64,
    /// The Standard Webhooks message id: shared by every copy and retry of one callback to one hook.
    pub webhook_id: String,
    pub hook_id: u64,
    pub store_hash: String,
    pub scope: String,
    /// The order of an order callback; `null` for other events (their body says what changed).
    pub order_id: Option<u64>,
    /// 1 for the first try; retries count on.
    pub attempt: u32,
    /// When the attempt started, on the double's clock (RFC 3339).
    pub time: String,
    /// With secret-looking query parameters redacted.
    pub destination: String,
    pub forge: Option<&'static str>,
    /// As sent, with custom header values and signatures redacted.
    pub headers: Map<String, Value>,
    pub body: String,
    /// The receiver's status; `null` when it never answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
    /// `delivered` (2xx), `failed`, or `dropped` (the hook was deleted or deactivated meanwhile).
    pub outcome: &'static str,
    /// When the next attempt follows, if one does.
    pub retry_in_ms: Option<u64>,
    /// This failure was the last retry, and the hook is now inactive.
    pub hook_deactivated: bool,
}

/// The delivery log, the id counters, and the generation that retires deliveries on a reset.
#[derive(Debug, Default)]
pub(crate) struct Deliveries {
    inner: Mutex<LogInner>,
    http: OnceLock<Result<reqwest::Client, String>>,
}

#[derive(Debug, Default)]
struct LogInner {
    generation: u64,
    next_delivery_id: u64,
    next_seq: u64,
    entries: VecDeque<Entry>,
}

impl Deliveries {
    /// Forgets the log and retires every pending delivery (they check the generation).
    pub(crate) fn reset(&self) {
        let mut inner = lock(&self.inner);
        inner.generation += 1;
        inner.entries.clear();
    }

    fn generation(&self) -> u64 {
        lock(&self.inner).generation
    }

    fn next_delivery_id(&self) -> u64 {
        let mut inner = lock(&self.inner);
        inner.next_delivery_id += 1;
        inner.next_delivery_id
    }

    fn record(&self, generation: u64, mut entry: Entry) {
        let mut inner = lock(&self.inner);
        // An attempt that was in flight during a reset belongs to the world before it.
        if inner.generation != generation {
            return;
        }
        inner.next_seq += 1;
        entry.seq = inner.next_seq;
        if inner.entries.len() == LOG_CAPACITY {
            inner.entries.pop_front();
        }
        inner.entries.push_back(entry);
    }

    fn entries_after(&self, after: u64) -> Vec<Entry> {
        lock(&self.inner).entries.iter().filter(|entry| entry.seq > after).cloned().collect()
    }

    fn clear(&self) {
        lock(&self.inner).entries.clear();
    }

    /// One HTTP client for every delivery; built on first use so a double that never sends a
    /// callback never needs one.
    fn client(&self) -> Result<reqwest::Client, String> {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .user_agent("Bigcommerce-Webhooks (millwright sandbox)")
                    .build()
                    .map_err(|error| format!("the webhook sender's HTTP client could not be built: {error}"))
            })
            .clone()
    }
}

/// One copy of one callback on its way to one hook.
#[derive(Debug, Clone)]
struct Delivery {
    id: u64,
    generation: u64,
    webhook_id: String,
    hook_id: u64,
    client_id: String,
    store_hash: String,
    scope: String,
    order_id: Option<u64>,
    body: Arc<str>,
    forge: Option<Forge>,
    retries: bool,
    schedule: Vec<u64>,
    timeout: Duration,
}

/// What an attempt needs from the current state: the hook as it is now.
struct Target {
    destination: String,
    custom_headers: BTreeMap<String, String>,
    client_secret: Option<String>,
    signing: Signing,
}

/// A header to send; `secret` ones are redacted in the log whatever their name.
struct OutgoingHeader {
    name: String,
    value: String,
    secret: bool,
}

fn hmac_sha256(key: &[u8], message: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length, so this never fails; an empty result would just not verify.
    Hmac::<Sha256>::new_from_slice(key)
        .map(|mut mac| {
            for part in message {
                mac.update(part);
            }
            mac.finalize().into_bytes().to_vec()
        })
        .unwrap_or_default()
}

/// Whether a hook of `hook_scope` (possibly a `store/order/*` wildcard) hears `event_scope`.
fn scope_matches(hook_scope: &str, event_scope: &str) -> bool {
    match hook_scope.strip_suffix('*') {
        Some(prefix) => event_scope.starts_with(prefix),
        None => hook_scope == event_scope,
    }
}

/// Only the machine itself: the sandbox must never send anything elsewhere.
fn is_loopback(destination: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(destination) else { return false };
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        Some(host) => {
            host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

/// The destination as the log shows it: secret-looking query parameters redacted.
fn shown_destination(destination: &str) -> String {
    match destination.split_once('?') {
        Some((base, query)) => format!("{base}?{}", redact_query(query)),
        None => destination.to_owned(),
    }
}

/// The `data` of a callback, in BigCommerce's field order: `{"type": "order", "id"}` for orders;
/// `{"type": "product" | "sku", "id", "location_id", "inventory": {...}}` for inventory events,
/// `id` being the product id or the SKU id (the variant's `sku_id`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EventData {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory: Option<InventoryChange>,
}

/// `data.inventory` of `store/product/inventory/*` and `store/sku/inventory/*` callbacks.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InventoryChange {
    pub product_id: u64,
    /// `absolute` (the API or the control panel) or `relative` (an order).
    pub method: &'static str,
    /// The change: the level after minus the level before.
    pub value: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<u64>,
}

impl EventData {
    pub(crate) fn order(id: u64) -> EventData {
        EventData { kind: "order", id, location_id: None, inventory: None }
    }

    fn order_id(&self) -> Option<u64> {
        (self.kind == "order").then_some(self.id)
    }
}

/// The callback body, with BigCommerce's field order.
fn callback_body(scope: &str, store_id: u64, store_hash: &str, data: &EventData, created_at: i64) -> String {
    #[derive(Serialize)]
    struct Callback<'a> {
        created_at: i64,
        store_id: String,
        producer: String,
        scope: &'a str,
        hash: String,
        data: &'a EventData,
    }
    let encoded = serde_json::to_string(data).unwrap_or_default();
    let callback = Callback {
        created_at,
        store_id: store_id.to_string(),
        producer: format!("stores/{store_hash}"),
        scope,
        hash: hex::encode(Sha1::digest(encoded.as_bytes())),
        data,
    };
    serde_json::to_string(&callback).unwrap_or_default()
}

/// The headers of one attempt, authenticated as the store is configured and spoilt as `forge` says.
fn outgoing_headers(delivery: &Delivery, target: &Target, now_s: i64) -> Vec<OutgoingHeader> {
    let mut headers =
        vec![OutgoingHeader { name: "content-type".to_owned(), value: "application/json".to_owned(), secret: false }];
    let forge = delivery.forge;
    if target.signing.custom_headers && forge != Some(Forge::MissingHeaders) {
        for (name, value) in &target.custom_headers {
            let value = if forge == Some(Forge::WrongHeaders) { format!("forged-{value}") } else { value.clone() };
            headers.push(OutgoingHeader { name: name.clone(), value, secret: true });
        }
    }
    let Some(secret) = &target.client_secret else { return headers };
    if forge == Some(Forge::MissingSignature) {
        return headers;
    }
    let key = match forge {
        Some(Forge::Signature) => format!("{secret}-forged").into_bytes(),
        _ => secret.clone().into_bytes(),
    };
    let body = delivery.body.as_bytes();
    if target.signing.standard_webhooks {
        let timestamp = if forge == Some(Forge::StaleTimestamp) { now_s - STALE_BY_SECONDS } else { now_s }.to_string();
        let signature = hmac_sha256(&key, &[delivery.webhook_id.as_bytes(), b".", timestamp.as_bytes(), b".", body]);
        headers.push(OutgoingHeader {
            name: "webhook-id".to_owned(),
            value: delivery.webhook_id.clone(),
            secret: false,
        });
        headers.push(OutgoingHeader { name: "webhook-timestamp".to_owned(), value: timestamp, secret: false });
        headers.push(OutgoingHeader {
            name: "webhook-signature".to_owned(),
            value: format!("v1,{}", BASE64.encode(signature)),
            secret: true,
        });
    }
    let encoded = match target.signing.x_bc_signature {
        XbcSignature::Off => None,
        XbcSignature::Hex => Some(hex::encode(hmac_sha256(&key, &[body]))),
        XbcSignature::Base64 => Some(BASE64.encode(hmac_sha256(&key, &[body]))),
    };
    if let Some(value) = encoded {
        headers.push(OutgoingHeader { name: "x-bc-signature".to_owned(), value, secret: true });
    }
    headers
}

fn redacted(headers: &[OutgoingHeader]) -> Map<String, Value> {
    headers
        .iter()
        .map(|header| {
            let shown = if header.secret || is_secret_name(&header.name) { REDACTED } else { header.value.as_str() };
            (header.name.to_ascii_lowercase(), Value::String(shown.to_owned()))
        })
        .collect()
}

/// Why a request got no answer, without the URL (its query string could hold a secret).
fn describe_failure(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        format!("no answer within {} ms", timeout.as_millis())
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "the connection failed before an answer".to_owned()
    }
}

impl BigCommerce {
    /// The hook as it is now, or `None` when it was deleted or deactivated (or the double reset).
    fn target(&self, delivery: &Delivery) -> Option<Target> {
        if self.deliveries.generation() != delivery.generation {
            return None;
        }
        let state = lock(&self.state);
        let store = state.stores.get(&delivery.store_hash)?;
        let hook = store
            .hooks
            .iter()
            .find(|hook| hook.id == delivery.hook_id && hook.client_id == delivery.client_id && hook.is_active)?;
        Some(Target {
            destination: hook.destination.clone(),
            custom_headers: hook.headers.clone().unwrap_or_default(),
            client_secret: store.account(&hook.client_id).and_then(|account| account.client_secret.clone()),
            signing: store.webhook_signing.over(state.config.webhooks.signing),
        })
    }

    /// After the last retry failed: the hook goes inactive, as BigCommerce deactivates it.
    fn deactivate(&self, delivery: &Delivery) -> bool {
        if self.deliveries.generation() != delivery.generation {
            return false;
        }
        let now = self.common.clock.now().timestamp();
        let mut state = lock(&self.state);
        let hook = state
            .stores
            .get_mut(&delivery.store_hash)
            .and_then(|store| store.hooks.iter_mut().find(|hook| hook.id == delivery.hook_id));
        match hook {
            Some(hook) => {
                hook.is_active = false;
                hook.updated_at = now;
                true
            }
            None => false,
        }
    }

    /// Sends one attempt; `None` when the sandbox stopped first.
    async fn send(
        &self,
        client: &reqwest::Client,
        delivery: &Delivery,
        target: &Target,
        headers: &[OutgoingHeader],
    ) -> Option<Result<u16, String>> {
        if !is_loopback(&target.destination) {
            return Some(Err(
                "the destination is not a loopback address; the sandbox only delivers on this machine".to_owned()
            ));
        }
        let mut request = client.post(&target.destination).timeout(delivery.timeout).body(delivery.body.to_string());
        for header in headers {
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(header.name.as_bytes()), HeaderValue::from_str(&header.value))
            {
                request = request.header(name, value);
            }
        }
        let exchange = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            // The answer's body means nothing to BigCommerce; read it so the connection can be reused.
            let _ = response.bytes().await;
            Ok::<u16, reqwest::Error>(status)
        };
        let mut stopping = self.common.stopping.clone();
        tokio::select! {
            result = exchange => Some(result.map_err(|error| describe_failure(&error, delivery.timeout))),
            _ = stopping.wait_for(|&stopping| stopping) => None,
        }
    }

    /// Delivers one copy of a callback: the first attempt, then the retries, then deactivation.
    async fn deliver(self: Arc<Self>, delivery: Delivery) {
        let attempts = if delivery.retries { delivery.schedule.len() + 1 } else { 1 };
        let client = self.deliveries.client();
        for attempt in 1..=attempts {
            let started_at = self.common.clock.now();
            let mut entry = Entry {
                seq: 0,
                delivery_id: delivery.id,
                webhook_id: delivery.webhook_id.clone(),
                hook_id: delivery.hook_id,
                store_hash: delivery.store_hash.clone(),
                scope: delivery.scope.clone(),
                order_id: delivery.order_id,
                attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                time: started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                destination: String::new(),
                forge: delivery.forge.map(Forge::name),
                headers: Map::new(),
                body: delivery.body.to_string(),
                status: None,
                error: None,
                duration_ms: 0,
                outcome: "dropped",
                retry_in_ms: None,
                hook_deactivated: false,
            };
            let Some(target) = self.target(&delivery) else {
                entry.error = Some("the hook was deleted or deactivated; the delivery stops".to_owned());
                self.deliveries.record(delivery.generation, entry);
                return;
            };
            let headers = outgoing_headers(&delivery, &target, started_at.timestamp());
            entry.destination = shown_destination(&target.destination);
            entry.headers = redacted(&headers);
            let started = Instant::now();
            let result = match &client {
                Ok(client) => match self.send(client, &delivery, &target, &headers).await {
                    Some(result) => result,
                    None => return,
                },
                Err(reason) => Err(reason.clone()),
            };
            entry.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let delivered = matches!(result, Ok(status) if (200..300).contains(&status));
            match result {
                Ok(status) => entry.status = Some(status),
                Err(reason) => entry.error = Some(reason),
            }
            entry.outcome = if delivered { "delivered" } else { "failed" };
            if !delivered {
                entry.retry_in_ms = delivery.schedule.get(attempt - 1).copied().filter(|_| attempt < attempts);
                entry.hook_deactivated = delivery.retries && attempt == attempts && self.deactivate(&delivery);
            }
            let retry_in_ms = entry.retry_in_ms;
            tracing::debug!(delivery = delivery.id, attempt, outcome = entry.outcome, status = ?entry.status, "webhook attempt");
            self.deliveries.record(delivery.generation, entry);
            let Some(wait) = retry_in_ms else { return };
            let mut stopping = self.common.stopping.clone();
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                _ = stopping.wait_for(|&stopping| stopping) => return,
            }
        }
    }

    /// Starts the deliveries of one event to every active hook of its scope; returns their ids.
    fn dispatch(self: &Arc<Self>, store_hash: &str, scope: &str, order_id: u64, options: &DeliveryOptions) -> Vec<u64> {
        self.dispatch_events(store_hash, &[(scope.to_owned(), EventData::order(order_id))], options)
    }

    /// Sends events (`(scope, data)`) that are not order callbacks, one copy each with retries, to
    /// every active hook of their scopes; returns the delivery ids.
    pub(super) fn send_events(self: &Arc<Self>, store_hash: &str, events: &[(String, EventData)]) -> Vec<u64> {
        let options = DeliveryOptions { store_hash: None, deliveries: 1, forge: None, scope: None, retries: true };
        self.dispatch_events(store_hash, events, &options)
    }

    /// Starts the deliveries of each event to every active hook of its scope (one look at the
    /// state for all of them); returns their ids.
    fn dispatch_events(
        self: &Arc<Self>,
        store_hash: &str,
        events: &[(String, EventData)],
        options: &DeliveryOptions,
    ) -> Vec<u64> {
        let created_at = self.common.clock.now().timestamp();
        let generation = self.deliveries.generation();
        let mut planned = Vec::new();
        let (schedule, timeout) = {
            let state = lock(&self.state);
            let Some(store) = state.stores.get(store_hash) else { return Vec::new() };
            for (scope, data) in events {
                let hooks: Vec<(u64, String)> = store
                    .hooks
                    .iter()
                    .filter(|hook| hook.is_active && scope_matches(&hook.scope, scope))
                    .map(|hook| (hook.id, hook.client_id.clone()))
                    .collect();
                if hooks.is_empty() {
                    continue;
                }
                let body: Arc<str> = callback_body(scope, store.store_id, store_hash, data, created_at).into();
                planned.push((scope.clone(), data.order_id(), body, hooks));
            }
            let config = &state.config.webhooks;
            (config.retry_delays_ms.clone(), Duration::from_millis(config.timeout_ms))
        };
        let mut ids = Vec::new();
        for (scope, order_id, body, hooks) in planned {
            for (hook_id, client_id) in hooks {
                let webhook_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
                for _ in 0..options.deliveries {
                    let delivery = Delivery {
                        id: self.deliveries.next_delivery_id(),
                        generation,
                        webhook_id: webhook_id.clone(),
                        hook_id,
                        client_id: client_id.clone(),
                        store_hash: store_hash.to_owned(),
                        scope: scope.clone(),
                        order_id,
                        body: body.clone(),
                        forge: options.forge,
                        retries: options.retries,
                        schedule: schedule.clone(),
                        timeout,
                    };
                    ids.push(delivery.id);
                    tokio::spawn(self.clone().deliver(delivery));
                }
            }
        }
        ids
    }
}

/// The store a control request means: the one named, or the only one there is.
pub(super) fn pick_store<'a>(
    stores: &'a mut BTreeMap<String, Store>,
    store_hash: Option<&str>,
) -> Result<&'a mut Store, ControlError> {
    match store_hash {
        Some(hash) => stores.get_mut(hash).ok_or_else(|| ControlError::not_found(format!("no store {hash:?}"))),
        None if stores.len() == 1 => stores.values_mut().next().ok_or_else(|| ControlError::not_found("no store")),
        None => Err(ControlError::bad_request(format!("give store_hash: the double has {} stores", stores.len()))),
    }
}

/// The BigCommerce double's own control endpoints.
pub(super) fn control_routes(double: Arc<BigCommerce>) -> Router {
    Router::new()
        .route("/orders", post(place_order))
        .route("/orders/{order_id}", put(update_order))
        .route("/deliveries", get(list_deliveries).delete(clear_deliveries))
        .with_state(double.clone())
        .merge(inventory::control_routes(double))
}

/// `POST /__control/orders`: store the order, then call every active `store/order/created` hook.
async fn place_order(
    State(double): State<Arc<BigCommerce>>,
    Json(body): Json<Value>,
) -> Result<Response, ControlError> {
    let (options, order) = split_body(body)?;
    let seed: OrderSeed = control::parse("order", order)?;
    let now = double.common.clock.now();
    let (store_hash, order_id, stock_events) = {
        let mut state = lock(&double.state);
        let store = pick_store(&mut state.stores, options.store_hash.as_deref())?;
        if let Some(id) = seed.id.filter(|id| store.order(*id).is_some()) {
            return Err(ControlError::bad_request(format!(
                "order {id} exists; change it with PUT /__control/orders/{id}"
            )));
        }
        let order = build_order(seed, store, now).map_err(ControlError::bad_request)?;
        let id = order.id;
        let stock_events = inventory::apply_order(store, &order, now);
        store.orders.push(order);
        (store.store_hash.clone(), id, stock_events)
    };
    let scope = options.scope.clone().unwrap_or_else(|| "store/order/created".to_owned());
    let deliveries = double.dispatch(&store_hash, &scope, order_id, &options);
    let inventory_deliveries = double.send_events(&store_hash, &stock_events);
    let answer =
        json!({ "order_id": order_id, "deliveries": deliveries, "inventory_deliveries": inventory_deliveries });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `PUT /__control/orders/{id}`: change the order, then call every active `store/order/updated` hook.
async fn update_order(
    State(double): State<Arc<BigCommerce>>,
    Path(raw_id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response, ControlError> {
    let (options, change) = split_body(body)?;
    let change: OrderChange = control::parse("order change", change)?;
    let now = double.common.clock.now();
    let (store_hash, order_id) = {
        let mut state = lock(&double.state);
        let store = pick_store(&mut state.stores, options.store_hash.as_deref())?;
        let found = raw_id.parse::<u64>().ok().and_then(|id| store.orders.iter().position(|order| order.id == id));
        let Some(index) = found else {
            return Err(ControlError::not_found(format!("no order {raw_id} in store {}", store.store_hash)));
        };
        let changed = change_order(&store.orders[index], change, store, now).map_err(ControlError::bad_request)?;
        let order_id = changed.id;
        store.orders[index] = changed;
        (store.store_hash.clone(), order_id)
    };
    let scope = options.scope.clone().unwrap_or_else(|| "store/order/updated".to_owned());
    let deliveries = double.dispatch(&store_hash, &scope, order_id, &options);
    Ok(Json(json!({ "order_id": order_id, "deliveries": deliveries })).into_response())
}

#[derive(Debug, Deserialize)]
struct AfterParams {
    #[serde(default)]
    after: u64,
}

async fn list_deliveries(State(double): State<Arc<BigCommerce>>, Query(params): Query<AfterParams>) -> Json<Value> {
    Json(serde_json::to_value(double.deliveries.entries_after(params.after)).unwrap_or_default())
}

async fn clear_deliveries(State(double): State<Arc<BigCommerce>>) -> StatusCode {
    double.deliveries.clear();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_hash_is_the_sha1_of_the_json_encoded_data() {
        let body = callback_body("store/order/created", 1_025_646, "abc123", &EventData::order(250), 1_561_482_670);
        let callback: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(callback["store_id"], "1025646");
        assert_eq!(callback["producer"], "stores/abc123");
        assert_eq!(callback["data"], json!({"type": "order", "id": 250}));
        let expected = hex::encode(Sha1::digest(br#"{"type":"order","id":250}"#));
        assert_eq!(callback["hash"], expected);
        assert!(body.starts_with(r#"{"created_at":1561482670,"store_id":"1025646""#), "{body}");
    }

    #[test]
    fn inventory_callbacks_carry_the_location_and_the_change() {
        let data = EventData {
            kind: "sku",
            id: 461,
            location_id: Some(1),
            inventory: Some(InventoryChange { product_id: 167, method: "absolute", value: -3, variant_id: Some(509) }),
        };
        let body = callback_body("store/sku/inventory/updated", 1, "abc123", &data, 1_561_482_670);
        let callback: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            callback["data"],
            json!({"type": "sku", "id": 461, "location_id": 1,
                   "inventory": {"product_id": 167, "method": "absolute", "value": -3, "variant_id": 509}})
        );
        assert!(
            body.contains(r#""data":{"type":"sku","id":461,"location_id":1,"inventory":{"product_id":167"#),
            "{body}"
        );
    }

    #[test]
    fn wildcard_hooks_hear_every_event_under_their_prefix() {
        assert!(scope_matches("store/order/created", "store/order/created"));
        assert!(!scope_matches("store/order/created", "store/order/updated"));
        assert!(scope_matches("store/order/*", "store/order/updated"));
        assert!(!scope_matches("store/order/*", "store/product/updated"));
    }

    #[test]
    fn only_loopback_destinations_are_delivered_to() {
        assert!(is_loopback("http://127.0.0.1:9000/hook"));
        assert!(is_loopback("http://localhost/hook"));
        assert!(is_loopback("http://[::1]:8080/hook"));
        assert!(!is_loopback("https://hooks.example/bc"));
        assert!(!is_loopback("http://10.0.0.1/hook"));
    }

    #[test]
    fn the_default_schedule_is_bigcommerces_scaled_by_the_time_scale() {
        let real = WebhookConfig::defaults(1.0);
        assert_eq!(real.retry_delays_ms.first(), Some(&60_000));
        assert_eq!(real.retry_delays_ms.last(), Some(&86_400_000));
        assert_eq!(real.timeout_ms, 10_000);
        let fast = WebhookConfig::defaults(0.001);
        assert_eq!(fast.retry_delays_ms[..3], [60, 180, 300]);
        assert_eq!(fast.timeout_ms, MIN_TIMEOUT_MS, "a scaled timeout keeps a floor");
    }

    #[test]
    fn a_store_override_changes_only_what_it_names() {
        let base = Signing::default();
        let overridden = SigningOverride { x_bc_signature: Some(XbcSignature::Hex), ..SigningOverride::default() };
        let signing = overridden.over(base);
        assert!(signing.custom_headers && signing.standard_webhooks);
        assert_eq!(signing.x_bc_signature, XbcSignature::Hex);
        let merged =
            overridden.merged(SigningOverride { standard_webhooks: Some(false), ..SigningOverride::default() });
        assert_eq!(merged.over(base), Signing { standard_webhooks: false, ..signing });
    }
}
