//! The webhook health check in the local world: a hook BigCommerce deactivated is reactivated by
//! the runtime's scheduled check, and `millwright webhooks` shows and repairs hooks as the
//! scheduled function does.

use std::time::Duration;

use domain::audit::{Outcome, Stage};
use domain::hooks::ORDER_SCOPES;
use domain::ledger::LedgerStatus;
use domain::{RecordKey, RecordKind};
use millwright_cli::webhooks;

use serde_json::json;

use crate::support::{FlowOptions, OrderFlow, World, eventually, guest_order};

const WAIT: Duration = Duration::from_secs(15);

/// The receiver's base URL of a flow (its hooks' destination without the route).
fn receiver_url(flow: &OrderFlow) -> String {
    let destination = flow.destination();
    destination.split(domain::hooks::RECEIVER_ROUTE).next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_hook_bigcommerce_deactivated_is_reactivated_by_the_scheduled_check_and_orders_flow_again() {
    // GIVEN the store's order hooks at the receiver, and the health check running every second
    let options = FlowOptions { webhook_health_every: Some(Duration::from_secs(1)), ..FlowOptions::default() };
    let flow = OrderFlow::start_with(World::start().await, options).await;
    let client = flow.world.deps.bigcommerce(&flow.world.profile).await.expect("the BigCommerce client");
    let hooks = client.list_hooks().await.expect("the hooks");
    let created = hooks.iter().find(|hook| hook.scope == ORDER_SCOPES[0]).expect("the created hook").id;

    // WHEN BigCommerce deactivates the created hook (as after deliveries kept failing)
    client.set_hook_active(created, false).await.expect("deactivated");

    // THEN the check reactivates it, audits the repair on the hook's record, and orders flow again
    eventually("the hook is active again", WAIT, || async {
        let hooks = client.list_hooks().await.map_err(|error| error.to_string())?;
        match hooks.iter().find(|hook| hook.id == created) {
            Some(hook) if hook.is_active => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let key = RecordKey::new(flow.world.connection.clone(), RecordKind::BcHook, ORDER_SCOPES[0]);
    let trail = flow.world.deps.audit.history(&key).await.expect("the hook's trail");
    let repaired = trail.iter().find(|event| event.stage == Stage::Checked).expect("the repair");
    assert_eq!((repaired.outcome, repaired.actor.as_str()), (Outcome::Ok, "webhook-health"));
    assert!(
        repaired
            .message
            .as_deref()
            .is_some_and(|m| m.ends_with(&format!("was deactivated; reactivated hook {created}")))
    );
    let order_id = flow.place_order(guest_order(&[("MW-NUT-M8", 3)])).await;
    flow.wait_for_commit(order_id, WAIT).await;
    flow.stop().await;
}

#[tokio::test]
async fn millwright_webhooks_shows_missing_hooks_and_repair_registers_them_with_the_receivers_secret() {
    // GIVEN a store whose order hooks were never registered
    let options = FlowOptions { register_hooks: false, ..FlowOptions::default() };
    let flow = OrderFlow::start_with(World::start().await, options).await;
    let (deps, connection) = (&flow.world.deps, std::slice::from_ref(&flow.world.connection));
    let receiver = receiver_url(&flow);

    // WHEN an operator looks, then repairs
    let looked = webhooks::check(deps, &receiver, connection, false, "cli:test").await.expect("checked");
    let repaired = webhooks::check(deps, &receiver, connection, true, "cli:test").await.expect("repaired");

    // THEN the look shows both scopes missing and changes nothing; the repair registers both
    assert!(!looked[0].is_healthy() && looked[0].repaired.is_empty());
    let text = webhooks::lines(&looked).join("\n");
    assert!(text.contains("NEEDS REPAIR") && text.contains("store/order/created    no hook"), "{text}");
    assert!(repaired[0].is_healthy(), "{repaired:?}");
    assert_eq!(repaired[0].repaired.iter().map(|r| r.what).collect::<Vec<_>>(), vec!["registered", "registered"]);
    // AND the registered hooks authenticate: an order placed now becomes a Plex order through its webhook
    let order_id = flow.place_order(guest_order(&[("MW-BOLT-M8", 6)])).await;
    flow.wait_for_status(order_id, LedgerStatus::Committed, WAIT).await;
    let history = flow.history(order_id).await;
    assert_eq!(history[0].actor, "webhook-receiver", "{history:#?}");
    flow.stop().await;
}

#[tokio::test]
async fn a_hook_registered_with_an_old_secret_is_refreshed_and_its_deliveries_authenticate_again() {
    // GIVEN the created hook registered with a secret the receiver no longer accepts (a rotation)
    let options = FlowOptions { register_hooks: false, ..FlowOptions::default() };
    let flow = OrderFlow::start_with(World::start().await, options).await;
    let client = flow.world.deps.bigcommerce(&flow.world.profile).await.expect("the BigCommerce client");
    let old_secret = std::collections::BTreeMap::from([(
        "X-Millwright-Auth".to_owned(),
        secrecy::SecretString::from("the-secret-before-rotation"),
    )]);
    let stale = client.create_hook(ORDER_SCOPES[0], &flow.destination(), &old_secret).await.expect("registered").id;
    flow.register_hook(ORDER_SCOPES[1], &flow.destination()).await;
    let receiver = receiver_url(&flow);
    let (deps, connection) = (&flow.world.deps, std::slice::from_ref(&flow.world.connection));

    // WHEN the operator repairs
    let repaired = webhooks::check(deps, &receiver, connection, true, "cli:test").await.expect("repaired");

    // THEN the stale hook was refreshed in place, and an order's webhook now authenticates
    assert_eq!(repaired[0].plans[0].action, domain::hooks::HookAction::Refresh { id: stale });
    assert_eq!(repaired[0].repaired[0].what, "refreshed");
    let order_id = flow.place_order(guest_order(&[("MW-NUT-M8", 2)])).await;
    flow.wait_for_commit(order_id, WAIT).await;
    let history = flow.history(order_id).await;
    assert_eq!(history[0].actor, "webhook-receiver", "{history:#?}");
    flow.stop().await;
}

#[tokio::test]
async fn two_overlapping_scheduled_runs_register_each_missing_hook_once_under_the_connections_lease() {
    // GIVEN a store with no order hooks whose hook listing is slow (half a second), and the health
    // check's job queue polled by the runtime (its own schedule too far off to fire)
    let options = FlowOptions {
        register_hooks: false,
        webhook_health_every: Some(Duration::from_secs(3600)),
        ..FlowOptions::default()
    };
    let flow = OrderFlow::start_with(World::start().await, options).await;
    let slow = json!({"method": "GET", "path_contains": "/v3/hooks", "fault": {"kind": "delay", "ms": 500}});
    flow.world.inject_fault("bigcommerce", slow).await;

    // WHEN two scheduled events arrive at once (EventBridge delivers a tick twice, an operator
    // invokes the function by hand)
    let (first, second) =
        tokio::join!(flow.invoke_scheduled(webhook_health::JOB), flow.invoke_scheduled(webhook_health::JOB));

    // THEN each fans out one job for the connection
    for fanned in [&first, &second] {
        assert_eq!(fanned["queued"], json!([flow.world.connection.as_str()]), "{fanned}");
    }
    // AND the two jobs run in invocations of their own, each recorded on the run record
    let key = RecordKey::new(flow.world.connection.clone(), RecordKind::Run, webhook_health::JOB);
    let trail = eventually("both jobs are on the run record", WAIT, || async {
        let trail = flow.world.deps.audit.history(&key).await.map_err(|error| error.to_string())?;
        if trail.len() >= 2 { Ok(trail) } else { Err(format!("{} event(s)", trail.len())) }
    })
    .await;
    // AND only one did the work: the other found the lease held, or the work done
    let mut outcomes: Vec<Outcome> = trail.iter().map(|event| event.outcome).collect();
    outcomes.sort_by_key(|outcome| outcome.as_str());
    assert!(outcomes == [Outcome::Ok, Outcome::Skipped] || outcomes == [Outcome::Duplicate, Outcome::Ok], "{trail:#?}");
    // AND the store has exactly one hook per order scope, at the receiver
    let client = flow.world.deps.bigcommerce(&flow.world.profile).await.expect("the BigCommerce client");
    let hooks = client.list_hooks().await.expect("the hooks");
    for scope in ORDER_SCOPES {
        let at_scope: Vec<_> = hooks.iter().filter(|hook| hook.scope == scope).collect();
        assert_eq!(at_scope.len(), 1, "{scope}: {hooks:?}");
        assert_eq!(at_scope[0].destination, flow.destination());
    }
    flow.stop().await;
}
