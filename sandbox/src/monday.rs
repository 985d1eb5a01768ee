//! The monday.com double: GraphQL at `POST /v2`.
//!
//! Admission, for every request:
//! 1. `Authorization: <token>` (raw, as documented) or `Bearer <token>` must be a seeded user's
//!    token, else 401.
//! 2. `API-Version`: echoed on every response. A well-formed version the double knows is served as
//!    is; an older quarterly one (deprecated) is routed to Maintenance; any other well-formed name,
//!    or none, gets Current; a malformed one (`2023`) gets `InvalidVersionException` with HTTP 200.
//! 3. Requests per minute per account (default 5 000) → 429 with `Retry-After`; concurrent requests
//!    per account (default 250) → 429 `maxConcurrencyExceeded`.
//!
//! Then the GraphQL document is parsed and validated (HTTP 200 with `errors` and no `data` on any
//! mistake), its complexity is charged against the account's budget (default 10 000 000 points per
//! minute; 429 `COMPLEXITY_BUDGET_EXHAUSTED` with `retry_in_seconds`, or one of the two older shapes
//! by `complexity_error_format`), and its root fields are resolved. Every response also carries the
//! IETF-draft `RateLimit-Policy` / `RateLimit` headers monday sends.
//!
//! See `schema` for the fields answered and how to add more.

mod graphql;
mod model;
mod resolve;
mod schema;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::control::{self, ControlError};
use crate::double::{Common, Double, SystemFault};
use crate::ratelimit::{FixedWindow, ceil_seconds, scaled_ms};
use crate::{lock, reply};
use graphql::{GraphqlError, OperationKind};
use model::{Account, SeedDocument, User};
use resolve::{ComplexityReading, ResolveContext};

/// Personal API tokens: 10M points per minute, reads and writes combined.
const DEFAULT_COMPLEXITY_BUDGET: u64 = 10_000_000;
/// One query may cost at most this much.
const DEFAULT_MAX_QUERY_COMPLEXITY: u64 = 5_000_000;
/// The Enterprise minute limit and concurrency limit.
const DEFAULT_REQUESTS_PER_MINUTE: u64 = 5_000;
const DEFAULT_CONCURRENCY: u64 = 250;
const MINUTE_MS: f64 = 60_000.0;

pub(crate) struct Monday {
    common: Common,
    state: Mutex<MondayState>,
}

pub(crate) struct MondayState {
    config: MondayConfig,
    accounts: BTreeMap<u64, Account>,
    users: BTreeMap<u64, User>,
    minute_windows: HashMap<u64, FixedWindow>,
    complexity_windows: HashMap<u64, FixedWindow>,
    in_flight: HashMap<u64, u64>,
}

impl MondayState {
    fn new(config: MondayConfig) -> Self {
        MondayState {
            config,
            accounts: BTreeMap::new(),
            users: BTreeMap::new(),
            minute_windows: HashMap::new(),
            complexity_windows: HashMap::new(),
            in_flight: HashMap::new(),
        }
    }

    fn user_for_token(&self, token: &str) -> Option<&User> {
        self.users.values().find(|user| user.tokens.iter().any(|own| own == token))
    }

    pub(crate) fn user_json(&self, user_id: u64) -> Option<Value> {
        let user = self.users.get(&user_id)?;
        Some(user.to_json(self.accounts.get(&user.account_id)?))
    }

    pub(crate) fn account_json(&self, account_id: u64) -> Option<Value> {
        self.accounts.get(&account_id).map(Account::to_json)
    }
}

/// `POST /__control/config` for monday.com.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MondayConfig {
    /// Complexity points per window per account.
    pub complexity_budget: u64,
    /// The budget refreshes this long after the window's first call.
    pub complexity_window_ms: i64,
    pub max_query_complexity: u64,
    pub requests_per_minute: u64,
    /// The "minute" of the request limit, scalable for tests.
    pub request_window_ms: i64,
    pub concurrency_limit: u64,
    /// Which of monday's three complexity-exhausted shapes to send.
    pub complexity_error_format: ComplexityErrorFormat,
    /// A sandbox-only strictness: refuse requests without `API-Version` (the real API serves Current).
    pub require_api_version: bool,
    pub versions: Versions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ComplexityErrorFormat {
    /// HTTP 429, `extensions.code` and `retry_in_seconds` (2025-07 onwards).
    Current,
    /// As current, plus `complexity`, `complexity_budget_left`, `complexity_budget_limit`, `status_code`.
    Hotfix,
    /// HTTP 200 with top-level `error_code: ComplexityException` and string `errors`.
    Legacy,
}

/// The API versions the double serves, by lifecycle stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Versions {
    pub maintenance: String,
    pub current: String,
    pub release_candidate: String,
}

impl Versions {
    /// The version a request is served by, or the malformed name it sent.
    fn resolve(&self, requested: Option<&str>) -> Result<String, String> {
        let Some(requested) = requested.map(str::trim) else {
            return Ok(self.current.clone());
        };
        let bytes = requested.as_bytes();
        let well_formed = bytes.len() == 7
            && bytes[4] == b'-'
            && bytes.iter().enumerate().all(|(index, byte)| index == 4 || byte.is_ascii_digit())
            && matches!(requested[5..].parse::<u8>(), Ok(1..=12));
        if !well_formed {
            return Err(requested.to_owned());
        }
        if [&self.maintenance, &self.current, &self.release_candidate].iter().any(|known| *known == requested) {
            return Ok(requested.to_owned());
        }
        // Versions are released quarterly; an older quarterly name is a deprecated version.
        let quarterly = matches!(&requested[5..], "01" | "04" | "07" | "10");
        if quarterly && requested < self.maintenance.as_str() {
            Ok(self.maintenance.clone())
        } else {
            Ok(self.current.clone())
        }
    }

    pub(crate) fn kind_of(&self, version: &str) -> &'static str {
        if version == self.current {
            "current"
        } else if version == self.maintenance {
            "maintenance"
        } else if version == self.release_candidate {
            "release_candidate"
        } else {
            "deprecated"
        }
    }
}

impl MondayConfig {
    fn defaults(time_scale: f64) -> Self {
        MondayConfig {
            complexity_budget: DEFAULT_COMPLEXITY_BUDGET,
            complexity_window_ms: scaled_ms(MINUTE_MS, time_scale),
            max_query_complexity: DEFAULT_MAX_QUERY_COMPLEXITY,
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            request_window_ms: scaled_ms(MINUTE_MS, time_scale),
            concurrency_limit: DEFAULT_CONCURRENCY,
            complexity_error_format: ComplexityErrorFormat::Current,
            require_api_version: false,
            versions: Versions {
                maintenance: "2026-07".to_owned(),
                current: "2026-10".to_owned(),
                release_candidate: "2027-01".to_owned(),
            },
        }
    }
}

/// Who is calling, put in the request's extensions by admission.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub account_id: u64,
    pub user_id: u64,
    /// The version serving this request (what `API-Version` echoes).
    pub api_version: String,
}

/// The token of an `Authorization` header: raw, or after `Bearer `.
fn token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => value,
    };
    (!token.is_empty()).then_some(token)
}

/// A JSON answer in monday's shape: `data` when there is some, `errors` when there are any,
/// `account_id` once the caller is known, and the request id in `extensions`.
fn answer(status: StatusCode, data: Option<Value>, errors: &[GraphqlError], account_id: Option<u64>) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut body = Map::new();
    if let Some(data) = data {
        body.insert("data".to_owned(), data);
    }
    if !errors.is_empty() {
        let errors: Vec<Value> = errors.iter().map(|error| error.to_json(&request_id)).collect();
        body.insert("errors".to_owned(), Value::Array(errors));
    }
    if let Some(account_id) = account_id {
        body.insert("account_id".to_owned(), json!(account_id));
    }
    body.insert("extensions".to_owned(), json!({ "request_id": request_id }));
    reply::json_as(status, reply::JSON_UTF8, &Value::Object(body))
}

/// An error answer that also tells the client how long to wait.
fn retry_later(status: StatusCode, error: GraphqlError, retry_in_seconds: i64, account_id: Option<u64>) -> Response {
    let error = error.with("retry_in_seconds", json!(retry_in_seconds)).with("status_code", json!(status.as_u16()));
    let mut response = answer(status, None, &[error], account_id);
    reply::set_header(&mut response, "retry-after", retry_in_seconds);
    response
}

fn unauthorized() -> Response {
    let error = GraphqlError::new("Not Authenticated", "Unauthorized").with("status_code", json!(401));
    answer(StatusCode::UNAUTHORIZED, None, &[error], None)
}

/// Decrements the account's in-flight count when the request ends, however it ends.
struct InFlight {
    monday: Arc<Monday>,
    account_id: u64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = lock(&self.monday.state);
        if let Some(count) = state.in_flight.get_mut(&self.account_id) {
            *count = count.saturating_sub(1);
        }
    }
}

impl Monday {
    pub(crate) fn new(time_scale: f64, stopping: watch::Receiver<bool>) -> Self {
        Monday {
            common: Common::new(time_scale, stopping),
            state: Mutex::new(MondayState::new(MondayConfig::defaults(time_scale))),
        }
    }

    /// Token, version, minute limit and concurrency; see the module docs.
    async fn admit(State(monday): State<Arc<Self>>, mut request: Request, next: Next) -> Response {
        let now_ms = monday.common.clock.now_ms();
        let requested_version =
            request.headers().get("api-version").and_then(|value| value.to_str().ok()).map(str::to_owned);
        let admitted = {
            let mut state = lock(&monday.state);
            let state = &mut *state;
            let config = state.config.clone();
            let served = config.versions.resolve(requested_version.as_deref());
            let echo = served.clone().unwrap_or_else(|_| config.versions.current.clone());
            let user = token(request.headers()).and_then(|token| state.user_for_token(token));
            match (user, served) {
                (None, _) => Err((unauthorized(), echo)),
                (Some(user), Err(malformed)) => {
                    let error = GraphqlError::new(
                        format!("Invalid API version '{malformed}'; send a version like '{}'", config.versions.current),
                        "InvalidVersionException",
                    );
                    Err((answer(StatusCode::OK, None, &[error], Some(user.account_id)), echo))
                }
                (Some(_), Ok(_)) if config.require_api_version && requested_version.is_none() => {
                    let error = GraphqlError::new(
                        "This sandbox is set to require the API-Version header",
                        "API_VERSION_REQUIRED",
                    );
                    Err((answer(StatusCode::BAD_REQUEST, None, &[error], None), echo))
                }
                (Some(user), Ok(version)) => {
                    let caller = Caller { account_id: user.account_id, user_id: user.id, api_version: version };
                    let minute = state.minute_windows.entry(caller.account_id).or_default().charge(
                        now_ms,
                        config.requests_per_minute,
                        config.request_window_ms,
                        1,
                    );
                    let in_flight = state.in_flight.entry(caller.account_id).or_default();
                    if !minute.allowed {
                        let error = GraphqlError::new("Minute limit rate exceeded", "RATE_LIMIT_EXCEEDED");
                        let wait = ceil_seconds(minute.reset_in_ms);
                        Err((retry_later(StatusCode::TOO_MANY_REQUESTS, error, wait, Some(caller.account_id)), echo))
                    } else if *in_flight >= config.concurrency_limit {
                        let error = GraphqlError::new("Concurrency limit exceeded", "maxConcurrencyExceeded");
                        Err((retry_later(StatusCode::TOO_MANY_REQUESTS, error, 1, Some(caller.account_id)), echo))
                    } else {
                        *in_flight += 1;
                        Ok(caller)
                    }
                }
            }
        };

        let caller = match admitted {
            Ok(caller) => caller,
            Err((mut response, echo)) => {
                reply::set_header(&mut response, "api-version", echo);
                return response;
            }
        };
        let account_id = caller.account_id;
        let echo = caller.api_version.clone();
        let in_flight = InFlight { monday: monday.clone(), account_id };
        request.extensions_mut().insert(caller);
        let mut response = next.run(request).await;
        drop(in_flight);
        reply::set_header(&mut response, "api-version", echo);
        monday.rate_limit_headers(&mut response, account_id);
        response
    }

    /// `RateLimit-Policy` and `RateLimit`, as monday sends on every response.
    fn rate_limit_headers(&self, response: &mut Response, account_id: u64) {
        let now_ms = self.common.clock.now_ms();
        let state = lock(&self.state);
        let config = &state.config;
        let (minute_left, minute_reset_ms) = state
            .minute_windows
            .get(&account_id)
            .map_or((config.requests_per_minute, config.request_window_ms), |window| {
                window.peek(now_ms, config.requests_per_minute, config.request_window_ms)
            });
        let (budget_left, budget_reset_ms) = state
            .complexity_windows
            .get(&account_id)
            .map_or((config.complexity_budget, config.complexity_window_ms), |window| {
                window.peek(now_ms, config.complexity_budget, config.complexity_window_ms)
            });
        let in_flight = state.in_flight.get(&account_id).copied().unwrap_or_default();
        let policy = format!(
            "\"minuteRate\";q={};w={}, \"concurrency\";q={};qu=\"concurrent-requests\", \"complexityMinute\";q={};w={}",
            config.requests_per_minute,
            ceil_seconds(config.request_window_ms),
            config.concurrency_limit,
            config.complexity_budget,
            ceil_seconds(config.complexity_window_ms),
        );
        let remaining = format!(
            "\"minuteRate\";r={minute_left};t={}, \"concurrency\";r={}, \"complexityMinute\";r={budget_left};t={}",
            ceil_seconds(minute_reset_ms),
            config.concurrency_limit.saturating_sub(in_flight),
            ceil_seconds(budget_reset_ms),
        );
        reply::set_header(response, "ratelimit-policy", policy);
        reply::set_header(response, "ratelimit", remaining);
    }
}

/// The body of a GraphQL request.
#[derive(Debug, Deserialize)]
struct GraphqlRequest {
    query: Option<String>,
    #[serde(default)]
    variables: Option<Value>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
}

/// `POST /v2`.
async fn graphql_endpoint(
    State(monday): State<Arc<Monday>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let account_id = Some(caller.account_id);
    let request: GraphqlRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            let error = GraphqlError::new(format!("Invalid JSON in request body: {error}"), "JsonParseException")
                .with("status_code", json!(400));
            return answer(StatusCode::BAD_REQUEST, None, &[error], account_id);
        }
    };
    let Some(query) = request.query.as_deref().filter(|query| !query.trim().is_empty()) else {
        let error = GraphqlError::new("No query string was present", "BadRequest").with("status_code", json!(400));
        return answer(StatusCode::BAD_REQUEST, None, &[error], account_id);
    };
    // Some clients send `variables` as a JSON string; monday accepts both.
    let variables = match request.variables {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(variables)) => variables,
        Some(Value::String(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(variables)) => variables,
            _ => Map::new(),
        },
        Some(_) => {
            let error = GraphqlError::new("variables must be a JSON object", "JsonParseException")
                .with("status_code", json!(400));
            return answer(StatusCode::BAD_REQUEST, None, &[error], account_id);
        }
    };

    let document = match graphql_parser::query::parse_query::<&str>(query) {
        Ok(document) => document,
        Err(error) => return answer(StatusCode::OK, None, &[graphql::parse_error(&error.to_string())], account_id),
    };
    let operation = match graphql::select_operation(&document, request.operation_name.as_deref(), variables) {
        Ok(operation) => operation,
        Err(error) => return answer(StatusCode::OK, None, &[error], account_id),
    };
    let root = match operation.kind {
        OperationKind::Query => &schema::QUERY,
        OperationKind::Mutation => &schema::MUTATION,
    };
    let mut errors = Vec::new();
    let cost = operation.check(root, operation.selection_set, &mut Vec::new(), &mut errors);
    if !errors.is_empty() {
        return answer(StatusCode::OK, None, &errors, account_id);
    }

    let now_ms = monday.common.clock.now_ms();
    let mut state = lock(&monday.state);
    let config = state.config.clone();
    if cost > config.max_query_complexity {
        let error = GraphqlError::new(
            format!("Query has complexity of {cost}, which exceeds max complexity of {}", config.max_query_complexity),
            "maxComplexityExceeded",
        )
        .with("complexity", json!(cost))
        .with("maxComplexity", json!(config.max_query_complexity));
        return answer(StatusCode::OK, None, &[error], account_id);
    }
    let charge = state.complexity_windows.entry(caller.account_id).or_default().charge(
        now_ms,
        config.complexity_budget,
        config.complexity_window_ms,
        cost,
    );
    let reset_in_seconds = ceil_seconds(charge.reset_in_ms);
    if !charge.allowed {
        return complexity_exhausted(&config, cost, charge.left, reset_in_seconds, caller.account_id);
    }
    let reading = ComplexityReading {
        before: charge.before,
        after: charge.left,
        query: cost,
        reset_in_x_seconds: reset_in_seconds,
    };
    let mut context = ResolveContext { state: &mut state, caller: &caller, complexity: reading };
    let (data, errors) = resolve::execute(&operation, root, &mut context);
    answer(StatusCode::OK, Some(Value::Object(data)), &errors, account_id)
}

/// The complexity-budget error in the configured shape.
fn complexity_exhausted(
    config: &MondayConfig,
    cost: u64,
    left: u64,
    reset_in_seconds: i64,
    account_id: u64,
) -> Response {
    let limit = config.complexity_budget;
    let status = StatusCode::TOO_MANY_REQUESTS;
    match config.complexity_error_format {
        ComplexityErrorFormat::Current => {
            let error = GraphqlError::new("Complexity budget exhausted", "COMPLEXITY_BUDGET_EXHAUSTED")
                .with("retry_in_seconds", json!(reset_in_seconds));
            let mut response = answer(status, None, &[error], Some(account_id));
            reply::set_header(&mut response, "retry-after", reset_in_seconds);
            response
        }
        ComplexityErrorFormat::Hotfix => {
            let error = GraphqlError::new("Complexity budget exhausted", "COMPLEXITY_BUDGET_EXHAUSTED")
                .with("complexity", json!(cost))
                .with("complexity_budget_left", json!(left))
                .with("complexity_budget_limit", json!(limit))
                .with("retry_in_seconds", json!(reset_in_seconds))
                .with("status_code", json!(429));
            let mut response = answer(status, None, &[error], Some(account_id));
            reply::set_header(&mut response, "retry-after", reset_in_seconds);
            response
        }
        ComplexityErrorFormat::Legacy => {
            let message = format!(
                "Complexity budget exhausted, query cost {cost} budget remaining {left} out of {limit} reset in {reset_in_seconds} seconds"
            );
            let body = json!({
                "error_code": "ComplexityException",
                "status_code": 429,
                "error_message": message,
                "error_data": {},
                "errors": [message],
                "account_id": account_id,
            });
            reply::json_as(StatusCode::OK, reply::JSON_UTF8, &body)
        }
    }
}

impl Double for Monday {
    const NAME: &'static str = "monday";

    fn common(&self) -> &Common {
        &self.common
    }

    fn api_router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v2", post(graphql_endpoint))
            .fallback(|| async {
                let error = GraphqlError::new("Not Found", "ResourceNotFoundException").with("status_code", json!(404));
                answer(StatusCode::NOT_FOUND, None, &[error], None)
            })
            .layer(middleware::from_fn_with_state(self.clone(), Self::admit))
            .with_state(self)
    }

    fn reset(&self) {
        *lock(&self.state) = MondayState::new(MondayConfig::defaults(self.common.time_scale));
    }

    fn seed(&self, document: Value) -> Result<Value, ControlError> {
        let document: SeedDocument = control::parse("monday seed", document)?;
        let mut state = lock(&self.state);
        for seed in &document.accounts {
            state.accounts.insert(seed.id, Account::from_seed(seed));
            for user in &seed.users {
                if let Some(other) = state
                    .users
                    .values()
                    .find(|other| other.id != user.id && other.tokens.iter().any(|token| user.tokens.contains(token)))
                {
                    return Err(ControlError::bad_request(format!(
                        "user {} would share a token with user {}",
                        user.id, other.id
                    )));
                }
                state.users.insert(user.id, User::from_seed(user, seed.id));
            }
        }
        Ok(json!({ "accounts": state.accounts.len(), "users": state.users.len() }))
    }

    fn demo_seed() -> Value {
        crate::demo::seed_monday()
    }

    fn config(&self) -> Value {
        serde_json::to_value(&lock(&self.state).config).unwrap_or_default()
    }

    fn configure(&self, changes: Value) -> Result<Value, ControlError> {
        let mut state = lock(&self.state);
        let config: MondayConfig = control::patch(&state.config, changes)?;
        if config.complexity_window_ms < 1 || config.request_window_ms < 1 {
            return Err(ControlError::bad_request("window lengths must be at least 1 ms"));
        }
        for version in [&config.versions.maintenance, &config.versions.current, &config.versions.release_candidate] {
            if config.versions.resolve(Some(version)).is_err() {
                return Err(ControlError::bad_request(format!("{version:?} is not a YYYY-MM version")));
            }
        }
        state.config = config;
        Ok(serde_json::to_value(&state.config).unwrap_or_default())
    }

    fn state(&self) -> Value {
        let state = lock(&self.state);
        let now_ms = self.common.clock.now_ms();
        let config = &state.config;
        let accounts: Vec<Value> = state
            .accounts
            .values()
            .map(|account| {
                let (requests_left, _) =
                    state.minute_windows.get(&account.id).map_or((config.requests_per_minute, 0), |window| {
                        window.peek(now_ms, config.requests_per_minute, config.request_window_ms)
                    });
                let (complexity_left, complexity_reset_ms) =
                    state.complexity_windows.get(&account.id).map_or((config.complexity_budget, 0), |window| {
                        window.peek(now_ms, config.complexity_budget, config.complexity_window_ms)
                    });
                let users: Vec<Value> =
                    state.users.values().filter(|user| user.account_id == account.id).map(User::describe).collect();
                json!({
                    "account": account,
                    "users": users,
                    "requests_left": requests_left,
                    "complexity_left": complexity_left,
                    "complexity_reset_in_ms": complexity_reset_ms,
                    "in_flight": state.in_flight.get(&account.id).copied().unwrap_or_default(),
                })
            })
            .collect();
        json!({ "accounts": accounts })
    }

    fn render_fault(&self, fault: SystemFault, request: &Request) -> Response {
        let (echo, window_ms) = {
            let state = lock(&self.state);
            let requested = request.headers().get("api-version").and_then(|value| value.to_str().ok());
            let echo =
                state.config.versions.resolve(requested).unwrap_or_else(|_| state.config.versions.current.clone());
            (echo, state.config.request_window_ms)
        };
        let mut response = match fault {
            SystemFault::RateLimit { retry_after_seconds } => {
                let wait = retry_after_seconds
                    .map_or(ceil_seconds(window_ms), |seconds| i64::try_from(seconds).unwrap_or(i64::MAX));
                let error = GraphqlError::new("Minute limit rate exceeded", "RATE_LIMIT_EXCEEDED");
                retry_later(StatusCode::TOO_MANY_REQUESTS, error, wait, None)
            }
            SystemFault::ServerError { status } => {
                let error = GraphqlError::new("Internal server error", "INTERNAL_SERVER_ERROR")
                    .with("status_code", json!(status.as_u16()));
                answer(status, None, &[error], None)
            }
            SystemFault::Unauthorized => unauthorized(),
            SystemFault::Forbidden => {
                let error = GraphqlError::new("User unauthorized to perform action", "UserUnauthorizedException")
                    .with("error_data", json!({}))
                    .with("status_code", json!(403));
                answer(StatusCode::FORBIDDEN, None, &[error], None)
            }
        };
        reply::set_header(&mut response, "api-version", echo);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_resolve_like_monday_routes_them() {
        let versions = MondayConfig::defaults(1.0).versions;
        assert_eq!(versions.resolve(None), Ok("2026-10".to_owned()));
        assert_eq!(versions.resolve(Some("2027-01")), Ok("2027-01".to_owned()));
        assert_eq!(versions.resolve(Some("2025-01")), Ok("2026-07".to_owned()), "deprecated → maintenance");
        assert_eq!(versions.resolve(Some("2024-02")), Ok("2026-10".to_owned()), "unknown → current");
        assert_eq!(versions.resolve(Some("2023")), Err("2023".to_owned()));
        assert_eq!(versions.resolve(Some("2026-13")), Err("2026-13".to_owned()));
    }
}
