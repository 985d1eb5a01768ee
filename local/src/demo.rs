//! The demo connection, as the local world, the end-to-end tests and the bench install it: the
//! sandbox's demo profile (`sandbox::demo`) in the state table and its credentials in Secrets
//! Manager, through `runtime::Deps::install_connection` as any connection is stored.

use anyhow::Context;
use domain::{ConnectionProfile, System};
use sandbox::{Sandbox, demo};
use secrecy::SecretString;
use serde_json::Value;

/// Installs connection `id` with the demo's profile and credentials. With `sandbox`, every base
/// URL of the profile points at it; without, the deployment's defaults apply (which the local world
/// points at its sandbox). `adjust` may change the profile document (its JSON form) first.
pub async fn install_demo_connection(
    deps: &runtime::Deps,
    id: &str,
    sandbox: Option<&Sandbox>,
    adjust: impl FnOnce(&mut Value),
) -> anyhow::Result<ConnectionProfile> {
    let mut document = demo::connection_profile(id, sandbox);
    adjust(&mut document);
    let profile: ConnectionProfile = serde_json::from_value(document).context("the demo connection's profile")?;
    let mut secrets = Vec::new();
    for (system, credentials) in demo::connection_secrets() {
        let system: System = serde_json::from_value(Value::from(system)).context("a system name")?;
        secrets.push((system, SecretString::from(credentials.to_string())));
    }
    deps.install_connection(&profile, &secrets).await.with_context(|| format!("storing connection {id}"))?;
    Ok(profile)
}
