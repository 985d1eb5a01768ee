//! Held orders: release those whose mapping gaps are filled (see the crate's doc, steps 1 to 3).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::audit::{AuditEvent, Outcome, Stage};
use domain::hold::{Hold, distinct_gaps};
use domain::order::{GapRecheck, MappingGap};
use domain::ports::SalesOrderSink;
use domain::{ConnectionProfile, ErrorClass};
use serde_json::json;

use crate::{ConnectionSweep, FilledGap, Sweep};

impl Sweep {
    /// Releases one connection's held orders whose gaps are filled. With `only`, just the orders
    /// held for that gap (checked first, whatever the look-up budget), as `millwright map` asks
    /// right after mapping it.
    #[tracing::instrument(name = "order_sweep_release", skip_all, fields(connection = %profile.id))]
    pub async fn release_held(
        &self,
        profile: &ConnectionProfile,
        only: Option<&MappingGap>,
        now: DateTime<Utc>,
    ) -> ConnectionSweep {
        let mut report = ConnectionSweep { connection: Some(profile.id.clone()), ..ConnectionSweep::default() };
        self.release_into(profile, only, &mut report, now).await;
        self.finish(profile, report).await
    }

    pub(crate) async fn release_into(
        &self,
        profile: &ConnectionProfile,
        only: Option<&MappingGap>,
        report: &mut ConnectionSweep,
        now: DateTime<Utc>,
    ) {
        let holds = match self.ports.holds.list(&profile.id).await {
            Ok(holds) => holds,
            Err(error) => {
                report.problems.push(format!("listing the held orders: {error}"));
                return;
            }
        };
        let holds: Vec<Hold> =
            holds.into_iter().filter(|hold| only.is_none_or(|gap| hold.gaps.contains(gap))).collect();
        report.held = holds.len();
        if holds.is_empty() {
            return;
        }
        let filled = self.check_gaps(profile, &holds, report).await;
        let how = report.gaps_filled.clone();
        for hold in holds.iter().filter(|hold| hold.is_releasable(&filled)) {
            self.release(hold, &how, report, now).await;
        }
    }

    /// Checks the distinct gaps of `holds` within the look-up budget; returns those filled.
    async fn check_gaps(
        &self,
        profile: &ConnectionProfile,
        holds: &[Hold],
        report: &mut ConnectionSweep,
    ) -> HashSet<MappingGap> {
        let mut filled = HashSet::new();
        let mut sink: Option<Arc<dyn SalesOrderSink>> = None;
        for gap in distinct_gaps(holds) {
            let needs_plex = matches!(gap.recheck(&profile.orders), GapRecheck::Part(_) | GapRecheck::Customer(_));
            if needs_plex && report.plex_calls >= self.settings.max_lookups {
                // The id map costs nothing, but a miss there would cost a call: leave it for the next run.
                continue;
            }
            let sink = match &sink {
                Some(sink) => sink.clone(),
                None => match self.ports.apis.sales_orders(profile).await {
                    Ok(built) => sink.insert(built).clone(),
                    Err(error) => {
                        report.problems.push(format!("connecting to Plex: {error}"));
                        break;
                    }
                },
            };
            report.gaps_checked += 1;
            let checked = orders::recheck_gap(
                self.ports.id_map.as_ref(),
                sink.as_ref(),
                &profile.id,
                &profile.orders,
                &gap,
                &mut report.plex_calls,
            )
            .await;
            match checked {
                Ok(Some(how)) => {
                    report.gaps_filled.push(FilledGap { gap: gap.clone(), how });
                    filled.insert(gap);
                }
                Ok(None) => {}
                Err(error) => {
                    // Rate limits, outages, a revoked key: nothing more will answer this run.
                    report.problems.push(format!("checking {gap}: {error}"));
                    if error.class() != ErrorClass::Data {
                        break;
                    }
                }
            }
        }
        filled
    }

    /// Queues one held order again, audits it, then releases the hold it read.
    async fn release(&self, hold: &Hold, filled: &[FilledGap], report: &mut ConnectionSweep, now: DateTime<Utc>) {
        let order = &hold.order;
        let entry = match self.ports.ledger.get(order).await {
            Ok(entry) => entry,
            Err(error) => {
                report.problems.push(format!("reading the ledger entry of {order}: {error}"));
                return;
            }
        };
        match entry {
            Some(entry) if entry.held => {
                if entry.lease.as_ref().is_some_and(|lease| lease.until > now) {
                    // A worker has it now; it either maps it (and drops the hold) or holds it again.
                    return;
                }
            }
            _ => {
                // Nothing waits on this hold any more: drop it without queueing.
                match self.ports.holds.release(order, Some(hold.held_at)).await {
                    Ok(_) => report.dropped.push(order.order_id),
                    Err(error) => report.problems.push(format!("dropping the stale hold of {order}: {error}")),
                }
                return;
            }
        }

        let (message_id, delivery) = match self.enqueue(order, now).await {
            Ok(queued) => queued,
            Err(error) => {
                // The hold stays, so the next run tries again.
                report.problems.push(format!("queueing {order}: {error}"));
                return;
            }
        };
        let how: Vec<&FilledGap> = filled.iter().filter(|filled| hold.gaps.contains(&filled.gap)).collect();
        let summary = how.iter().map(|filled| filled.how.as_str()).collect::<Vec<_>>().join("; ");
        let event = AuditEvent::new(order.record_key(), now, Stage::Replayed, Outcome::Ok, &self.settings.actor)
            .with_message(format!("queued again as message {message_id}: the mappings it waited for exist ({summary})"))
            .with_detail(json!({
                "message_id": message_id,
                "delivery": delivery,
                "held_at": hold.held_at,
                "filled": how,
            }));
        if let Err(error) = self.ports.audit.append(&event).await {
            tracing::warn!(error.message = %error, order = %order, "the Replayed event was not stored");
        }
        report.released.push(order.order_id);
        if let Err(error) = self.ports.holds.release(order, Some(hold.held_at)).await {
            // Queued anyway; the next run finds the hold, queues once more, and the ledger makes it a no-op.
            tracing::warn!(error.message = %error, order = %order, "hold not released after queueing");
        }
    }
}
