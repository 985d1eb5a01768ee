//! `millwright replay`: queue orders again, by id, by the outcome they were left in, or from the
//! dead-letter queue.
//!
//! A replay is an `OrderMessage` with `MessageSource::Replay` and a fresh delivery id
//! (`replay-{uuid}`, so the FIFO queue's five-minute de-duplication never swallows it). The worker
//! re-reads the order and decides again, and the ledger makes a replay of a committed order a
//! no-op, so replaying too much is safe. Each queued replay is a `Replayed` audit event on the
//! order, stamped before the message is sent so it sorts before whatever the worker records.
//!
//! From the dead-letter queue, a message is deleted only after its replay was queued: a failure in
//! between leaves it in the dead-letter queue (it reappears after the queue's visibility timeout),
//! so nothing is lost, at worst replayed twice.

use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use domain::audit::{Outcome, Stage};
use domain::message::{MessageSource, REQUEUE_SCOPE};
use domain::{AuditEvent, ConnectionId, OrderMessage, OrderRef, RecordKind};
use millwright_aws::SqsEventSource;
use runtime::Deps;
use serde_json::json;

use crate::failures::parse_operator_outcome;
use crate::since::Since;

/// The most `outcome` events read when looking for the orders left in it: far more than a backlog
/// an operator replays in one go, and a bound on what a mistyped `--since` can cost.
const MAX_CANDIDATES: usize = 10_000;

/// How far back `--outcome` looks without `--since`.
pub const DEFAULT_SINCE: Since = Since::Ago(chrono::Duration::days(7));

/// How many dead-letter messages `--dlq` moves without `--max`.
pub const DEFAULT_MAX: usize = 100;

/// How long one receive from the dead-letter queue waits for messages before the queue counts as
/// drained.
const DLQ_WAIT: Duration = Duration::from_secs(1);

/// `millwright replay --connection ID (--order N... | --outcome OUTCOME [--since AGE|TIME])`, or
/// `millwright replay --dlq [--max N]`.
///
/// The modes form a required group. `--since` and `--max` belong to one mode each and say so by
/// excluding the others: with a group, clap counts `requires` as met whenever the required
/// argument conflicts with one given, which group members always do.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    group(clap::ArgGroup::new("which").required(true).args(["orders", "outcome", "dlq"])),
    override_usage = "millwright replay --connection ID --order N [--order M ...]\n       \
                      millwright replay --connection ID --outcome OUTCOME [--since AGE|TIME]\n       \
                      millwright replay --dlq [--max N]"
)]
pub struct ReplayArgs {
    /// The connection of the orders.
    #[arg(long, short = 'c', required_unless_present = "dlq", conflicts_with = "dlq")]
    pub connection: Option<ConnectionId>,
    /// A BigCommerce order id (repeatable).
    #[arg(long = "order")]
    pub orders: Vec<u64>,
    /// Every order whose latest audit event has this outcome (failed, needs-mapping,
    /// needs-attention, parked, rejected or dead-lettered).
    #[arg(long, value_parser = parse_operator_outcome)]
    pub outcome: Option<Outcome>,
    /// With --outcome: how far back to look, an age (30m, 24h, 7d) or a time [default: 7d].
    #[arg(long, conflicts_with_all = ["orders", "dlq"])]
    pub since: Option<Since>,
    /// Move the messages of the order queue's dead-letter queue (ORDER_DLQ_URL) back to the queue.
    #[arg(long)]
    pub dlq: bool,
    /// With --dlq: move at most this many messages [default: 100].
    #[arg(long, conflicts_with_all = ["orders", "outcome"])]
    pub max: Option<usize>,
}

/// One order queued again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub order: OrderRef,
    /// The id the order queue gave the replay message.
    pub message_id: String,
    /// The replay's delivery id, `replay-{uuid}`.
    pub delivery: String,
    /// What went wrong after the message was queued (the `Replayed` event not stored, a
    /// dead-letter message not deleted); the replay itself happened.
    pub warnings: Vec<String>,
}

/// An order (or dead-letter message) that was not queued again, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReplayed {
    /// The order, or the dead-letter message id when the message named no order.
    pub what: String,
    pub reason: String,
}

/// What a replay command did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub replayed: Vec<Replayed>,
    pub not_replayed: Vec<NotReplayed>,
}

impl ReplayReport {
    /// Whether everything asked for was queued and recorded.
    pub fn is_clean(&self) -> bool {
        self.not_replayed.is_empty() && self.replayed.iter().all(|replayed| replayed.warnings.is_empty())
    }
}

/// Why an order is being replayed, for the `Replayed` event.
#[derive(Debug, Clone)]
enum Cause {
    Asked,
    Outcome(Outcome),
    DeadLetter { message_id: String, original: Box<OrderMessage> },
}

/// Queues each order again (each id once, in the order given). Fails before queueing anything
/// when the connection is unknown.
pub async fn orders(
    deps: &Deps,
    connection: &ConnectionId,
    order_ids: &[u64],
    actor: &str,
) -> anyhow::Result<ReplayReport> {
    deps.connection(connection).await?;
    let mut seen = HashSet::new();
    let mut report = ReplayReport::default();
    for &order_id in order_ids.iter().filter(|&&order_id| seen.insert(order_id)) {
        let order = OrderRef::new(connection.clone(), order_id);
        record(&mut report, &order, replay(deps, &order, REQUEUE_SCOPE, actor, Cause::Asked).await);
    }
    Ok(report)
}

/// The orders of `connection` that had an `outcome` event at or after `since` and whose latest
/// event (alerts aside: an alert is about the event before it) still has that outcome, each once,
/// oldest first.
pub async fn orders_left_in(
    deps: &Deps,
    connection: &ConnectionId,
    outcome: Outcome,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<u64>> {
    deps.connection(connection).await?;
    let events = deps
        .audit
        .by_outcome(connection, outcome, since, MAX_CANDIDATES)
        .await
        .with_context(|| format!("reading the {outcome} events of {connection}"))?;
    let mut seen = HashSet::new();
    let mut left = Vec::new();
    for event in events.iter().filter(|event| event.key.kind == RecordKind::BcOrder) {
        let Ok(order_id) = event.key.id.parse::<u64>() else { continue };
        if !seen.insert(order_id) {
            continue;
        }
        let history = deps
            .audit
            .history(&event.key)
            .await
            .with_context(|| format!("reading the audit trail of {}", event.key))?;
        let latest = history.iter().rev().find(|event| event.stage != Stage::Alerted);
        if latest.is_some_and(|latest| latest.outcome == outcome) {
            left.push(order_id);
        }
    }
    Ok(left)
}

/// Queues again every order [`orders_left_in`] finds.
pub async fn orders_with_outcome(
    deps: &Deps,
    connection: &ConnectionId,
    outcome: Outcome,
    since: DateTime<Utc>,
    actor: &str,
) -> anyhow::Result<ReplayReport> {
    let mut report = ReplayReport::default();
    for order_id in orders_left_in(deps, connection, outcome, since).await? {
        let order = OrderRef::new(connection.clone(), order_id);
        record(&mut report, &order, replay(deps, &order, REQUEUE_SCOPE, actor, Cause::Outcome(outcome)).await);
    }
    Ok(report)
}

/// Moves up to `max` messages from the dead-letter queue read by `dlq` to the order queue of
/// `deps`, each as a replay of the order it names; a message is deleted from the dead-letter
/// queue only once its replay is queued. Stops when a receive brings nothing.
pub async fn dead_letters(deps: &Deps, dlq: &SqsEventSource, max: usize, actor: &str) -> anyhow::Result<ReplayReport> {
    let mut report = ReplayReport::default();
    let mut handled = 0;
    while handled < max {
        let want = i32::try_from((max - handled).min(10)).unwrap_or(10);
        let batch = dlq.receive(want, DLQ_WAIT).await.context("receiving from the dead-letter queue")?;
        if batch.is_empty() {
            break;
        }
        for record in batch {
            handled += 1;
            let message_id = record.message_id.clone().unwrap_or_default();
            let original = record.body.as_deref().and_then(|body| serde_json::from_str::<OrderMessage>(body).ok());
            let Some(original) = original else {
                // Left for a person: the message reappears after the visibility timeout.
                report.not_replayed.push(NotReplayed {
                    what: format!("dead-letter message {message_id}"),
                    reason: "its body is not an order message; it stays in the dead-letter queue".to_owned(),
                });
                continue;
            };
            let order = original.order.clone();
            let scope = original.scope.clone();
            let cause = Cause::DeadLetter { message_id: message_id.clone(), original: Box::new(original) };
            let mut replayed = match replay(deps, &order, &scope, actor, cause).await {
                Ok(replayed) => replayed,
                Err(reason) => {
                    report.not_replayed.push(NotReplayed {
                        what: format!("{order} (dead-letter message {message_id})"),
                        reason: format!("{reason}; it stays in the dead-letter queue"),
                    });
                    continue;
                }
            };
            let receipt = record.receipt_handle.clone().unwrap_or_default();
            if let Err(error) = dlq.delete(&[receipt]).await {
                replayed.warnings.push(format!(
                    "dead-letter message {message_id} was not deleted ({error}); it will be replayed again"
                ));
            }
            report.replayed.push(replayed);
        }
    }
    Ok(report)
}

/// Queues one replay, then audits it. `Err` only when nothing was queued.
async fn replay(deps: &Deps, order: &OrderRef, scope: &str, actor: &str, cause: Cause) -> Result<Replayed, String> {
    let now = Utc::now();
    let delivery = format!("replay-{}", uuid::Uuid::new_v4().simple());
    let message = OrderMessage {
        scope: scope.to_owned(),
        ..OrderMessage::requeue(order.clone(), MessageSource::Replay, delivery, now)
    };
    let message_id = deps.queue.enqueue(&message).await.map_err(|error| error.to_string())?;
    let mut detail = json!({ "message_id": message_id, "delivery": message.delivery });
    let reason = match &cause {
        Cause::Asked => "asked by order id".to_owned(),
        Cause::Outcome(outcome) => {
            detail["outcome"] = json!(outcome);
            format!("left {outcome}")
        }
        Cause::DeadLetter { message_id, original } => {
            detail["dead_letter"] = json!({
                "message_id": message_id,
                "delivery": original.delivery,
                "source": original.source,
                "received_at": original.received_at,
            });
            "from the dead-letter queue".to_owned()
        }
    };
    let event = AuditEvent::new(order.record_key(), now, Stage::Replayed, Outcome::Ok, actor)
        .with_message(format!("queued again ({reason}) as message {message_id}"))
        .with_detail(detail);
    let mut warnings = Vec::new();
    if let Err(error) = deps.audit.append(&event).await {
        warnings.push(format!("the Replayed audit event was not stored: {error}"));
    }
    Ok(Replayed { order: order.clone(), message_id, delivery: message.delivery, warnings })
}

fn record(report: &mut ReplayReport, order: &OrderRef, outcome: Result<Replayed, String>) {
    match outcome {
        Ok(replayed) => report.replayed.push(replayed),
        Err(reason) => report.not_replayed.push(NotReplayed { what: order.to_string(), reason }),
    }
}

/// The text form: a line per order, warnings indented under it, then a summary.
pub fn lines(report: &ReplayReport, noun: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for replayed in &report.replayed {
        lines.push(format!("replayed {} as message {} ({})", replayed.order, replayed.message_id, replayed.delivery));
        lines.extend(replayed.warnings.iter().map(|warning| format!("    warning: {warning}")));
    }
    for not in &report.not_replayed {
        lines.push(format!("not replayed {}: {}", not.what, not.reason));
    }
    let count = |n: usize| if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") };
    lines.push(format!("{} queued for replay, {} not", count(report.replayed.len()), count(report.not_replayed.len())));
    lines
}

/// Who the `Replayed` events name: `cli:{user}`.
pub fn actor() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "operator".to_owned());
    format!("cli:{user}")
}

/// Runs the command; exits 1 when anything was not replayed or not recorded.
pub async fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let actor = actor();
    let config = crate::config()?;
    let sdk = millwright_aws::config::sdk_config_from_env().await;
    let deps = Deps::from_sdk_config(&config, &sdk);
    let (report, noun) = if args.dlq {
        let url = deps.config.order_dlq_url.clone().with_context(|| {
            format!(
                "{} is not set: replay --dlq needs the URL of the order queue's dead-letter queue \
                 (the stack's OrderDeadLetterQueueUrl output)",
                runtime::config::ORDER_DLQ_URL
            )
        })?;
        let dlq = SqsEventSource::new(&sdk, url);
        let report = dead_letters(&deps, &dlq, args.max.unwrap_or(DEFAULT_MAX), &actor).await?;
        if report.replayed.is_empty() && report.not_replayed.is_empty() {
            println!("the dead-letter queue has no visible messages");
        }
        (report, "message")
    } else {
        let connection = args.connection.context("--connection is required")?;
        match args.outcome {
            Some(outcome) => {
                let since = args.since.unwrap_or(DEFAULT_SINCE).resolve(Utc::now());
                let report = orders_with_outcome(&deps, &connection, outcome, since, &actor).await?;
                if report.replayed.is_empty() && report.not_replayed.is_empty() {
                    println!(
                        "no order of {connection} is left {outcome} since {}",
                        since.to_rfc3339_opts(SecondsFormat::Secs, true)
                    );
                }
                (report, "order")
            }
            None => (orders(&deps, &connection, &args.orders, &actor).await?, "order"),
        }
    };
    for line in lines(&report, noun) {
        println!("{line}");
    }
    Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> Result<ReplayArgs, clap::Error> {
        ReplayArgs::try_parse_from(std::iter::once("replay").chain(args.iter().copied()))
    }

    #[test]
    fn orders_are_replayed_by_id_by_outcome_or_from_the_dead_letter_queue() {
        let by_id = parse(&["--connection", "acme", "--order", "1042", "--order", "1043"]).unwrap();
        assert_eq!(by_id.orders, vec![1042, 1043]);
        let by_outcome = parse(&["-c", "acme", "--outcome", "needs-mapping", "--since", "24h"]).unwrap();
        assert_eq!((by_outcome.outcome, by_outcome.since), (Some(Outcome::NeedsMapping), Some("24h".parse().unwrap())));
        let dlq = parse(&["--dlq", "--max", "5"]).unwrap();
        assert!(dlq.dlq && dlq.connection.is_none());
        assert_eq!(dlq.max, Some(5));
    }

    #[test]
    fn a_replay_must_say_what_and_for_which_connection() {
        for args in [
            &[][..],
            &["--connection", "acme"],
            &["--order", "1042"],
            &["--dlq", "--connection", "acme"],
            &["--connection", "acme", "--order", "1", "--dlq"],
            &["--connection", "acme", "--order", "1", "--since", "1h"],
            &["--connection", "acme", "--outcome", "ok"],
            &["--connection", "acme", "--order", "1", "--max", "3"],
        ] {
            assert!(parse(args).is_err(), "{args:?} was accepted");
        }
    }

    #[test]
    fn the_report_lists_each_order_its_warnings_and_a_summary() {
        let acme = ConnectionId::new("acme").unwrap();
        let report = ReplayReport {
            replayed: vec![Replayed {
                order: OrderRef::new(acme.clone(), 1042),
                message_id: "m-1".into(),
                delivery: "replay-abc".into(),
                warnings: vec!["the Replayed audit event was not stored: throttled".into()],
            }],
            not_replayed: vec![NotReplayed {
                what: "acme#1043".into(),
                reason: "queueing order acme#1043: denied".into(),
            }],
        };
        assert!(!report.is_clean());
        assert_eq!(
            lines(&report, "order"),
            vec![
                "replayed acme#1042 as message m-1 (replay-abc)",
                "    warning: the Replayed audit event was not stored: throttled",
                "not replayed acme#1043: queueing order acme#1043: denied",
                "1 order queued for replay, 1 order not",
            ]
        );
        assert_eq!(lines(&ReplayReport::default(), "message"), vec!["0 messages queued for replay, 0 messages not"]);
    }
}
