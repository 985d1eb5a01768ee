//! The Millwright domain: the vocabulary every function, adapter and test shares.
//!
//! This crate does no I/O. It never imports an AWS SDK, an HTTP client or the Lambda runtime; adapters
//! in `shared/aws`, `shared/bigcommerce`, `shared/plex` and `shared/monday` implement the traits in
//! [`ports`] and convert their wire types into the types defined here.
//!
//! Layout:
//! - [`ids`]: connection ids, record keys, secret names.
//! - [`audit`]: the events of a record's life that the audit table stores.
//! - [`error`]: the error classes that decide retry, alert and park, and the port error type.
//! - [`checkpoint`]: sync-stream watermarks and the overlap-and-dedupe rule.
//! - [`ledger`]: the order ledger (BigCommerce order → Plex sales order) with leases.
//! - [`hold`]: orders held until their mapping gaps are filled.
//! - [`hooks`]: the order hooks a connection needs at BigCommerce and how to repair them.
//! - [`connection`]: a connection's non-secret profile (store, tenant, board mappings, auth modes).
//! - [`message`]: what travels on the order queue.
//! - [`job`]: a scheduled function's per-connection jobs and their leases.
//! - [`order`]: web orders and the Plex sales orders they become.
//! - [`open_order`]: web orders BigCommerce took that Plex does not hold yet (the stock deduction).
//! - [`schedule`]: what a scheduled function's event may ask for.
//! - [`stock`]: the stock flow's vocabulary and arithmetic: Plex on-hand rows, BigCommerce item
//!   addresses and locations, the connection's stock settings, available to sell, the changed rows
//!   and their batches.
//! - [`alert`]: an operator alert and the cause that de-duplicates it.
//! - [`ports`]: the capability traits adapters implement.

pub mod alert;
pub mod audit;
pub mod checkpoint;
pub mod connection;
pub mod error;
pub mod hold;
pub mod hooks;
pub mod id_map;
pub mod ids;
pub mod job;
pub mod ledger;
pub mod message;
pub mod open_order;
pub mod order;
pub mod ports;
pub mod schedule;
pub mod stock;

pub use alert::Alert;
pub use audit::{AuditEvent, Outcome, Stage};
pub use checkpoint::{Checkpoint, SyncStream};
pub use connection::ConnectionProfile;
pub use error::{ErrorClass, PortError};
pub use ids::{ConnectionId, InvalidId, RecordKey, RecordKind, SecretName, System};
pub use ledger::{Lease, LedgerEntry, LedgerStatus, OrderRef};
pub use message::OrderMessage;
