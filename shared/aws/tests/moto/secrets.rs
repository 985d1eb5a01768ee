//! `SecretsManagerStore` against moto: create-or-replace, the per-container cache, missing secrets,
//! and errors that never carry a secret's value.

use std::time::Duration;

use domain::ports::SecretStore;
use domain::{ErrorClass, PortError, SecretName, System};
use millwright_aws::SecretsManagerStore;
use secrecy::{ExposeSecret, SecretString};

use crate::support::{acme, sdk, unique_stack_name};

/// A name no other test uses: secrets are not part of a provisioned stack.
fn unique_name(system: System) -> SecretName {
    SecretName::new(format!("millwright-{}", unique_stack_name()), acme(), system)
}

fn secret(value: &str) -> SecretString {
    SecretString::from(value.to_owned())
}

/// Changes a secret behind the store's back, as a rotation or an operator would.
async fn change_underneath(sdk: &aws_config::SdkConfig, name: &SecretName, value: &str) {
    aws_sdk_secretsmanager::Client::new(sdk)
        .put_secret_value()
        .secret_id(name.to_string())
        .secret_string(value)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_put_creates_the_secret_and_a_second_put_replaces_it() {
    let sdk = sdk().await;
    let name = unique_name(System::Plex);
    let writer = SecretsManagerStore::new(&sdk, Duration::from_secs(300));

    writer.put(&name, &secret(r#"{"api_key":"k1"}"#)).await.unwrap();
    writer.put(&name, &secret(r#"{"api_key":"k2"}"#)).await.unwrap();

    // A fresh store (another container) reads from Secrets Manager, not from the writer's cache.
    let reader = SecretsManagerStore::new(&sdk, Duration::from_secs(300));
    assert_eq!(reader.get(&name).await.unwrap().expose_secret(), r#"{"api_key":"k2"}"#);
    assert_eq!(writer.get(&name).await.unwrap().expose_secret(), r#"{"api_key":"k2"}"#);
}

#[tokio::test]
async fn a_cached_value_is_served_within_the_ttl_even_after_the_secret_changed() {
    let sdk = sdk().await;
    let name = unique_name(System::Bigcommerce);
    let store = SecretsManagerStore::new(&sdk, Duration::from_secs(300));
    store.put(&name, &secret("v1")).await.unwrap();
    assert_eq!(store.get(&name).await.unwrap().expose_secret(), "v1");

    change_underneath(&sdk, &name, "v2").await;

    assert_eq!(store.get(&name).await.unwrap().expose_secret(), "v1");
}

#[tokio::test]
async fn a_cached_value_is_refreshed_once_the_ttl_has_passed() {
    let sdk = sdk().await;
    let name = unique_name(System::Monday);
    let store = SecretsManagerStore::new(&sdk, Duration::from_millis(200));
    store.put(&name, &secret("v1")).await.unwrap();
    assert_eq!(store.get(&name).await.unwrap().expose_secret(), "v1");

    change_underneath(&sdk, &name, "v2").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_eq!(store.get(&name).await.unwrap().expose_secret(), "v2");
}

#[tokio::test]
async fn a_missing_secret_is_a_configuration_error_that_names_it() {
    let store = SecretsManagerStore::new(&sdk().await, Duration::from_secs(300));
    let name = unique_name(System::Plex);

    let err = store.get(&name).await.unwrap_err();

    assert!(matches!(err, PortError::Invalid { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Data);
    assert!(err.to_string().contains(&name.to_string()), "{err}");
}

#[tokio::test]
async fn an_error_about_a_secret_never_contains_its_value() {
    // GIVEN a secret with a recognisable value that is then deleted (kept for recovery)
    let sdk = sdk().await;
    let name = unique_name(System::Plex);
    let value = "hunter2-very-secret-value";
    SecretsManagerStore::new(&sdk, Duration::ZERO).put(&name, &secret(value)).await.unwrap();
    aws_sdk_secretsmanager::Client::new(&sdk)
        .delete_secret()
        .secret_id(name.to_string())
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();

    // WHEN a store without a cache reads it
    let err = SecretsManagerStore::new(&sdk, Duration::ZERO).get(&name).await.unwrap_err();

    // THEN the error names the secret and says nothing of its value, in any rendering
    assert!(err.to_string().contains(&name.to_string()), "{err}");
    for rendering in [err.to_string(), format!("{err:?}"), format!("{err:#?}")] {
        assert!(!rendering.contains(value), "the secret value leaked: {rendering}");
    }
}

#[tokio::test]
async fn get_fresh_reads_past_the_cache_and_refreshes_it() {
    // GIVEN a cached value that was changed behind the store's back
    let sdk = sdk().await;
    let name = unique_name(System::Plex);
    let store = SecretsManagerStore::new(&sdk, Duration::from_secs(300));
    store.put(&name, &secret("v1")).await.unwrap();
    change_underneath(&sdk, &name, "v2").await;

    // WHEN it is read fresh
    let fresh = store.get_fresh(&name.to_string()).await.unwrap();

    // THEN the new value comes back, and the cached read serves it from now on
    assert_eq!(fresh.as_ref().map(ExposeSecret::expose_secret), Some("v2"));
    assert_eq!(store.get(&name).await.unwrap().expose_secret(), "v2");
}

#[tokio::test]
async fn get_fresh_of_a_missing_secret_is_none_rather_than_an_error() {
    let store = SecretsManagerStore::new(&sdk().await, Duration::from_secs(300));

    let missing = store.get_fresh(&unique_name(System::Plex).to_string()).await.unwrap();

    assert!(missing.is_none());
}

#[tokio::test]
async fn put_named_creates_and_replaces_a_secret_under_any_name() {
    // GIVEN a name that is not a connection's credential
    let sdk = sdk().await;
    let name = format!("{}/plex-token", unique_name(System::Plex));
    let writer = SecretsManagerStore::new(&sdk, Duration::from_secs(300));

    writer.put_named(&name, &secret("t1")).await.unwrap();
    writer.put_named(&name, &secret("t2")).await.unwrap();

    // THEN another container reads the second value
    let reader = SecretsManagerStore::new(&sdk, Duration::from_secs(300));
    assert_eq!(reader.get_fresh(&name).await.unwrap().as_ref().map(ExposeSecret::expose_secret), Some("t2"));
}
