//! Starting a seeded sandbox for one test, and small helpers for its control plane.

use reqwest::{Method, Response, StatusCode};
use sandbox::{Sandbox, SandboxConfig, demo};
use serde_json::Value;

/// A running sandbox with the demo seed, and an HTTP client.
pub struct World {
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
}

/// Starts a fresh sandbox (own ports, own state) with the demo seed applied.
pub async fn start() -> World {
    start_with(SandboxConfig { seed_demo: true, ..SandboxConfig::default() }).await
}

pub async fn start_with(config: SandboxConfig) -> World {
    let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
    World { sandbox, http: reqwest::Client::new() }
}

/// The JSON body of a response (`Null` when it is empty or not JSON).
pub async fn body(response: Response) -> Value {
    let text = response.text().await.expect("a readable body");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A response header as text.
pub fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|value| value.to_str().ok())
}

/// A response header as a number.
pub fn number_header(response: &Response, name: &str) -> i64 {
    header(response, name).and_then(|value| value.parse().ok()).unwrap_or_else(|| panic!("header {name} is a number"))
}

impl World {
    /// `{bigcommerce}/stores/demo-store{path}`.
    pub fn store(&self, path: &str) -> String {
        format!("{}/stores/{}{path}", self.sandbox.bigcommerce_url, demo::BIGCOMMERCE_STORE_HASH)
    }

    pub fn plex(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.plex_url)
    }

    pub fn monday(&self) -> String {
        format!("{}/v2", self.sandbox.monday_url)
    }

    /// An authenticated BigCommerce GET.
    pub async fn bigcommerce_get(&self, path: &str) -> Response {
        self.http.get(self.store(path)).header("X-Auth-Token", demo::BIGCOMMERCE_ACCESS_TOKEN).send().await.unwrap()
    }

    /// An authenticated Plex Connect GET with the demo key.
    pub async fn plex_get(&self, path: &str) -> Response {
        self.http.get(self.plex(path)).header("X-Plex-Connect-Api-Key", demo::PLEX_API_KEY).send().await.unwrap()
    }

    /// A monday GraphQL request with the demo token.
    pub async fn monday_query(&self, query: &str) -> Response {
        self.http
            .post(self.monday())
            .header("Authorization", demo::MONDAY_TOKEN)
            .header("API-Version", "2026-10")
            .json(&serde_json::json!({ "query": query }))
            .send()
            .await
            .unwrap()
    }

    /// Calls a control endpoint of the double at `base`; returns the status and JSON body.
    pub async fn control(
        &self,
        base: &str,
        method: Method,
        path: &str,
        document: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{base}/__control{path}"));
        if let Some(document) = document {
            request = request.json(&document);
        }
        let response = request.send().await.unwrap();
        (response.status(), body(response).await)
    }

    /// `POST /__control/config`, which must succeed.
    pub async fn configure(&self, base: &str, changes: Value) -> Value {
        let (status, config) = self.control(base, Method::POST, "/config", Some(changes)).await;
        assert_eq!(status, StatusCode::OK, "config rejected: {config}");
        config
    }

    /// `POST /__control/faults`, which must succeed.
    pub async fn fault(&self, base: &str, rule: Value) -> Value {
        let (status, rule) = self.control(base, Method::POST, "/faults", Some(rule)).await;
        assert_eq!(status, StatusCode::CREATED, "fault rejected: {rule}");
        rule
    }

    /// `POST /__control/seed`, which must succeed.
    pub async fn seed(&self, base: &str, document: Value) -> Value {
        let (status, summary) = self.control(base, Method::POST, "/seed", Some(document)).await;
        assert_eq!(status, StatusCode::OK, "seed rejected: {summary}");
        summary
    }

    /// The request log of the double at `base`.
    pub async fn requests(&self, base: &str) -> Vec<Value> {
        let (status, log) = self.control(base, Method::GET, "/requests", None).await;
        assert_eq!(status, StatusCode::OK);
        log.as_array().cloned().expect("the log is an array")
    }
}
