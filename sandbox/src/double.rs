//! What every double shares: the [`Double`] trait, the per-double [`Common`] parts, the API pipeline
//! middleware, and the code that binds a double to its port.
//!
//! A request to a double goes through, in order:
//! 1. [`api_pipeline`] (here): records the request in the log, then applies an injected fault if a
//!    rule fires. Faults come first so they work whatever the auth and rate-limit state is.
//! 2. The system's own admission middleware: authentication, tenant or store resolution, rate limits,
//!    and the rate-limit headers on the way out.
//! 3. The endpoint handler.
//!
//! Requests under `/__control/` skip all of it: the control plane is neither logged, limited nor
//! faulted, so a test can always reach it.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::control::{self, ControlError};
use crate::faults::{self, ErrorBody, Fault, FaultTable};
use crate::requestlog::RequestLog;

/// The parts every double has, whatever system it imitates.
#[derive(Debug)]
pub(crate) struct Common {
    pub clock: Clock,
    pub faults: FaultTable,
    pub log: RequestLog,
    /// Scales the default windows; kept so a reset restores the same scaled defaults.
    pub time_scale: f64,
    /// Flips to `true` when the sandbox stops, so a `delay` fault does not hold up shutdown.
    pub stopping: watch::Receiver<bool>,
}

impl Common {
    pub(crate) fn new(time_scale: f64, stopping: watch::Receiver<bool>) -> Self {
        Common {
            clock: Clock::default(),
            faults: FaultTable::default(),
            log: RequestLog::default(),
            time_scale,
            stopping,
        }
    }
}

/// A fault whose response only the system itself knows how to word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SystemFault {
    /// A 429 with the system's rate-limit headers; `retry_after_seconds` overrides the advertised wait.
    RateLimit { retry_after_seconds: Option<u64> },
    /// A 5xx with the system's JSON error body.
    ServerError { status: StatusCode },
    /// A 401 as if the credential had expired.
    Unauthorized,
    /// A 403 with the system's "not allowed" body.
    Forbidden,
}

/// One system's double. The control plane and the pipeline are written once against this trait.
pub(crate) trait Double: Send + Sync + Sized + 'static {
    /// Short name for logs and the state dump, e.g. `"plex"`.
    const NAME: &'static str;

    fn common(&self) -> &Common;

    /// The system's API routes, with its admission middleware and its own 404 fallback.
    fn api_router(self: Arc<Self>) -> Router;

    /// Control endpoints only this system has (mounted under `/__control/` beside the shared ones).
    fn control_router(self: Arc<Self>) -> Router {
        Router::new()
    }

    /// Back to an empty double with default configuration (faults, log and clock are reset by the
    /// control plane itself).
    fn reset(&self);

    /// Adds or replaces data and credentials from a seed document; returns a short summary.
    fn seed(&self, document: Value) -> Result<Value, ControlError>;

    /// The demo connection's seed document for this system.
    fn demo_seed() -> Value;

    fn config(&self) -> Value;

    /// Applies a partial configuration document and returns the resulting configuration.
    fn configure(&self, patch: Value) -> Result<Value, ControlError>;

    /// The double's data as JSON, with credentials redacted.
    fn state(&self) -> Value;

    /// Renders a fault in the system's own words.
    fn render_fault(&self, fault: SystemFault, request: &Request) -> Response;
}

pub(crate) fn seed_demo<D: Double>(double: &D) -> anyhow::Result<()> {
    double.seed(D::demo_seed()).map(drop).map_err(|error| anyhow::anyhow!("{}", error.message))
}

pub(crate) fn is_control_path(path: &str) -> bool {
    path == "/__control" || path.starts_with("/__control/")
}

/// Logs every API request and applies the first fault rule that fires (see the module docs).
pub(crate) async fn api_pipeline<D: Double>(State(double): State<Arc<D>>, request: Request, next: Next) -> Response {
    if is_control_path(request.uri().path()) {
        return next.run(request).await;
    }
    let common = double.common();
    let started = Instant::now();
    let arrived = common.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let seq = common.log.start(arrived, request.method(), request.uri(), request.headers());
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let fault = common.faults.take(&method, &path);
    if let Some(fault) = &fault {
        common.log.set_fault(seq, fault.kind());
        tracing::info!(system = D::NAME, fault = fault.kind(), %method, path, "injecting fault");
    }

    let response = match fault {
        None => next.run(request).await,
        Some(Fault::Delay { ms }) => {
            let mut stopping = common.stopping.clone();
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_millis(ms)) => {}
                _ = stopping.wait_for(|&stopping| stopping) => {}
            }
            next.run(request).await
        }
        Some(Fault::TruncatedBody) => faults::truncate(next.run(request).await).await,
        Some(Fault::RateLimitNoHeaders) => faults::bare_rate_limit(),
        Some(Fault::RateLimit { retry_after_seconds }) => {
            double.render_fault(SystemFault::RateLimit { retry_after_seconds }, &request)
        }
        Some(Fault::ServerError { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            // A 500 comes from the application (its JSON error); 502-504 come from the gateway in front.
            let body = body.unwrap_or(if status == StatusCode::INTERNAL_SERVER_ERROR {
                ErrorBody::Json
            } else {
                ErrorBody::Html
            });
            match body {
                ErrorBody::Json => double.render_fault(SystemFault::ServerError { status }, &request),
                other => faults::gateway_error(status, other),
            }
        }
        Some(Fault::Unauthorized) => double.render_fault(SystemFault::Unauthorized, &request),
        Some(Fault::Forbidden) => double.render_fault(SystemFault::Forbidden, &request),
        Some(Fault::Custom { status, headers, body }) => faults::custom_response(status, &headers, &body),
    };

    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    common.log.finish(seq, response.status().as_u16(), elapsed);
    // The path only: query strings and headers can carry credentials.
    tracing::debug!(system = D::NAME, %method, path, status = response.status().as_u16(), elapsed_ms = elapsed, "answered");
    response
}

/// Binds `double` on 127.0.0.1:`port` and serves it until `stopping` flips; returns its base URL.
pub(crate) async fn serve<D: Double>(
    double: Arc<D>,
    port: u16,
    stopping: watch::Receiver<bool>,
) -> anyhow::Result<(String, JoinHandle<()>)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .with_context(|| format!("binding the {} double to 127.0.0.1:{port}", D::NAME))?;
    let address = listener.local_addr()?;
    let app = Router::new()
        .nest("/__control", control::router(double.clone()))
        .merge(double.clone().api_router())
        .layer(middleware::from_fn_with_state(double, api_pipeline::<D>));
    let mut stop_signal = stopping;
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop_signal.wait_for(|&stopping| stopping).await;
        };
        if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
            tracing::error!(system = D::NAME, error = %error, "double stopped with an error");
        }
    });
    Ok((format!("http://{address}"), server))
}
