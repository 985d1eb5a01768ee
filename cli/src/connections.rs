//! `millwright connections add|update|list|show|remove`: a connection's profile in the state table
//! and its credentials in Secrets Manager, without writing a DynamoDB item by hand.
//!
//! `add` and `update` read the profile from a JSON file (the state table's own form, see
//! `examples/connection.json`) and the credentials from another file or standard input, never from
//! the command line. Everything is validated before anything is written, and each problem names
//! its exact path (`orders.due_in_days: invalid type: string "7", expected u32`); a key the
//! profile does not know is a problem too, so a typo never silently falls back to a default. The
//! credentials are checked as the clients will read them, and against the profile (an API-key
//! connection needs `plex.api_key`, a custom-header webhook needs `bigcommerce.webhook_secret`).
//! Then the credentials go to Secrets Manager at `{prefix}/{connection}/{system}`, the profile to
//! the state table, and unless `--no-check`, the connection is checked (`millwright check`) and its
//! order hooks registered (`millwright webhooks --repair`), each result printed.
//!
//! `show` prints the profile and which credential fields are set, never a value. `remove` deletes
//! the connection's order hooks at BigCommerce and parks the connection (`parked_at`): nothing more
//! is processed for it, its records and audit trail stay, and `add` installs it again.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use domain::audit::{AuditEvent, Outcome, Stage};
use domain::connection::{PlexAuthMode, WebhookAuth};
use domain::{ConnectionId, ConnectionProfile, ErrorClass, RecordKey, RecordKind, System};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

#[derive(Debug, Clone, clap::Parser)]
pub struct ConnectionsArgs {
    #[command(subcommand)]
    pub command: ConnectionsCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ConnectionsCommand {
    /// Install a new connection: validate its profile and credentials, store them, check the
    /// connection and register its order hooks.
    Add(InstallArgs),
    /// Replace an installed connection's profile, and its credentials when given.
    Update(InstallArgs),
    /// List the installed connections.
    List,
    /// Print a connection's profile and which credential fields are set (never their values).
    Show {
        /// The connection's id.
        id: ConnectionId,
    },
    /// Delete the connection's order hooks at BigCommerce and park it: nothing more is processed
    /// for it; its records and audit trail stay.
    Remove {
        /// The connection's id.
        id: ConnectionId,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct InstallArgs {
    /// The connection profile, a JSON file (see `examples/connection.json`).
    #[arg(long, short = 'p')]
    pub profile: PathBuf,
    /// The credentials, a JSON file with one object per system (`bigcommerce`, `plex`, and
    /// `monday` when the profile has monday), or `-` to read them from standard input. Required by
    /// `add`; `update` keeps the stored ones when omitted.
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// Only store: skip the connection check and the hook registration.
    #[arg(long)]
    pub no_check: bool,
}

/// Every problem of a profile or credentials document, each naming its path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct Invalid(pub Vec<String>);

/// Parses and validates a profile document: a JSON syntax error, else the first value of the wrong
/// type, else every unknown key and every value the connection cannot work with.
pub fn parse_profile(text: &str) -> Result<ConnectionProfile, Invalid> {
    let document: Value = serde_json::from_str(text).map_err(|error| Invalid(vec![format!("not JSON: {error}")]))?;
    let profile: ConnectionProfile = serde_path_to_error::deserialize(&document).map_err(|error| {
        let path = error.path().to_string();
        let path = if path == "." { "(the profile)".to_owned() } else { path };
        Invalid(vec![format!("{path}: {}", error.into_inner())])
    })?;
    let mut problems = Vec::new();
    // What the profile does not know comes back missing when the parsed profile is written out.
    let known = serde_json::to_value(&profile).unwrap_or(Value::Null);
    unknown_keys(&document, &known, "", &mut problems);
    problems.extend(profile_problems(&profile));
    if problems.is_empty() { Ok(profile) } else { Err(Invalid(problems)) }
}

fn unknown_keys(given: &Value, known: &Value, path: &str, problems: &mut Vec<String>) {
    let at = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match (given, known) {
        (Value::Object(given), Value::Object(known)) => {
            for (key, value) in given {
                match known.get(key) {
                    Some(known) => unknown_keys(value, known, &at(key), problems),
                    None if value.is_null() => {}
                    None => problems.push(format!("{}: unknown field", at(key))),
                }
            }
        }
        (Value::Array(given), Value::Array(known)) => {
            for (index, (given, known)) in given.iter().zip(known).enumerate() {
                unknown_keys(given, known, &format!("{path}[{index}]"), problems);
            }
        }
        _ => {}
    }
}

/// What parses but cannot work: an empty store hash, a base URL that is not one, no webhook
/// authentication, a header name HTTP cannot carry.
fn profile_problems(profile: &ConnectionProfile) -> Vec<String> {
    let mut problems = Vec::new();
    let store_hash = &profile.bigcommerce.store_hash;
    // It becomes a path segment of every API call (`/stores/{store_hash}/…`).
    if store_hash.is_empty() || !store_hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        problems.push(format!("bigcommerce.store_hash: expected letters, digits, - or _, got {store_hash:?}"));
    }
    let urls = [
        ("bigcommerce.api_base_url", profile.bigcommerce.api_base_url.as_deref()),
        ("plex.connect_base_url", profile.plex.connect_base_url.as_deref()),
        ("plex.datasource_base_url", profile.plex.datasource_base_url.as_deref()),
        (
            "plex.auth.token_url",
            match &profile.plex.auth {
                PlexAuthMode::OAuth2 { token_url } => token_url.as_deref(),
                PlexAuthMode::ApiKey => None,
            },
        ),
        ("monday.api_url", profile.monday.as_ref().and_then(|monday| monday.api_url.as_deref())),
    ];
    for (path, url) in urls {
        if let Some(url) = url
            && !reqwest::Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
        {
            problems.push(format!("{path}: expected an http(s) URL, got {url:?}"));
        }
    }
    if profile.bigcommerce.webhook_auth.is_empty() {
        problems.push("bigcommerce.webhook_auth: expected at least one mode, or leave it out for the default".into());
    }
    for (index, auth) in profile.bigcommerce.webhook_auth.iter().enumerate() {
        if let WebhookAuth::CustomHeader { header } = auth
            && reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err()
        {
            problems.push(format!("bigcommerce.webhook_auth[{index}].header: {header:?} is not an HTTP header name"));
        }
    }
    problems.extend(profile.stock.validate().iter().map(ToString::to_string));
    problems
}

/// The credentials document: one object per system, each the secret document that system's client
/// reads (the README's secret table). Checked as the clients read them and against `profile`.
pub fn parse_credentials(text: &str, profile: &ConnectionProfile) -> Result<Vec<(System, SecretString)>, Invalid> {
    // Never quote the document: it is all secrets. serde_json's message names a position only.
    let document: Value = serde_json::from_str(text).map_err(|error| {
        Invalid(vec![format!("credentials: not JSON (line {}, column {})", error.line(), error.column())])
    })?;
    let Value::Object(systems) = document else {
        return Err(Invalid(vec!["credentials: expected an object with one object per system".to_owned()]));
    };
    let mut problems = Vec::new();
    let mut secrets = Vec::new();
    for key in systems.keys() {
        if !matches!(key.as_str(), "bigcommerce" | "plex" | "monday") {
            problems.push(format!("credentials.{key}: unknown system (expected bigcommerce, plex or monday)"));
        }
    }
    let mut wanted = vec![(System::Bigcommerce, "bigcommerce"), (System::Plex, "plex")];
    if profile.monday.is_some() {
        wanted.push((System::Monday, "monday"));
    }
    for (system, key) in wanted {
        let Some(document) = systems.get(key) else {
            problems.push(format!("credentials.{key}: missing"));
            continue;
        };
        let secret = SecretString::from(document.to_string());
        let fields = match document {
            Value::Object(fields) => fields,
            _ => {
                problems.push(format!("credentials.{key}: expected an object"));
                continue;
            }
        };
        let has = |field: &str| fields.get(field).and_then(Value::as_str).is_some_and(|value| !value.is_empty());
        let mut need = |field: &str, why: &str| {
            if !has(field) {
                problems.push(format!("credentials.{key}.{field}: missing ({why})"));
            }
        };
        let parsed = match system {
            System::Bigcommerce => {
                for auth in &profile.bigcommerce.webhook_auth {
                    match auth {
                        WebhookAuth::CustomHeader { .. } => {
                            need("webhook_secret", "bigcommerce.webhook_auth has custom_header");
                        }
                        WebhookAuth::StandardWebhooks { .. } | WebhookAuth::XBcSignature => {
                            need("client_secret", "bigcommerce.webhook_auth verifies signatures");
                        }
                    }
                }
                bigcommerce::Credentials::from_secret_json(&secret).map(drop).map_err(|error| error.to_string())
            }
            System::Plex => {
                match profile.plex.auth {
                    PlexAuthMode::ApiKey => need("api_key", "plex.auth.mode is api_key"),
                    PlexAuthMode::OAuth2 { .. } => {
                        need("client_id", "plex.auth.mode is oauth2");
                        need("client_secret", "plex.auth.mode is oauth2");
                    }
                }
                plex::Credentials::from_secret_json(&secret).map(drop).map_err(|error| error.to_string())
            }
            System::Monday => {
                monday::Credentials::from_secret_json(&secret).map(drop).map_err(|error| error.to_string())
            }
        };
        if let Err(reason) = parsed {
            problems.push(format!("credentials.{key}: {reason}"));
        }
        secrets.push((system, secret));
    }
    if problems.is_empty() { Ok(secrets) } else { Err(Invalid(problems)) }
}

/// The field names of a stored secret document, for `show` (the values are never read out).
pub fn secret_fields(secret: &SecretString) -> Vec<String> {
    match serde_json::from_str::<Value>(secret.expose_secret()) {
        Ok(Value::Object(fields)) => {
            fields.into_iter().filter(|(_, value)| !value.is_null()).map(|(field, _)| field).collect()
        }
        _ => vec!["(not a JSON object)".to_owned()],
    }
}

fn read_credentials(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("reading the credentials from standard input")?;
        return Ok(text);
    }
    std::fs::read_to_string(path).with_context(|| format!("reading the credentials file {}", path.display()))
}

/// Whether `add` or `update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Install {
    Add,
    Update,
}

/// What `add` or `update` did.
#[derive(Debug)]
pub struct Installed {
    pub profile: ConnectionProfile,
    /// Which secrets were stored (none when `update` kept them).
    pub secrets: Vec<String>,
    /// `millwright check`'s report, unless skipped.
    pub check: Option<runtime::check::ConnectionReport>,
    /// The order hooks after their registration, unless skipped.
    pub hooks: Option<Vec<webhook_health::ConnectionHooks>>,
}

impl Installed {
    pub fn passed(&self) -> bool {
        self.check.as_ref().is_none_or(runtime::check::ConnectionReport::passed)
            && self.hooks.as_ref().is_none_or(|hooks| hooks.iter().all(webhook_health::ConnectionHooks::is_healthy))
    }
}

/// Validates the documents, then stores them and (with `receiver_url`) checks the connection and
/// registers its order hooks. Nothing is written when anything is invalid, when `add` finds the
/// connection installed, or when `update` does not.
pub async fn install(
    deps: &runtime::Deps,
    mode: Install,
    profile_text: &str,
    credentials_text: Option<&str>,
    receiver_url: Option<&str>,
    actor: &str,
) -> anyhow::Result<Installed> {
    let profile =
        parse_profile(profile_text).map_err(|invalid| anyhow::anyhow!("the profile is invalid:\n{invalid}"))?;
    let secrets = match credentials_text {
        Some(text) => parse_credentials(text, &profile)
            .map_err(|invalid| anyhow::anyhow!("the credentials are invalid:\n{invalid}"))?,
        None if mode == Install::Add => bail!("add needs --credentials (a file, or - for standard input)"),
        None => Vec::new(),
    };
    let existing = deps.connections.get(&profile.id).await.context("reading the state table")?;
    // A removed (parked) connection is installed again by `add`.
    let existing = existing.filter(|existing| !existing.is_parked());
    match (mode, existing) {
        (Install::Add, Some(_)) => {
            bail!("connection {} is already installed; `millwright connections update` replaces it", profile.id)
        }
        (Install::Update, None) => {
            bail!("connection {} is not installed; `millwright connections add` installs it", profile.id)
        }
        _ => {}
    }
    deps.install_connection(&profile, &secrets).await?;
    let stored = secrets.iter().map(|(system, _)| deps.secret_name(&profile.id, *system).to_string()).collect();
    let (check, hooks) = match receiver_url {
        Some(receiver_url) => {
            let check = runtime::check::check_connection(deps, &profile.id).await;
            let hooks =
                crate::webhooks::check(deps, receiver_url, std::slice::from_ref(&profile.id), true, actor).await?;
            (Some(check), Some(hooks))
        }
        None => (None, None),
    };
    Ok(Installed { profile, secrets: stored, check, hooks })
}

/// The text form of what `install` did.
pub fn install_lines(installed: &Installed, mode: Install) -> Vec<String> {
    let verb = if mode == Install::Add { "installed" } else { "updated" };
    let mut lines = vec![format!("connection {} {verb} (profile in the state table)", installed.profile.id)];
    lines.extend(installed.secrets.iter().map(|name| format!("  stored secret {name}")));
    match (&installed.check, &installed.hooks) {
        (Some(check), Some(hooks)) => {
            lines.push("check".to_owned());
            lines.extend(check.probes.iter().map(|probe| format!("  {probe}")));
            lines.push("order hooks".to_owned());
            lines.extend(crate::webhooks::lines(hooks).into_iter().map(|line| format!("  {line}")));
        }
        _ => lines.push("not checked (--no-check); run `millwright check` and `millwright webhooks --repair`".into()),
    }
    lines
}

/// `list`: one line a connection.
pub fn list_lines(profiles: &[ConnectionProfile]) -> Vec<String> {
    if profiles.is_empty() {
        return vec!["no connections; `millwright connections add` installs one".to_owned()];
    }
    profiles
        .iter()
        .map(|profile| {
            let name = profile.display_name.as_deref().unwrap_or("");
            let monday = if profile.monday.is_some() { ", monday" } else { "" };
            let parked = profile.parked_at.map(|at| format!(" (removed {at})")).unwrap_or_default();
            format!("{:<24} {:<28} store {}{monday}{parked}", profile.id, name, profile.bigcommerce.store_hash)
        })
        .collect()
}

/// `show`: the profile as stored, and which credential fields are set.
pub async fn show_lines(deps: &runtime::Deps, id: &ConnectionId) -> anyhow::Result<Vec<String>> {
    let profile = deps.connection(id).await?;
    let mut lines = vec![serde_json::to_string_pretty(&profile)?];
    lines.push("credentials (fields set; values are never shown)".to_owned());
    let mut systems = vec![System::Bigcommerce, System::Plex];
    if profile.monday.is_some() {
        systems.push(System::Monday);
    }
    for system in systems {
        let name = deps.secret_name(id, system);
        let fields = match deps.secrets.get(&name).await {
            Ok(secret) => secret_fields(&secret).join(", "),
            Err(error) => format!("not readable: {error}"),
        };
        lines.push(format!("  {name}: {fields}"));
    }
    Ok(lines)
}

/// What `remove` did.
#[derive(Debug)]
pub struct Removed {
    pub connection: ConnectionId,
    /// The order hooks deleted at BigCommerce, by id.
    pub hooks_deleted: Vec<u64>,
    /// What could not be done (the connection is parked all the same; `remove` again retries).
    pub problems: Vec<String>,
}

/// Deletes the connection's order hooks (those delivering to this connection's receiver route)
/// and parks the connection, audited on `{connection}#run#connections`. Parked first, so that once
/// it says so nothing more is processed, whatever the hooks' deletion finds.
pub async fn remove(deps: &runtime::Deps, id: &ConnectionId, actor: &str) -> anyhow::Result<Removed> {
    let mut profile = deps.connection(id).await?;
    let now = chrono::Utc::now();
    profile.parked_at = Some(profile.parked_at.unwrap_or(now));
    deps.connections.put(&profile).await.context("parking the connection in the state table")?;
    let mut removed = Removed { connection: id.clone(), hooks_deleted: Vec::new(), problems: Vec::new() };
    let route = format!("{}{id}", domain::hooks::RECEIVER_ROUTE);
    match deps.webhook_apis().webhooks(&profile).await {
        Ok(registry) => match registry.hooks().await {
            Ok(hooks) => {
                let ours = hooks.into_iter().filter(|hook| {
                    domain::hooks::ORDER_SCOPES.contains(&hook.scope.as_str()) && hook.destination.ends_with(&route)
                });
                for hook in ours {
                    match registry.delete(hook.id).await {
                        Ok(()) => removed.hooks_deleted.push(hook.id),
                        Err(error) => {
                            removed.problems.push(format!("deleting hook {} ({}): {error}", hook.id, hook.scope))
                        }
                    }
                }
            }
            Err(error) => removed.problems.push(format!("listing the order hooks: {error}")),
        },
        Err(error) => removed.problems.push(format!("reaching BigCommerce: {error}")),
    }
    let outcome = if removed.problems.is_empty() { Outcome::Ok } else { Outcome::Retried };
    let mut event = AuditEvent::new(
        RecordKey::new(id.clone(), RecordKind::Run, "connections"),
        now,
        Stage::Checked,
        outcome,
        actor,
    )
    .with_message(format!("removed: parked, {} order hook(s) deleted", removed.hooks_deleted.len()))
    .with_detail(json!({"hooks_deleted": removed.hooks_deleted, "problems": removed.problems}));
    if !removed.problems.is_empty() {
        event = event.with_error(ErrorClass::Transient, removed.problems.join("; "));
    }
    if let Err(error) = deps.audit.append(&event).await {
        removed.problems.push(format!("the removal's audit event was not stored: {error}"));
    }
    Ok(removed)
}

pub fn remove_lines(removed: &Removed) -> Vec<String> {
    let mut lines = vec![format!(
        "connection {} parked: nothing more is processed for it; its records and audit trail stay",
        removed.connection
    )];
    lines.extend(removed.hooks_deleted.iter().map(|id| format!("  deleted order hook {id}")));
    lines.extend(removed.problems.iter().map(|problem| format!("  problem: {problem} (run remove again)")));
    lines
}

pub async fn run(args: ConnectionsArgs) -> anyhow::Result<ExitCode> {
    let config = crate::config()?;
    let deps = runtime::Deps::build(&config).await;
    match args.command {
        ConnectionsCommand::Add(install_args) => run_install(&deps, &config, Install::Add, install_args).await,
        ConnectionsCommand::Update(install_args) => run_install(&deps, &config, Install::Update, install_args).await,
        ConnectionsCommand::List => {
            let profiles = deps.connections.list().await.context("listing the connections")?;
            list_lines(&profiles).iter().for_each(|line| println!("{line}"));
            Ok(ExitCode::SUCCESS)
        }
        ConnectionsCommand::Show { id } => {
            show_lines(&deps, &id).await?.iter().for_each(|line| println!("{line}"));
            Ok(ExitCode::SUCCESS)
        }
        ConnectionsCommand::Remove { id } => {
            let removed = remove(&deps, &id, &crate::replay::actor()).await?;
            remove_lines(&removed).iter().for_each(|line| println!("{line}"));
            Ok(if removed.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

async fn run_install(
    deps: &runtime::Deps,
    config: &runtime::Config,
    mode: Install,
    args: InstallArgs,
) -> anyhow::Result<ExitCode> {
    let profile_text = std::fs::read_to_string(&args.profile)
        .with_context(|| format!("reading the profile file {}", args.profile.display()))?;
    let credentials_text = args.credentials.as_deref().map(read_credentials).transpose()?;
    let receiver_url = if args.no_check {
        None
    } else {
        Some(config.webhook_receiver_url.clone().with_context(|| {
            format!(
                "{} is not set: the webhook receiver's public base URL (the stack's BigCommerceWebhookUrl output up \
                 to /webhooks), where the order hooks deliver; or pass --no-check",
                runtime::config::WEBHOOK_RECEIVER_URL
            )
        })?)
    };
    let installed = install(
        deps,
        mode,
        &profile_text,
        credentials_text.as_deref(),
        receiver_url.as_deref(),
        &crate::replay::actor(),
    )
    .await?;
    install_lines(&installed, mode).iter().for_each(|line| println!("{line}"));
    Ok(if installed.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Value {
        serde_json::json!({
            "id": "acme",
            "display_name": "Acme Fabrication",
            "bigcommerce": {"store_hash": "abc123", "webhook_auth": [{"mode": "custom_header", "header": "X-Millwright-Auth"}]},
            "plex": {"auth": {"mode": "api_key"}},
            "orders": {"guest_customer_code": "WEB", "due_in_days": 5}
        })
    }

    #[test]
    fn the_documented_example_profile_is_valid() {
        let example = include_str!("../../examples/connection.json");
        let parsed = parse_profile(example).unwrap();
        let credentials = include_str!("../../examples/credentials.example.json");
        assert_eq!(parse_credentials(credentials, &parsed).unwrap().len(), 2);
    }

    #[test]
    fn a_valid_profile_parses() {
        let parsed = parse_profile(&profile().to_string()).unwrap();
        assert_eq!(parsed.id.as_str(), "acme");
        assert_eq!(parsed.orders.due_in_days, 5);
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_path() {
        let mut document = profile();
        document["orders"]["due_in_days"] = "5".into();
        let Invalid(problems) = parse_profile(&document.to_string()).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("orders.due_in_days: invalid type: string \"5\""), "{problems:?}");
    }

    #[test]
    fn every_unknown_key_and_unworkable_value_is_named_at_once() {
        let mut document = profile();
        document["orders"]["guest_customer_cod"] = "WEB".into();
        document["plex"]["connect_base_url"] = "not a url".into();
        document["bigcommerce"]["webhook_auth"][0]["header"] = "X Auth".into();
        document["extra"] = 1.into();
        let Invalid(problems) = parse_profile(&document.to_string()).unwrap_err();
        assert_eq!(
            problems,
            [
                "extra: unknown field",
                "orders.guest_customer_cod: unknown field",
                "plex.connect_base_url: expected an http(s) URL, got \"not a url\"",
                "bigcommerce.webhook_auth[0].header: \"X Auth\" is not an HTTP header name",
            ]
        );
    }

    #[test]
    fn stock_settings_are_validated_with_the_profile_and_their_unknown_keys_refused() {
        let mut document = profile();
        document["stock"] = serde_json::json!({"sellable_statuses": [], "locations": {"map": {"FG-01": 2}}});
        let Invalid(problems) = parse_profile(&document.to_string()).unwrap_err();
        assert_eq!(
            problems,
            ["stock.sellable_statuses: expected at least one container status, or leave it out for [\"OK\"]"]
        );

        document["stock"] = serde_json::json!({"locations": {"mapp": {}}});
        let Invalid(problems) = parse_profile(&document.to_string()).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("stock.locations.mapp: unknown field `mapp`"), "{problems:?}");
    }

    #[test]
    fn credentials_are_checked_against_the_profile_and_never_quoted() {
        let profile = parse_profile(&profile().to_string()).unwrap();
        let credentials = serde_json::json!({
            "bigcommerce": {"access_token": "tok-SECRET"},
            "plex": {"client_id": "id-SECRET", "client_secret": "cs-SECRET"},
            "shopify": {}
        });
        let Invalid(problems) = parse_credentials(&credentials.to_string(), &profile).unwrap_err();
        assert_eq!(
            problems,
            [
                "credentials.shopify: unknown system (expected bigcommerce, plex or monday)",
                "credentials.bigcommerce.webhook_secret: missing (bigcommerce.webhook_auth has custom_header)",
                "credentials.plex.api_key: missing (plex.auth.mode is api_key)",
            ]
        );
        assert!(!problems.concat().contains("SECRET"));
        let broken = parse_credentials("{\"plex\": {\"api_key\": \"k-SECRET\"", &profile).unwrap_err();
        assert!(!broken.to_string().contains("SECRET"), "{broken}");
    }

    #[test]
    fn complete_credentials_give_one_secret_per_system() {
        let profile = parse_profile(&profile().to_string()).unwrap();
        let credentials = serde_json::json!({
            "bigcommerce": {"access_token": "tok", "webhook_secret": "shh"},
            "plex": {"api_key": "key"}
        });
        let secrets = parse_credentials(&credentials.to_string(), &profile).unwrap();
        let systems: Vec<System> = secrets.iter().map(|(system, _)| *system).collect();
        assert_eq!(systems, [System::Bigcommerce, System::Plex]);
        assert_eq!(secret_fields(&secrets[0].1), ["access_token", "webhook_secret"]);
    }
}
