//! The order hooks a connection needs at BigCommerce, and what the webhook health check does when
//! they are not there.
//!
//! BigCommerce deactivates a hook whose deliveries keep failing (after its last retry) and says so
//! only by `is_active: false`; orders placed meanwhile reach Millwright only through the order
//! sweep's reconciliation. The health check lists the connection's hooks, and for each order scope
//! reactivates an inactive hook at the receiver, or registers one when none points there.

use serde::{Deserialize, Serialize};

use crate::ids::ConnectionId;

/// The BigCommerce events the orders flow subscribes to.
pub const ORDER_SCOPES: [&str; 2] = ["store/order/created", "store/order/updated"];

/// Whether `scope` is one of BigCommerce's stock events: `store/product/inventory/…`,
/// `store/sku/inventory/…` and a channel's `store/channel/{id}/inventory/…`. The stock flow's own
/// absolute writes cause them, and their payloads carry no client id, so nobody can tell ours from
/// another app's or an admin's: the receiver acknowledges them and does nothing else (no queue
/// message, no audit event, which at one event per SKU written would dwarf the flow's own).
pub fn is_inventory_scope(scope: &str) -> bool {
    scope.starts_with("store/product/inventory/")
        || scope.starts_with("store/sku/inventory/")
        || scope
            .strip_prefix("store/channel/")
            .is_some_and(|rest| rest.split_once('/').is_some_and(|(_, rest)| rest.starts_with("inventory/")))
}

/// The receiver's route; a connection's hooks point at `{receiver}{RECEIVER_ROUTE}{connection}`.
pub const RECEIVER_ROUTE: &str = "/webhooks/bigcommerce/";

/// Where a connection's hooks deliver, given the receiver's public base URL.
pub fn destination(receiver_url: &str, connection: &ConnectionId) -> String {
    format!("{}{RECEIVER_ROUTE}{connection}", receiver_url.trim_end_matches('/'))
}

/// A webhook subscription as the health check sees it (never its secret headers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookState {
    pub id: u64,
    pub scope: String,
    pub destination: String,
    pub is_active: bool,
    /// The hook sends the authentication header the receiver checks now (false after the
    /// connection's webhook secret was rotated): the adapter compares, nothing else sees a secret.
    #[serde(default = "current")]
    pub auth_current: bool,
}

fn current() -> bool {
    true
}

/// What one order scope needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum HookAction {
    /// An active hook delivers to the receiver.
    Healthy { id: u64 },
    /// The hook to the receiver was deactivated (BigCommerce gave up on it): turn it back on.
    Reactivate { id: u64 },
    /// The hook sends a stale authentication header, so the receiver refuses its deliveries (and
    /// BigCommerce will deactivate it): give it the current header, and turn it on.
    Refresh { id: u64 },
    /// No hook delivers this scope to the receiver: register one.
    Register,
}

/// The plan for one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookPlan {
    pub scope: String,
    #[serde(flatten)]
    pub action: HookAction,
}

/// For each of [`ORDER_SCOPES`], what to do given the account's `hooks` and the receiver's
/// `destination`. Hooks elsewhere (another deployment, another tool) are left alone. An active
/// hook with the current authentication wins over any duplicate; otherwise the oldest (lowest id)
/// hook is refreshed when its authentication is stale, else reactivated.
pub fn plan_hooks(hooks: &[HookState], destination: &str) -> Vec<HookPlan> {
    let same_place = |hook: &&HookState| hook.destination.trim_end_matches('/') == destination.trim_end_matches('/');
    ORDER_SCOPES
        .iter()
        .map(|scope| {
            let mut ours: Vec<&HookState> =
                hooks.iter().filter(|hook| hook.scope == *scope).filter(same_place).collect();
            ours.sort_by_key(|hook| hook.id);
            let action = match ours.iter().find(|hook| hook.is_active && hook.auth_current) {
                Some(healthy) => HookAction::Healthy { id: healthy.id },
                None => match ours.first() {
                    Some(stale) if !stale.auth_current => HookAction::Refresh { id: stale.id },
                    Some(inactive) => HookAction::Reactivate { id: inactive.id },
                    None => HookAction::Register,
                },
            };
            HookPlan { scope: (*scope).to_owned(), action }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: &str = "https://hooks.example/webhooks/bigcommerce/acme";

    fn hook(id: u64, scope: &str, destination: &str, is_active: bool) -> HookState {
        HookState { id, scope: scope.to_owned(), destination: destination.to_owned(), is_active, auth_current: true }
    }

    #[test]
    fn the_destination_joins_the_receiver_url_and_the_connection() {
        let acme = ConnectionId::new("acme").unwrap();
        assert_eq!(destination("https://hooks.example/", &acme), HERE);
        assert_eq!(destination("https://hooks.example", &acme), HERE);
    }

    #[test]
    fn each_scope_is_healthy_reactivated_or_registered_and_hooks_elsewhere_are_ignored() {
        let hooks = [
            hook(7, "store/order/created", HERE, false),
            hook(3, "store/order/created", &format!("{HERE}/"), false),
            hook(9, "store/order/updated", "https://other.example/hook", true),
            hook(4, "store/product/updated", HERE, true),
        ];
        assert_eq!(
            plan_hooks(&hooks, HERE),
            vec![
                HookPlan { scope: "store/order/created".into(), action: HookAction::Reactivate { id: 3 } },
                HookPlan { scope: "store/order/updated".into(), action: HookAction::Register },
            ]
        );
        let healthy = [hook(7, "store/order/created", HERE, false), hook(8, "store/order/created", HERE, true)];
        assert_eq!(plan_hooks(&healthy, HERE)[0].action, HookAction::Healthy { id: 8 });
    }

    #[test]
    fn a_hook_with_a_stale_secret_is_refreshed_even_while_active() {
        let stale = HookState { auth_current: false, ..hook(5, "store/order/created", HERE, true) };
        assert_eq!(plan_hooks(std::slice::from_ref(&stale), HERE)[0].action, HookAction::Refresh { id: 5 });
        let with_good_duplicate = [stale, hook(6, "store/order/created", HERE, true)];
        assert_eq!(plan_hooks(&with_good_duplicate, HERE)[0].action, HookAction::Healthy { id: 6 });
    }

    #[test]
    fn stock_events_are_told_from_order_events_and_others() {
        for scope in [
            "store/product/inventory/updated",
            "store/product/inventory/order/updated",
            "store/sku/inventory/updated",
            "store/sku/inventory/order/updated",
            "store/channel/1/inventory/product/stock_changed",
        ] {
            assert!(is_inventory_scope(scope), "{scope}");
        }
        for scope in [
            "store/order/created",
            "store/product/updated",
            "store/sku/updated",
            "store/channel/1/settings/updated",
            "store/channel/inventory/x",
        ] {
            assert!(!is_inventory_scope(scope), "{scope}");
        }
    }
}
