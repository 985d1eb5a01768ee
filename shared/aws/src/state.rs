//! The state table (`{stack}-state`): order ledger, checkpoints, id maps, de-duplication claims
//! and connection profiles, in one table with one key prefix per kind.
//!
//! | kind | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | order ledger | `ledger#{connection}#{order_id}` | `-` | `entry` (JSON [`domain::LedgerEntry`] without its lease), `status`, `lease_holder`, `lease_until` (epoch ns) |
//! | checkpoint | `checkpoint#{connection}#{stream}` | `-` | `checkpoint` (JSON [`domain::Checkpoint`]), `revision` |
//! | id map | `idmap#{connection}#{namespace}` | source id | `target_id` |
//! | dedupe claim | `dedupe#{key}` | `-` | `claimed_until` (epoch ns), `expires_at` (epoch s, TTL) |
//! | connection profile | `connection` | connection id | `profile` (JSON [`domain::ConnectionProfile`]) |
//! | held order | `hold#{connection}` | order id | `hold` (JSON [`domain::hold::Hold`]), `held_at` (epoch ns) |
//! | open order | `open#{connection}` | order id | `open` (JSON [`domain::open_order::OpenOrder`]: the lines BigCommerce took that Plex does not hold yet) |
//! | stock pushed | `stock#{connection}` | `{location}#{sku}` | `sku`, `location`, `quantity` (the level last pushed to BigCommerce and accepted), `plex_on_hand` (decimal string: the on-hand it was computed from) |
//! | stock reads | `stockread#{connection}` | `-` | `progress` (JSON [`domain::stock::StockProgress`]: the last full read, the container adjustments read so far) |
//! | drift report | `stockdrift#{connection}` | `-` | `check` (JSON [`domain::stock::DriftCheck`]: the stock flow's last drift report) |
//! | job lease | `lease#{connection}#{job}` | `-` | `holder`, `held_until` (epoch ns), `covered_through` (epoch ns, when the latest finished job started) |
//! | queued mark | `queued#{connection}#{order_id}` | `-` | `queued_at` (epoch ns, the newest time a message for the order was queued), `expires_at` (epoch s, TTL) |
//!
//! Every write that must not be lost to a race is one conditional request, so DynamoDB, not Rust,
//! decides who wins: taking a ledger lease, saving under a lease, saving a checkpoint, claiming a
//! dedupe key, releasing a hold, moving a queued mark forward, taking a job's lease. Nothing here reads and then writes.
//!
//! Times that conditions compare are epoch nanoseconds (exact, numeric); see the private `item` module.
//! DynamoDB TTL deletes expired claims and marks eventually, not at once (and the AWS emulator never
//! does), so the claim condition checks `claimed_until` itself, and reading a mark checks its age,
//! rather than relying on the item being gone.
//!
//! A queued mark is written by the webhook receiver and the order sweep after the queue accepted a
//! message for the order; the sweep does not queue an order whose mark is newer than the worker's
//! last concluded read (`LedgerEntry::read_at`): that message is still waiting and will read the
//! order after the sweep looked.
//!
//! Connection ids cannot contain `#` ([`domain::ConnectionId`]), so no two kinds or connections can
//! produce the same `pk`.

mod checkpoint;
mod connections;
mod dedupe;
mod holds;
mod id_map;
mod job_leases;
mod ledger;
mod open_orders;
mod queued;
mod stock;

pub use checkpoint::DynamoCheckpointStore;
pub use connections::DynamoConnectionStore;
pub use dedupe::DynamoDedupeStore;
pub use holds::DynamoHoldStore;
pub use id_map::DynamoIdMap;
pub use job_leases::DynamoJobLeases;
pub use ledger::DynamoOrderLedger;
pub use open_orders::DynamoOpenOrders;
pub use queued::DynamoQueueMarks;
pub use stock::DynamoStockState;

use domain::{ConnectionId, OrderRef, SyncStream};

use crate::item::{self, Item};

/// The sort key of kinds that have one item per partition key.
pub(crate) const SINGLE_SK: &str = "-";

/// The partition key under which every connection profile is stored (one query lists them all).
pub(crate) const CONNECTION_PK: &str = "connection";

pub(crate) fn ledger_pk(order: &OrderRef) -> String {
    format!("ledger#{}#{}", order.connection, order.order_id)
}

pub(crate) fn checkpoint_pk(stream: &SyncStream) -> String {
    format!("checkpoint#{stream}")
}

pub(crate) fn id_map_pk(connection: &ConnectionId, namespace: &str) -> String {
    format!("idmap#{connection}#{namespace}")
}

pub(crate) fn hold_pk(connection: &ConnectionId) -> String {
    format!("hold#{connection}")
}

pub(crate) fn queued_pk(order: &OrderRef) -> String {
    format!("queued#{}#{}", order.connection, order.order_id)
}

pub(crate) fn open_pk(connection: &ConnectionId) -> String {
    format!("open#{connection}")
}

pub(crate) fn stock_pk(connection: &ConnectionId) -> String {
    format!("stock#{connection}")
}

pub(crate) fn stock_drift_pk(connection: &ConnectionId) -> String {
    format!("stockdrift#{connection}")
}

pub(crate) fn stock_progress_pk(connection: &ConnectionId) -> String {
    format!("stockread#{connection}")
}

pub(crate) fn job_lease_pk(connection: &ConnectionId, job: &str) -> String {
    format!("lease#{connection}#{job}")
}

pub(crate) fn dedupe_pk(key: &str) -> String {
    format!("dedupe#{key}")
}

/// The primary key of an item.
pub(crate) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    Item::from([("pk".to_owned(), item::string(pk)), ("sk".to_owned(), item::string(sk))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_keys_follow_the_documented_layout() {
        let acme = ConnectionId::new("acme").unwrap();
        assert_eq!(ledger_pk(&OrderRef::new(acme.clone(), 1042)), "ledger#acme#1042");
        assert_eq!(checkpoint_pk(&SyncStream::new(acme.clone(), "monday:parts")), "checkpoint#acme#monday:parts");
        assert_eq!(id_map_pk(&acme, "sku"), "idmap#acme#sku");
        assert_eq!(hold_pk(&acme), "hold#acme");
        assert_eq!(open_pk(&acme), "open#acme");
        assert_eq!(stock_pk(&acme), "stock#acme");
        assert_eq!(stock_drift_pk(&acme), "stockdrift#acme");
        assert_eq!(stock_progress_pk(&acme), "stockread#acme");
        assert_eq!(queued_pk(&OrderRef::new(acme.clone(), 1042)), "queued#acme#1042");
        assert_eq!(dedupe_pk("alert#acme#plex-auth"), "dedupe#alert#acme#plex-auth");
        assert_eq!(job_lease_pk(&acme, "webhook-health"), "lease#acme#webhook-health");
    }
}
