//! Handler tests: the worker against the in-memory fakes of every port, asserting on the fakes' end
//! state (Plex's orders, the ledger, the audit trail, the alerts sent, the calls made).
//!
//! `World` is one connection (`acme`) with a Plex tenant that knows customer `c-acme`
//! (`buyer@acme.test`), the guest customer `c-web` (code `WEB-STORE`) and two parts.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use domain::audit::{AuditEvent, Outcome, Stage};
use domain::connection::{ConnectionProfile, OrderSettings};
use domain::ledger::{LedgerEntry, OrderRef};
use domain::message::{MessageSource, OrderMessage};
use domain::order::{Address, WebOrder, WebOrderLine};
use domain::ports::fakes::{self, FakeConnectionApis, FakePlexSales, FakeWebOrders, PlexCustomer};
use domain::ports::memory::{
    InMemoryAuditLog, InMemoryConnectionStore, InMemoryHoldStore, InMemoryIdMap, InMemoryOrderLedger, RecordingAlerter,
    RecordingQueue,
};
use domain::ports::{AuditLog, ConnectionStore, HoldStore, OrderLedger};
use domain::{ConnectionId, RecordKey};
use rust_decimal::Decimal;

use crate::{Disposition, Ports, Settings, Worker};

mod batch;
mod events;
mod process;

const BOLT: &str = "MW-BOLT-M8";
const NUT: &str = "MW-NUT-M8";

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc)
}

fn dec(value: &str) -> Decimal {
    Decimal::from_str(value).unwrap()
}

fn acme() -> ConnectionId {
    ConnectionId::new("acme").unwrap()
}

struct World {
    ledger: Arc<InMemoryOrderLedger>,
    audit: Arc<InMemoryAuditLog>,
    alerter: Arc<RecordingAlerter>,
    id_map: Arc<InMemoryIdMap>,
    holds: Arc<InMemoryHoldStore>,
    open_orders: Arc<domain::ports::memory::InMemoryOpenOrders>,
    web: Arc<FakeWebOrders>,
    plex: Arc<FakePlexSales>,
    worker: Worker,
    /// Minutes past `t0` of the next [`World::process`]: each call happens later than the last, as
    /// deliveries do, so audit trails sort in processing order.
    clock: AtomicI64,
}

impl World {
    async fn new() -> World {
        World::with_settings(|_| {}).await
    }

    async fn with_settings(change: impl FnOnce(&mut OrderSettings)) -> World {
        let web = Arc::new(FakeWebOrders::default());
        let plex = Arc::new(FakePlexSales::default());
        plex.add_customer(fakes::acme_customer());
        plex.add_customer(PlexCustomer {
            id: "c-web".into(),
            code: "WEB-STORE".into(),
            name: "Web store".into(),
            email: None,
        });
        plex.add_part("p-100", BOLT);
        plex.add_part("p-101", NUT);
        let connections = Arc::new(InMemoryConnectionStore::default());
        let mut orders = OrderSettings::default();
        change(&mut orders);
        connections.put(&profile(orders)).await.unwrap();
        let apis = Arc::new(FakeConnectionApis::default().with(acme(), web.clone(), plex.clone()));
        let ledger = Arc::new(InMemoryOrderLedger::default());
        let audit = Arc::new(InMemoryAuditLog::default());
        let alerter = Arc::new(RecordingAlerter::new(Duration::hours(1)));
        let id_map = Arc::new(InMemoryIdMap::default());
        let holds = Arc::new(InMemoryHoldStore::default());
        let open_orders = Arc::new(domain::ports::memory::InMemoryOpenOrders::default());
        let ports = Ports {
            ledger: ledger.clone(),
            audit: audit.clone(),
            alerter: alerter.clone(),
            id_map: id_map.clone(),
            holds: holds.clone(),
            connections: connections.clone(),
            apis,
            queue: Arc::new(RecordingQueue::default()),
            open_orders: open_orders.clone(),
        };
        let worker = Worker::new(ports, Settings::default());
        World { ledger, audit, alerter, id_map, holds, open_orders, web, plex, worker, clock: AtomicI64::new(0) }
    }

    /// Processes `message` as invocation `holder` at `now`, first delivery.
    async fn process_as(&self, holder: &str, message: &OrderMessage, now: DateTime<Utc>) -> Disposition {
        self.worker.for_invocation(holder).process(message, 1, now).await
    }

    /// Processes `message` as invocation `req-1` as it arrives, a minute after the previous call.
    async fn process(&self, message: &OrderMessage) -> Disposition {
        let now = t0() + Duration::minutes(self.clock.fetch_add(1, Ordering::SeqCst));
        self.process_as("req-1", &OrderMessage { received_at: now, ..message.clone() }, now).await
    }

    async fn entry(&self, order_id: u64) -> LedgerEntry {
        self.ledger.get(&OrderRef::new(acme(), order_id)).await.unwrap().expect("a ledger entry")
    }

    /// The open orders (read, not yet held by Plex) as (order id, [(sku, quantity)]).
    async fn open(&self) -> Vec<(u64, Vec<(String, String)>)> {
        use domain::ports::OpenOrders;
        let open = self.open_orders.list(&acme()).await.unwrap();
        open.into_iter()
            .map(|open| {
                let lines = open.lines.into_iter().map(|line| (line.sku, line.quantity.to_string())).collect();
                (open.order.order_id, lines)
            })
            .collect()
    }

    /// The SKU gaps of the orders held, by order id.
    async fn held(&self) -> Vec<(u64, Vec<String>)> {
        let holds = self.holds.list(&acme()).await.unwrap();
        holds.into_iter().map(|hold| (hold.order.order_id, hold.gaps.iter().map(|gap| gap.cause()).collect())).collect()
    }

    async fn history(&self, order_id: u64) -> Vec<AuditEvent> {
        self.audit.history(&OrderRef::new(acme(), order_id).record_key()).await.unwrap()
    }

    /// The order's audit trail as (stage, outcome) pairs, oldest first.
    async fn trail(&self, order_id: u64) -> Vec<(Stage, Outcome)> {
        self.history(order_id).await.iter().map(|event| (event.stage, event.outcome)).collect()
    }

    async fn events_with(&self, order_id: u64, outcome: Outcome) -> Vec<AuditEvent> {
        self.history(order_id).await.into_iter().filter(|event| event.outcome == outcome).collect()
    }

    fn alert_subjects(&self) -> Vec<String> {
        self.alerter.sent().into_iter().map(|alert| alert.subject).collect()
    }
}

fn profile(orders: OrderSettings) -> ConnectionProfile {
    fakes::profile(acme(), orders)
}

/// A registered shopper's order (customer 7, `buyer@acme.test`), status 11 Awaiting Fulfillment,
/// one line per `(sku, quantity, unit price)`.
fn web_order(id: u64, lines: &[(&str, u32, &str)]) -> WebOrder {
    WebOrder {
        id,
        status_id: 11,
        status: "Awaiting Fulfillment".into(),
        customer_id: 7,
        billing: Address { email: Some("Buyer@Acme.test".into()), ..Address::default() },
        shipping: vec![],
        lines: lines
            .iter()
            .enumerate()
            .map(|(index, (sku, quantity, price))| WebOrderLine {
                line_id: 500 + index as u64,
                product_id: 1,
                variant_id: None,
                sku: (*sku).into(),
                name: (*sku).into(),
                quantity: Decimal::from(*quantity),
                unit_price: dec(price),
                address_id: None,
            })
            .collect(),
        currency_code: "USD".into(),
        date_created: t0(),
        date_modified: t0(),
        customer_message: Some("Leave at dock 3".into()),
    }
}

fn message(order_id: u64, scope: &str, delivery: &str) -> OrderMessage {
    OrderMessage {
        order: OrderRef::new(acme(), order_id),
        scope: format!("store/order/{scope}"),
        delivery: delivery.into(),
        source: MessageSource::Webhook,
        received_at: t0(),
    }
}

fn created(order_id: u64) -> OrderMessage {
    message(order_id, "created", &format!("created-{order_id}"))
}

fn updated(order_id: u64, delivery: &str) -> OrderMessage {
    message(order_id, "updated", delivery)
}

/// `millwright replay` of the order: always read again, whenever it was queued.
fn replay(order_id: u64) -> OrderMessage {
    OrderMessage { source: MessageSource::Replay, ..message(order_id, "updated", &format!("replay-{order_id}")) }
}

fn record_key(order_id: u64) -> RecordKey {
    OrderRef::new(acme(), order_id).record_key()
}
