//! The order ledger: one entry per BigCommerce order, recording which Plex sales order it became.
//!
//! The ledger is how "one BigCommerce order makes exactly one Plex sales order" is kept:
//! a worker takes the entry's lease with a conditional write before touching Plex, marks the entry
//! `Writing` before a create, and commits the Plex id and version hash under the same lease. An entry
//! found `Writing` without a Plex id means an earlier create's outcome is in doubt (timeout, crash),
//! so the next worker looks the order up in Plex by its reference before creating anything.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ConnectionId, RecordKey, RecordKind};
use crate::order::WebOrder;

/// A BigCommerce order in a connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderRef {
    pub connection: ConnectionId,
    pub order_id: u64,
}

impl OrderRef {
    pub fn new(connection: ConnectionId, order_id: u64) -> Self {
        Self { connection, order_id }
    }

    pub fn record_key(&self) -> RecordKey {
        RecordKey::new(self.connection.clone(), RecordKind::BcOrder, self.order_id.to_string())
    }

    /// The reference written into Plex (as the PO number) and used to look the order up there.
    pub fn plex_reference(&self) -> String {
        Self::reference_for(self.order_id)
    }

    /// The reference a web order carries in Plex (its PO number): `BC-{order_id}`.
    pub fn reference_for(order_id: u64) -> String {
        format!("BC-{order_id}")
    }
}

impl fmt::Display for OrderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.connection, self.order_id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LedgerStatus {
    /// Known, nothing written to Plex yet.
    Pending,
    /// A Plex create was started; if no Plex id follows, its outcome is in doubt.
    Writing,
    /// The Plex sales order exists and matches `version_hash`.
    Committed,
    /// Deliberately not synced (e.g. an incomplete order).
    Skipped,
    /// Waiting for a SKU or customer mapping.
    NeedsMapping,
    /// A change Plex cannot take automatically; a person must look.
    NeedsAttention,
    /// Held after a permanent failure (e.g. missing role) until replayed.
    Parked,
}

/// Who may work on an entry, and until when. An expired lease is free for anyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub holder: String,
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub order: OrderRef,
    pub status: LedgerStatus,
    #[serde(default)]
    pub plex_order_id: Option<String>,
    /// Hash of the order content last written to Plex; an update with the same hash is a no-op.
    #[serde(default)]
    pub version_hash: Option<String>,
    /// BigCommerce `date_modified` of the content last written, so an older event never
    /// overwrites a newer state.
    #[serde(default)]
    pub source_modified: Option<DateTime<Utc>>,
    #[serde(default)]
    pub lease: Option<Lease>,
    /// What Plex was given, once committed (for diffing later updates).
    #[serde(default)]
    pub committed: Option<crate::order::CommittedOrder>,
    /// The order waits for a mapping: a [`crate::hold::Hold`] naming its gaps was stored for it.
    /// The worker releases the hold when the order leaves `NeedsMapping`; the order sweep releases
    /// holds whose entry no longer says so (left behind by a crash between the two writes).
    #[serde(default)]
    pub held: bool,
    /// BigCommerce `date_modified` of the newest state the worker has read in an attempt that
    /// concluded, whatever it decided; the reconciliation sweep queues an order whose list entry
    /// is newer (a missed webhook).
    #[serde(default)]
    pub seen_modified: Option<DateTime<Utc>>,
    /// When (our clock) the worker sent its latest BigCommerce read of the order, saved only when
    /// that attempt concluded (never by a retry, which reads again). `date_modified` has whole
    /// seconds, so a read in the same second as it may predate a second change of that second:
    /// [`LedgerEntry::has_seen`] and the worker's cheap skip of repeats compare against this.
    #[serde(default)]
    pub read_at: Option<DateTime<Utc>>,
    /// The latest BigCommerce read of an attempt that went back to the queue after it (a Plex
    /// fault, say), kept until an attempt concludes: see [`RetainedRead`].
    #[serde(default)]
    pub retained_read: Option<RetainedRead>,
    pub updated_at: DateTime<Utc>,
}

/// A BigCommerce read whose attempt was retried after it: when it was sent (our clock) and the
/// order it returned. A retry of a message that arrived before it writes this state instead of
/// reading the order again (the read was sent after the change the message announces); a later
/// change has a message of its own, which arrives after the read, waits behind the retry in the
/// order's message group, and is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainedRead {
    pub at: DateTime<Utc>,
    pub order: WebOrder,
}

/// BigCommerce's `date_modified` has whole seconds: a change stamped `D` happened before `D` plus
/// this, and a read sent at or after that moment has seen every change stamped `D`.
pub const MODIFIED_RESOLUTION: Duration = Duration::seconds(1);

impl LedgerEntry {
    pub fn new(order: OrderRef, now: DateTime<Utc>) -> Self {
        Self {
            order,
            status: LedgerStatus::Pending,
            plex_order_id: None,
            version_hash: None,
            source_modified: None,
            lease: None,
            committed: None,
            held: false,
            seen_modified: None,
            read_at: None,
            retained_read: None,
            updated_at: now,
        }
    }

    /// Whether someone other than `holder` holds an unexpired lease.
    pub fn is_leased_by_other(&self, holder: &str, now: DateTime<Utc>) -> bool {
        self.lease.as_ref().is_some_and(|lease| lease.holder != holder && lease.until > now)
    }

    /// Whether the worker has read the order with every change stamped `modified` (a BigCommerce
    /// `date_modified`): it read a state stamped later (entries written before `seen_modified`
    /// existed count their committed version), or its read was sent a whole second after
    /// `modified`. A read within that second and a state stamped the same second do not count:
    /// a second change in the same second has the same stamp.
    pub fn has_seen(&self, modified: DateTime<Utc>) -> bool {
        let read_a_later_state = self.seen_modified.or(self.source_modified).is_some_and(|seen| seen > modified);
        let read_after_the_second = self.read_at.is_some_and(|at| at >= modified + MODIFIED_RESOLUTION);
        read_a_later_state || read_after_the_second
    }

    /// An earlier create may or may not have reached Plex: look it up before creating again.
    pub fn create_in_doubt(&self) -> bool {
        self.status == LedgerStatus::Writing && self.plex_order_id.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> LedgerEntry {
        let now = DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc);
        LedgerEntry::new(OrderRef::new(ConnectionId::new("acme").unwrap(), 1042), now)
    }

    #[test]
    fn order_reference_and_record_key_follow_the_documented_shapes() {
        let order = entry().order;
        assert_eq!(order.plex_reference(), "BC-1042");
        assert_eq!(order.record_key().to_string(), "acme#bc-order#1042");
    }

    #[test]
    fn a_lease_blocks_others_only_until_it_expires() {
        let mut e = entry();
        let now = e.updated_at;
        e.lease = Some(Lease { holder: "w1".into(), until: now + chrono::Duration::seconds(30) });
        assert!(e.is_leased_by_other("w2", now));
        assert!(!e.is_leased_by_other("w1", now));
        assert!(!e.is_leased_by_other("w2", now + chrono::Duration::seconds(31)));
    }

    #[test]
    fn an_entry_has_seen_a_modification_only_through_a_later_state_or_a_read_a_second_later() {
        let mut e = entry();
        let t = e.updated_at;
        let s = chrono::Duration::seconds;
        assert!(!e.has_seen(t), "a new entry has seen nothing");
        // A state stamped the same second may be the first of two changes in that second.
        e.source_modified = Some(t);
        assert!(!e.has_seen(t) && e.has_seen(t - s(1)));
        e.seen_modified = Some(t + s(5));
        assert!(e.has_seen(t + s(4)) && !e.has_seen(t + s(5)));
        // A read sent within the second of the stamp may predate a second change of that second.
        e.read_at = Some(t + s(5) + chrono::Duration::milliseconds(999));
        assert!(!e.has_seen(t + s(5)));
        e.read_at = Some(t + s(6));
        assert!(e.has_seen(t + s(5)) && !e.has_seen(t + s(6)));
    }

    #[test]
    fn a_create_is_in_doubt_only_while_writing_without_a_plex_id() {
        let mut e = entry();
        assert!(!e.create_in_doubt());
        e.status = LedgerStatus::Writing;
        assert!(e.create_in_doubt());
        e.plex_order_id = Some("so-1".into());
        assert!(!e.create_in_doubt());
    }
}
