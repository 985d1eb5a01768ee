//! Plex Connect admission (credential, tenant, rate limit, subscription) and the opt-in OAuth2
//! client-credentials token endpoint.
//!
//! The real Connect API authenticates on the `X-Plex-Connect-Api-Key` header alone; the product
//! description talks of OAuth2 Bearer tokens. The double does both, chosen by `auth.mode`:
//! `api_key` (default), `oauth2` or `either`. A key sent as a query parameter is ignored, as Plex
//! ignores it. Checks run in this order, each failing with the status the notes give:
//! 1. credential: unknown, missing or expired → 401 `REQUEST_NOT_AUTHENTICATED` (with
//!    `WWW-Authenticate: Bearer error="invalid_token"` for a bad or expired token);
//! 2. tenant: `X-Plex-Connect-Tenant-Id` (uuid) or `X-Plex-Connect-Customer-Id` (PCN), else the
//!    credential's default; one it may not use → the same 401;
//! 3. rate limit: `rate_limit.calls` per rolling `rate_limit.window_ms` per credential → 429;
//! 4. subscription: the first path segment (`mdm`, `sales`, ...) must be one of the credential's
//!    collections → `unsubscribed_status` (401 as observed, or 403).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use serde_json::json;

use super::model::{IssuedToken, Tenant};
use super::{AuthMode, Plex, forbidden, invalid_token, not_authenticated, rate_limited, resource_not_found};
use crate::ratelimit::{RollingCharge, ceil_seconds};
use crate::{lock, reply};

/// What a Connect handler learns about the caller.
#[derive(Debug, Clone)]
pub(crate) struct ConnectContext {
    /// The tenant this request runs against.
    pub tenant_id: String,
    /// Every tenant the credential may select (what `GET /mdm/v1/tenants` lists).
    pub visible_tenants: Vec<String>,
}

/// The rate-limit bucket of an API key; prefixed so a key and a client id can never share one.
pub(crate) fn key_bucket(key: &str) -> String {
    format!("key:{key}")
}

pub(crate) fn client_bucket(client_id: &str) -> String {
    format!("client:{client_id}")
}

fn header_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim).filter(|value| !value.is_empty())
}

/// The token of an `Authorization: Bearer ...` header.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let (scheme, token) = header_value(headers, header::AUTHORIZATION.as_str())?.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The user and password of an `Authorization: Basic ...` header.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let (scheme, encoded) = header_value(headers, header::AUTHORIZATION.as_str())?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Runs the Connect checks on every request except the token endpoint and the Data Source API,
/// which authenticate differently.
pub(crate) async fn connect_admission(State(plex): State<Arc<Plex>>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path == "/oauth2/token" || Plex::is_datasource_path(path) {
        return next.run(request).await;
    }
    match plex.admit_connect(request.headers(), path) {
        Ok(context) => {
            request.extensions_mut().insert(context);
            next.run(request).await
        }
        Err(response) => response,
    }
}

/// Who is calling, copied out of the credential so the state can be changed afterwards.
struct Principal {
    bucket: String,
    tenants: Vec<String>,
    default_tenant: Option<String>,
    collections: Vec<String>,
}

impl Plex {
    fn admit_connect(&self, headers: &HeaderMap, path: &str) -> Result<ConnectContext, Response> {
        let now_ms = self.common.clock.now_ms();
        let mut guard = lock(&self.state);
        let state = &mut *guard;

        let bearer = bearer_token(headers);
        let use_bearer = match state.config.auth.mode {
            AuthMode::ApiKey => false,
            AuthMode::Oauth2 => true,
            AuthMode::Either => bearer.is_some(),
        };
        let principal = if use_bearer {
            let Some(token) = bearer else {
                let mut response = not_authenticated();
                reply::set_header(&mut response, "www-authenticate", "Bearer");
                return Err(response);
            };
            let client = state
                .tokens
                .get(token)
                .filter(|issued| issued.expires_at_ms > now_ms)
                .and_then(|issued| state.oauth_clients.get(&issued.client_id))
                .ok_or_else(invalid_token)?;
            Principal {
                bucket: client_bucket(&client.client_id),
                tenants: client.tenants.clone(),
                default_tenant: client.default_tenant.clone(),
                collections: client.collections.clone(),
            }
        } else {
            let api_key = header_value(headers, "x-plex-connect-api-key")
                .and_then(|key| state.api_keys.get(key))
                .filter(|api_key| !api_key.expired)
                .ok_or_else(not_authenticated)?;
            if state.config.auth.require_secret {
                let sent = header_value(headers, "x-plex-connect-api-secret");
                if api_key.secret.is_none() || sent != api_key.secret.as_deref() {
                    return Err(not_authenticated());
                }
            }
            Principal {
                bucket: key_bucket(&api_key.key),
                tenants: api_key.tenants.clone(),
                default_tenant: api_key.default_tenant.clone(),
                collections: api_key.collections.clone(),
            }
        };

        let visible: Vec<&Tenant> = state
            .tenants
            .iter()
            .filter(|tenant| principal.tenants.is_empty() || principal.tenants.iter().any(|wanted| tenant.is(wanted)))
            .collect();
        let selected = if let Some(tenant_id) = header_value(headers, "x-plex-connect-tenant-id") {
            visible.iter().find(|tenant| tenant.id.eq_ignore_ascii_case(tenant_id))
        } else if let Some(pcn) = header_value(headers, "x-plex-connect-customer-id") {
            visible.iter().find(|tenant| tenant.customer_id.as_deref() == Some(pcn))
        } else {
            principal
                .default_tenant
                .as_deref()
                .and_then(|wanted| visible.iter().find(|tenant| tenant.is(wanted)))
                .or_else(|| visible.iter().find(|tenant| tenant.default))
                .or(visible.first())
        };
        let tenant = selected.ok_or_else(not_authenticated)?;
        let context = ConnectContext {
            tenant_id: tenant.id.clone(),
            visible_tenants: visible.iter().map(|tenant| tenant.id.clone()).collect(),
        };

        let limit = state.config.rate_limit.clone();
        let window = state.call_windows.entry(principal.bucket).or_default();
        if let RollingCharge::Refused { retry_after_ms } = window.charge(now_ms, limit.calls, limit.window_ms) {
            return Err(rate_limited(u64::try_from(ceil_seconds(retry_after_ms)).unwrap_or(1)));
        }

        let collection = path.trim_start_matches('/').split('/').next().unwrap_or_default();
        let subscribed = principal.collections.is_empty()
            || principal.collections.iter().any(|allowed| allowed.eq_ignore_ascii_case(collection));
        if !subscribed {
            return Err(if state.config.unsubscribed_status == 403 { forbidden() } else { not_authenticated() });
        }
        Ok(context)
    }
}

/// An OAuth2 error body (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    reply::json(status, &json!({ "error": error, "error_description": description }))
}

/// `POST /oauth2/token`: `grant_type=client_credentials`, client credentials in a Basic header or
/// in the form. Exists only when the auth mode lets tokens be used.
pub(crate) async fn issue_token(State(plex): State<Arc<Plex>>, headers: HeaderMap, body: Bytes) -> Response {
    let now_ms = plex.common.clock.now_ms();
    let mut state = lock(&plex.state);
    if state.config.auth.mode == AuthMode::ApiKey {
        // Plex Connect itself has no token endpoint; it appears only when a test opts in.
        return resource_not_found();
    }
    let is_form = header_value(&headers, header::CONTENT_TYPE.as_str())
        .is_some_and(|content_type| content_type.starts_with("application/x-www-form-urlencoded"));
    let form: Vec<(String, String)> = match serde_urlencoded::from_bytes(&body) {
        Ok(form) if is_form => form,
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The token request must be application/x-www-form-urlencoded.",
            );
        }
    };
    let field = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    match field("grant_type") {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Only client_credentials is supported.",
            );
        }
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is required."),
    }
    let (client_id, client_secret, via_basic) = match basic_credentials(&headers) {
        Some((client_id, client_secret)) => (client_id, client_secret, true),
        None => match (field("client_id"), field("client_secret")) {
            (Some(client_id), Some(client_secret)) => (client_id.to_owned(), client_secret.to_owned(), false),
            _ => (String::new(), String::new(), false),
        },
    };
    let known = state.oauth_clients.get(&client_id).is_some_and(|client| client.client_secret == client_secret);
    if !known {
        let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Client authentication failed.");
        if via_basic {
            reply::set_header(&mut response, "www-authenticate", "Basic realm=\"plex\"");
        }
        return response;
    }
    let token = hex::encode(rand::random::<[u8; 32]>());
    let ttl_ms = state.config.auth.token_ttl_ms;
    state.tokens.insert(token.clone(), IssuedToken { client_id, expires_at_ms: now_ms + ttl_ms });
    let mut response = reply::json(
        StatusCode::OK,
        &json!({ "access_token": token, "token_type": "Bearer", "expires_in": ceil_seconds(ttl_ms) }),
    );
    reply::set_header(&mut response, "cache-control", "no-store");
    reply::set_header(&mut response, "pragma", "no-cache");
    response
}
