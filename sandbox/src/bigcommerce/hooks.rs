//! Hooks v3 (`webhooks.v3.yml`): every call sees only the hooks of the caller's API account, as
//! BigCommerce scopes them by `client_id` ("Webhooks created with one token are not visible when you
//! retrieve webhooks using a different token").
//!
//! - `GET /v3/hooks`: filters `page`, `limit`, `is_active`, `scope`, `destination`;
//!   `{data, meta.pagination}`.
//! - `POST /v3/hooks`: `scope` and `destination` required, `is_active` (default `true`), `headers`
//!   (string values only) → `{data, meta}`. A second hook with the same scope and destination for the
//!   same API account, or an eleventh for one scope, is refused with 422 (the spec documents no 409).
//! - `GET`, `PUT` (at least one field), `DELETE /v3/hooks/{id}` → `{data, meta}`; another account's
//!   hook is a 404 like a missing one.
//!
//! Body problems answer like the spec's examples: malformed JSON is a 400 "Input is invalid."; a
//! missing or mistyped field a 422 "JSON data is missing or invalid" whose `errors` name each field
//! (`error.path.missing.`, `error.expected.jsstring`, `error.expected.jsboolean`, ...).
//!
//! Unlike BigCommerce, which wants HTTPS on port 443, a destination may be any absolute `http` or
//! `https` URL, so a receiver on 127.0.0.1 can be registered; the sender only ever delivers to
//! loopback addresses (see `webhooks`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::model::Hook;
use super::{ApiVersion, BigCommerce, Caller, ERROR_TYPE, error};
use crate::{lock, reply};

/// BigCommerce's limit of hooks per store, API account and scope (webhooks overview, platform limits).
const MAX_HOOKS_PER_SCOPE: usize = 10;

fn unprocessable(title: &str, errors: Map<String, Value>) -> Response {
    let body = json!({ "status": 422, "title": title, "type": ERROR_TYPE, "errors": errors });
    reply::json(StatusCode::UNPROCESSABLE_ENTITY, &body)
}

fn hook_not_found(raw_id: &str) -> Response {
    error(ApiVersion::V3, StatusCode::NOT_FOUND, &format!("Webhook with id [{raw_id}] not found"))
}

fn one_hook(hook: &Hook) -> Response {
    reply::json(StatusCode::OK, &json!({ "data": hook, "meta": {} }))
}

/// The page size `GET /v3/hooks` uses when none is asked for.
const DEFAULT_HOOK_PAGE_SIZE: u64 = 50;

/// `GET /stores/{hash}/v3/hooks`: only the hooks of the caller's API account are visible.
pub(super) async fn list_hooks(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut invalid = serde_json::Map::new();
    let page = positive(&params, "page", 1, &mut invalid);
    let limit = positive(&params, "limit", DEFAULT_HOOK_PAGE_SIZE, &mut invalid);
    let is_active = match params.get("is_active").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            invalid.insert("is_active".to_owned(), json!("must be a boolean"));
            None
        }
    };
    if !invalid.is_empty() {
        return unprocessable("Input is invalid", invalid);
    }

    let state = lock(&double.state);
    let hooks: Vec<&Hook> =
        state.stores.get(&caller.store_hash).map(|store| store.hooks.iter().collect()).unwrap_or_default();
    let matching: Vec<&Hook> = hooks
        .into_iter()
        .filter(|hook| hook.client_id == caller.client_id)
        .filter(|hook| is_active.is_none_or(|active| hook.is_active == active))
        .filter(|hook| params.get("scope").is_none_or(|scope| &hook.scope == scope))
        .filter(|hook| params.get("destination").is_none_or(|destination| &hook.destination == destination))
        .collect();
    let total = matching.len() as u64;
    let total_pages = total.div_ceil(limit).max(1);
    let start = usize::try_from((page - 1).saturating_mul(limit)).unwrap_or(usize::MAX);
    let data: Vec<Value> = matching
        .into_iter()
        .skip(start)
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|hook| serde_json::to_value(hook).unwrap_or_default())
        .collect();
    let mut links = serde_json::Map::new();
    if page > 1 {
        links.insert("previous".to_owned(), json!(format!("?page={}&limit={limit}", page - 1)));
    }
    links.insert("current".to_owned(), json!(format!("?page={page}&limit={limit}")));
    if page < total_pages {
        links.insert("next".to_owned(), json!(format!("?page={}&limit={limit}", page + 1)));
    }
    let body = json!({
        "data": data,
        "meta": {
            "pagination": {
                "total": total,
                "count": data.len(),
                "per_page": limit,
                "current_page": page,
                "total_pages": total_pages,
                "links": links,
            }
        }
    });
    reply::json(StatusCode::OK, &body)
}

/// Reads a positive integer query parameter, noting a bad one in `invalid`.
fn positive(
    params: &HashMap<String, String>,
    name: &str,
    default: u64,
    invalid: &mut serde_json::Map<String, Value>,
) -> u64 {
    match params.get(name) {
        None => default,
        Some(raw) => match raw.parse::<u64>() {
            Ok(value) if value > 0 => value,
            _ => {
                invalid.insert(name.to_owned(), json!("must be a positive integer"));
                default
            }
        },
    }
}

/// The fields of a create or update body, each checked; `None` when absent.
#[derive(Debug, Default)]
struct HookFields {
    scope: Option<String>,
    destination: Option<String>,
    is_active: Option<bool>,
    /// `Some(None)`: `headers: null`, which clears them.
    headers: Option<Option<BTreeMap<String, String>>>,
}

/// A webhook scope such as `store/order/created` or `store/order/*`.
fn valid_scope(scope: &str) -> bool {
    scope.strip_prefix("store/").is_some_and(|rest| {
        !rest.is_empty()
            && !rest.ends_with('/')
            && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '*'))
    })
}

fn valid_destination(destination: &str) -> bool {
    reqwest::Url::parse(destination).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|host| !host.is_empty())
    })
}

/// Reads and checks a hook body; the error is the response to send.
fn read_fields(body: &[u8]) -> Result<HookFields, Response> {
    let Ok(document) = serde_json::from_slice::<Value>(body) else {
        return Err(error(ApiVersion::V3, StatusCode::BAD_REQUEST, "Input is invalid."));
    };
    let Value::Object(document) = document else {
        let mut errors = Map::new();
        errors.insert("$".to_owned(), json!("error.expected.jsobject"));
        return Err(unprocessable("JSON data is missing or invalid", errors));
    };
    let mut errors = Map::new();
    let mut fields = HookFields::default();
    match document.get("scope") {
        None => {}
        Some(Value::String(scope)) if valid_scope(scope) => fields.scope = Some(scope.clone()),
        Some(Value::String(_)) => {
            errors.insert("scope".to_owned(), json!("must be a webhook scope such as store/order/created"));
        }
        Some(_) => {
            errors.insert("scope".to_owned(), json!("error.expected.jsstring"));
        }
    }
    match document.get("destination") {
        None => {}
        Some(Value::String(destination)) if valid_destination(destination) => {
            fields.destination = Some(destination.clone());
        }
        Some(Value::String(_)) => {
            errors.insert("destination".to_owned(), json!("must be an absolute http(s) URL"));
        }
        Some(_) => {
            errors.insert("destination".to_owned(), json!("error.expected.jsstring"));
        }
    }
    match document.get("is_active") {
        None => {}
        Some(Value::Bool(active)) => fields.is_active = Some(*active),
        Some(_) => {
            errors.insert("is_active".to_owned(), json!("error.expected.jsboolean"));
        }
    }
    match document.get("headers") {
        None => {}
        Some(Value::Null) => fields.headers = Some(None),
        Some(Value::Object(given)) => {
            let mut headers = BTreeMap::new();
            for (name, value) in given {
                let key = format!("headers.{name}");
                match value {
                    Value::String(text) => {
                        if HeaderName::from_bytes(name.as_bytes()).is_err() {
                            errors.insert(key, json!("is not a valid HTTP header name"));
                        } else if HeaderValue::from_str(text).is_err() {
                            errors.insert(key, json!("is not a valid HTTP header value"));
                        } else {
                            headers.insert(name.clone(), text.clone());
                        }
                    }
                    _ => {
                        errors.insert(key, json!("error.expected.jsstring"));
                    }
                }
            }
            fields.headers = Some(Some(headers));
        }
        Some(_) => {
            errors.insert("headers".to_owned(), json!("error.expected.jsobject"));
        }
    }
    if errors.is_empty() { Ok(fields) } else { Err(unprocessable("JSON data is missing or invalid", errors)) }
}

/// Refuses a second hook with the same scope and destination for one API account, and more than
/// ten per scope (BigCommerce's platform limits); `except` is the hook being updated.
fn check_limits(
    hooks: &[Hook],
    client_id: &str,
    scope: &str,
    destination: &str,
    except: Option<u64>,
) -> Result<(), Response> {
    let own = || hooks.iter().filter(|hook| hook.client_id == client_id && Some(hook.id) != except);
    if own().any(|hook| hook.scope == scope && hook.destination == destination) {
        let mut errors = Map::new();
        errors.insert("destination".to_owned(), json!("a webhook with this scope and destination already exists"));
        return Err(unprocessable("Webhook with the same scope and destination already exists.", errors));
    }
    if own().filter(|hook| hook.scope == scope).count() >= MAX_HOOKS_PER_SCOPE {
        let mut errors = Map::new();
        errors.insert("scope".to_owned(), json!(format!("at most {MAX_HOOKS_PER_SCOPE} webhooks per scope")));
        return Err(unprocessable("Too many webhooks for this scope.", errors));
    }
    Ok(())
}

/// `POST /stores/{hash}/v3/hooks`.
pub(super) async fn create_hook(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let fields = match read_fields(&body) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let (scope, destination) = match (fields.scope, fields.destination) {
        (Some(scope), Some(destination)) => (scope, destination),
        (scope, destination) => {
            let mut errors = Map::new();
            if scope.is_none() {
                errors.insert("scope".to_owned(), json!("error.path.missing."));
            }
            if destination.is_none() {
                errors.insert("destination".to_owned(), json!("error.path.missing."));
            }
            return unprocessable("JSON data is missing or invalid", errors);
        }
    };
    let now = double.common.clock.now().timestamp();
    let mut state = lock(&double.state);
    let Some(store) = state.stores.get_mut(&caller.store_hash) else {
        return error(ApiVersion::V3, StatusCode::NOT_FOUND, "Store not found.");
    };
    if let Err(response) = check_limits(&store.hooks, &caller.client_id, &scope, &destination, None) {
        return response;
    }
    let hook = Hook {
        id: store.next_hook_id(),
        client_id: caller.client_id.clone(),
        store_hash: store.store_hash.clone(),
        scope,
        destination,
        headers: fields.headers.flatten(),
        is_active: fields.is_active.unwrap_or(true),
        created_at: now,
        updated_at: now,
    };
    let response = one_hook(&hook);
    store.hooks.push(hook);
    response
}

/// `GET /stores/{hash}/v3/hooks/{id}`.
pub(super) async fn get_hook(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Path((_, raw_id)): Path<(String, String)>,
) -> Response {
    let state = lock(&double.state);
    let Some(store) = state.stores.get(&caller.store_hash) else { return hook_not_found(&raw_id) };
    match own_hook(&store.hooks, &caller, &raw_id) {
        Some(index) => one_hook(&store.hooks[index]),
        None => hook_not_found(&raw_id),
    }
}

/// The index of the caller's hook with this id.
fn own_hook(hooks: &[Hook], caller: &Caller, raw_id: &str) -> Option<usize> {
    let id = raw_id.parse::<u64>().ok()?;
    hooks.iter().position(|hook| hook.id == id && hook.client_id == caller.client_id)
}

/// `PUT /stores/{hash}/v3/hooks/{id}`: changes the fields given; at least one is needed.
pub(super) async fn update_hook(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Path((_, raw_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let fields = match read_fields(&body) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    if fields.scope.is_none() && fields.destination.is_none() && fields.is_active.is_none() && fields.headers.is_none()
    {
        let mut errors = Map::new();
        errors.insert("$".to_owned(), json!("at least one of scope, destination, is_active, headers is required"));
        return unprocessable("JSON data is missing or invalid", errors);
    }
    let now = double.common.clock.now().timestamp();
    let mut state = lock(&double.state);
    let Some(store) = state.stores.get_mut(&caller.store_hash) else { return hook_not_found(&raw_id) };
    let Some(index) = own_hook(&store.hooks, &caller, &raw_id) else { return hook_not_found(&raw_id) };
    let current = &store.hooks[index];
    let scope = fields.scope.unwrap_or_else(|| current.scope.clone());
    let destination = fields.destination.unwrap_or_else(|| current.destination.clone());
    if let Err(response) = check_limits(&store.hooks, &caller.client_id, &scope, &destination, Some(current.id)) {
        return response;
    }
    let hook = &mut store.hooks[index];
    hook.scope = scope;
    hook.destination = destination;
    if let Some(active) = fields.is_active {
        hook.is_active = active;
    }
    if let Some(headers) = fields.headers {
        hook.headers = headers;
    }
    hook.updated_at = now;
    one_hook(hook)
}

/// `DELETE /stores/{hash}/v3/hooks/{id}`: answers with the deleted hook.
pub(super) async fn delete_hook(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Path((_, raw_id)): Path<(String, String)>,
) -> Response {
    let mut state = lock(&double.state);
    let Some(store) = state.stores.get_mut(&caller.store_hash) else { return hook_not_found(&raw_id) };
    match own_hook(&store.hooks, &caller, &raw_id) {
        Some(index) => one_hook(&store.hooks.remove(index)),
        None => hook_not_found(&raw_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_must_name_a_store_event() {
        assert!(valid_scope("store/order/created"));
        assert!(valid_scope("store/order/*"));
        assert!(!valid_scope("order/created"));
        assert!(!valid_scope("store/"));
        assert!(!valid_scope("store/order/created/"));
        assert!(!valid_scope("store/order created"));
    }

    #[test]
    fn destinations_must_be_absolute_http_urls() {
        assert!(valid_destination("https://hooks.example/bc"));
        assert!(valid_destination("http://127.0.0.1:9000/hook"));
        assert!(!valid_destination("hooks.example/bc"));
        assert!(!valid_destination("ftp://hooks.example/bc"));
    }
}
