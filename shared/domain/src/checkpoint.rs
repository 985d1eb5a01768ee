//! Checkpoints: how far a scheduled sync stream has got.
//!
//! A checkpoint is a watermark (the newest source timestamp written) plus the ids seen exactly at
//! that watermark. The next run reads from `watermark - overlap`, so records committed late with an
//! older timestamp are still seen; records already written at the watermark itself are skipped by
//! id, and anything else in the overlap is re-offered and de-duplicated downstream by content hash.
//! A checkpoint only moves after what it covers was written, and the save is conditional on the
//! revision that was loaded, so two overlapping runs cannot both advance it.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::ConnectionId;

/// One sync stream of one connection, e.g. `acme` / `stock` or `acme` / `monday:purchase-orders`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyncStream {
    pub connection: ConnectionId,
    pub name: String,
}

impl SyncStream {
    pub fn new(connection: ConnectionId, name: impl Into<String>) -> Self {
        Self { connection, name: name.into() }
    }
}

impl fmt::Display for SyncStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.connection, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The newest source timestamp that has been written.
    pub watermark: DateTime<Utc>,
    /// Ids of the records written whose timestamp equals `watermark` exactly.
    pub ids_at_watermark: BTreeSet<String>,
    /// Incremented by every save; the conditional write compares it.
    pub revision: u64,
}

impl Checkpoint {
    /// The first checkpoint of a stream, before anything was written.
    pub fn starting_at(watermark: DateTime<Utc>) -> Self {
        Self { watermark, ids_at_watermark: BTreeSet::new(), revision: 0 }
    }

    /// Where the next read window starts: overlapping the last one so late commits are not lost.
    pub fn window_start(&self, overlap: Duration) -> DateTime<Utc> {
        self.watermark - overlap
    }

    /// Whether a record read again in the overlap was already written at the watermark itself.
    pub fn already_covers(&self, modified: DateTime<Utc>, id: &str) -> bool {
        modified == self.watermark && self.ids_at_watermark.contains(id)
    }

    /// This checkpoint once a window was read to its end at `horizon`: nothing unread is older, so
    /// the watermark moves up to the horizon even when no record was there (the next window then
    /// starts at `horizon - overlap` instead of growing from an old watermark).
    pub fn read_up_to(mut self, horizon: DateTime<Utc>) -> Checkpoint {
        if horizon > self.watermark {
            self.watermark = horizon;
            self.ids_at_watermark.clear();
        }
        self
    }

    /// The checkpoint after `written` (timestamp, id) records were all written successfully.
    ///
    /// Never moves backwards: records older than the watermark (late commits in the overlap) do not
    /// change it. Records at an equal timestamp add their ids to the set.
    pub fn advanced<'a>(&self, written: impl IntoIterator<Item = (DateTime<Utc>, &'a str)>) -> Checkpoint {
        let mut next = Checkpoint { revision: self.revision + 1, ..self.clone() };
        for (modified, id) in written {
            if modified > next.watermark {
                next.watermark = modified;
                next.ids_at_watermark.clear();
            }
            if modified == next.watermark {
                next.ids_at_watermark.insert(id.to_owned());
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn advancing_moves_to_the_newest_timestamp_and_remembers_ids_there() {
        let start = Checkpoint::starting_at(at("2026-11-01T00:00:00Z"));
        let next = start.advanced([
            (at("2026-11-01T10:00:00Z"), "po-1"),
            (at("2026-11-01T12:00:00Z"), "po-2"),
            (at("2026-11-01T12:00:00Z"), "po-3"),
        ]);
        assert_eq!(next.watermark, at("2026-11-01T12:00:00Z"));
        assert_eq!(next.ids_at_watermark, BTreeSet::from(["po-2".to_owned(), "po-3".to_owned()]));
        assert_eq!(next.revision, 1);
    }

    #[test]
    fn equal_timestamps_in_the_next_run_are_added_not_skipped() {
        let first =
            Checkpoint::starting_at(at("2026-11-01T00:00:00Z")).advanced([(at("2026-11-01T12:00:00Z"), "po-2")]);
        assert!(first.already_covers(at("2026-11-01T12:00:00Z"), "po-2"));
        assert!(!first.already_covers(at("2026-11-01T12:00:00Z"), "po-9"));
        let second = first.advanced([(at("2026-11-01T12:00:00Z"), "po-9")]);
        assert_eq!(second.ids_at_watermark.len(), 2);
        assert_eq!(second.revision, 2);
    }

    #[test]
    fn late_commits_in_the_overlap_never_move_the_watermark_back() {
        let cp = Checkpoint::starting_at(at("2026-11-01T00:00:00Z")).advanced([(at("2026-11-01T12:00:00Z"), "po-2")]);
        assert_eq!(cp.window_start(Duration::minutes(5)), at("2026-11-01T11:55:00Z"));
        let late = cp.advanced([(at("2026-11-01T11:58:00Z"), "po-late")]);
        assert!(!cp.already_covers(at("2026-11-01T11:58:00Z"), "po-late"));
        assert_eq!(late.watermark, cp.watermark);
        assert_eq!(late.ids_at_watermark, cp.ids_at_watermark);
    }

    #[test]
    fn stream_names_carry_the_connection() {
        let stream = SyncStream::new(ConnectionId::new("acme").unwrap(), "monday:purchase-orders");
        assert_eq!(stream.to_string(), "acme#monday:purchase-orders");
    }

    #[test]
    fn a_window_read_to_its_end_moves_the_watermark_to_the_horizon_but_never_back() {
        let start = Checkpoint::starting_at(at("2026-11-24T10:00:00Z")).advanced([(at("2026-11-24T10:00:00Z"), "7")]);
        let moved = start.clone().read_up_to(at("2026-11-24T10:05:00Z"));
        assert_eq!((moved.watermark, moved.ids_at_watermark.len()), (at("2026-11-24T10:05:00Z"), 0));
        assert_eq!(start.clone().read_up_to(at("2026-11-24T09:00:00Z")), start);
    }
}
