//! The bench's world: the deployment's adapters from the environment `make bench` exports (moto,
//! through `AWS_ENDPOINT_URL`), plus sandboxes the bench starts in-process, each with a connection
//! of its own, so a scenario's request logs and rate limits are its own.

use std::ops::Range;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use aws_sdk_sqs::types::QueueAttributeName;
use domain::ConnectionProfile;
use millwright_aws::provision::{ProvisionOptions, provision_order_queues};
use runtime::{Config, Deps};
use sandbox::{Sandbox, SandboxConfig, demo};
use serde_json::{Value, json};

/// The Plex customer the bench's guest orders are booked to (a `guest_customer_code`).
pub const GUEST_CUSTOMER_CODE: &str = demo::PLEX_WEB_CUSTOMER_CODE;

/// Order lines cycle through these demo SKUs (each a Plex part in the demo seed), with their
/// BigCommerce product and variant ids.
const LINE_ITEMS: [(&str, u64, u64, &str); 4] = [
    ("MW-BOLT-M8", 111, 211, "0.4500"),
    ("MW-NUT-M8", 112, 212, "0.1200"),
    ("MW-BRKT-100-ZN", 113, 213, "6.9000"),
    ("MW-BRKT-100-SS", 114, 214, "9.2500"),
];

/// The most lines an order may have: one per distinct demo SKU.
pub const MAX_LINES: usize = LINE_ITEMS.len();

/// The deployment's configuration and adapters, as the functions build them.
pub struct Env {
    pub config: Config,
    pub sdk: aws_config::SdkConfig,
    pub deps: Deps,
    sqs: aws_sdk_sqs::Client,
}

impl Env {
    pub async fn from_env() -> anyhow::Result<Env> {
        let config = Config::from_env()
            .context("run the bench through `make bench`, which starts the local world and exports its environment")?;
        let sdk = millwright_aws::config::sdk_config_from_env().await;
        let deps = Deps::from_sdk_config(&config, &sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        Ok(Env { config, sdk, deps, sqs })
    }

    /// Stores a connection named `id` whose profile points every base URL at `doubles` (the
    /// deployment's defaults without) and books guest orders to [`GUEST_CUSTOMER_CODE`]; its
    /// secrets are the demo's.
    pub async fn install_connection(&self, id: &str, doubles: Option<&Doubles>) -> anyhow::Result<ConnectionProfile> {
        let sandbox = doubles.map(|doubles| &doubles.sandbox);
        local_runtime::install_demo_connection(&self.deps, id, sandbox, |profile| {
            profile["orders"] = json!({ "guest_customer_code": GUEST_CUSTOMER_CODE });
        })
        .await
        .context("storing the bench's connection in moto")
    }

    /// An order queue of the bench's own and its dead-letter queue, `{name}-orders.fifo` and
    /// `{name}-orders-dlq.fifo`, as the template makes them, so neither the local runtime's poller
    /// nor anything else takes the bench's messages. Returns the order queue's URL.
    pub async fn create_queue(&self, name: &str) -> anyhow::Result<String> {
        let queues = provision_order_queues(
            &self.sdk,
            &format!("{name}-orders.fifo"),
            &format!("{name}-orders-dlq.fifo"),
            &ProvisionOptions::default(),
        )
        .await
        .with_context(|| format!("creating queues {name}-orders(-dlq).fifo in moto"))?;
        Ok(queues.queue_url)
    }

    /// Deletes an order queue [`Env::create_queue`] made and its dead-letter queue. Best effort:
    /// the queues are moto state that would otherwise outlive the run.
    pub async fn delete_queue(&self, url: &str) {
        let dlq = url.strip_suffix("-orders.fifo").map(|stem| format!("{stem}-orders-dlq.fifo"));
        for url in std::iter::once(url.to_owned()).chain(dlq) {
            if let Err(error) = self.sqs.delete_queue().queue_url(&url).send().await {
                eprintln!("note: could not delete queue {url}: {error}");
            }
        }
    }

    /// Messages visible plus in flight on the queue at `url`.
    pub async fn queue_depth(&self, url: &str) -> anyhow::Result<u64> {
        let output = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .context("reading the queue's depth")?;
        let attributes = output.attributes.unwrap_or_default();
        Ok(attributes.values().filter_map(|value| value.parse::<u64>().ok()).sum())
    }
}

/// One of the two doubles the orders flow talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    BigCommerce,
    Plex,
}

/// An in-process sandbox and a client for its control plane.
pub struct Doubles {
    pub sandbox: Sandbox,
    http: reqwest::Client,
}

impl Doubles {
    /// The doubles with the demo seed; `time_scale` multiplies their default windows.
    pub async fn start(time_scale: f64) -> anyhow::Result<Doubles> {
        let sandbox = Sandbox::start(SandboxConfig { seed_demo: true, time_scale, ..SandboxConfig::default() })
            .await
            .context("starting the sandbox")?;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
        Ok(Doubles { sandbox, http })
    }

    fn base(&self, api: Api) -> &str {
        match api {
            Api::BigCommerce => &self.sandbox.bigcommerce_url,
            Api::Plex => &self.sandbox.plex_url,
        }
    }

    /// One control-plane request; the answer's JSON (`null` for an empty body).
    pub(crate) async fn control(
        &self,
        api: Api,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/__control/{path}", self.base(api));
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.with_context(|| format!("calling {url}"))?;
        let status = response.status();
        let text = response.text().await.with_context(|| format!("reading the answer of {url}"))?;
        if !status.is_success() {
            bail!("{url} answered {status}: {text}");
        }
        if text.is_empty() { Ok(Value::Null) } else { serde_json::from_str(&text).context("a JSON answer") }
    }

    /// Sets each double's limit (`quota` or `calls` per `window`), overriding the scaled defaults.
    pub async fn set_rate_limits(&self, bigcommerce: Limit, plex: Limit) -> anyhow::Result<()> {
        let bigcommerce_config =
            json!({"rate_limit": {"quota": bigcommerce.calls, "window_ms": bigcommerce.window_ms()}});
        self.control(Api::BigCommerce, reqwest::Method::POST, "config", Some(&bigcommerce_config)).await?;
        let plex_config = json!({"rate_limit": {"calls": plex.calls, "window_ms": plex.window_ms()}});
        self.control(Api::Plex, reqwest::Method::POST, "config", Some(&plex_config)).await?;
        Ok(())
    }

    /// Seeds orders `ids` into the demo store: guest checkouts (booked to the guest customer) of
    /// `lines` lines each, status Awaiting Fulfillment.
    pub async fn seed_orders(&self, ids: Range<u64>, lines: usize) -> anyhow::Result<()> {
        ensure!((1..=MAX_LINES).contains(&lines), "orders have 1 to {MAX_LINES} lines");
        self.seed_order_documents(ids.map(|id| order(id, lines)).collect()).await
    }

    /// Seeds orders given in the double's seed format (see [`guest_order`]) into the demo store.
    /// Seeded orders send no webhooks.
    pub async fn seed_order_documents(&self, orders: Vec<Value>) -> anyhow::Result<()> {
        // A few hundred orders per request keep each body well under the double's body limit.
        for chunk in orders.chunks(200) {
            let seed = json!({"stores": [{"store_hash": demo::BIGCOMMERCE_STORE_HASH, "orders": chunk}]});
            self.control(Api::BigCommerce, reqwest::Method::POST, "seed", Some(&seed)).await?;
        }
        Ok(())
    }

    /// Creates active parts numbered `numbers` in the demo tenant, as a person would in Plex.
    pub async fn seed_plex_parts(&self, numbers: &[String]) -> anyhow::Result<()> {
        let parts: Vec<Value> = numbers
            .iter()
            .map(|number| {
                json!({"number": number, "name": number, "revision": "A", "type": "Finished Good",
                       "source": "Manufactured", "status": "Active", "buildingCode": "MAIN"})
            })
            .collect();
        let seed = json!({"tenant": demo::PLEX_TENANT_CODE, "parts": parts});
        self.control(Api::Plex, reqwest::Method::POST, "seed", Some(&seed)).await?;
        Ok(())
    }

    /// The double's request log since it was last cleared (at most its last 10,000 entries).
    pub async fn requests(&self, api: Api) -> anyhow::Result<Vec<Value>> {
        let entries = self.control(api, reqwest::Method::GET, "requests", None).await?;
        match entries {
            Value::Array(entries) => Ok(entries),
            other => bail!("a request log that is not a list: {other}"),
        }
    }

    pub async fn clear_request_logs(&self) -> anyhow::Result<()> {
        self.control(Api::BigCommerce, reqwest::Method::DELETE, "requests", None).await?;
        self.control(Api::Plex, reqwest::Method::DELETE, "requests", None).await?;
        Ok(())
    }

    /// The Plex double's sales orders' PO numbers, one per sales order.
    pub async fn plex_po_numbers(&self) -> anyhow::Result<Vec<String>> {
        let orders = self.control(Api::Plex, reqwest::Method::GET, "sales-orders", None).await?;
        let orders = orders.as_array().context("a list of sales orders")?;
        Ok(orders.iter().filter_map(|order| order["poNumber"].as_str().map(str::to_owned)).collect())
    }

    pub async fn shutdown(self) {
        self.sandbox.shutdown().await;
    }
}

/// A rate limit: `calls` per `window`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub calls: u64,
    pub window: Duration,
}

impl Limit {
    /// BigCommerce Standard and Plus plans: 150 requests per 30 s per store.
    pub const BIGCOMMERCE: Limit = Limit { calls: 150, window: Duration::from_secs(30) };
    /// Plex: 200 calls per minute per key.
    pub const PLEX: Limit = Limit { calls: 200, window: Duration::from_secs(60) };

    /// The same number of calls in a window `scale` times as long (whole milliseconds, as the
    /// doubles take them).
    pub fn scaled(self, scale: f64) -> Limit {
        let window_ms = (self.window.as_secs_f64() * 1000.0 * scale).round().max(1.0);
        Limit { calls: self.calls, window: Duration::from_millis(window_ms as u64) }
    }

    fn window_ms(self) -> u64 {
        u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX)
    }

    /// Calls per second.
    pub fn rate(self) -> f64 {
        self.calls as f64 / self.window.as_secs_f64()
    }
}

/// A guest order of the demo store in the double's seed format, its lines the first `lines` demo SKUs.
pub fn order(id: u64, lines: usize) -> Value {
    guest_order(id, &LINE_ITEMS[..lines.min(MAX_LINES)])
}

/// A guest order of the demo store in the double's seed format, one line of 10 per item
/// (SKU, BigCommerce product id, variant id, price). Its dates are the double's clock at seeding
/// unless the caller sets `date_created` or `date_modified`.
pub fn guest_order(id: u64, items: &[(&str, u64, u64, &str)]) -> Value {
    let products: Vec<Value> = items
        .iter()
        .map(|(sku, product_id, variant_id, price)| {
            json!({"product_id": product_id, "variant_id": variant_id, "sku": sku, "name": sku,
                   "quantity": 10, "price_ex_tax": price, "order_address_id": id})
        })
        .collect();
    json!({
        "id": id,
        "status_id": 11,
        "customer_id": 0,
        "currency_code": "USD",
        "billing_address": {"first_name": "Bench", "last_name": "Buyer", "street_1": "1 Bench Road", "city": "Austin",
                            "state": "Texas", "zip": "78701", "country": "United States", "country_iso2": "US",
                            "email": "bench@example.test"},
        "shipping_addresses": [{"id": id, "first_name": "Bench", "last_name": "Buyer", "street_1": "1 Bench Road",
                                "city": "Austin", "state": "Texas", "zip": "78701", "country": "United States",
                                "country_iso2": "US", "shipping_method": "Ground"}],
        "products": products,
    })
}

/// Counts a double's logged requests (and its 429s) incrementally, so a long run never loses
/// entries to the log's 10,000-entry cap. Entries still in flight (no status yet) are read again
/// on the next update.
#[derive(Debug, Clone, Copy)]
pub struct RequestTally {
    api: Api,
    after: u64,
    pub requests: u64,
    pub rate_limited: u64,
}

impl RequestTally {
    pub fn new(api: Api) -> RequestTally {
        RequestTally { api, after: 0, requests: 0, rate_limited: 0 }
    }

    /// Counts the entries logged since the last update. Once traffic has `settled`, an entry
    /// without a status (its client gave up) counts as a request too instead of being waited for.
    pub async fn update(&mut self, doubles: &Doubles, settled: bool) -> anyhow::Result<()> {
        let path = format!("requests?after={}", self.after);
        let entries = doubles.control(self.api, reqwest::Method::GET, &path, None).await?;
        for entry in entries.as_array().context("a request log")? {
            let status = entry["status"].as_u64();
            if status.is_none() && !settled {
                break;
            }
            self.requests += 1;
            if status == Some(429) {
                self.rate_limited += 1;
            }
            self.after = entry["seq"].as_u64().context("a request log entry without seq")?;
        }
        Ok(())
    }
}
