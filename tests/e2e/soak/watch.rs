//! What the soak watches while it runs: the doubles' request logs (calls per API, order reads per
//! order, 429s, faults), the alerts the deployment sends, and every place a secret must never
//! reach (logs, stored records, alerts).

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use domain::alert::AlertOutcome;
use domain::ports::Alerter;
use domain::{Alert, PortError};
use tracing_subscriber::fmt::MakeWriter;

use crate::support::World;

/// The connection's secret values (every string of the demo's secret documents except the ids and
/// user names that are not secret), each with the name a leak report gives it instead of the value.
fn secret_values() -> Vec<(String, String)> {
    const NOT_SECRET: [&str; 2] = ["client_id", "datasource_user"];
    let mut secrets = Vec::new();
    for (system, document) in sandbox::demo::connection_secrets() {
        for (field, value) in document.as_object().into_iter().flatten() {
            if let Some(value) = value.as_str().filter(|_| !NOT_SECRET.contains(&field.as_str())) {
                secrets.push((format!("the {system} {field}"), value.to_owned()));
            }
        }
    }
    secrets
}

/// Finds the connection's secrets in text: what reached which place, by the secret's name.
#[derive(Clone)]
pub struct SecretWatch {
    secrets: Arc<Vec<(String, String)>>,
    found: Arc<Mutex<Vec<String>>>,
    scanned: Arc<AtomicU64>,
}

impl Default for SecretWatch {
    fn default() -> Self {
        SecretWatch {
            secrets: Arc::new(secret_values()),
            found: Arc::new(Mutex::new(Vec::new())),
            scanned: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl SecretWatch {
    /// Notes every secret `text` contains as having reached `place`.
    pub fn scan(&self, place: &str, text: &str) {
        self.scanned.fetch_add(1, Ordering::Relaxed);
        for (name, value) in self.secrets.iter() {
            if text.contains(value.as_str()) {
                let leak = format!("{name} in {place}");
                let mut found = self.found.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if !found.contains(&leak) {
                    found.push(leak);
                }
            }
        }
    }

    /// What leaked where, each once.
    pub fn leaks(&self) -> Vec<String> {
        self.found.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Texts scanned so far (log lines, records, alerts).
    pub fn scanned(&self) -> u64 {
        self.scanned.load(Ordering::Relaxed)
    }
}

/// The process's log watch: every line the deployment's code logs at the deployed level (`info`),
/// scanned for secrets. One per process, as the tracing subscriber is.
static LOG_WATCH: OnceLock<SecretWatch> = OnceLock::new();
static LOG_WATCH_INSTALLED: AtomicBool = AtomicBool::new(false);

pub fn log_watch() -> &'static SecretWatch {
    LOG_WATCH.get_or_init(SecretWatch::default)
}

/// Whether [`log_layer`] was handed to a subscriber, i.e. whether the soak can vouch for the logs.
pub fn logs_watched() -> bool {
    LOG_WATCH_INSTALLED.load(Ordering::Relaxed)
}

/// A tracing layer that formats every event at `info` and above as the functions do on Lambda
/// (JSON lines) and scans it for secrets, keeping nothing else. A binary adds it to its subscriber
/// (the bench does, next to its stderr output); [`watch_logs`] installs it alone.
pub fn log_layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use tracing_subscriber::Layer;
    LOG_WATCH_INSTALLED.store(true, Ordering::Relaxed);
    tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_writer(LogLines)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO)
}

/// Installs [`log_layer`] as the process's subscriber unless one is installed already (then the
/// logs count as watched only if that one carries the layer). Returns whether logs are watched.
pub fn watch_logs() -> bool {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let installing = !logs_watched();
        if installing && tracing_subscriber::registry().with(log_layer()).try_init().is_err() {
            LOG_WATCH_INSTALLED.store(false, Ordering::Relaxed);
        }
    });
    logs_watched()
}

/// The log writer: each formatted event arrives in one write.
struct LogLines;

impl<'a> MakeWriter<'a> for LogLines {
    type Writer = LogLines;

    fn make_writer(&'a self) -> Self::Writer {
        LogLines
    }
}

impl io::Write for LogLines {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        log_watch().scan("a log line", &String::from_utf8_lossy(bytes));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An alert asked for, and what became of it (the adapter's error as text).
pub type RecordedAlert = (Alert, Result<AlertOutcome, String>);

/// The deployment's alerter with a copy of every alert kept, so the soak counts them and checks
/// their text for secrets. Alerts still go out through the real adapter (SNS in moto).
#[derive(Clone)]
pub struct RecordingAlerter {
    inner: Arc<dyn Alerter>,
    alerts: Arc<Mutex<Vec<RecordedAlert>>>,
}

impl RecordingAlerter {
    pub fn wrapping(inner: Arc<dyn Alerter>) -> RecordingAlerter {
        RecordingAlerter { inner, alerts: Arc::new(Mutex::new(Vec::new())) }
    }

    /// Every alert asked for, with what became of it.
    pub fn alerts(&self) -> Vec<RecordedAlert> {
        self.alerts.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

#[async_trait]
impl Alerter for RecordingAlerter {
    async fn alert(&self, alert: &Alert) -> Result<AlertOutcome, PortError> {
        let outcome = self.inner.alert(alert).await;
        let kept = outcome.as_ref().map(Clone::clone).map_err(ToString::to_string);
        self.alerts.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push((alert.clone(), kept));
        outcome
    }
}

/// A double's request log, counted as it grows (the log keeps only its last 10,000 entries).
#[derive(Debug, Clone, Default)]
pub struct ApiCalls {
    after: u64,
    pub requests: u64,
    pub rate_limited: u64,
    /// Requests a fault rule answered, by fault kind.
    pub faulted: BTreeMap<String, u64>,
    /// BigCommerce: `GET /v2/orders/{id}` per order id.
    pub order_reads: BTreeMap<u64, u64>,
    /// Those of them a fault rule or the rate limit answered (a 429, a 5xx, a cut-off body, an
    /// answer later than the client waits): each is read again, by the fault and not by the flow.
    pub refused_order_reads: u64,
}

impl ApiCalls {
    /// Counts the entries logged since the last update. An entry still in flight is counted now
    /// (its path and fault are known); only its status might still change, and an answer a
    /// client waits for is never a 429 the double decides later.
    pub async fn update(&mut self, world: &World, system: &str) {
        let path = format!("/requests?after={}", self.after);
        let entries = world.control_json(system, reqwest::Method::GET, &path, None).await;
        for entry in entries.as_array().map(Vec::as_slice).unwrap_or_default() {
            self.requests += 1;
            if entry["status"].as_u64() == Some(429) {
                self.rate_limited += 1;
            }
            if let Some(kind) = entry["fault"].as_str() {
                *self.faulted.entry(kind.to_owned()).or_default() += 1;
            }
            if entry["method"] == "GET"
                && let Some(order_id) = entry["path"].as_str().and_then(order_read)
            {
                *self.order_reads.entry(order_id).or_default() += 1;
                if entry["fault"].is_string() || entry["status"].as_u64() == Some(429) {
                    self.refused_order_reads += 1;
                }
            }
            self.after = entry["seq"].as_u64().unwrap_or(self.after);
        }
    }

    pub fn faults(&self) -> u64 {
        self.faulted.values().sum()
    }
}

/// The order id of a BigCommerce order read, `/stores/{hash}/v2/orders/{id}` (not a list, count or
/// sub-resource).
fn order_read(path: &str) -> Option<u64> {
    let rest = path.strip_prefix("/stores/")?;
    let (_, rest) = rest.split_once('/')?;
    rest.strip_prefix("v2/orders/")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_read_of_one_order_counts_as_an_order_read() {
        assert_eq!(order_read("/stores/demo-store/v2/orders/10042"), Some(10042));
        assert_eq!(order_read("/stores/demo-store/v2/orders/10042/products"), None);
        assert_eq!(order_read("/stores/demo-store/v2/orders/count"), None);
        assert_eq!(order_read("/stores/demo-store/v2/orders"), None);
        assert_eq!(order_read("/stores/demo-store/v3/hooks/1"), None);
    }

    #[test]
    fn a_secret_is_reported_by_its_name_and_place_never_by_its_value() {
        let watch = SecretWatch::default();
        watch.scan("a log line", "nothing here");
        watch.scan("an alert", &format!("token={}", sandbox::demo::PLEX_API_KEY));
        watch.scan("an alert", &format!("again {}", sandbox::demo::PLEX_API_KEY));
        assert_eq!(watch.leaks(), ["the plex api_key in an alert"]);
        assert!(!watch.leaks().concat().contains(sandbox::demo::PLEX_API_KEY));
        assert_eq!(watch.scanned(), 3);
    }
}
