//! In-memory fakes of the API ports: BigCommerce's web orders ([`FakeWebOrders`]), Plex's sales
//! orders ([`FakePlexSales`]) and the per-connection factory that hands them out
//! ([`FakeConnectionApis`]).
//!
//! They behave rather than replay: orders change, Plex assigns ids and keeps lines, a look-up by PO
//! number finds what an earlier create left behind, and faults happen *after* a write (a header
//! without lines, a full order whose response timed out). That is what lets the order worker's
//! tests prove "exactly one Plex order" instead of asserting on canned answers. Like Plex, the fake
//! does not refuse a second order with the same PO number, so a blind re-create shows up as two
//! orders. Every call is counted, so tests can assert how many calls an order cost.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{ApiError, ConnectionApis, SalesOrderSink, WebOrderSource, WebhookApis, WebhookRegistry};
use crate::connection::{BigCommerceProfile, ConnectionProfile, OrderSettings, PlexProfile};
use crate::error::ErrorClass;
use crate::hooks::HookState;
use crate::ids::ConnectionId;
use crate::order::{
    CustomerKey, NewCustomer, OrderChange, PartRef, PlexLineRef, PlexOrderRef, SalesOrderDraft, SalesOrderLineDraft,
    WebOrder,
};

/// A profile for handler tests over these fakes: shown as "Acme", store `abc123`, Plex by API key,
/// no base URLs (the fakes need none), and `orders` as given.
pub fn profile(id: ConnectionId, orders: OrderSettings) -> ConnectionProfile {
    ConnectionProfile {
        id,
        display_name: Some("Acme".into()),
        bigcommerce: BigCommerceProfile { store_hash: "abc123".into(), api_base_url: None, webhook_auth: vec![] },
        plex: PlexProfile {
            auth: Default::default(),
            tenant_id: None,
            customer_id: None,
            connect_base_url: None,
            datasource_base_url: None,
        },
        monday: None,
        orders,
        stock: Default::default(),
        parked_at: None,
    }
}

/// The Plex customer of the handler tests' registered shopper (billing e-mail `buyer@acme.test`).
pub fn acme_customer() -> PlexCustomer {
    PlexCustomer {
        id: "c-acme".into(),
        code: "ACME".into(),
        name: "Acme Fabrication".into(),
        email: Some("buyer@acme.test".into()),
    }
}

/// A poisoned lock only means another test thread panicked; the data is still what it was.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Injected failures: the next `count` calls fail with `error`.
#[derive(Debug, Default)]
struct Failures {
    queue: VecDeque<ApiError>,
}

impl Failures {
    fn push(&mut self, count: usize, error: &ApiError) {
        self.queue.extend(std::iter::repeat_n(error.clone(), count));
    }

    fn next(&mut self) -> Result<(), ApiError> {
        self.queue.pop_front().map_or(Ok(()), Err)
    }
}

/// BigCommerce's orders of one store, as the order worker reads them.
#[derive(Debug, Default)]
pub struct FakeWebOrders {
    state: Mutex<WebOrdersState>,
}

#[derive(Debug, Default)]
struct WebOrdersState {
    orders: BTreeMap<u64, WebOrder>,
    calls: usize,
    failures: Failures,
}

impl FakeWebOrders {
    /// Places (or replaces) an order as given.
    pub fn put(&self, order: WebOrder) {
        lock(&self.state).orders.insert(order.id, order);
    }

    /// Changes an order the way a shopper or merchant would; `false` if there is no such order.
    /// Like BigCommerce, every change moves `date_modified` forward (by a second, unless the change
    /// set a later time itself).
    pub fn change(&self, id: u64, change: impl FnOnce(&mut WebOrder)) -> bool {
        let mut state = lock(&self.state);
        let Some(order) = state.orders.get_mut(&id) else {
            return false;
        };
        let before = order.date_modified;
        change(order);
        if order.date_modified <= before {
            order.date_modified = before + chrono::Duration::seconds(1);
        }
        true
    }

    /// Deletes an order from the store.
    pub fn remove(&self, id: u64) {
        lock(&self.state).orders.remove(&id);
    }

    /// The next `count` calls fail with `error` (e.g. a 503, a 429 with `retry_after`, a 401).
    pub fn fail_next(&self, count: usize, error: ApiError) {
        lock(&self.state).failures.push(count, &error);
    }

    /// How many times [`WebOrderSource::order`] was called, failures included.
    pub fn calls(&self) -> usize {
        lock(&self.state).calls
    }
}

#[async_trait]
impl WebOrderSource for FakeWebOrders {
    async fn order(&self, id: u64) -> Result<Option<WebOrder>, ApiError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        state.failures.next()?;
        Ok(state.orders.get(&id).cloned())
    }

    async fn order_changes(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: u32,
        limit: u32,
    ) -> Result<Vec<OrderChange>, ApiError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        state.failures.next()?;
        let mut changed: Vec<OrderChange> = state
            .orders
            .values()
            .filter(|order| order.date_modified >= from && order.date_modified <= to)
            .map(|order| OrderChange { id: order.id, status_id: order.status_id, date_modified: order.date_modified })
            .collect();
        changed.sort_by_key(|change| (change.date_modified, change.id));
        let skip = (page.max(1) as usize - 1) * limit as usize;
        Ok(changed.into_iter().skip(skip).take(limit as usize).collect())
    }
}

/// A Plex customer, as far as the order flow looks customers up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlexCustomer {
    pub id: String,
    /// The customer code (what `guest_customer_code` names).
    pub code: String,
    pub name: String,
    pub email: Option<String>,
}

/// A sales order as the fake Plex holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlexSalesOrder {
    pub id: String,
    pub number: String,
    pub po_number: String,
    pub customer_id: String,
    pub order_date: chrono::DateTime<chrono::Utc>,
    pub note: Option<String>,
    pub lines: Vec<PlexSalesOrderLine>,
}

/// One line of a [`PlexSalesOrder`] with its Plex ids and what was written to it (the release's
/// quantity and due date change with `update_releases`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlexSalesOrderLine {
    pub line_id: String,
    pub release_id: String,
    pub line: SalesOrderLineDraft,
}

impl PlexSalesOrder {
    fn to_ref(&self) -> PlexOrderRef {
        PlexOrderRef {
            id: self.id.clone(),
            number: Some(self.number.clone()),
            lines: self
                .lines
                .iter()
                .map(|line| PlexLineRef {
                    line_number: line.line.line_number,
                    line_id: line.line_id.clone(),
                    release_id: Some(line.release_id.clone()),
                })
                .collect(),
        }
    }
}

/// The methods of [`SalesOrderSink`], for call counts and fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlexCall {
    FindCustomer,
    CreateCustomer,
    PartByNumber,
    FindByPo,
    Create,
    Complete,
    UpdateReleases,
    CredentialsWork,
}

/// A failure that happens after Plex has written something: the caller sees a transient error, but
/// the write is there, so only a look-up by PO number can tell what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateFault {
    /// The header is created, then the connection drops before any line is added.
    CrashAfterHeader,
    /// Header, lines and releases are all created, but the response never arrives.
    TimeoutAfterWrite,
}

/// Plex's customers, parts and sales orders for one tenant, behind [`SalesOrderSink`].
#[derive(Debug, Default)]
pub struct FakePlexSales {
    state: Mutex<PlexState>,
}

#[derive(Debug, Default)]
struct PlexState {
    customers: Vec<PlexCustomer>,
    parts: BTreeMap<String, PartRef>,
    /// In creation order. Not keyed by PO number: Plex accepts a duplicate PO, and a test must see it.
    orders: Vec<PlexSalesOrder>,
    next_id: u64,
    calls: HashMap<PlexCall, usize>,
    failures: HashMap<PlexCall, Failures>,
    create_faults: VecDeque<CreateFault>,
    /// The key was revoked: the credentials canary says so (the other calls fail only as injected).
    credentials_revoked: bool,
}

impl PlexState {
    /// Counts the call and returns the injected failure, if one is due.
    fn call(&mut self, call: PlexCall) -> Result<(), ApiError> {
        *self.calls.entry(call).or_default() += 1;
        self.failures.entry(call).or_default().next()
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Plex answers 422 and names the field when a line points at a part it does not have.
    fn check_part(&self, line: &SalesOrderLineDraft) -> Result<(), ApiError> {
        if self.parts.values().any(|part| part.id == line.part_id) {
            Ok(())
        } else {
            Err(rejected(format!("lines[{}].partId: no part with id {:?}", line.line_number, line.part_id)))
        }
    }

    fn add_line(&mut self, order_index: usize, line: &SalesOrderLineDraft) {
        let n = self.next_id();
        let order = &mut self.orders[order_index];
        order.lines.push(PlexSalesOrderLine {
            line_id: format!("sol-{n}"),
            release_id: format!("rel-{n}"),
            line: line.clone(),
        });
    }

    fn order_index(&self, id: &str) -> Result<usize, ApiError> {
        self.orders.iter().position(|order| order.id == id).ok_or_else(|| ApiError {
            class: ErrorClass::Data,
            message: format!("Plex 404: no sales order with id {id:?}"),
            retry_after: None,
        })
    }
}

fn rejected(reason: String) -> ApiError {
    ApiError { class: ErrorClass::Data, message: format!("Plex 422 Unprocessable Entity: {reason}"), retry_after: None }
}

fn transient(reason: &str) -> ApiError {
    ApiError { class: ErrorClass::Transient, message: format!("Plex: {reason}"), retry_after: None }
}

impl FakePlexSales {
    pub fn add_customer(&self, customer: PlexCustomer) {
        lock(&self.state).customers.push(customer);
    }

    /// Adds a part (as an engineer would in Plex); look-ups by number find it from now on.
    pub fn add_part(&self, id: impl Into<String>, number: impl Into<String>) {
        let part = PartRef { id: id.into(), number: number.into() };
        lock(&self.state).parts.insert(part.number.clone(), part);
    }

    /// Every sales order, in creation order (duplicates by PO number included).
    pub fn orders(&self) -> Vec<PlexSalesOrder> {
        lock(&self.state).orders.clone()
    }

    /// The sales orders with this PO number (more than one means the connector made a duplicate).
    pub fn orders_with_po(&self, po_number: &str) -> Vec<PlexSalesOrder> {
        lock(&self.state).orders.iter().filter(|order| order.po_number == po_number).cloned().collect()
    }

    /// The next `create` writes and then fails as `fault` says (faults queue up, one per create).
    pub fn fault_next_create(&self, fault: CreateFault) {
        lock(&self.state).create_faults.push_back(fault);
    }

    /// The next `count` calls of `call` fail with `error` before doing anything (a 403, a 401, a 503).
    pub fn fail_next(&self, call: PlexCall, count: usize, error: ApiError) {
        lock(&self.state).failures.entry(call).or_default().push(count, &error);
    }

    /// Revokes the key: from now on [`SalesOrderSink::credentials_work`] answers `false`. Inject
    /// the 401s the other calls get with [`FakePlexSales::fail_next`].
    pub fn revoke_credentials(&self) {
        lock(&self.state).credentials_revoked = true;
    }

    /// How many times `call` was made, failures included.
    pub fn calls(&self, call: PlexCall) -> usize {
        lock(&self.state).calls.get(&call).copied().unwrap_or_default()
    }

    /// Every call of every method.
    pub fn total_calls(&self) -> usize {
        lock(&self.state).calls.values().sum()
    }
}

#[async_trait]
impl SalesOrderSink for FakePlexSales {
    async fn find_customer(&self, key: &CustomerKey) -> Result<Option<String>, ApiError> {
        let mut state = lock(&self.state);
        state.call(PlexCall::FindCustomer)?;
        if let CustomerKey::BigCommerceId(id) = key {
            // The contract: the id map answers this key; Plex has no BigCommerce ids to search.
            return Err(ApiError {
                class: ErrorClass::Data,
                message: format!("Plex cannot look up BigCommerce customer {id}; the id map answers customer ids"),
                retry_after: None,
            });
        }
        let matches = |customer: &&PlexCustomer| match key {
            CustomerKey::GuestCode(code) => &customer.code == code,
            CustomerKey::Email(email) => customer.email.as_ref().is_some_and(|e| e.eq_ignore_ascii_case(email)),
            CustomerKey::Company(name) => customer.name.eq_ignore_ascii_case(name),
            CustomerKey::BigCommerceId(_) => false,
        };
        Ok(state.customers.iter().find(matches).map(|customer| customer.id.clone()))
    }

    async fn create_customer(&self, customer: &NewCustomer) -> Result<String, ApiError> {
        let mut state = lock(&self.state);
        state.call(PlexCall::CreateCustomer)?;
        if state.customers.iter().any(|known| known.code == customer.code) {
            // Plex refuses a code that is taken, naming the field.
            return Err(ApiError {
                class: ErrorClass::Data,
                message: format!("Plex refused the customer: field Code {:?} is taken", customer.code),
                retry_after: None,
            });
        }
        let id = format!("customer-{}", state.next_id());
        state.customers.push(PlexCustomer {
            id: id.clone(),
            code: customer.code.clone(),
            name: customer.name.clone(),
            email: customer.email.clone(),
        });
        Ok(id)
    }

    async fn part_by_number(&self, number: &str) -> Result<Option<PartRef>, ApiError> {
        let mut state = lock(&self.state);
        state.call(PlexCall::PartByNumber)?;
        Ok(state.parts.get(number).cloned())
    }

    async fn find_by_po(&self, po_number: &str) -> Result<Option<PlexOrderRef>, ApiError> {
        let mut state = lock(&self.state);
        state.call(PlexCall::FindByPo)?;
        Ok(state.orders.iter().find(|order| order.po_number == po_number).map(PlexSalesOrder::to_ref))
    }

    async fn create(&self, draft: &SalesOrderDraft) -> Result<PlexOrderRef, ApiError> {
        let mut state = lock(&self.state);
        state.call(PlexCall::Create)?;
        // Plex validates the whole request before writing anything.
        if !state.customers.iter().any(|customer| customer.id == draft.customer_id) {
            return Err(rejected(format!("customerId: no customer with id {:?}", draft.customer_id)));
        }
        for line in &draft.lines {
            state.check_part(line)?;
        }
        let fault = state.create_faults.pop_front();
        let n = state.next_id();
        state.orders.push(PlexSalesOrder {
            id: format!("so-{n}"),
            number: format!("SO-{}", 100_000 + n),
            po_number: draft.po_number.clone(),
            customer_id: draft.customer_id.clone(),
            order_date: draft.order_date,
            note: draft.note.clone(),
            lines: Vec::new(),
        });
        let index = state.orders.len() - 1;
        if fault == Some(CreateFault::CrashAfterHeader) {
            return Err(transient("connection reset after the sales order header was created"));
        }
        for line in &draft.lines {
            state.add_line(index, line);
        }
        if fault == Some(CreateFault::TimeoutAfterWrite) {
            return Err(transient("timed out waiting for the response to the last release"));
        }
        Ok(state.orders[index].to_ref())
    }

    async fn complete(&self, order: &PlexOrderRef, draft: &SalesOrderDraft) -> Result<PlexOrderRef, ApiError> {
        let mut state = lock(&self.state);
        state.call(PlexCall::Complete)?;
        let index = state.order_index(&order.id)?;
        for line in &draft.lines {
            let present = state.orders[index].lines.iter().any(|have| have.line.line_number == line.line_number);
            if !present {
                state.check_part(line)?;
                state.add_line(index, line);
            }
        }
        Ok(state.orders[index].to_ref())
    }

    async fn update_releases(&self, order: &PlexOrderRef, lines: &[SalesOrderLineDraft]) -> Result<(), ApiError> {
        let mut state = lock(&self.state);
        state.call(PlexCall::UpdateReleases)?;
        let index = state.order_index(&order.id)?;
        for line in lines {
            let stored = state.orders[index]
                .lines
                .iter_mut()
                .find(|have| have.line.line_number == line.line_number)
                .ok_or_else(|| rejected(format!("line {}: not on sales order {}", line.line_number, order.id)))?;
            stored.line.quantity = line.quantity;
            stored.line.due_date = line.due_date;
        }
        Ok(())
    }

    async fn credentials_work(&self) -> Result<bool, ApiError> {
        let mut state = lock(&self.state);
        state.call(PlexCall::CredentialsWork)?;
        Ok(!state.credentials_revoked)
    }
}

/// Hands out each connection's fakes, like the runtime hands out its clients. A connection without
/// fakes behaves like one without credentials: a `Data` error naming it.
#[derive(Default)]
pub struct FakeConnectionApis {
    connections: Mutex<HashMap<ConnectionId, ConnectionFakes>>,
}

/// One connection's pair of fakes.
type ConnectionFakes = (Arc<FakeWebOrders>, Arc<FakePlexSales>);

impl FakeConnectionApis {
    pub fn with(self, connection: ConnectionId, web: Arc<FakeWebOrders>, plex: Arc<FakePlexSales>) -> Self {
        lock(&self.connections).insert(connection, (web, plex));
        self
    }

    fn get(&self, profile: &ConnectionProfile) -> Result<ConnectionFakes, ApiError> {
        lock(&self.connections).get(&profile.id).cloned().ok_or_else(|| ApiError {
            class: ErrorClass::Data,
            message: format!("connection {} has no credentials", profile.id),
            retry_after: None,
        })
    }
}

#[async_trait]
impl ConnectionApis for FakeConnectionApis {
    async fn web_orders(&self, profile: &ConnectionProfile) -> Result<Arc<dyn WebOrderSource>, ApiError> {
        let (web, _) = self.get(profile)?;
        Ok(web)
    }

    async fn sales_orders(&self, profile: &ConnectionProfile) -> Result<Arc<dyn SalesOrderSink>, ApiError> {
        let (_, plex) = self.get(profile)?;
        Ok(plex)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate, Utc};
    use rust_decimal::Decimal;

    use super::*;

    fn line(line_number: u32, part_id: &str) -> SalesOrderLineDraft {
        SalesOrderLineDraft {
            line_number,
            part_id: part_id.into(),
            part_number: part_id.to_uppercase(),
            quantity: Decimal::from(2),
            unit_price: Decimal::from(5),
            currency_code: "USD".into(),
            due_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            ship_to_address_id: None,
        }
    }

    fn plex() -> FakePlexSales {
        let plex = FakePlexSales::default();
        plex.add_customer(PlexCustomer {
            id: "c-1".into(),
            code: "WEB".into(),
            name: "Acme Ltd".into(),
            email: Some("Buyer@Acme.test".into()),
        });
        plex.add_part("p-a", "A");
        plex.add_part("p-b", "B");
        plex
    }

    fn draft(lines: &[&str]) -> SalesOrderDraft {
        SalesOrderDraft {
            po_number: "BC-1".into(),
            customer_id: "c-1".into(),
            order_date: DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc),
            note: None,
            lines: lines.iter().enumerate().map(|(i, part)| line(i as u32 + 1, part)).collect(),
        }
    }

    #[tokio::test]
    async fn a_crash_after_the_header_leaves_an_order_that_find_by_po_and_complete_finish() {
        let plex = plex();
        plex.fault_next_create(CreateFault::CrashAfterHeader);
        let err = plex.create(&draft(&["p-a", "p-b"])).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::Transient);
        let found = plex.find_by_po("BC-1").await.unwrap().expect("the header exists");
        assert!(found.lines.is_empty());
        let done = plex.complete(&found, &draft(&["p-a", "p-b"])).await.unwrap();
        assert_eq!(done.lines.len(), 2);
        let again = plex.complete(&done, &draft(&["p-a", "p-b"])).await.unwrap();
        assert_eq!(again, done, "complete adds only missing lines");
        assert_eq!(plex.orders().len(), 1);
    }

    #[tokio::test]
    async fn a_timeout_after_the_write_keeps_the_whole_order_and_a_blind_retry_duplicates_it() {
        let plex = plex();
        plex.fault_next_create(CreateFault::TimeoutAfterWrite);
        assert!(plex.create(&draft(&["p-a"])).await.is_err());
        assert_eq!(plex.orders()[0].lines.len(), 1);
        plex.create(&draft(&["p-a"])).await.unwrap();
        assert_eq!(plex.orders_with_po("BC-1").len(), 2, "Plex does not refuse a duplicate PO number");
        assert_eq!(plex.calls(PlexCall::Create), 2);
    }

    #[tokio::test]
    async fn create_rejects_unknown_parts_and_customers_naming_the_field_and_writes_nothing() {
        let plex = plex();
        let err = plex.create(&draft(&["p-a", "p-x"])).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::Data);
        assert!(err.message.contains("lines[2].partId"), "{}", err.message);
        let mut stranger = draft(&["p-a"]);
        stranger.customer_id = "c-9".into();
        assert!(plex.create(&stranger).await.unwrap_err().message.contains("customerId"));
        assert!(plex.orders().is_empty());
    }

    #[tokio::test]
    async fn customers_are_found_by_code_email_or_name_and_injected_failures_run_out() {
        let plex = plex();
        let key = CustomerKey::Email("buyer@acme.test".into());
        assert_eq!(plex.find_customer(&key).await.unwrap().as_deref(), Some("c-1"));
        assert_eq!(plex.find_customer(&CustomerKey::GuestCode("WEB".into())).await.unwrap().as_deref(), Some("c-1"));
        assert_eq!(plex.find_customer(&CustomerKey::Company("Other".into())).await.unwrap(), None);
        let forbidden = ApiError { class: ErrorClass::Permission, message: "403".into(), retry_after: None };
        plex.fail_next(PlexCall::FindCustomer, 1, forbidden.clone());
        assert_eq!(plex.find_customer(&key).await.unwrap_err(), forbidden);
        assert!(plex.find_customer(&key).await.is_ok());
        assert_eq!(plex.calls(PlexCall::FindCustomer), 5);
    }

    #[tokio::test]
    async fn update_releases_changes_quantity_and_due_date_of_existing_lines_only() {
        let plex = plex();
        let order = plex.create(&draft(&["p-a"])).await.unwrap();
        let mut changed = line(1, "p-a");
        changed.quantity = Decimal::from(9);
        plex.update_releases(&order, &[changed]).await.unwrap();
        assert_eq!(plex.orders()[0].lines[0].line.quantity, Decimal::from(9));
        assert_eq!(plex.update_releases(&order, &[line(2, "p-a")]).await.unwrap_err().class, ErrorClass::Data);
    }

    #[tokio::test]
    async fn web_orders_change_moves_date_modified_and_failures_count_as_calls() {
        let web = FakeWebOrders::default();
        let at = DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc);
        web.put(WebOrder {
            id: 1,
            status_id: 11,
            status: "Awaiting Fulfillment".into(),
            customer_id: 0,
            billing: Default::default(),
            shipping: vec![],
            lines: vec![],
            currency_code: "USD".into(),
            date_created: at,
            date_modified: at,
            customer_message: None,
        });
        assert!(web.change(1, |order| order.status_id = 5));
        assert!(!web.change(2, |_| {}));
        web.fail_next(1, ApiError { class: ErrorClass::Transient, message: "503".into(), retry_after: None });
        assert!(web.order(1).await.is_err());
        let order = web.order(1).await.unwrap().unwrap();
        assert_eq!(order.status_id, 5);
        assert!(order.date_modified > at);
        assert_eq!(web.order(2).await.unwrap(), None);
        assert_eq!(web.calls(), 3);
    }
}

/// One connection's BigCommerce hooks: register, list and reactivate behave as the API does
/// (one account's hooks, new ids, `is_active`), and every call is counted.
#[derive(Debug, Default)]
pub struct FakeHooks {
    state: Mutex<HooksState>,
}

#[derive(Debug, Default)]
struct HooksState {
    hooks: Vec<HookState>,
    calls: usize,
    failures: Failures,
    /// Registrations and reactivations fail with this while it is set (listing still works).
    refusal: Option<ApiError>,
}

impl FakeHooks {
    /// Adds a hook as the store has it (e.g. one BigCommerce deactivated).
    pub fn add(&self, scope: &str, destination: &str, is_active: bool) -> u64 {
        let mut state = lock(&self.state);
        let id = state.hooks.iter().map(|hook| hook.id).max().unwrap_or(0) + 1;
        let hook = HookState {
            id,
            scope: scope.to_owned(),
            destination: destination.to_owned(),
            is_active,
            auth_current: true,
        };
        state.hooks.push(hook);
        id
    }

    /// Makes hook `id` send an outdated authentication header (the secret was rotated since).
    pub fn make_auth_stale(&self, id: u64) {
        if let Some(hook) = lock(&self.state).hooks.iter_mut().find(|hook| hook.id == id) {
            hook.auth_current = false;
        }
    }

    pub fn all(&self) -> Vec<HookState> {
        lock(&self.state).hooks.clone()
    }

    pub fn fail_next(&self, count: usize, error: ApiError) {
        lock(&self.state).failures.push(count, &error);
    }

    pub fn calls(&self) -> usize {
        lock(&self.state).calls
    }

    /// Makes every registration and reactivation fail with `error` (`None`: succeed again).
    pub fn refuse_changes(&self, error: Option<ApiError>) {
        lock(&self.state).refusal = error;
    }

    fn change(&self) -> Result<(), ApiError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        state.failures.next()?;
        state.refusal.clone().map_or(Ok(()), Err)
    }
}

#[async_trait]
impl WebhookRegistry for FakeHooks {
    async fn hooks(&self) -> Result<Vec<HookState>, ApiError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        state.failures.next()?;
        Ok(state.hooks.clone())
    }

    async fn register(&self, scope: &str, destination: &str) -> Result<HookState, ApiError> {
        self.change()?;
        let id = self.add(scope, destination, true);
        Ok(HookState {
            id,
            scope: scope.to_owned(),
            destination: destination.to_owned(),
            is_active: true,
            auth_current: true,
        })
    }

    async fn reactivate(&self, id: u64) -> Result<HookState, ApiError> {
        self.change()?;
        let mut state = lock(&self.state);
        let hook = state.hooks.iter_mut().find(|hook| hook.id == id).ok_or_else(|| ApiError {
            class: ErrorClass::Data,
            message: format!("hook {id} does not exist"),
            retry_after: None,
        })?;
        hook.is_active = true;
        Ok(hook.clone())
    }

    async fn refresh(&self, id: u64) -> Result<HookState, ApiError> {
        self.change()?;
        let mut state = lock(&self.state);
        let hook = state.hooks.iter_mut().find(|hook| hook.id == id).ok_or_else(|| ApiError {
            class: ErrorClass::Data,
            message: format!("hook {id} does not exist"),
            retry_after: None,
        })?;
        hook.is_active = true;
        hook.auth_current = true;
        Ok(hook.clone())
    }

    async fn delete(&self, id: u64) -> Result<(), ApiError> {
        self.change()?;
        let mut state = lock(&self.state);
        let before = state.hooks.len();
        state.hooks.retain(|hook| hook.id != id);
        if state.hooks.len() == before {
            return Err(ApiError {
                class: ErrorClass::Data,
                message: format!("hook {id} does not exist"),
                retry_after: None,
            });
        }
        Ok(())
    }
}

/// Each connection's [`FakeHooks`]; a connection without them behaves like one without credentials.
#[derive(Default)]
pub struct FakeWebhookApis {
    connections: Mutex<HashMap<ConnectionId, Arc<FakeHooks>>>,
}

impl FakeWebhookApis {
    pub fn with(self, connection: ConnectionId, hooks: Arc<FakeHooks>) -> Self {
        lock(&self.connections).insert(connection, hooks);
        self
    }
}

#[async_trait]
impl WebhookApis for FakeWebhookApis {
    async fn webhooks(&self, profile: &ConnectionProfile) -> Result<Arc<dyn WebhookRegistry>, ApiError> {
        let hooks = lock(&self.connections).get(&profile.id).cloned().ok_or_else(|| ApiError {
            class: ErrorClass::Data,
            message: format!("connection {} has no credentials", profile.id),
            retry_after: None,
        })?;
        Ok(hooks)
    }
}
