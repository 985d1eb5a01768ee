//! A test's world: the deployment's configuration and adapters (moto, from the environment the
//! local world wrote) plus a fresh sandbox and a connection of its own pointing at it.

use domain::{ConnectionId, ConnectionProfile, System};
use runtime::{Config, Deps};
use sandbox::{Sandbox, SandboxConfig, demo};
use secrecy::SecretString;
use serde_json::Value;

pub struct World {
    pub deps: Deps,
    pub sandbox: Sandbox,
    pub connection: ConnectionId,
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
        let deps = Deps::build(&config()).await;
        let sandbox = Sandbox::start(SandboxConfig { seed_demo: true, ..SandboxConfig::default() })
            .await
            .expect("the sandbox starts");
        let id = format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let profile: ConnectionProfile =
            serde_json::from_value(demo::connection_profile(&id, Some(&sandbox))).expect("the demo profile parses");
        let secrets: Vec<(System, SecretString)> = demo::connection_secrets()
            .into_iter()
            .map(|(system, document)| {
                let system = serde_json::from_value(Value::from(system)).expect("a system name");
                (system, SecretString::from(document.to_string()))
            })
            .collect();
        deps.install_connection(&profile, &secrets).await.expect("the connection is stored in moto");
        World { deps, sandbox, connection: profile.id, http: reqwest::Client::new() }
    }

    /// Adds a fault rule to one double's control plane (`system` is `bigcommerce`, `plex` or `monday`).
    pub async fn inject_fault(&self, system: &str, rule: Value) {
        let base = match system {
            "bigcommerce" => &self.sandbox.bigcommerce_url,
            "plex" => &self.sandbox.plex_url,
            "monday" => &self.sandbox.monday_url,
            other => panic!("no double named {other}"),
        };
        let response =
            self.http.post(format!("{base}/__control/faults")).json(&rule).send().await.expect("control plane");
        assert!(response.status().is_success(), "fault rule refused: {}", response.text().await.unwrap_or_default());
    }
}
