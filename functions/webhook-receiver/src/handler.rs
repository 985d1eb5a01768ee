//! The receiver's logic: from a delivery (connection id, headers, raw body, the time) to a status,
//! through the ports only. Lambda (`main.rs`), the local world and the tests all call [`handle`].
//!
//! In order, each step answering as soon as it can:
//!
//! | step | answer | audit (record) |
//! |---|---|---|
//! | body over 1 MiB (`Content-Length` or actual) | 413 | none: nothing was read yet |
//! | connection id invalid or without a profile | 404 | none: there is no connection to file it under |
//! | secret missing, unreadable or lacking a field an enabled mode needs | 500 | `Failed` (`bc-webhook#…`) |
//! | any enabled auth mode fails | 401 | `Rejected`, the reason only (`bc-webhook#…`) |
//! | body not a valid stub, `producer` of another store | 400 | `Rejected`, the field named (`bc-webhook#…`) |
//! | a stock event (`store/{product,sku}/inventory/…`, a channel's `…/inventory/…`) | 200 | none: the stock flow's own writes cause them, one per SKU |
//! | scope other than order created/updated | 200 | `Skipped`, naming the scope |
//! | delivery already queued within 24 h (same `webhook-id`) | 200 | `Duplicate` (`bc-order#…`) |
//! | queued | 200, empty body, only after SQS accepted it | `Ok` with the message id (`bc-order#…`) |
//! | DynamoDB, Secrets Manager or SQS unavailable | 503 | `Retried`, best effort |
//!
//! `bc-webhook#…` records are named by the `webhook-id` header when it is a plain token, else by
//! the SHA-256 of the body, so a rejected delivery is findable without keeping any of it.
//!
//! **Which deliveries are the same.** Only the Standard Webhooks `webhook-id` tells a retry from a
//! new event: it is the same on every copy and retry of one message and different for two events.
//! Without it nothing can: BigCommerce's `hash` covers only `data` (`{"type":"order","id":N}`) and
//! `created_at` has whole seconds, so a retry and a second update of the order in the same second
//! are byte-identical bodies. Such deliveries are therefore all queued (delivery id
//! `webhook-{uuid}`, so SQS de-duplication cannot drop one either), and the worker makes a repeat
//! cheap: it skips the BigCommerce read of a message that arrived before its last concluded read.
//!
//! **De-duplication without losing a message** (deliveries with a `webhook-id`). The claim of a
//! delivery (`webhook#{connection}#{order}#{webhook-id}`, 24 h) is committed only *after* the queue
//! accepted the message; before enqueueing, the handler asks whether a live claim exists by
//! claiming the key for zero seconds (a claim that expires at once blocks nobody, see
//! [`DedupeStore::claim`]). So:
//! - an enqueue that fails leaves no claim behind, and BigCommerce's retry queues the message;
//! - a delivery repeated after its first copy was queued is answered 200 `Duplicate` and not queued;
//! - two copies racing past the check are both sent, and SQS FIFO drops the second by its
//!   de-duplication id (`OrderMessage::dedupe_id`, 5 minutes); the copy that loses the commit
//!   audits `Duplicate`;
//! - a commit that fails after the enqueue still answers 200: the message is durably queued,
//!   which is all guarantee 1 asks, and a later copy is again caught by SQS or, past 5 minutes,
//!   by the order worker's ledger.
//!
//! **Queued marks.** After every enqueue the order is marked queued at the delivery's time
//! ([`QueueMarks`]), so the order sweep does not queue it again while this message waits; a mark
//! that cannot be saved is only logged (the sweep then queues the order once more, which the
//! worker makes cheap).

use chrono::{DateTime, Duration, Utc};
use domain::audit::{AuditEvent, Outcome, Stage};
use domain::message::MessageSource;
use domain::ports::{AuditLog, ConnectionStore, DedupeStore, Queue, QueueMarks, SecretStore};
use domain::{ConnectionId, ErrorClass, OrderMessage, OrderRef, PortError, RecordKey, RecordKind};
use domain::{SecretName, System};
use http::{HeaderMap, StatusCode, header};
use millwright_http::secret::SecretFields;
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::field::Empty;

use crate::auth::{self, AuthError, WebhookSecrets};
use crate::stub::WebhookStub;

/// The largest body accepted. BigCommerce's callbacks are a few hundred bytes; anything near this
/// is not a callback.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a delivery is remembered. BigCommerce retries for about 48 h, but a retry only follows
/// a failed answer (which leaves no claim); 24 h covers the duplicates it sends on its own.
pub const DELIVERY_TTL_HOURS: i64 = 24;

/// The `actor` of every audit event this function writes.
pub const ACTOR: &str = "webhook-receiver";

/// The ports the receiver uses, borrowed from `runtime::Deps` in Lambda and the local world, or
/// from in-memory fakes in tests.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    pub connections: &'a dyn ConnectionStore,
    pub secrets: &'a dyn SecretStore,
    pub dedupe: &'a dyn DedupeStore,
    pub queue: &'a dyn Queue,
    /// When each order was last queued, for the order sweep.
    pub queue_marks: &'a dyn QueueMarks,
    pub audit: &'a dyn AuditLog,
    /// Secrets are `{secret_prefix}/{connection}/bigcommerce`.
    pub secret_prefix: &'a str,
}

impl<'a> Ports<'a> {
    pub fn from_deps(deps: &'a runtime::Deps) -> Ports<'a> {
        Ports {
            connections: deps.connections.as_ref(),
            secrets: deps.secrets.as_ref(),
            dedupe: deps.dedupe.as_ref(),
            queue: deps.queue.as_ref(),
            queue_marks: deps.queue_marks.as_ref(),
            audit: deps.audit.as_ref(),
            secret_prefix: &deps.config.secret_prefix,
        }
    }
}

/// One webhook request as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The `{connection_id}` path segment, not yet validated.
    pub connection_id: &'a str,
    pub headers: &'a HeaderMap,
    /// The body exactly as received: signatures are computed over these bytes.
    pub body: &'a [u8],
    pub now: DateTime<Utc>,
}

/// The answer: a status and a short plain-text reason (empty on success, as BigCommerce asks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: String,
}

impl Reply {
    fn ok() -> Reply {
        Reply { status: StatusCode::OK, body: String::new() }
    }

    fn error(status: StatusCode, reason: impl Into<String>) -> Reply {
        Reply { status, body: reason.into() }
    }

    /// The answer to a failed port: 503 when it may pass (BigCommerce retries), 500 otherwise.
    fn port_failure(error: &PortError) -> Reply {
        if error.class().is_retryable() {
            Reply::error(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable, retry later")
        } else {
            Reply::error(StatusCode::INTERNAL_SERVER_ERROR, "the receiver cannot process this delivery")
        }
    }
}

/// Authenticates, parses, de-duplicates and queues one delivery; see the module documentation for
/// every answer and audit event. Never panics and never returns an internal error's text.
#[tracing::instrument(skip_all, fields(connection = Empty, order_id = Empty))]
pub async fn handle(ports: &Ports<'_>, delivery: &Delivery<'_>) -> Reply {
    if too_large(delivery) {
        tracing::warn!(bytes = delivery.body.len(), "webhook body over the limit");
        return Reply::error(StatusCode::PAYLOAD_TOO_LARGE, "body larger than 1 MiB");
    }
    let Ok(connection) = ConnectionId::new(delivery.connection_id) else {
        return Reply::error(StatusCode::NOT_FOUND, "unknown connection");
    };
    tracing::Span::current().record("connection", connection.as_str());
    let receipt = Receipt { ports, delivery, connection };

    let profile = match ports.connections.get(&receipt.connection).await {
        Ok(Some(profile)) => profile,
        Ok(None) => {
            tracing::warn!("webhook for a connection without a profile");
            return Reply::error(StatusCode::NOT_FOUND, "unknown connection");
        }
        Err(error) => return receipt.port_failed("reading the connection profile", &error).await,
    };

    let secrets = match receipt.webhook_secrets().await {
        Ok(secrets) => secrets,
        Err(reply) => return reply,
    };
    match auth::verify(&profile.bigcommerce.webhook_auth, &secrets, delivery.headers, delivery.body, delivery.now) {
        Ok(()) => {}
        Err(AuthError::Rejected(rejection)) => {
            let event = receipt
                .event(receipt.delivery_key(), Outcome::Rejected)
                .with_error(ErrorClass::Auth, rejection.to_string())
                .with_detail(json!({"status": 401, "header": rejection.header}));
            receipt.audit(event).await;
            tracing::warn!(reason = %rejection, "webhook authentication failed");
            return Reply::error(StatusCode::UNAUTHORIZED, rejection.to_string());
        }
        Err(error @ AuthError::MissingSecret { .. }) => {
            return receipt.misconfigured(format!("secret {}: {error}", receipt.secret_name())).await;
        }
        Err(AuthError::Misconfigured(reason)) => {
            return receipt.misconfigured(format!("connection profile: {reason}")).await;
        }
    }

    let stub = match WebhookStub::parse(delivery.body) {
        Ok(stub) => stub,
        Err(error) => return receipt.bad_request(error.to_string()).await,
    };
    let producer = format!("stores/{}", profile.bigcommerce.store_hash);
    if stub.producer != producer {
        return receipt.bad_request(format!("producer {} does not match this connection's store", stub.producer)).await;
    }
    if stub.is_inventory_scope() {
        // Our own stock writes cause these, indistinguishable from anyone else's: acknowledged,
        // nothing queued, nothing stored.
        tracing::debug!(scope = %stub.scope, "stock event acknowledged");
        return Reply::ok();
    }
    if let Some(parked_at) = profile.parked_at {
        // Removed by an operator: acknowledged (so BigCommerce stops retrying) and dropped.
        let event = receipt
            .event(receipt.delivery_key(), Outcome::Skipped)
            .with_message(format!("connection removed at {parked_at}: the webhook is not processed"))
            .with_detail(json!({"stub": stub.to_detail()}));
        receipt.audit(event).await;
        return Reply::ok();
    }
    if !stub.is_order_scope() {
        let key = match stub.order_id() {
            Ok(order_id) => OrderRef::new(receipt.connection.clone(), order_id).record_key(),
            Err(_) => receipt.delivery_key(),
        };
        let event = receipt
            .event(key, Outcome::Skipped)
            .with_message(format!("scope {} is not processed", stub.scope))
            .with_detail(json!({"stub": stub.to_detail()}));
        receipt.audit(event).await;
        return Reply::ok();
    }
    let order_id = match stub.order_id() {
        Ok(order_id) => order_id,
        Err(error) => return receipt.bad_request(error.to_string()).await,
    };
    tracing::Span::current().record("order_id", order_id);
    receipt.enqueue_once(OrderRef::new(receipt.connection.clone(), order_id), &stub).await
}

fn too_large(delivery: &Delivery<'_>) -> bool {
    let declared = delivery
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) || delivery.body.len() > MAX_BODY_BYTES
}

/// A delivery for a well-formed connection id, with what every later step needs.
struct Receipt<'p, 'd> {
    ports: &'p Ports<'p>,
    delivery: &'d Delivery<'d>,
    connection: ConnectionId,
}

impl Receipt<'_, '_> {
    fn secret_name(&self) -> SecretName {
        SecretName::new(self.ports.secret_prefix, self.connection.clone(), System::Bigcommerce)
    }

    /// The connection's webhook secrets. The whole document is read even when a mode needs only one
    /// field: Secrets Manager caches it per container, and a broken document is worth an alert
    /// whichever field is broken.
    async fn webhook_secrets(&self) -> Result<WebhookSecrets, Reply> {
        let name = self.secret_name();
        let document = match self.ports.secrets.get(&name).await {
            Ok(document) => document,
            Err(error) if error.class().is_retryable() => {
                return Err(self.port_failed("reading the BigCommerce secret", &error).await);
            }
            // `Invalid`: the secret does not exist or may not be read; the error names it.
            Err(error) => return Err(self.misconfigured(error.to_string()).await),
        };
        let fields = match SecretFields::parse(&document) {
            Ok(fields) => fields,
            Err(error) => return Err(self.misconfigured(format!("secret {name}: {error}")).await),
        };
        let mut secrets = WebhookSecrets::default();
        for (field, slot) in
            [(auth::CLIENT_SECRET, &mut secrets.client_secret), (auth::WEBHOOK_SECRET, &mut secrets.webhook_secret)]
        {
            match fields.optional(field) {
                Ok(value) => *slot = value,
                Err(error) => return Err(self.misconfigured(format!("secret {name}: {error}")).await),
            }
        }
        Ok(secrets)
    }

    /// The record of a delivery not (yet) tied to an order: `{connection}#bc-webhook#{id}`.
    fn delivery_key(&self) -> RecordKey {
        RecordKey::new(self.connection.clone(), RecordKind::BcWebhook, delivery_ref(self.delivery))
    }

    fn event(&self, key: RecordKey, outcome: Outcome) -> AuditEvent {
        AuditEvent::new(key, self.delivery.now, Stage::Received, outcome, ACTOR)
    }

    /// Appends best effort: a failing audit table must not turn a queued message into a retry.
    async fn audit(&self, event: AuditEvent) {
        if let Err(error) = self.ports.audit.append(&event).await {
            tracing::warn!(error.message = %error, outcome = %event.outcome, "could not write the audit event");
        }
    }

    /// 400 for a body that authenticated but is not a usable callback.
    async fn bad_request(&self, reason: String) -> Reply {
        let event = self
            .event(self.delivery_key(), Outcome::Rejected)
            .with_error(ErrorClass::Data, reason.clone())
            .with_detail(json!({"status": 400, "body_bytes": self.delivery.body.len()}));
        self.audit(event).await;
        tracing::warn!(%reason, "webhook body refused");
        Reply::error(StatusCode::BAD_REQUEST, reason)
    }

    /// 500 for a connection that cannot authenticate anything until an operator fixes it. The
    /// sender is told nothing more than that; the audit event names the field.
    async fn misconfigured(&self, message: String) -> Reply {
        let event = self.event(self.delivery_key(), Outcome::Failed).with_error(ErrorClass::Data, message.clone());
        self.audit(event).await;
        tracing::error!(error.message = %message, "webhook authentication is misconfigured");
        Reply::error(StatusCode::INTERNAL_SERVER_ERROR, "webhook authentication is not configured for this connection")
    }

    /// 503/500 for a port that failed before anything was queued; BigCommerce retries.
    async fn port_failed(&self, doing: &str, error: &PortError) -> Reply {
        self.port_failed_for(self.delivery_key(), doing, error).await
    }

    async fn port_failed_for(&self, key: RecordKey, doing: &str, error: &PortError) -> Reply {
        let outcome = if error.class().is_retryable() { Outcome::Retried } else { Outcome::Failed };
        let message = format!("{doing}: {error}");
        self.audit(self.event(key, outcome).with_error(error.class(), message)).await;
        tracing::error!(error.message = %error, error.cause_chain = ?error, "{doing} failed");
        Reply::port_failure(error)
    }

    /// Queues the order, once per `webhook-id` when the delivery has one (see the module
    /// documentation), and marks it queued.
    async fn enqueue_once(&self, order: OrderRef, stub: &WebhookStub) -> Reply {
        let now = self.delivery.now;
        let webhook_id = webhook_id(self.delivery.headers);
        let delivery = match webhook_id {
            Some(id) => id.to_owned(),
            None => format!("webhook-{}", uuid::Uuid::new_v4().simple()),
        };
        let claim = webhook_id.map(|id| format!("webhook#{}#{}#{}", order.connection, order.order_id, id));
        let record = order.record_key();
        let duplicate = |reason: &str| {
            self.event(record.clone(), Outcome::Duplicate)
                .with_message(reason.to_owned())
                .with_detail(json!({"scope": stub.scope, "delivery": delivery}))
        };

        if let Some(claim) = &claim {
            // Zero seconds: "is there a live claim?" without leaving one behind (module docs).
            match self.ports.dedupe.claim(claim, now, Duration::zero()).await {
                Ok(true) => {}
                Ok(false) => {
                    self.audit(duplicate("this delivery (webhook-id) was already queued")).await;
                    return Reply::ok();
                }
                Err(error) => return self.port_failed_for(record, "checking the delivery claim", &error).await,
            }
        }

        let message = OrderMessage {
            order: order.clone(),
            scope: stub.scope.clone(),
            delivery: delivery.clone(),
            source: MessageSource::Webhook,
            received_at: now,
        };
        let message_id = match self.ports.queue.enqueue(&message).await {
            Ok(message_id) => message_id,
            Err(error) => return self.port_failed_for(record, "queueing the order", &error).await,
        };

        let mut notes = Vec::new();
        if let Err(error) = self.ports.queue_marks.mark_queued(&order, now).await {
            tracing::warn!(error.message = %error, "order queued but not marked queued; the sweep may queue it again");
            notes.push(format!("not marked queued, so the order sweep may queue it again: {error}"));
        }
        let queued = json!({
            "message_id": message_id,
            "scope": stub.scope,
            "delivery": delivery,
            "webhook_id": webhook_id.is_some(),
            "group": message.group_id(),
            "stub": stub.to_detail(),
        });
        let committed = match &claim {
            Some(claim) => self.ports.dedupe.claim(claim, now, Duration::hours(DELIVERY_TTL_HOURS)).await,
            None => Ok(true),
        };
        match committed {
            Ok(true) => {}
            Ok(false) => {
                // A copy racing this one committed first; SQS dropped this copy by its
                // de-duplication id.
                self.audit(duplicate("a concurrent copy of this delivery was queued first")).await;
                return Reply::ok();
            }
            Err(error) => {
                tracing::warn!(error.message = %error, "order queued but the delivery claim was not saved");
                notes.push(format!("the delivery claim was not saved: {error}"));
            }
        }
        let mut event = self.event(record, Outcome::Ok).with_detail(queued);
        if !notes.is_empty() {
            event = event.with_message(format!("queued; {}", notes.join("; ")));
        }
        self.audit(event).await;
        tracing::info!(%message_id, scope = %stub.scope, "order queued");
        Reply::ok()
    }
}

/// The Standard Webhooks `webhook-id` when it is a plain token (at most 64 letters, digits and
/// `_-.`); anything else is treated as absent, since it names records and keys.
fn webhook_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(auth::WEBHOOK_ID)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|id| (1..=64).contains(&id.len()))
        .filter(|id| id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'))
}

/// Names a delivery without keeping it: the `webhook-id` header when it is a plain token (it is
/// attacker-controlled before authentication, so anything else is not used), else the body's hash.
fn delivery_ref(delivery: &Delivery<'_>) -> String {
    match webhook_id(delivery.headers) {
        Some(id) => id.to_owned(),
        None => format!("sha256-{}", hex::encode(Sha256::digest(delivery.body))),
    }
}

#[cfg(test)]
mod tests;
