//! A test's world: the deployment's configuration and adapters (moto, from the environment the
//! local world wrote) plus a fresh sandbox and a connection of its own pointing at it; and, for the
//! order flow, [`OrderFlow`]: that world with an order queue and dead-letter queue of its own, the
//! local runtime (receiver + order poller) on them, and the store's hooks pointing at its receiver.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use domain::audit::{AuditEvent, Outcome, Stage};
use domain::ledger::{LedgerEntry, LedgerStatus};
use domain::{ConnectionId, ConnectionProfile, OrderRef};
use local_runtime::{LocalRuntime, RuntimeOptions, RuntimeReport};
use millwright_aws::SqsQueue;
use millwright_aws::provision::{OrderQueues, ProvisionOptions, provision_job_queues, provision_order_queues};
use millwright_http::{HttpSettings, RetryPolicy};
use runtime::{Config, Deps};
use sandbox::{Sandbox, SandboxConfig, demo};
use secrecy::SecretString;
use serde_json::{Value, json};

pub struct World {
    pub deps: Deps,
    pub sandbox: Sandbox,
    pub connection: ConnectionId,
    pub profile: ConnectionProfile,
    pub http: reqwest::Client,
}

/// Reads the configuration `make test` exports; fails loudly when it is missing rather than skip.
fn config() -> Config {
    Config::from_env().unwrap_or_else(|error| {
        panic!("{error}: run the end-to-end tests through `make test`, which starts moto and the sandbox")
    })
}

impl World {
    /// A seeded sandbox and a connection (unique id) whose profile points every base URL at it.
    pub async fn start() -> World {
        World::start_with(|_| {}).await
    }

    /// [`World::start`] with the demo profile (JSON, as the state table stores it) adjusted first.
    pub async fn start_with(adjust_profile: impl FnOnce(&mut Value)) -> World {
        World::start_scaled(1.0, adjust_profile).await
    }

    /// [`World::start_with`] on a sandbox whose default time windows (rate limits, webhook retry
    /// delays and timeout) are multiplied by `time_scale`.
    pub async fn start_scaled(time_scale: f64, adjust_profile: impl FnOnce(&mut Value)) -> World {
        let deps = Deps::build(&config()).await;
        let sandbox = Sandbox::start(SandboxConfig { seed_demo: true, time_scale, ..SandboxConfig::default() })
            .await
            .expect("the sandbox starts");
        let id = format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let profile = local_runtime::install_demo_connection(&deps, &id, Some(&sandbox), adjust_profile)
            .await
            .expect("the connection is stored in moto");
        World { deps, sandbox, connection: profile.id.clone(), profile, http: reqwest::Client::new() }
    }

    /// Adds a fault rule to one double's control plane (`system` is `bigcommerce`, `plex` or `monday`).
    pub async fn inject_fault(&self, system: &str, rule: Value) {
        let response = self.control(system, reqwest::Method::POST, "/faults", Some(rule)).await;
        assert!(response.status().is_success(), "fault rule refused: {}", response.text().await.unwrap_or_default());
    }

    /// A control-plane request to one double (`path` after `/__control`).
    pub async fn control(
        &self,
        system: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let base = match system {
            "bigcommerce" => &self.sandbox.bigcommerce_url,
            "plex" => &self.sandbox.plex_url,
            "monday" => &self.sandbox.monday_url,
            other => panic!("no double named {other}"),
        };
        let mut request = self.http.request(method, format!("{base}/__control{path}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the control plane answers")
    }

    /// A control-plane request whose answer is JSON; panics on an error status.
    pub async fn control_json(&self, system: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let response = self.control(system, method, path, body).await;
        let status = response.status();
        let text = response.text().await.expect("a control-plane body");
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).expect("a JSON control-plane answer")
    }
}

/// Polls `probe` until it returns `Some` or `within` has passed (then panics naming `what` and the
/// last observation). Tests wait for a state this way instead of sleeping.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + within;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => panic!("{what}: not within {within:?}; last seen: {last}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// How an [`OrderFlow`] is set up.
pub struct FlowOptions {
    /// The test queue's visibility timeout: how soon a failed message comes back.
    pub visibility_timeout: Duration,
    /// Receives before a message moves to the dead-letter queue (the template's default is 5).
    pub max_receive_count: i32,
    /// Per-request timeout of the API clients; short, so a `delay` fault outlasts it quickly.
    pub http_timeout: Duration,
    /// Register the store's order hooks at the receiver.
    pub register_hooks: bool,
    /// Start the local runtime (receiver and poller) now; otherwise call [`OrderFlow::start_runtime`].
    pub start_runtime: bool,
    /// Run the order sweep on this test's connection every so often (none by default).
    pub sweep_every: Option<Duration>,
    /// Run the webhook health check on this test's connection every so often (none by default).
    pub webhook_health_every: Option<Duration>,
    /// Run the stock sync on this test's connection every so often (none by default); its job
    /// queue is created only then.
    pub inventory_sync_every: Option<Duration>,
    /// The order sweep's settings (the function's defaults unless a test scales its windows).
    pub sweep_settings: order_sweep::Settings,
    /// The order worker's function timeout: each invocation's deadline is this after it starts.
    pub function_timeout: Duration,
}

impl Default for FlowOptions {
    fn default() -> Self {
        FlowOptions {
            visibility_timeout: Duration::from_secs(2),
            max_receive_count: 5,
            http_timeout: Duration::from_secs(1),
            register_hooks: true,
            start_runtime: true,
            sweep_every: None,
            webhook_health_every: None,
            inventory_sync_every: None,
            sweep_settings: order_sweep::Settings::default(),
            function_timeout: Duration::from_secs(20),
        }
    }
}

/// The order flow of one test: its world, its own FIFO order queue and DLQ (so no other test's
/// messages, and no other poller, ever touch them), and the local runtime on them.
pub struct OrderFlow {
    pub world: World,
    pub sdk: aws_config::SdkConfig,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub dlq_url: String,
    pub visibility_timeout: Duration,
    /// Receives before this test's queue moves a message to its dead-letter queue.
    pub max_receive_count: i32,
    sweep_every: Option<Duration>,
    webhook_health_every: Option<Duration>,
    inventory_sync_every: Option<Duration>,
    sweep_settings: order_sweep::Settings,
    function_timeout: Duration,
    /// This test's job queues of the order sweep and the webhook health check, and of the stock
    /// sync when it is scheduled.
    sweep_jobs_url: String,
    health_jobs_url: String,
    stock_jobs_url: Option<String>,
    runtime: Option<LocalRuntime>,
}

/// The BigCommerce events the order flow subscribes to.
pub const ORDER_SCOPES: [&str; 2] = ["store/order/created", "store/order/updated"];

impl OrderFlow {
    pub async fn start(world: World) -> OrderFlow {
        OrderFlow::start_with(world, FlowOptions::default()).await
    }

    pub async fn start_with(mut world: World, options: FlowOptions) -> OrderFlow {
        let sdk = millwright_aws::config::sdk_config_from_env().await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let queues = ProvisionOptions {
            alert_email: None,
            max_receive_count: options.max_receive_count,
            visibility_timeout_seconds: i32::try_from(options.visibility_timeout.as_secs()).unwrap_or(i32::MAX),
            ..ProvisionOptions::default()
        };
        let connection = world.connection.as_str();
        let OrderQueues { queue_url, dlq_url } = provision_order_queues(
            &sdk,
            &format!("{connection}-orders.fifo"),
            &format!("{connection}-orders-dlq.fifo"),
            &queues,
        )
        .await
        .expect("creating the test's order queues");
        // The scheduled functions' job queues too, so no other test's runtime runs this test's jobs.
        let job_queues = [format!("{connection}-order-sweep-jobs"), format!("{connection}-webhook-health-jobs")];
        let [sweep_jobs_url, health_jobs_url]: [String; 2] =
            provision_job_queues(&sdk, &job_queues, &format!("{connection}-jobs-dlq"), &queues)
                .await
                .expect("creating the test's job queues")
                .try_into()
                .expect("two job queues");
        let stock_jobs_url = match options.inventory_sync_every {
            Some(_) => {
                let queue = [format!("{connection}-inventory-sync-jobs")];
                let urls = provision_job_queues(&sdk, &queue, &format!("{connection}-jobs-dlq"), &queues)
                    .await
                    .expect("creating the test's stock job queue");
                urls.into_iter().next()
            }
            None => None,
        };
        // The whole deployment points at this test's queue: the receiver enqueues into it, the
        // poller reads it, replays go to it.
        world.deps.config.order_queue_url = queue_url.clone();
        world.deps.queue = Arc::new(SqsQueue::new(&sdk, &queue_url));
        world.deps.http = HttpSettings {
            timeout: options.http_timeout,
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(50),
                max_delay: Duration::from_millis(500),
                deadline: Duration::from_secs(4),
            },
        };
        let mut flow = OrderFlow {
            world,
            sdk,
            sqs,
            queue_url,
            dlq_url,
            visibility_timeout: options.visibility_timeout,
            max_receive_count: options.max_receive_count,
            sweep_every: options.sweep_every,
            webhook_health_every: options.webhook_health_every,
            inventory_sync_every: options.inventory_sync_every,
            sweep_settings: options.sweep_settings,
            function_timeout: options.function_timeout,
            sweep_jobs_url,
            health_jobs_url,
            stock_jobs_url,
            runtime: None,
        };
        if options.start_runtime {
            flow.start_runtime().await;
            if options.register_hooks {
                for scope in ORDER_SCOPES {
                    flow.register_hook(scope, &flow.destination()).await;
                }
            }
        }
        flow
    }

    /// The order worker's settings here: the lease runs out before SQS delivers again.
    pub fn worker_settings(&self) -> order_worker::Settings {
        self.runtime_options().worker
    }

    /// The local runtime's options for this test's queue (visibility timeout and redrive).
    fn runtime_options(&self) -> RuntimeOptions {
        RuntimeOptions::for_visibility_timeout(self.visibility_timeout).with_max_receive_count(self.max_receive_count)
    }

    /// Starts the receiver and the order poller on this test's queue.
    pub async fn start_runtime(&mut self) {
        assert!(self.runtime.is_none(), "the runtime is already running");
        let mut options = self.runtime_options();
        options.poller.function_timeout = self.function_timeout;
        // Only this test's connection: other tests' held orders are theirs to release.
        let only_this = |every, queue: &str, timeout| {
            local_runtime::Schedule::new(every, queue, timeout).only(vec![self.world.connection.clone()])
        };
        options.sweep =
            self.sweep_every.map(|every| only_this(every, &self.sweep_jobs_url, order_sweep::FUNCTION_TIMEOUT));
        options.webhook_health = self
            .webhook_health_every
            .map(|every| only_this(every, &self.health_jobs_url, webhook_health::FUNCTION_TIMEOUT));
        options.inventory_sync = match (self.inventory_sync_every, &self.stock_jobs_url) {
            (Some(every), Some(queue)) => Some(only_this(every, queue, inventory_sync::FUNCTION_TIMEOUT)),
            _ => None,
        };
        options.sweep_settings = self.sweep_settings.clone();
        let runtime =
            LocalRuntime::start(self.world.deps.clone(), &self.sdk, options).await.expect("the local runtime starts");
        self.runtime = Some(runtime);
    }

    /// Stops the runtime (after the batch in progress) and the sandbox; reports what the poller did.
    pub async fn stop(mut self) -> RuntimeReport {
        let report = match self.runtime.take() {
            Some(runtime) => runtime.shutdown().await,
            None => RuntimeReport::default(),
        };
        self.world.sandbox.shutdown().await;
        report
    }

    /// Invokes a scheduled function of this flow's runtime now (`order-sweep`, `webhook-health`,
    /// `inventory-sync`):
    /// its fan-out's answer; the runtime's job poller runs the jobs.
    pub async fn invoke_scheduled(&self, job: &str) -> Value {
        let runtime = self.runtime.as_ref().expect("the runtime is running");
        runtime.invoke_scheduled(job).await.expect("the scheduled invocation")
    }

    fn receiver_url(&self) -> &str {
        &self.runtime.as_ref().expect("the runtime is running").receiver_url
    }

    /// Where this connection's hooks deliver: the local receiver's route for the connection.
    pub fn destination(&self) -> String {
        format!("{}/webhooks/bigcommerce/{}", self.receiver_url(), self.world.connection)
    }

    /// Registers a hook through the production BigCommerce client, with the connection's webhook
    /// secret in the header its profile checks; returns the hook's id.
    pub async fn register_hook(&self, scope: &str, destination: &str) -> u64 {
        let client = self.world.deps.bigcommerce(&self.world.profile).await.expect("the BigCommerce client");
        let headers =
            BTreeMap::from([("X-Millwright-Auth".to_owned(), SecretString::from(demo::BIGCOMMERCE_WEBHOOK_SECRET))]);
        client.create_hook(scope, destination, &headers).await.expect("the hook is registered").id
    }

    /// Points a hook elsewhere, through the store's API (`PUT /v3/hooks/{id}`).
    pub async fn move_hook(&self, hook_id: u64, destination: &str) {
        let url = format!(
            "{}/stores/{}/v3/hooks/{hook_id}",
            self.world.sandbox.bigcommerce_url,
            demo::BIGCOMMERCE_STORE_HASH
        );
        let response = self
            .world
            .http
            .put(url)
            .header("X-Auth-Token", demo::BIGCOMMERCE_ACCESS_TOKEN)
            .json(&json!({ "destination": destination }))
            .send()
            .await
            .expect("the BigCommerce double answers");
        assert!(response.status().is_success(), "moving hook {hook_id}: {}", response.status());
    }

    /// "Place an order" in the BigCommerce double (`order` in its seed format plus delivery
    /// options); returns the order id. The callbacks go out in the background.
    pub async fn place_order(&self, order: Value) -> u64 {
        let placed = self.world.control_json("bigcommerce", reqwest::Method::POST, "/orders", Some(order)).await;
        placed["order_id"].as_u64().expect("an order id")
    }

    /// Changes an order in the double, which sends `store/order/updated`.
    pub async fn change_order(&self, order_id: u64, change: Value) {
        self.world
            .control_json("bigcommerce", reqwest::Method::PUT, &format!("/orders/{order_id}"), Some(change))
            .await;
    }

    /// The webhook delivery log of the BigCommerce double, one entry per attempt.
    pub async fn deliveries(&self) -> Vec<Value> {
        let log = self.world.control_json("bigcommerce", reqwest::Method::GET, "/deliveries", None).await;
        log.as_array().cloned().unwrap_or_default()
    }

    /// The Plex sales orders with this order's PO number (`BC-{id}`), lines and releases nested.
    pub async fn plex_orders(&self, order_id: u64) -> Vec<Value> {
        let path = format!("/sales-orders?po_number=BC-{order_id}");
        let orders = self.world.control_json("plex", reqwest::Method::GET, &path, None).await;
        orders.as_array().cloned().unwrap_or_default()
    }

    pub fn order_ref(&self, order_id: u64) -> OrderRef {
        OrderRef::new(self.world.connection.clone(), order_id)
    }

    /// The order's audit trail, oldest first.
    pub async fn history(&self, order_id: u64) -> Vec<AuditEvent> {
        self.world.deps.audit.history(&self.order_ref(order_id).record_key()).await.expect("the audit history")
    }

    pub async fn ledger(&self, order_id: u64) -> Option<LedgerEntry> {
        self.world.deps.ledger.get(&self.order_ref(order_id)).await.expect("the ledger entry")
    }

    /// Waits until the order's audit trail has an event with `stage` and `outcome`; returns the trail.
    pub async fn wait_for_event(
        &self,
        order_id: u64,
        stage: Stage,
        outcome: Outcome,
        within: Duration,
    ) -> Vec<AuditEvent> {
        eventually(&format!("order {order_id}: {stage:?} {outcome:?}"), within, || async {
            let history = self.history(order_id).await;
            if history.iter().any(|event| event.stage == stage && event.outcome == outcome) {
                Ok(history)
            } else {
                Err(format!("{:?}", summary(&history)))
            }
        })
        .await
    }

    /// Waits until the order's ledger entry is committed; returns it.
    pub async fn wait_for_commit(&self, order_id: u64, within: Duration) -> LedgerEntry {
        self.wait_for_status(order_id, LedgerStatus::Committed, within).await
    }

    /// Waits until the order's ledger entry has `status` and no lease; returns it. The worker saves
    /// the entry after the audit events and alerts that explain it, except for a commit, whose
    /// `written` event follows the save (wait for that event with [`OrderFlow::wait_for_event`]).
    ///
    /// A read that fails is "not yet": moto applies an `UpdateItem` attribute by attribute, so a read
    /// racing the worker's first lease can see the item before its `entry` (DynamoDB itself never
    /// shows a half-applied update).
    pub async fn wait_for_status(&self, order_id: u64, status: LedgerStatus, within: Duration) -> LedgerEntry {
        eventually(&format!("order {order_id} {status:?}"), within, || async {
            match self.world.deps.ledger.get(&self.order_ref(order_id)).await {
                Ok(Some(entry)) if entry.status == status && entry.lease.is_none() => Ok(entry),
                Ok(other) => {
                    Err(format!("{:?}; audit: {:?}", other.map(|e| e.status), summary(&self.history(order_id).await)))
                }
                Err(error) => Err(format!("reading the ledger: {error}")),
            }
        })
        .await
    }

    /// Messages in a queue, visible and in flight.
    pub async fn depth(&self, url: &str) -> u64 {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("the queue's attributes")
            .attributes
            .unwrap_or_default();
        [QueueAttributeName::ApproximateNumberOfMessages, QueueAttributeName::ApproximateNumberOfMessagesNotVisible]
            .iter()
            .map(|name| attributes.get(name).and_then(|count| count.parse::<u64>().ok()).unwrap_or(0))
            .sum()
    }

    /// Messages on this test's order queue and on its dead-letter queue.
    pub async fn queue_depths(&self) -> (u64, u64) {
        (self.depth(&self.queue_url).await, self.depth(&self.dlq_url).await)
    }
}

/// `(stage, outcome)` of each event, for failure messages.
pub fn summary(history: &[AuditEvent]) -> Vec<(Stage, Outcome, u32)> {
    history.iter().map(|event| (event.stage, event.outcome, event.attempt)).collect()
}

/// An order in the BigCommerce double's seed format: the demo's registered customer (customer 7,
/// billing e-mail matching the Plex customer `FITTER`) buying `lines` of `(sku, quantity)`.
pub fn registered_order(lines: &[(&str, u32)]) -> Value {
    order(demo::BIGCOMMERCE_DEMO_CUSTOMER_ID, demo::DEMO_CUSTOMER_EMAIL, lines)
}

/// A guest checkout (customer 0), which the demo connection books to the Plex web customer.
pub fn guest_order(lines: &[(&str, u32)]) -> Value {
    order(0, "sam.guest@example.com", lines)
}

fn order(customer_id: u64, email: &str, lines: &[(&str, u32)]) -> Value {
    let products: Vec<Value> = lines
        .iter()
        .map(|(sku, quantity)| json!({"sku": sku, "name": format!("Item {sku}"), "quantity": quantity, "price_ex_tax": "1.2500"}))
        .collect();
    json!({
        "status_id": 11,
        "customer_id": customer_id,
        "currency_code": "USD",
        "billing_address": {"first_name": "Robin", "last_name": "Buyer", "email": email, "country_iso2": "US"},
        "shipping_addresses": [{"first_name": "Robin", "street_1": "12 Foundry Road", "country_iso2": "US"}],
        "products": products,
    })
}

/// Merges delivery options (`deliveries`, `forge`, `retries`, ...) into an order document.
pub fn with(mut order: Value, options: Value) -> Value {
    if let (Value::Object(order), Value::Object(options)) = (&mut order, options) {
        order.extend(options);
    }
    order
}

/// `(part number, release quantity)` per line of a Plex sales order (from the control plane's view),
/// in line order.
pub fn plex_lines(order: &Value) -> Vec<(String, u64)> {
    let mut lines: Vec<(u64, String, u64)> = order["lines"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|line| {
            let number = line["lineNumber"].as_str().and_then(|n| n.parse().ok()).unwrap_or(0);
            let release = &line["releases"][0];
            let part = release["partNumber"].as_str().unwrap_or_default().to_owned();
            let quantity = release["quantity"].as_f64().map(|q| q as u64).unwrap_or(0);
            (number, part, quantity)
        })
        .collect();
    lines.sort();
    lines.into_iter().map(|(_, part, quantity)| (part, quantity)).collect()
}
