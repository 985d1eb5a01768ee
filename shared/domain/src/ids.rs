//! Identifiers that every key, secret name, audit record and metric carries.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string was refused as an identifier; names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct InvalidId {
    pub what: &'static str,
    pub value: String,
    pub reason: &'static str,
}

/// Names one connection: a BigCommerce store, a Plex tenant and optionally a monday account.
///
/// Lowercase letters, digits, `-` and `_`, 1 to 64 characters. The alphabet is narrow on purpose:
/// the id is embedded in URLs (`/webhooks/bigcommerce/{id}`), DynamoDB keys (joined with `#`) and
/// secret names (joined with `/`), so it must never contain any of those separators.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConnectionId(String);

impl ConnectionId {
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
        let value = value.into();
        let invalid = |reason| InvalidId { what: "connection id", value: value.clone(), reason };
        if value.is_empty() || value.len() > 64 {
            return Err(invalid("must be 1 to 64 characters"));
        }
        if !value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_') {
            return Err(invalid("only lowercase letters, digits, '-' and '_' are allowed"));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ConnectionId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for ConnectionId {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ConnectionId> for String {
    fn from(id: ConnectionId) -> Self {
        id.0
    }
}

/// The kinds of record that move through Millwright. The string form is part of stored keys:
/// never rename one without migrating the audit and state tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordKind {
    /// A BigCommerce order (orders flow).
    BcOrder,
    /// A webhook delivery that could not be tied to an order (rejected, malformed).
    BcWebhook,
    /// Stock of one SKU (stock flow): its pushes and drift, `{connection}#stock#{sku}`.
    #[serde(rename = "stock")]
    SkuStock,
    /// A BigCommerce webhook subscription (health flow).
    BcHook,
    PlexPurchaseOrder,
    PlexApInvoice,
    PlexInventory,
    PlexPart,
    PlexSupplier,
    PlexGlAccount,
    /// An event delivered by a monday.com webhook.
    MondayEvent,
    /// A whole sync run or check that is not about one record.
    Run,
}

impl RecordKind {
    pub const ALL: [RecordKind; 12] = [
        RecordKind::BcOrder,
        RecordKind::BcWebhook,
        RecordKind::SkuStock,
        RecordKind::BcHook,
        RecordKind::PlexPurchaseOrder,
        RecordKind::PlexApInvoice,
        RecordKind::PlexInventory,
        RecordKind::PlexPart,
        RecordKind::PlexSupplier,
        RecordKind::PlexGlAccount,
        RecordKind::MondayEvent,
        RecordKind::Run,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::BcOrder => "bc-order",
            RecordKind::BcWebhook => "bc-webhook",
            RecordKind::SkuStock => "stock",
            RecordKind::BcHook => "bc-hook",
            RecordKind::PlexPurchaseOrder => "plex-purchase-order",
            RecordKind::PlexApInvoice => "plex-ap-invoice",
            RecordKind::PlexInventory => "plex-inventory",
            RecordKind::PlexPart => "plex-part",
            RecordKind::PlexSupplier => "plex-supplier",
            RecordKind::PlexGlAccount => "plex-gl-account",
            RecordKind::MondayEvent => "monday-event",
            RecordKind::Run => "run",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordKind {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordKind::ALL.into_iter().find(|kind| kind.as_str() == s).ok_or_else(|| InvalidId {
            what: "record kind",
            value: s.to_owned(),
            reason: "unknown kind",
        })
    }
}

/// One record in one connection, e.g. `acme#bc-order#1042`: the partition key of the audit table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey {
    pub connection: ConnectionId,
    pub kind: RecordKind,
    /// The source system's id. May contain `#` (the key is split on the first two separators only).
    pub id: String,
}

impl RecordKey {
    pub fn new(connection: ConnectionId, kind: RecordKind, id: impl Into<String>) -> Self {
        Self { connection, kind, id: id.into() }
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}#{}", self.connection, self.kind, self.id)
    }
}

impl FromStr for RecordKey {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(3, '#');
        let (Some(connection), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(InvalidId {
                what: "record key",
                value: s.to_owned(),
                reason: "expected {connection}#{kind}#{id}",
            });
        };
        if id.is_empty() {
            return Err(InvalidId { what: "record key", value: s.to_owned(), reason: "empty record id" });
        }
        Ok(Self { connection: connection.parse()?, kind: kind.parse()?, id: id.to_owned() })
    }
}

impl Serialize for RecordKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RecordKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// The external systems a connection talks to; each has one secret per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum System {
    Bigcommerce,
    Plex,
    Monday,
}

impl System {
    pub const ALL: [System; 3] = [System::Bigcommerce, System::Plex, System::Monday];

    pub fn as_str(self) -> &'static str {
        match self {
            System::Bigcommerce => "bigcommerce",
            System::Plex => "plex",
            System::Monday => "monday",
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{prefix}/{connection_id}/{system}`, e.g. `millwright/acme/plex`. The prefix is configuration so
/// two stacks can share one account without reading each other's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretName {
    pub prefix: String,
    pub connection: ConnectionId,
    pub system: System,
}

impl SecretName {
    pub const DEFAULT_PREFIX: &'static str = "millwright";

    pub fn new(prefix: impl Into<String>, connection: ConnectionId, system: System) -> Self {
        Self { prefix: prefix.into(), connection, system }
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.prefix, self.connection, self.system)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_connection(input: &str, ok: bool) {
        assert_eq!(ConnectionId::new(input).is_ok(), ok, "connection id {input:?}");
    }

    #[test]
    fn connection_ids_exclude_key_and_path_separators() {
        check_connection("acme", true);
        check_connection("acme-eu_2", true);
        check_connection("", false);
        check_connection("Acme", false);
        check_connection("acme#1", false);
        check_connection("acme/1", false);
        check_connection(&"a".repeat(65), false);
        check_connection(&"a".repeat(64), true);
    }

    #[test]
    fn invalid_connection_id_error_names_the_value_and_rule() {
        let err = ConnectionId::new("ACME").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid connection id \"ACME\": only lowercase letters, digits, '-' and '_' are allowed"
        );
    }

    #[test]
    fn record_key_round_trips_and_keeps_hashes_inside_the_id() {
        let key = RecordKey::new(ConnectionId::new("acme").unwrap(), RecordKind::BcOrder, "1042");
        assert_eq!(key.to_string(), "acme#bc-order#1042");
        assert_eq!("acme#bc-order#1042".parse::<RecordKey>().unwrap(), key);

        let odd: RecordKey = "acme#plex-part#A#B".parse().unwrap();
        assert_eq!(odd.id, "A#B");
        assert_eq!(odd.to_string(), "acme#plex-part#A#B");
    }

    #[test]
    fn record_key_rejects_unknown_kinds_and_missing_parts() {
        assert!("acme#order#1".parse::<RecordKey>().is_err());
        assert!("acme#bc-order".parse::<RecordKey>().is_err());
        assert!("acme#bc-order#".parse::<RecordKey>().is_err());
    }

    #[test]
    fn every_record_kind_parses_back_from_its_string() {
        for kind in RecordKind::ALL {
            assert_eq!(kind.as_str().parse::<RecordKind>().unwrap(), kind);
        }
    }

    #[test]
    fn secret_names_follow_the_documented_layout() {
        let name = SecretName::new(SecretName::DEFAULT_PREFIX, ConnectionId::new("acme").unwrap(), System::Plex);
        assert_eq!(name.to_string(), "millwright/acme/plex");
    }
}
