//! `millwright trace`: one record's audit trail, oldest first, and for an order its ledger entry
//! (status, Plex order, version hash, lease), as text or as JSON lines.

use std::process::ExitCode;

use anyhow::Context;
use chrono::SecondsFormat;
use domain::{AuditEvent, ConnectionId, LedgerEntry, OrderRef, RecordKey, RecordKind};
use runtime::Deps;

/// `millwright trace <connection> <order-id>` or `millwright trace --record <key>`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    group(clap::ArgGroup::new("what").required(true).args(["order_id", "sku", "record"])),
    override_usage = "millwright trace CONNECTION ORDER_ID [--json]\n       millwright trace CONNECTION --sku SKU \
                      [--json]\n       millwright trace --record KEY [--json]"
)]
pub struct TraceArgs {
    /// The connection of the order or the SKU.
    pub connection: Option<ConnectionId>,
    /// The BigCommerce order id.
    #[arg(requires = "connection")]
    pub order_id: Option<u64>,
    /// A SKU's stock history instead of an order: each push (Plex on hand, in flight, safety
    /// stock, the level sent, BigCommerce's transaction) and each drift found.
    #[arg(long, requires = "connection", conflicts_with = "order_id")]
    pub sku: Option<String>,
    /// Any record instead of an order: `{connection}#{kind}#{id}`, e.g. `demo#bc-webhook#abc`.
    #[arg(long, conflicts_with_all = ["connection", "order_id"])]
    pub record: Option<RecordKey>,
    /// One JSON document per line (events with their detail, then the ledger entry of an order).
    #[arg(long)]
    pub json: bool,
}

impl TraceArgs {
    /// The record asked for.
    pub fn key(&self) -> anyhow::Result<RecordKey> {
        match (&self.record, &self.connection, self.order_id) {
            (Some(key), _, _) => Ok(key.clone()),
            (None, Some(connection), _) if self.sku.is_some() => {
                let sku = self.sku.as_deref().unwrap_or_default();
                Ok(RecordKey::new(connection.clone(), RecordKind::SkuStock, sku))
            }
            (None, Some(connection), Some(order_id)) => Ok(OrderRef::new(connection.clone(), order_id).record_key()),
            _ => anyhow::bail!("give a connection and an order id, a connection and --sku SKU, or --record KEY"),
        }
    }
}

/// A record's audit trail and, for an order, its ledger entry.
#[derive(Debug, Clone)]
pub struct Trace {
    pub key: RecordKey,
    /// Oldest first.
    pub events: Vec<AuditEvent>,
    /// `Some` for an order: `None` inside when the ledger has no entry for it.
    pub ledger: Option<Option<LedgerEntry>>,
}

/// Reads the trail (and the ledger entry of an order). Fails on an unknown connection, so a typo
/// is not mistaken for a record without events.
pub async fn load(deps: &Deps, key: &RecordKey) -> anyhow::Result<Trace> {
    deps.connection(&key.connection).await?;
    let events = deps.audit.history(key).await.with_context(|| format!("reading the audit trail of {key}"))?;
    let ledger = match order_of(key) {
        Some(order) => {
            Some(deps.ledger.get(&order).await.with_context(|| format!("reading the ledger entry of {key}"))?)
        }
        None => None,
    };
    Ok(Trace { key: key.clone(), events, ledger })
}

/// The order a record key names, when it names one.
fn order_of(key: &RecordKey) -> Option<OrderRef> {
    let order_id = key.id.parse().ok().filter(|_| key.kind == RecordKind::BcOrder)?;
    Some(OrderRef::new(key.connection.clone(), order_id))
}

impl Trace {
    /// The text form: a heading, one line per event, and the ledger line of an order.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::with_capacity(self.events.len() + 2);
        lines.push(match self.events.len() {
            0 => format!("{}: no audit events", self.key),
            1 => format!("{}: 1 audit event", self.key),
            count => format!("{}: {count} audit events, oldest first", self.key),
        });
        lines.extend(self.events.iter().map(event_line));
        if let Some(entry) = &self.ledger {
            lines.push(match entry {
                Some(entry) => ledger_line(entry),
                None => "ledger: no entry".to_owned(),
            });
        }
        lines
    }

    /// The JSON form: each event as stored (detail included), then `{"ledger": ...}` for an order.
    pub fn json_lines(&self) -> anyhow::Result<Vec<String>> {
        let mut lines = Vec::with_capacity(self.events.len() + 1);
        for event in &self.events {
            lines.push(serde_json::to_string(event).context("writing an audit event as JSON")?);
        }
        if let Some(entry) = &self.ledger {
            lines.push(serde_json::json!({ "ledger": entry }).to_string());
        }
        Ok(lines)
    }
}

/// `time  stage  outcome  attempt  actor  error class  message`, columns padded to their widest
/// value so a trail reads as a table.
pub fn event_line(event: &AuditEvent) -> String {
    let line = format!(
        "{}  {:<8}  {:<15}  attempt {:<2}  {:<16}  {:<10}  {}",
        event.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        serde_name(&event.stage),
        event.outcome.as_str(),
        event.attempt,
        event.actor,
        event.error_class.map_or("-", |class| class.as_str()),
        event.message.as_deref().unwrap_or(""),
    );
    line.trim_end().to_owned()
}

/// `ledger: status committed, Plex order <id> (number <n>), version <hash>, lease free, updated <time>`.
pub fn ledger_line(entry: &LedgerEntry) -> String {
    let mut parts = vec![format!("status {}", serde_name(&entry.status))];
    let number = entry.committed.as_ref().and_then(|committed| committed.plex.number.as_deref());
    match (&entry.plex_order_id, number) {
        (Some(id), Some(number)) => parts.push(format!("Plex order {id} (number {number})")),
        (Some(id), None) => parts.push(format!("Plex order {id}")),
        (None, _) => parts.push("no Plex order".to_owned()),
    }
    if let Some(hash) = &entry.version_hash {
        parts.push(format!("version {hash}"));
    }
    parts.push(match &entry.lease {
        Some(lease) => {
            format!("lease held by {} until {}", lease.holder, lease.until.to_rfc3339_opts(SecondsFormat::Millis, true))
        }
        None => "lease free".to_owned(),
    });
    parts.push(format!("updated {}", entry.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true)));
    format!("ledger: {}", parts.join(", "))
}

/// A stored enum's name (`needs-mapping`, `committed`): its serde form is the one the tables hold.
fn serde_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => "?".to_owned(),
    }
}

/// Runs the command: prints the trail, exits 1 on an unknown connection or an unreadable table.
pub async fn run(args: TraceArgs) -> anyhow::Result<ExitCode> {
    let key = args.key()?;
    let deps = crate::deps().await?;
    let trace = load(&deps, &key).await?;
    let lines = if args.json { trace.json_lines()? } else { trace.lines() };
    for line in lines {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use clap::Parser;
    use domain::audit::{Outcome, Stage};
    use domain::{ErrorClass, Lease, LedgerStatus};

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn parse(args: &[&str]) -> Result<TraceArgs, clap::Error> {
        TraceArgs::try_parse_from(std::iter::once("trace").chain(args.iter().copied()))
    }

    #[test]
    fn an_order_is_named_by_connection_and_id_and_any_record_by_its_key() {
        assert_eq!(parse(&["acme", "1042"]).unwrap().key().unwrap().to_string(), "acme#bc-order#1042");
        let record = parse(&["--record", "demo#bc-webhook#abc", "--json"]).unwrap();
        assert_eq!(record.key().unwrap().to_string(), "demo#bc-webhook#abc");
        assert!(record.json);
        assert_eq!(parse(&["acme", "--sku", "BOLT-M8"]).unwrap().key().unwrap().to_string(), "acme#stock#BOLT-M8");
    }

    #[test]
    fn a_half_or_double_named_record_is_refused() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["acme"]).is_err());
        assert!(parse(&["acme", "10x"]).is_err());
        assert!(parse(&["acme", "1042", "--record", "acme#bc-order#1042"]).is_err());
        assert!(parse(&["--record", "acme#order#1"]).is_err());
        assert!(parse(&["Acme", "1042"]).is_err());
        assert!(parse(&["--sku", "BOLT-M8"]).is_err());
        assert!(parse(&["acme", "1042", "--sku", "BOLT-M8"]).is_err());
    }

    #[test]
    fn an_event_line_shows_time_stage_outcome_attempt_actor_class_and_message() {
        let key: RecordKey = "acme#bc-order#1042".parse().unwrap();
        let failed = AuditEvent::new(
            key.clone(),
            at("2026-11-24T10:00:00.123456Z"),
            Stage::Mapped,
            Outcome::NeedsMapping,
            "order-worker",
        )
        .with_error(ErrorClass::Data, "sku \"W-9\" has no Plex part")
        .with_attempt(2);
        assert_eq!(
            event_line(&failed),
            "2026-11-24T10:00:00.123Z  mapped    needs-mapping    attempt 2   order-worker      data        sku \"W-9\" has no Plex part"
        );
        let received =
            AuditEvent::new(key, at("2026-11-24T09:59:59Z"), Stage::Received, Outcome::Ok, "webhook-receiver");
        assert_eq!(
            event_line(&received),
            "2026-11-24T09:59:59.000Z  received  ok               attempt 1   webhook-receiver  -"
        );
    }

    #[test]
    fn a_ledger_line_shows_status_plex_order_version_and_lease() {
        let order = OrderRef::new(ConnectionId::new("acme").unwrap(), 1042);
        let mut entry = LedgerEntry::new(order, at("2026-11-24T10:00:00Z"));
        assert_eq!(
            ledger_line(&entry),
            "ledger: status pending, no Plex order, lease free, updated 2026-11-24T10:00:00.000Z"
        );
        entry.status = LedgerStatus::Committed;
        entry.plex_order_id = Some("so-77".into());
        entry.version_hash = Some("9abc".into());
        entry.lease = Some(Lease { holder: "worker-1".into(), until: at("2026-11-24T10:00:30Z") });
        assert_eq!(
            ledger_line(&entry),
            "ledger: status committed, Plex order so-77, version 9abc, lease held by worker-1 until \
             2026-11-24T10:00:30.000Z, updated 2026-11-24T10:00:00.000Z"
        );
    }

    #[test]
    fn json_lines_carry_each_event_whole_and_then_the_ledger() {
        let key: RecordKey = "acme#bc-order#7".parse().unwrap();
        let event =
            AuditEvent::new(key.clone(), at("2026-11-24T10:00:00Z"), Stage::Received, Outcome::Ok, "webhook-receiver")
                .with_detail(serde_json::json!({"message_id": "m-1"}));
        let trace = Trace { key, events: vec![event], ledger: Some(None) };
        let lines = trace.json_lines().unwrap();
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["detail"]["message_id"], "m-1");
        assert_eq!(lines[1], r#"{"ledger":null}"#);
        assert_eq!(trace.lines()[0], "acme#bc-order#7: 1 audit event");
        assert_eq!(trace.lines()[2], "ledger: no entry");
    }

    #[test]
    fn only_order_records_have_a_ledger_entry() {
        assert!(order_of(&"acme#bc-order#1042".parse().unwrap()).is_some());
        assert!(order_of(&"acme#bc-webhook#1042".parse().unwrap()).is_none());
        assert!(order_of(&"acme#bc-order#not-a-number".parse().unwrap()).is_none());
    }
}
