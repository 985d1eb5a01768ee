//! `millwright failures`: the audit events that need an operator (failed, needs-mapping,
//! needs-attention, parked, rejected, dead-lettered) since a time, per connection, newest last, each
//! with the command that replays or explains it.

use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use domain::order::MappingGap;
use domain::{AuditEvent, ConnectionId, Outcome, RecordKind};
use runtime::Deps;

use crate::since::Since;

/// The outcomes an operator looks for, in the order they are listed in help and hints.
pub fn operator_outcomes() -> Vec<Outcome> {
    Outcome::ALL.into_iter().filter(|outcome| outcome.needs_operator()).collect()
}

/// `millwright failures [--connection ID]... [--since AGE|TIME] [--outcome OUTCOME]... [--limit N]`.
#[derive(Debug, Clone, clap::Parser)]
pub struct FailuresArgs {
    /// Only this connection (repeatable); all connections when omitted.
    #[arg(long = "connection", short = 'c')]
    pub connections: Vec<ConnectionId>,
    /// How far back to look: an age (30m, 24h, 7d) or a time (2026-11-24, 2026-11-24T10:00:00Z).
    #[arg(long, default_value = "7d")]
    pub since: Since,
    /// Only this outcome (repeatable): failed, needs-mapping, needs-attention, parked, rejected or
    /// dead-lettered.
    #[arg(long = "outcome", value_parser = parse_operator_outcome)]
    pub outcomes: Vec<Outcome>,
    /// At most this many events per connection and outcome (the oldest ones after --since).
    #[arg(long, default_value_t = 500)]
    pub limit: usize,
}

/// An outcome an operator acts on; any other is refused with the list of those that are.
pub fn parse_operator_outcome(text: &str) -> Result<Outcome, String> {
    let names = || operator_outcomes().iter().map(|outcome| outcome.as_str()).collect::<Vec<_>>().join(", ");
    match text.parse::<Outcome>() {
        Ok(outcome) if outcome.needs_operator() => Ok(outcome),
        Ok(outcome) => Err(format!("{outcome} needs no operator; choose one of {}", names())),
        Err(_) => Err(format!("unknown outcome {text:?}; choose one of {}", names())),
    }
}

/// What to look for.
#[derive(Debug, Clone)]
pub struct Query {
    /// Empty: every connection in the state table.
    pub connections: Vec<ConnectionId>,
    pub since: DateTime<Utc>,
    /// Empty: every outcome that needs an operator.
    pub outcomes: Vec<Outcome>,
    pub limit: usize,
}

/// The events found, oldest first (newest last), and the look-ups that hit the limit.
#[derive(Debug, Clone, Default)]
pub struct Failures {
    pub events: Vec<AuditEvent>,
    pub truncated: Vec<(ConnectionId, Outcome)>,
}

/// Reads the by-outcome index for each connection and outcome. An unknown connection fails.
pub async fn find(deps: &Deps, query: &Query) -> anyhow::Result<Failures> {
    let connections = if query.connections.is_empty() {
        let profiles = deps.connections.list().await.context("listing the connections in the state table")?;
        profiles.into_iter().map(|profile| profile.id).collect()
    } else {
        for id in &query.connections {
            deps.connection(id).await?;
        }
        query.connections.clone()
    };
    let outcomes = if query.outcomes.is_empty() { operator_outcomes() } else { query.outcomes.clone() };
    let mut found = Failures::default();
    for connection in &connections {
        for &outcome in &outcomes {
            let events = deps
                .audit
                .by_outcome(connection, outcome, query.since, query.limit)
                .await
                .with_context(|| format!("reading the {outcome} events of {connection}"))?;
            if events.len() >= query.limit {
                found.truncated.push((connection.clone(), outcome));
            }
            found.events.extend(events);
        }
    }
    found.events.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.key.cmp(&b.key)));
    Ok(found)
}

/// `time  record  outcome  error class  message`.
pub fn line(event: &AuditEvent) -> String {
    let line = format!(
        "{}  {:<28}  {:<15}  {:<10}  {}",
        event.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        event.key.to_string(),
        event.outcome.as_str(),
        event.error_class.map_or("-", |class| class.as_str()),
        event.message.as_deref().unwrap_or(""),
    );
    line.trim_end().to_owned()
}

/// What the operator can do next about the event's record.
pub fn hint(event: &AuditEvent) -> String {
    let key = &event.key;
    match key.kind {
        // A held order needs no replay: the sweep releases it once its gaps are filled. (An event
        // without its gaps falls through to the replay hint.)
        RecordKind::BcOrder if event.outcome == Outcome::NeedsMapping && !gaps_of(event).is_empty() => {
            let gaps = gaps_of(event);
            let fixes: Vec<String> = gaps.iter().map(|gap| crate::map::how_to_fill(gap, &key.connection)).collect();
            format!("held until mapped, then released by the order sweep: {}", fixes.join("; "))
        }
        // Its message waits in the dead-letter queue; moving it back replays it as it was queued.
        RecordKind::BcOrder if event.outcome == Outcome::DeadLettered && key.id.parse::<u64>().is_ok() => format!(
            "in the dead-letter queue; once the cause has passed: millwright replay --dlq (or this order alone: \
             millwright replay --connection {} --order {})",
            key.connection, key.id
        ),
        RecordKind::BcOrder if key.id.parse::<u64>().is_ok() => {
            format!("replay: millwright replay --connection {} --order {}", key.connection, key.id)
        }
        // A refused delivery kept nothing to replay; BigCommerce retries it on its own schedule.
        RecordKind::BcWebhook => format!(
            "nothing to replay (no payload is kept); fix the webhook authentication and BigCommerce redelivers; \
             details: millwright trace --record {key}"
        ),
        _ => format!("details: millwright trace --record {key}"),
    }
}

/// The mapping gaps a `needs-mapping` event names in its detail.
fn gaps_of(event: &AuditEvent) -> Vec<MappingGap> {
    let gaps = event.detail.as_ref().map(|detail| detail["gaps"].clone());
    gaps.and_then(|gaps| serde_json::from_value(gaps).ok()).unwrap_or_default()
}

/// The text form: a line per event, the hint under each record's newest event, then a summary.
pub fn lines(found: &Failures, since: DateTime<Utc>) -> Vec<String> {
    let since = since.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut lines = Vec::with_capacity(found.events.len() * 2 + 2);
    for (index, event) in found.events.iter().enumerate() {
        lines.push(line(event));
        // One replay covers every event of the record, so its hint is given once.
        if !found.events[index + 1..].iter().any(|later| later.key == event.key) {
            lines.push(format!("    {}", hint(event)));
        }
    }
    for (connection, outcome) in &found.truncated {
        lines.push(format!(
            "(only the oldest {outcome} events of {connection} are shown: raise --limit or narrow --since)"
        ));
    }
    lines.push(match found.events.len() {
        0 => format!("nothing needs an operator since {since}"),
        1 => format!("1 event needs an operator since {since}"),
        count => format!("{count} events need an operator since {since}"),
    });
    if let Some(event) = found.events.iter().rev().find(|event| event.key.kind == RecordKind::BcOrder) {
        lines.push(format!(
            "replay every order of a connection left in one outcome: millwright replay --connection {} --outcome {}",
            event.key.connection, event.outcome
        ));
    }
    lines
}

/// Runs the command. Finding failures is not itself a failure: the exit status is 0 either way.
pub async fn run(args: FailuresArgs) -> anyhow::Result<ExitCode> {
    let deps = crate::deps().await?;
    let since = args.since.resolve(Utc::now());
    let query = Query { connections: args.connections, since, outcomes: args.outcomes, limit: args.limit.max(1) };
    let found = find(&deps, &query).await?;
    for line in lines(&found, since) {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use domain::ErrorClass;
    use domain::audit::Stage;
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn acme() -> ConnectionId {
        ConnectionId::new("acme").unwrap()
    }

    #[test]
    fn only_outcomes_that_need_an_operator_are_accepted() {
        let args =
            FailuresArgs::try_parse_from(["failures", "--outcome", "needs-mapping", "--outcome", "parked"]).unwrap();
        assert_eq!(args.outcomes, vec![Outcome::NeedsMapping, Outcome::Parked]);
        assert_eq!(args.since, "7d".parse().unwrap());
        let error = FailuresArgs::try_parse_from(["failures", "--outcome", "ok"]).unwrap_err().to_string();
        assert!(error.contains("ok needs no operator; choose one of failed, needs-mapping"), "{error}");
        assert!(FailuresArgs::try_parse_from(["failures", "--outcome", "broken"]).is_err());
        assert!(FailuresArgs::try_parse_from(["failures", "--since", "yesterday"]).is_err());
    }

    #[test]
    fn a_failed_order_is_listed_with_its_message_and_the_replay_command() {
        let event = AuditEvent::new(
            domain::OrderRef::new(acme(), 1042).record_key(),
            at("2026-11-24T10:00:00Z"),
            Stage::Mapped,
            Outcome::NeedsMapping,
            "order-worker",
        )
        .with_error(ErrorClass::Data, "sku \"W-9\" has no Plex part");
        let found = Failures { events: vec![event], truncated: vec![] };

        let lines = lines(&found, at("2026-11-17T10:00:00Z"));

        assert_eq!(
            lines,
            vec![
                "2026-11-24T10:00:00.000Z  acme#bc-order#1042            needs-mapping    data        sku \"W-9\" has no Plex part",
                "    replay: millwright replay --connection acme --order 1042",
                "1 event needs an operator since 2026-11-17T10:00:00Z",
                "replay every order of a connection left in one outcome: millwright replay --connection acme --outcome needs-mapping",
            ]
        );
    }

    #[test]
    fn a_record_that_failed_twice_gets_its_hint_once_under_the_newest_event() {
        let failed = |at_text| {
            AuditEvent::new(
                domain::OrderRef::new(acme(), 7).record_key(),
                at(at_text),
                Stage::Written,
                Outcome::Failed,
                "order-worker",
            )
        };
        let found = Failures {
            events: vec![failed("2026-11-24T10:00:00Z"), failed("2026-11-24T11:00:00Z")],
            truncated: vec![],
        };

        let lines = lines(&found, at("2026-11-24T00:00:00Z"));

        assert!(
            lines[0].starts_with("2026-11-24T10:00:00.000Z") && lines[1].starts_with("2026-11-24T11:00:00.000Z"),
            "{lines:#?}"
        );
        assert_eq!(lines[2], "    replay: millwright replay --connection acme --order 7");
        assert_eq!(lines[3], "2 events need an operator since 2026-11-24T00:00:00Z");
    }

    #[test]
    fn an_order_held_for_mappings_says_how_to_fill_each_gap() {
        let gaps = json!({"gaps": [
            {"gap": "unknown_sku", "sku": "W-9"},
            {"gap": "unknown_customer", "field": "billing_address.email", "value": "new@shop.example"},
        ]});
        let held = AuditEvent::new(
            "acme#bc-order#7".parse().unwrap(),
            at("2026-11-24T10:00:00Z"),
            Stage::Mapped,
            Outcome::NeedsMapping,
            "order-worker",
        )
        .with_detail(gaps);
        assert_eq!(
            hint(&held),
            "held until mapped, then released by the order sweep: create part \"W-9\" in Plex, or map it: \
             millwright map --connection acme sku 'W-9' --part <PLEX PART NUMBER>; create the customer in Plex, \
             or map it: millwright map --connection acme customer --email 'new@shop.example' --plex-customer <PLEX CUSTOMER CODE>"
        );
    }

    #[test]
    fn a_dead_lettered_order_is_listed_with_how_to_move_it_back_from_the_dead_letter_queue() {
        assert!(operator_outcomes().contains(&Outcome::DeadLettered));
        let args = FailuresArgs::try_parse_from(["failures", "--outcome", "dead-lettered"]).unwrap();
        assert_eq!(args.outcomes, vec![Outcome::DeadLettered]);
        let event = AuditEvent::new(
            domain::OrderRef::new(acme(), 1042).record_key(),
            at("2026-11-24T10:00:00Z"),
            Stage::Received,
            Outcome::DeadLettered,
            "order-worker",
        )
        .with_error(ErrorClass::RateLimited, "handed back to the queue on its last receive (5 of 5)");
        let found = Failures { events: vec![event], truncated: vec![] };

        let lines = lines(&found, at("2026-11-17T10:00:00Z"));

        assert_eq!(
            lines,
            vec![
                "2026-11-24T10:00:00.000Z  acme#bc-order#1042            dead-lettered    rate-limited  handed back to the queue on its last receive (5 of 5)",
                "    in the dead-letter queue; once the cause has passed: millwright replay --dlq (or this order alone: millwright replay --connection acme --order 1042)",
                "1 event needs an operator since 2026-11-17T10:00:00Z",
                "replay every order of a connection left in one outcome: millwright replay --connection acme --outcome dead-lettered",
            ]
        );
    }

    #[test]
    fn records_other_than_orders_point_at_trace() {
        let rejected = AuditEvent::new(
            "acme#bc-webhook#abc".parse().unwrap(),
            at("2026-11-24T10:00:00Z"),
            Stage::Received,
            Outcome::Rejected,
            "webhook-receiver",
        );
        assert!(hint(&rejected).ends_with("millwright trace --record acme#bc-webhook#abc"), "{}", hint(&rejected));
        let run = AuditEvent::new(
            "acme#run#check".parse().unwrap(),
            at("2026-11-24T10:00:00Z"),
            Stage::Checked,
            Outcome::Failed,
            "cli",
        );
        assert_eq!(hint(&run), "details: millwright trace --record acme#run#check");
        assert_eq!(
            lines(&Failures::default(), at("2026-11-24T10:00:00Z")),
            vec!["nothing needs an operator since 2026-11-24T10:00:00Z"]
        );
    }
}
