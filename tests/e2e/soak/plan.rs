//! What a seed makes of a soak run, as data and before anything runs: the orders and their lines,
//! which callbacks are sent two or three times, the updates (some within one second of each
//! other), the operator replays, and when the faults start, storm and stop. The same seed and plan
//! always give the same script and the same fault rules (each rule's `fraction` has its own
//! `seed`), so a failing run can be rerun as it was.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// The first BigCommerce order id a run places; ids count up from here in placement order, so a
/// report's order ids name the same planned orders on every rerun of a seed.
pub const FIRST_ORDER_ID: u64 = 10_001;

/// The demo SKUs (each a Plex part in the demo seed) with their BigCommerce product and variant
/// ids and price.
pub const ITEMS: [(&str, u64, u64, &str); 4] = [
    ("MW-BOLT-M8", 111, 211, "0.4500"),
    ("MW-NUT-M8", 112, 212, "0.1200"),
    ("MW-BRKT-100-ZN", 113, 213, "6.9000"),
    ("MW-BRKT-100-SS", 114, 214, "9.2500"),
];

/// The deployed schedules (the template's defaults), which a run multiplies by its time scale.
pub const DEPLOYED_SWEEP_EVERY: Duration = Duration::from_secs(5 * 60);
pub const DEPLOYED_HEALTH_EVERY: Duration = Duration::from_secs(15 * 60);
/// The template's order queue visibility timeout.
pub const DEPLOYED_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(180);

/// The size and shape of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakPlan {
    /// `small` (the end-to-end test's run), `long` (`make soak`), or what a caller named it.
    pub name: String,
    pub seed: u64,
    /// Orders placed, each of 1 to 3 lines.
    pub orders: usize,
    /// How long the orders take to place (real time).
    pub traffic: Duration,
    /// Multiplies every deployed period: the sweep and health-check schedules, the queue's
    /// visibility timeout, the sweep's settle and overlap windows, and the sandbox's windows (rate
    /// limits, webhook retry delays). The traffic is real time, so the smaller the scale, the
    /// fewer orders arrive between two sweeps.
    pub time_scale: f64,
    /// Share of the orders whose created callback is sent two or three times.
    pub duplicated: f64,
    /// Share of the orders updated once (new quantities).
    pub updated_once: f64,
    /// Orders updated `repeated_updates` times each.
    pub repeatedly_updated: usize,
    pub repeated_updates: usize,
    /// Orders updated twice within one second (`PUT /__control/orders/{id}` twice in one second).
    pub same_second_pairs: usize,
    /// Orders replayed through the `millwright replay` code path while the traffic runs.
    pub replays: usize,
    /// Share of each API's calls that a fault answers during the fault period.
    pub fault_rate: f64,
    /// When the faults are on, as fractions of the traffic period.
    pub fault_period: (f64, f64),
    /// Short BigCommerce 429 storms during the fault period.
    pub storms: usize,
    /// The API clients' per-request timeout (a `delay` fault outlasts it).
    pub http_timeout: Duration,
    /// The longest wait for the queue to drain once the traffic and the faults are over.
    pub drain_cap: Duration,
}

impl SoakPlan {
    /// The end-to-end test's run: 36 orders over 40 s with fewer faults; about a minute and a half.
    pub fn small(seed: u64) -> SoakPlan {
        SoakPlan {
            name: "small".to_owned(),
            seed,
            orders: 36,
            traffic: Duration::from_secs(40),
            time_scale: 0.05,
            duplicated: 0.25,
            updated_once: 0.15,
            repeatedly_updated: 3,
            repeated_updates: 4,
            same_second_pairs: 3,
            replays: 2,
            fault_rate: 0.05,
            fault_period: (0.2, 0.8),
            storms: 1,
            http_timeout: Duration::from_secs(1),
            drain_cap: Duration::from_secs(150),
        }
    }

    /// `make soak`: 1,000 orders over ten minutes, 60 of them updated 8 times, faults on 5 % of
    /// each API's calls for seven of those minutes; at most about half an hour with the drain.
    pub fn long(seed: u64) -> SoakPlan {
        SoakPlan {
            name: "long".to_owned(),
            orders: 1_000,
            traffic: Duration::from_secs(600),
            updated_once: 0.1,
            repeatedly_updated: 60,
            repeated_updates: 8,
            same_second_pairs: 30,
            replays: 10,
            fault_rate: 0.05,
            fault_period: (0.15, 0.85),
            storms: 6,
            drain_cap: Duration::from_secs(900),
            ..SoakPlan::small(seed)
        }
    }

    /// The plan with `orders` orders instead: the traffic period, the updated and replayed orders,
    /// the storms and the drain cap in proportion, so the rate and the mix stay the same.
    pub fn with_orders(self, orders: usize) -> SoakPlan {
        let factor = orders as f64 / self.orders.max(1) as f64;
        let scale = |count: usize| (count as f64 * factor).round() as usize;
        SoakPlan {
            orders,
            traffic: self.traffic.mul_f64(factor),
            repeatedly_updated: scale(self.repeatedly_updated),
            same_second_pairs: scale(self.same_second_pairs),
            replays: scale(self.replays),
            storms: scale(self.storms).max(1),
            drain_cap: self.drain_cap.mul_f64(factor.max(1.0)),
            ..self
        }
    }

    /// The `make soak` arguments (`SOAK_ARGS`) that make this plan from its seed.
    pub fn soak_args(&self) -> String {
        let (mut args, preset) = if self.name == "small" {
            (vec!["--small".to_owned()], SoakPlan::small(self.seed))
        } else {
            (Vec::new(), SoakPlan::long(self.seed))
        };
        if self.orders != preset.orders {
            args.push(format!("--orders {}", self.orders));
        }
        args.join(" ")
    }

    /// A period of the deployment, scaled to this run.
    pub fn scaled(&self, deployed: Duration) -> Duration {
        deployed.mul_f64(self.time_scale)
    }

    /// The order queue's visibility timeout: the template's, scaled, but never under 2 s (the
    /// worker's lease is a second shorter).
    pub fn visibility_timeout(&self) -> Duration {
        Duration::from_secs(self.scaled(DEPLOYED_VISIBILITY_TIMEOUT).as_secs().max(2))
    }

    /// The traffic and events this plan's seed makes.
    pub fn script(&self) -> Script {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let traffic = self.traffic.as_secs_f64();
        let mut orders = Vec::with_capacity(self.orders);
        let mut steps = Vec::new();
        let mut placed_at = Vec::with_capacity(self.orders);
        for index in 0..self.orders {
            let mut items: Vec<usize> = (0..ITEMS.len()).collect();
            items.shuffle(&mut rng);
            let line_count = rng.random_range(1..=3);
            let lines = items[..line_count]
                .iter()
                .map(|&item| PlannedLine { item, quantity: rng.random_range(1..=99) })
                .collect();
            orders.push(PlannedOrder { id: FIRST_ORDER_ID + index as u64, guest: rng.random_bool(0.7), lines });
            // Evenly spread, each at a random point of its slot.
            let at = traffic * (index as f64 + rng.random::<f64>()) / self.orders.max(1) as f64;
            placed_at.push(at);
            let deliveries = if rng.random_bool(self.duplicated) { rng.random_range(2..=3) } else { 1 };
            steps.push(Step { at: secs(at), action: Action::Place { order: index, deliveries } });
        }

        // Which orders get which events: disjoint picks from one shuffle, so an order's events are
        // easy to tell apart in a report.
        let mut picks: Vec<usize> = (0..self.orders).collect();
        picks.shuffle(&mut rng);
        let mut picks = picks.into_iter();
        let once = (self.orders as f64 * self.updated_once).round() as usize;
        let later = |rng: &mut StdRng, order: usize| {
            // Some time after the order was placed and before the traffic ends.
            let from = (placed_at[order] + 0.5).min(traffic);
            secs(from + rng.random::<f64>() * (traffic - from).max(0.0))
        };
        for order in picks.by_ref().take(once) {
            let quantities = new_quantities(&mut rng, &orders[order]);
            steps.push(Step { at: later(&mut rng, order), action: Action::Update { order, quantities } });
        }
        for order in picks.by_ref().take(self.repeatedly_updated) {
            for _ in 0..self.repeated_updates {
                let quantities = new_quantities(&mut rng, &orders[order]);
                steps.push(Step { at: later(&mut rng, order), action: Action::Update { order, quantities } });
            }
        }
        for order in picks.by_ref().take(self.same_second_pairs) {
            let first = new_quantities(&mut rng, &orders[order]);
            let second = new_quantities(&mut rng, &orders[order]);
            steps.push(Step { at: later(&mut rng, order), action: Action::SameSecondUpdates { order, first, second } });
        }
        for order in picks.by_ref().take(self.replays) {
            steps.push(Step { at: later(&mut rng, order), action: Action::Replay { order } });
        }

        let (start, end) = self.fault_period;
        steps.push(Step { at: secs(traffic * start), action: Action::FaultsOn });
        for _ in 0..self.storms {
            let at = traffic * (start + rng.random::<f64>() * (end - start));
            steps.push(Step { at: secs(at), action: Action::Storm });
        }
        steps.push(Step { at: secs(traffic * end), action: Action::FaultsOff });
        // Stable: events planned for the same instant keep their planned order.
        steps.sort_by_key(|step| step.at);
        Script { orders, steps }
    }

    /// The fault rules of the fault period, per double (`bigcommerce` or `plex`), each with a seed
    /// of its own derived from the plan's: together about `fault_rate` of each API's calls.
    pub fn fault_rules(&self) -> Vec<(&'static str, Value)> {
        let rate = self.fault_rate;
        let delay_ms = u64::try_from(self.http_timeout.as_millis()).unwrap_or(u64::MAX).saturating_add(1_000);
        let rules = [
            // Inside the Plex sales-order chain: a 401 on a key that works, and lost responses
            // (the create happened, its answer is cut off).
            ("plex", json!({"method": "POST", "path_prefix": "/sales/", "fault": "unauthorized"}), 0.2),
            ("plex", json!({"method": "POST", "path_prefix": "/sales/", "fault": "truncated_body"}), 0.25),
            ("plex", json!({"fault": "rate_limit_no_headers"}), 0.2),
            ("plex", json!({"fault": {"kind": "server_error", "status": 500}}), 0.1),
            ("plex", json!({"fault": {"kind": "server_error", "status": 502}}), 0.1),
            ("plex", json!({"fault": {"kind": "server_error", "status": 503}}), 0.15),
            // BigCommerce order reads slower than the client's timeout, and the rest of the mix.
            (
                "bigcommerce",
                json!({"method": "GET", "path_contains": "/v2/orders", "fault": {"kind": "delay", "ms": delay_ms}}),
                0.3,
            ),
            ("bigcommerce", json!({"path_contains": "/v2/orders", "fault": "truncated_body"}), 0.2),
            ("bigcommerce", json!({"path_contains": "/v2/orders", "fault": "rate_limit_no_headers"}), 0.2),
            (
                "bigcommerce",
                json!({"path_contains": "/v2/orders", "fault": {"kind": "server_error", "status": 500}}),
                0.1,
            ),
            (
                "bigcommerce",
                json!({"path_contains": "/v2/orders", "fault": {"kind": "server_error", "status": 502}}),
                0.1,
            ),
            (
                "bigcommerce",
                json!({"path_contains": "/v2/orders", "fault": {"kind": "server_error", "status": 503}}),
                0.1,
            ),
        ];
        rules
            .into_iter()
            .enumerate()
            .map(|(index, (system, mut rule, share))| {
                rule["fraction"] = json!(rate * share);
                rule["seed"] = json!(self.seed.wrapping_mul(1_000).wrapping_add(index as u64));
                (system, rule)
            })
            .collect()
    }

    /// One short BigCommerce 429 storm: the next calls to the orders API are all refused with
    /// BigCommerce's rate-limit headers (reset after the scaled window).
    pub fn storm_rule(&self) -> Value {
        json!({"path_contains": "/v2/orders", "times": 12, "fault": "rate_limit"})
    }
}

fn secs(seconds: f64) -> Duration {
    Duration::from_secs_f64(seconds.max(0.0))
}

/// New quantities for an order's lines (its SKUs stay), each different from the placed one.
fn new_quantities(rng: &mut StdRng, order: &PlannedOrder) -> Vec<u32> {
    order
        .lines
        .iter()
        .map(|line| {
            let quantity = rng.random_range(1..=99);
            if quantity == line.quantity { quantity % 99 + 1 } else { quantity }
        })
        .collect()
}

/// The orders and the timed steps of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub orders: Vec<PlannedOrder>,
    /// Oldest first.
    pub steps: Vec<Step>,
}

impl Script {
    pub fn count(&self, matches: impl Fn(&Action) -> bool) -> usize {
        self.steps.iter().filter(|step| matches(&step.action)).count()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedOrder {
    pub id: u64,
    /// A guest checkout (customer 0) or the demo's registered customer 7.
    pub guest: bool,
    pub lines: Vec<PlannedLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedLine {
    /// Index into [`ITEMS`].
    pub item: usize,
    pub quantity: u32,
}

impl PlannedOrder {
    /// The order in the BigCommerce double's seed format (`POST /__control/orders`).
    pub fn document(&self) -> Value {
        let (customer_id, email) = if self.guest {
            (0, "sam.guest@example.com")
        } else {
            (sandbox::demo::BIGCOMMERCE_DEMO_CUSTOMER_ID, sandbox::demo::DEMO_CUSTOMER_EMAIL)
        };
        let quantities: Vec<u32> = self.lines.iter().map(|line| line.quantity).collect();
        json!({
            "id": self.id,
            "status_id": 11,
            "customer_id": customer_id,
            "currency_code": "USD",
            "billing_address": {"first_name": "Robin", "last_name": "Buyer", "email": email, "country_iso2": "US"},
            "shipping_addresses": [{"first_name": "Robin", "street_1": "12 Foundry Road", "country_iso2": "US"}],
            "products": self.products(&quantities),
        })
    }

    /// The order's lines with `quantities` (one per line), as a change of the order sends them.
    pub fn products(&self, quantities: &[u32]) -> Vec<Value> {
        self.lines
            .iter()
            .zip(quantities)
            .map(|(line, quantity)| {
                let (sku, product_id, variant_id, price) = ITEMS[line.item];
                json!({"product_id": product_id, "variant_id": variant_id, "sku": sku, "name": sku,
                       "quantity": quantity, "price_ex_tax": price})
            })
            .collect()
    }
}

/// One thing the soak does, `at` after the traffic started.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: Duration,
    pub action: Action,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Place order `order` (an index into [`Script::orders`]), its created callback sent
    /// `deliveries` times.
    Place {
        order: usize,
        deliveries: u32,
    },
    /// Change the order's quantities.
    Update {
        order: usize,
        quantities: Vec<u32>,
    },
    /// Change them twice within one second.
    SameSecondUpdates {
        order: usize,
        first: Vec<u32>,
        second: Vec<u32>,
    },
    /// `millwright replay --order`.
    Replay {
        order: usize,
    },
    FaultsOn,
    /// A short BigCommerce 429 storm.
    Storm,
    FaultsOff,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_makes_the_same_script_and_fault_rules() {
        let plan = SoakPlan::small(7);
        assert_eq!(plan.script(), SoakPlan::small(7).script());
        assert_eq!(plan.fault_rules(), SoakPlan::small(7).fault_rules());
        assert_ne!(plan.script(), SoakPlan::small(8).script());
    }

    #[test]
    fn every_order_is_placed_once_with_one_to_three_distinct_lines_before_its_events() {
        let plan = SoakPlan::small(42);
        let script = plan.script();
        assert_eq!(script.orders.len(), plan.orders);
        for (index, order) in script.orders.iter().enumerate() {
            assert!((1..=3).contains(&order.lines.len()));
            let mut items: Vec<usize> = order.lines.iter().map(|line| line.item).collect();
            items.dedup();
            assert_eq!(items.len(), order.lines.len(), "distinct SKUs");
            let placed: Vec<usize> = script
                .steps
                .iter()
                .enumerate()
                .filter(|(_, step)| matches!(step.action, Action::Place { order, .. } if order == index))
                .map(|(position, _)| position)
                .collect();
            assert_eq!(placed.len(), 1);
            let first_event = script.steps.iter().position(|step| match step.action {
                Action::Update { order, .. } | Action::SameSecondUpdates { order, .. } | Action::Replay { order } => {
                    order == index
                }
                _ => false,
            });
            assert!(first_event.is_none_or(|event| event > placed[0]), "order {index} changed before it was placed");
        }
        let updates = script.count(|action| matches!(action, Action::Update { .. }));
        assert_eq!(updates, 5 + plan.repeatedly_updated * plan.repeated_updates);
        assert_eq!(script.count(|action| matches!(action, Action::SameSecondUpdates { .. })), plan.same_second_pairs);
        assert_eq!(script.count(|action| matches!(action, Action::Replay { .. })), plan.replays);
    }

    #[test]
    fn a_plan_resized_by_its_arguments_is_the_plan_they_rebuild() {
        let plan = SoakPlan::long(3).with_orders(2_000);
        assert_eq!(plan.soak_args(), "--orders 2000");
        assert_eq!(plan.traffic, Duration::from_secs(1_200));
        assert_eq!(SoakPlan::long(3).with_orders(2_000), plan);
        assert_eq!(SoakPlan::small(3).soak_args(), "--small");
    }

    #[test]
    fn the_fault_rules_together_answer_about_the_fault_rate_of_each_api() {
        let plan = SoakPlan::small(1);
        for system in ["plex", "bigcommerce"] {
            let total: f64 = plan
                .fault_rules()
                .iter()
                .filter(|(name, _)| *name == system)
                .map(|(_, rule)| rule["fraction"].as_f64().unwrap())
                .sum();
            assert!((total - plan.fault_rate).abs() < 1e-9, "{system}: {total}");
        }
    }
}
