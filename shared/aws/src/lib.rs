//! AWS adapters for the Millwright ports: DynamoDB (audit and state tables), SQS (the order queue),
//! Secrets Manager (credentials) and SNS (operator alerts), plus provisioning of the template's
//! resources for the local world and tests.
//!
//! **Boundary:** no AWS SDK type appears in a public signature except `aws_config::SdkConfig`, which
//! every constructor takes. Every SDK failure becomes a [`domain::PortError`] in one place, the
//! private `error` module: conditional check failed → `Conflict`; throttling, 5xx, timeouts,
//! connection failures → `Unavailable`; validation, not found, access denied → `Invalid`.
//!
//! **Invariant:** the adapters keep the contracts of the in-memory fakes in `domain::ports::memory`,
//! and every race those contracts settle (ledger lease, checkpoint revision, dedupe claim) is settled
//! by a DynamoDB condition, never by reading and then writing. The tests in `tests/moto` prove both
//! against `moto_server`.
//!
//! Layout:
//! - [`config`]: loading the SDK configuration (from the environment, or for an emulator endpoint).
//! - [`provision`]: creating the template's tables, queues and topic under the template's names.
//! - [`audit`]: [`DynamoAuditLog`], the audit table.
//! - [`state`]: the state table's adapters, and its key layout.
//! - [`queue`]: [`SqsQueue`], and [`SqsEventSource`] (the local runtime's stand-in for Lambda's SQS poller). [`secrets`]: [`SecretsManagerStore`]. [`alerts`]: [`SnsAlerter`].

pub mod alerts;
pub mod audit;
mod batch;
pub mod config;
mod error;
mod item;
mod partition;
pub mod provision;
pub mod queue;
pub mod secrets;
pub mod state;

pub use alerts::SnsAlerter;
pub use audit::DynamoAuditLog;
pub use queue::{SqsEventSource, SqsJobQueue, SqsQueue};
pub use secrets::SecretsManagerStore;
pub use state::{
    DynamoCheckpointStore, DynamoConnectionStore, DynamoDedupeStore, DynamoHoldStore, DynamoIdMap, DynamoJobLeases,
    DynamoOpenOrders, DynamoOrderLedger, DynamoQueueMarks, DynamoStockState,
};
