//! `millwright connections`: a deployment's first connection installed from files, as the README's
//! deployment section has it (`make deploy` → `millwright connections add` → `millwright check`),
//! against a state table that starts empty.

use domain::System;
use millwright_aws::provision::{ProvisionOptions, ResourceNames, provision};
use millwright_cli::connections::{self, Install};
use runtime::Deps;
use sandbox::demo;
use serde_json::{Map, Value, json};

use crate::support::World;

/// The demo's credentials as one document, one object per system (what `--credentials` reads).
fn credentials() -> String {
    let systems: Map<String, Value> =
        demo::connection_secrets().into_iter().map(|(system, document)| (system.to_owned(), document)).collect();
    Value::Object(systems).to_string()
}

#[tokio::test]
async fn a_connection_added_to_an_empty_state_table_is_stored_checked_and_gets_its_order_hooks() {
    // GIVEN a deployment of its own (tables and queues of a fresh stack, so its state table is
    // empty), the sandbox's store and Plex, and the local world's receiver
    let world = World::start().await;
    let sdk = millwright_aws::config::sdk_config_from_env().await;
    let stack = format!("t-conn-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let provisioned = provision(&sdk, &ResourceNames::for_stack(&stack), &ProvisionOptions::default())
        .await
        .expect("the stack's resources are created in moto");
    let mut config = world.deps.config.clone();
    config.state_table = provisioned.state_table;
    config.audit_table = provisioned.audit_table;
    let deps = Deps::from_sdk_config(&config, &sdk);
    assert!(deps.connections.list().await.expect("listing").is_empty());
    let receiver = std::env::var("WEBHOOK_RECEIVER_URL")
        .expect("WEBHOOK_RECEIVER_URL is not set: run the end-to-end tests through `make test`");
    let id = format!("{stack}-shop");
    let profile = demo::connection_profile(&id, Some(&world.sandbox)).to_string();

    // WHEN the operator adds it from a profile file and a credentials document
    let installed =
        connections::install(&deps, Install::Add, &profile, Some(&credentials()), Some(&receiver), "cli:test")
            .await
            .expect("the connection is installed");

    // THEN the profile and one secret per system are stored, every system answers the check, and
    // both order hooks are registered at the receiver
    let lines = connections::install_lines(&installed, Install::Add);
    assert!(installed.passed(), "{}", lines.join("\n"));
    assert_eq!(installed.secrets.len(), 3, "{:?}", installed.secrets);
    let check = installed.check.as_ref().expect("checked");
    assert_eq!(check.probes.len(), 3, "{:?}", check.probes);
    let hooks = installed.hooks.as_ref().expect("hooks registered");
    assert_eq!(hooks[0].repaired.len(), 2, "{lines:?}");
    let listed = deps.connections.list().await.expect("listing");
    let listed_ids: Vec<String> = listed.iter().map(|profile| profile.id.to_string()).collect();
    assert_eq!(listed_ids, [id.as_str()]);

    // AND `show` names the credential fields that are set, never their values
    let shown = connections::show_lines(&deps, &listed[0].id).await.expect("shown").join("\n");
    assert!(shown.contains("access_token, client_secret, webhook_secret"), "{shown}");
    for (_, document) in demo::connection_secrets() {
        for value in document.as_object().expect("an object").values().filter_map(Value::as_str) {
            assert!(!shown.contains(value), "a secret value is shown");
        }
    }

    // AND adding it again changes nothing, while an update replaces the profile
    let again = connections::install(&deps, Install::Add, &profile, Some(&credentials()), None, "cli:test").await;
    assert!(again.unwrap_err().to_string().contains("already installed"));
    let mut renamed: Value = serde_json::from_str(&profile).expect("JSON");
    renamed["display_name"] = json!("Renamed Shop");
    connections::install(&deps, Install::Update, &renamed.to_string(), None, None, "cli:test")
        .await
        .expect("the profile is updated");
    let stored = deps.connection(&listed[0].id).await.expect("stored");
    assert_eq!(stored.display_name.as_deref(), Some("Renamed Shop"));
    let secret = deps.secrets.get(&deps.secret_name(&stored.id, System::Plex)).await.expect("the Plex secret");
    assert!(!connections::secret_fields(&secret).is_empty(), "update without credentials keeps them");

    // WHEN it is removed
    let removed = connections::remove(&deps, &stored.id, "cli:test").await.expect("removed");

    // THEN its two order hooks are deleted at BigCommerce and it is parked, its records kept
    assert_eq!((removed.hooks_deleted.len(), removed.problems.clone()), (2, vec![]), "{removed:?}");
    let registry = deps.webhook_apis().webhooks(&stored).await.expect("the hook registry");
    let route = format!("/webhooks/bigcommerce/{}", stored.id);
    let left: Vec<_> =
        registry.hooks().await.expect("hooks").into_iter().filter(|hook| hook.destination.ends_with(&route)).collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(deps.connection(&stored.id).await.expect("kept").is_parked());
    let listed = connections::list_lines(&deps.connections.list().await.expect("listing"));
    assert!(listed[0].contains("(removed "), "{listed:?}");

    // AND adding it again installs it again, hooks and all
    let back = connections::install(&deps, Install::Add, &profile, Some(&credentials()), Some(&receiver), "cli:test")
        .await
        .expect("installed again");
    assert!(back.passed() && !back.profile.is_parked(), "{:?}", connections::install_lines(&back, Install::Add));
    assert_eq!(back.hooks.as_ref().expect("hooks")[0].repaired.len(), 2);
}

#[tokio::test]
async fn an_invalid_profile_is_refused_naming_every_problem_and_nothing_is_written() {
    // GIVEN a profile with a typo and a wrong value
    let world = World::start().await;
    let id = format!("{}-bad", world.connection);
    let mut profile = demo::connection_profile(&id, Some(&world.sandbox));
    profile["orders"]["due_in_dayz"] = json!(3);
    profile["plex"]["connect_base_url"] = json!("plex.example");

    // WHEN it is added
    let refused =
        connections::install(&world.deps, Install::Add, &profile.to_string(), Some(&credentials()), None, "t")
            .await
            .unwrap_err()
            .to_string();

    // THEN both problems are named by path, and the connection was not stored
    assert!(refused.contains("orders.due_in_dayz: unknown field"), "{refused}");
    assert!(refused.contains("plex.connect_base_url: expected an http(s) URL"), "{refused}");
    let stored = world.deps.connections.get(&domain::ConnectionId::new(&id).expect("an id")).await.expect("read");
    assert!(stored.is_none());
}
