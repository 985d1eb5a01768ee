//! Local doubles of the three APIs Millwright talks to: BigCommerce, Plex and monday.com.
//!
//! Each double is an HTTP server on its own 127.0.0.1 port that answers like the real service as far
//! as the project's API notes describe it: the same paths, headers, auth modes, status codes, error
//! bodies and rate limits. Each one also serves a control plane under `/__control/` to seed data,
//! change limits and auth modes, inject faults, set the clock and read the request log (see the
//! crate README for every endpoint). Tests start the doubles in-process with [`Sandbox::start`];
//! `make demo` and the local world run the same code as the `millwright-sandbox` binary.
//!
//! Layout:
//! - `bigcommerce`, `plex`, `monday`: one module per system: its state, seed format, auth,
//!   rate limits and endpoints.
//! - `double`: what the three have in common: the `Double` trait and the middleware that
//!   logs every API request and applies injected faults before auth and rate limiting.
//! - `control`: the `/__control/` endpoints every double serves.
//! - `faults`, `ratelimit`, `requestlog`, `clock`, `reply`: the shared building blocks.
//! - [`demo`]: the demo connection's credentials and seed documents.
//!
//! Adding an endpoint to a double means adding a route and a handler in that system's module; auth,
//! rate limiting, faults and the request log already apply to it.

// Helpers here return `Result<_, Response>` so they can answer early with the system's error
// response; a `Response` is large, but this is a test double where such paths are not hot, and
// boxing every early answer would only add noise.
#![allow(clippy::result_large_err)]

pub mod demo;

mod bigcommerce;
mod clock;
mod control;
mod double;
mod faults;
mod monday;
mod plex;
mod ratelimit;
mod reply;
mod requestlog;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use requestlog::REDACTED;

/// Where the doubles listen and how their clocks and windows are scaled.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    /// 0 picks a free port.
    pub bigcommerce_port: u16,
    pub plex_port: u16,
    pub monday_port: u16,
    /// Multiplies every default time window: rate-limit windows (BigCommerce 30 s, Plex 60 s,
    /// monday 60 s), the Plex OAuth token lifetime, and the BigCommerce webhook retry delays (60 s
    /// to 24 h) and delivery timeout (10 s, at least 1 s). `0.001` turns a 30 s window into 30 ms,
    /// so a test can watch a quota refresh without waiting. `1.0` is real time.
    pub time_scale: f64,
    /// Apply the demo connection's seed documents ([`demo`]) at start-up.
    pub seed_demo: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig { bigcommerce_port: 0, plex_port: 0, monday_port: 0, time_scale: 1.0, seed_demo: false }
    }
}

/// The three running doubles. Dropping it stops them too, but [`Sandbox::shutdown`] waits for that.
#[derive(Debug)]
pub struct Sandbox {
    /// Base URL of the BigCommerce double, e.g. `http://127.0.0.1:41234`; the API lives under
    /// `{bigcommerce_url}/stores/{store_hash}/v2|v3`.
    pub bigcommerce_url: String,
    /// Base URL of the Plex double: Connect, the Data Source API and the OAuth token endpoint.
    pub plex_url: String,
    /// Base URL of the monday.com double; GraphQL is at `{monday_url}/v2`.
    pub monday_url: String,
    shutdown: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
}

/// How long [`Sandbox::shutdown`] lets in-flight requests finish before it stops waiting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl Sandbox {
    /// Binds the three doubles on 127.0.0.1 and starts serving.
    pub async fn start(config: SandboxConfig) -> anyhow::Result<Sandbox> {
        anyhow::ensure!(
            config.time_scale.is_finite() && config.time_scale > 0.0,
            "time_scale must be a positive number, got {}",
            config.time_scale
        );
        let (shutdown, stopping) = watch::channel(false);

        let bigcommerce = Arc::new(bigcommerce::BigCommerce::new(config.time_scale, stopping.clone()));
        let plex = Arc::new(plex::Plex::new(config.time_scale, stopping.clone()));
        let monday = Arc::new(monday::Monday::new(config.time_scale, stopping.clone()));
        if config.seed_demo {
            double::seed_demo(&*bigcommerce).context("seeding the BigCommerce double")?;
            double::seed_demo(&*plex).context("seeding the Plex double")?;
            double::seed_demo(&*monday).context("seeding the monday double")?;
        }

        let (bigcommerce_url, bigcommerce_server) =
            double::serve(bigcommerce, config.bigcommerce_port, stopping.clone()).await?;
        let (plex_url, plex_server) = double::serve(plex, config.plex_port, stopping.clone()).await?;
        let (monday_url, monday_server) = double::serve(monday, config.monday_port, stopping).await?;
        tracing::info!(%bigcommerce_url, %plex_url, %monday_url, "sandbox doubles listening");

        Ok(Sandbox {
            bigcommerce_url,
            plex_url,
            monday_url,
            shutdown,
            servers: vec![bigcommerce_server, plex_server, monday_server],
        })
    }

    /// Stops accepting requests, lets in-flight ones finish (up to a few seconds) and returns.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for server in std::mem::take(&mut self.servers) {
            let abort = server.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, server).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Without this a test that panics before `shutdown` would leave its servers running.
        let _ = self.shutdown.send(true);
    }
}

/// One of the three doubles, for the control-plane helpers on [`Sandbox`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    BigCommerce,
    Plex,
    Monday,
}

impl Sandbox {
    /// The base URL of one double.
    pub fn url(&self, system: System) -> &str {
        match system {
            System::BigCommerce => &self.bigcommerce_url,
            System::Plex => &self.plex_url,
            System::Monday => &self.monday_url,
        }
    }

    /// `POST {double}/__control/{path}` with a JSON body, for tests: panics with the double's
    /// answer when it refuses, so a mistyped seed or fault rule fails the test where it was made.
    pub async fn control(&self, system: System, path: &str, body: serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/__control/{path}", self.url(system)))
            .json(&body)
            .send()
            .await
            .expect("the sandbox's control plane is reachable");
        let status = response.status();
        assert!(status.is_success(), "control {path}: {status} {}", response.text().await.unwrap_or_default());
    }

    /// Any control request (`GET /__control/inventory`, `PUT /__control/inventory/levels`, ...),
    /// for tests: panics with the double's answer when it refuses, and returns the answer's JSON
    /// (`Null` for an empty body).
    pub async fn control_request(
        &self,
        system: System,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let mut request = reqwest::Client::new().request(method, format!("{}/__control/{path}", self.url(system)));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the sandbox's control plane is reachable");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "control {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// `POST {plex}/__control/inventory/generate`: parts, locations and containers in bulk,
    /// deterministic for a seed (see the README); returns the generator's summary.
    pub async fn generate_plex_inventory(&self, spec: serde_json::Value) -> serde_json::Value {
        self.control_request(System::Plex, reqwest::Method::POST, "inventory/generate", Some(spec)).await
    }

    /// `GET {plex}/__control/inventory[?tenant=]`: locations, every container and every container
    /// adjustment of a tenant (the default one when `tenant` is `None`).
    pub async fn plex_inventory(&self, tenant: Option<&str>) -> serde_json::Value {
        let path = match tenant {
            Some(tenant) => format!("inventory?tenant={tenant}"),
            None => "inventory".to_owned(),
        };
        self.control_request(System::Plex, reqwest::Method::GET, &path, None).await
    }

    /// `POST {bigcommerce}/__control/catalog/generate`: products and variants in bulk, with their
    /// tracking modes and stock, deterministic for a seed (see the README); returns the summary.
    pub async fn generate_bigcommerce_catalog(&self, spec: serde_json::Value) -> serde_json::Value {
        self.control_request(System::BigCommerce, reqwest::Method::POST, "catalog/generate", Some(spec)).await
    }

    /// `GET {bigcommerce}/__control/inventory`: the only store's locations, the level of every
    /// tracked item at every location, and the absolute adjustments applied.
    pub async fn bigcommerce_inventory(&self) -> serde_json::Value {
        self.control_request(System::BigCommerce, reqwest::Method::GET, "inventory", None).await
    }

    /// How many logged API requests of a double had this method and a path ending in
    /// `path_suffix`, e.g. `count_requests(System::BigCommerce, "PUT",
    /// "/v3/inventory/adjustments/absolute")`.
    pub async fn count_requests(&self, system: System, method: &str, path_suffix: &str) -> usize {
        self.request_log(system)
            .await
            .iter()
            .filter(|entry| {
                entry["method"].as_str().is_some_and(|own| own.eq_ignore_ascii_case(method))
                    && entry["path"].as_str().is_some_and(|path| path.ends_with(path_suffix))
            })
            .count()
    }

    /// The double's request log (API requests only; control requests are not logged), for tests.
    pub async fn request_log(&self, system: System) -> Vec<serde_json::Value> {
        reqwest::get(format!("{}/__control/requests", self.url(system)))
            .await
            .expect("the sandbox's request log is reachable")
            .json()
            .await
            .expect("the request log is JSON")
    }
}

/// Locks a mutex even if a panicking request handler poisoned it: the doubles' state stays usable,
/// and one failed test must not turn every later request into a panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
