//! The control plane every double serves under `/__control/`.
//!
//! | endpoint | what it does |
//! |---|---|
//! | `POST /reset[?seed=demo]` | empties the double, restores default config, clears faults and the log, resets the clock; with `seed=demo` re-applies the demo seed |
//! | `POST /seed` | adds or replaces data and credentials (the format is the system's own) |
//! | `GET /config`, `POST /config` | reads or patches the configuration (limits, windows, auth modes) |
//! | `GET /faults`, `POST /faults`, `DELETE /faults`, `DELETE /faults/{id}` | fault rules |
//! | `GET /clock`, `PUT /clock` | the double's clock |
//! | `GET /requests[?after=N]`, `DELETE /requests` | the request log |
//! | `GET /state` | everything the double holds, credentials redacted |
//!
//! A system adds its own control endpoints through `Double::control_router`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::double::{Double, seed_demo};
use crate::faults::FaultRequest;

/// A control-plane failure: always a JSON `{"error": "..."}` so a test sees what it got wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ControlError {
    pub status: StatusCode,
    pub message: String,
}

impl ControlError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ControlError { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ControlError { status: StatusCode::NOT_FOUND, message: message.into() }
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// Parses a seed or config document into `T`, turning serde's complaint into a 400.
pub(crate) fn parse<T: DeserializeOwned>(what: &str, document: Value) -> Result<T, ControlError> {
    serde_json::from_value(document).map_err(|error| ControlError::bad_request(format!("{what}: {error}")))
}

/// Applies a partial JSON document to a configuration: objects merge key by key, anything else
/// replaces. The result is parsed back into `T`, so unknown keys and wrong types are rejected.
pub(crate) fn patch<T: Serialize + DeserializeOwned>(current: &T, changes: Value) -> Result<T, ControlError> {
    let mut merged = serde_json::to_value(current).map_err(|error| ControlError::bad_request(error.to_string()))?;
    merge(&mut merged, changes);
    parse("config", merged)
}

fn merge(target: &mut Value, changes: Value) {
    match (target, changes) {
        (Value::Object(target), Value::Object(changes)) => {
            for (key, change) in changes {
                match target.get_mut(&key) {
                    Some(existing) => merge(existing, change),
                    None => {
                        target.insert(key, change);
                    }
                }
            }
        }
        (target, change) => *target = change,
    }
}

pub(crate) fn router<D: Double>(double: Arc<D>) -> Router {
    let shared = Router::new()
        .route("/reset", post(reset::<D>))
        .route("/seed", post(seed::<D>))
        .route("/config", get(get_config::<D>).post(set_config::<D>))
        .route("/faults", get(list_faults::<D>).post(add_fault::<D>).delete(clear_faults::<D>))
        .route("/faults/{id}", delete(remove_fault::<D>))
        .route("/clock", get(get_clock::<D>).put(set_clock::<D>))
        .route("/requests", get(requests::<D>).delete(clear_requests::<D>))
        .route("/state", get(state::<D>))
        .with_state(double.clone());
    shared
        .merge(double.control_router())
        .fallback(|| async { ControlError::not_found("no such control endpoint; see the sandbox README for the list") })
}

#[derive(Debug, Deserialize)]
struct ResetParams {
    seed: Option<String>,
}

async fn reset<D: Double>(State(double): State<Arc<D>>, Query(params): Query<ResetParams>) -> Response {
    let common = double.common();
    common.faults.clear();
    common.log.clear();
    common.clock.reset();
    double.reset();
    match params.seed.as_deref() {
        None => Json(json!({ "reset": true, "seeded": false })).into_response(),
        Some("demo") => match seed_demo(&*double) {
            Ok(()) => Json(json!({ "reset": true, "seeded": "demo" })).into_response(),
            Err(error) => ControlError::bad_request(error.to_string()).into_response(),
        },
        Some(other) => ControlError::bad_request(format!("unknown seed {other:?}; the only named seed is \"demo\""))
            .into_response(),
    }
}

async fn seed<D: Double>(
    State(double): State<Arc<D>>,
    Json(document): Json<Value>,
) -> Result<Json<Value>, ControlError> {
    double.seed(document).map(Json)
}

async fn get_config<D: Double>(State(double): State<Arc<D>>) -> Json<Value> {
    Json(double.config())
}

async fn set_config<D: Double>(
    State(double): State<Arc<D>>,
    Json(changes): Json<Value>,
) -> Result<Json<Value>, ControlError> {
    double.configure(changes).map(Json)
}

async fn list_faults<D: Double>(State(double): State<Arc<D>>) -> Json<Value> {
    Json(double.common().faults.list())
}

async fn add_fault<D: Double>(
    State(double): State<Arc<D>>,
    Json(request): Json<Value>,
) -> Result<Response, ControlError> {
    let request: FaultRequest = parse("fault rule", request)?;
    let rule = double.common().faults.add(request).map_err(ControlError::bad_request)?;
    Ok((StatusCode::CREATED, Json(rule)).into_response())
}

async fn clear_faults<D: Double>(State(double): State<Arc<D>>) -> StatusCode {
    double.common().faults.clear();
    StatusCode::NO_CONTENT
}

async fn remove_fault<D: Double>(
    State(double): State<Arc<D>>,
    Path(id): Path<u64>,
) -> Result<StatusCode, ControlError> {
    if double.common().faults.remove(id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ControlError::not_found(format!("no fault rule {id}")))
    }
}

/// The body of `PUT /__control/clock`; the fields apply in this order, and at least one is needed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    /// Makes the clock read this instant now (it keeps running unless frozen).
    now: Option<DateTime<Utc>>,
    /// Sets the clock to real time plus this many seconds.
    offset_seconds: Option<f64>,
    /// Moves the clock by this many seconds (negative goes back).
    advance_seconds: Option<f64>,
    /// Stops (`true`) or restarts (`false`) the clock.
    freeze: Option<bool>,
}

fn seconds(value: f64) -> Result<TimeDelta, ControlError> {
    if !value.is_finite() || value.abs() > 1e10 {
        return Err(ControlError::bad_request(format!("{value} is not a usable number of seconds")));
    }
    Ok(TimeDelta::milliseconds((value * 1000.0).round() as i64))
}

async fn get_clock<D: Double>(State(double): State<Arc<D>>) -> Json<Value> {
    Json(double.common().clock.describe())
}

async fn set_clock<D: Double>(
    State(double): State<Arc<D>>,
    Json(change): Json<Value>,
) -> Result<Json<Value>, ControlError> {
    let change: ClockChange = parse("clock", change)?;
    let clock = &double.common().clock;
    if change.now.is_none()
        && change.offset_seconds.is_none()
        && change.advance_seconds.is_none()
        && change.freeze.is_none()
    {
        return Err(ControlError::bad_request("give one of now, offset_seconds, advance_seconds, freeze"));
    }
    if change.now.is_some() && change.offset_seconds.is_some() {
        return Err(ControlError::bad_request("now and offset_seconds both set the clock; give one"));
    }
    if let Some(offset) = change.offset_seconds {
        clock.set_offset(seconds(offset)?);
    }
    if let Some(now) = change.now {
        clock.set(now);
    }
    if let Some(advance) = change.advance_seconds {
        clock.advance(seconds(advance)?);
    }
    if let Some(freeze) = change.freeze {
        clock.freeze(freeze);
    }
    Ok(Json(clock.describe()))
}

#[derive(Debug, Deserialize)]
struct RequestsParams {
    #[serde(default)]
    after: u64,
}

async fn requests<D: Double>(State(double): State<Arc<D>>, Query(params): Query<RequestsParams>) -> Json<Value> {
    let entries = double.common().log.entries_after(params.after);
    Json(serde_json::to_value(entries).unwrap_or_default())
}

async fn clear_requests<D: Double>(State(double): State<Arc<D>>) -> StatusCode {
    double.common().log.clear();
    StatusCode::NO_CONTENT
}

async fn state<D: Double>(State(double): State<Arc<D>>) -> Json<Value> {
    let common = double.common();
    Json(json!({
        "system": D::NAME,
        "clock": common.clock.describe(),
        "config": double.config(),
        "faults": common.faults.list(),
        "data": double.state(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patches_nested_objects_and_replaces_the_rest() {
        let mut config = json!({"auth": {"mode": "api_key", "token_ttl_ms": 10}, "limits": [1, 2]});
        merge(&mut config, json!({"auth": {"mode": "either"}, "limits": [3]}));
        assert_eq!(config, json!({"auth": {"mode": "either", "token_ttl_ms": 10}, "limits": [3]}));
    }
}
