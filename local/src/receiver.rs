//! The webhook receiver behind an HTTP port, as API Gateway puts it in front of the Lambda function.
//!
//! Every request becomes the `lambda_http::Request` API Gateway would hand the function (the route's
//! `connection_id` as a path parameter, the raw body bytes) and goes through
//! `webhook_receiver::handle_http`, the call the function's `main` makes.

use std::net::Ipv4Addr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::task::JoinHandle;

use crate::Shutdown;

/// The largest request the local receiver reads. Lambda refuses request payloads over 6 MB before
/// the function runs, so a larger one never reaches the handler in production either.
const LAMBDA_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// Serves the webhook receiver on 127.0.0.1:`port` (0 picks a free one) at the route the template
/// gives it (`POST /webhooks/bigcommerce/{connection_id}`) until `shutdown`; returns its base URL
/// (`http://127.0.0.1:PORT`) and the server task, which ends once in-flight requests are answered.
pub async fn serve_webhook_receiver(
    deps: runtime::Deps,
    port: u16,
    mut shutdown: Shutdown,
) -> anyhow::Result<(String, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .with_context(|| format!("binding the webhook receiver to 127.0.0.1:{port}"))?;
    let address = listener.local_addr().context("reading the webhook receiver's address")?;
    let route = format!("{}{{connection_id}}", webhook_receiver::edge::ROUTE_PREFIX);
    let app = axum::Router::new().route(&route, axum::routing::post(receive_webhook)).with_state(Arc::new(deps));
    let server = tokio::spawn(async move {
        let serving = axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.requested().await });
        if let Err(error) = serving.await {
            tracing::error!(error.message = %error, "the webhook receiver stopped");
        }
    });
    Ok((format!("http://{address}"), server))
}

/// One request, converted into what API Gateway would hand the Lambda function and back.
async fn receive_webhook(
    State(deps): State<Arc<runtime::Deps>>,
    Path(connection_id): Path<String>,
    request: Request,
) -> Response {
    // A Lambda invocation runs to its end even when the caller hangs up (BigCommerce stops waiting
    // after its timeout), whereas axum drops a handler whose connection closed. Run it as a task of
    // its own, body read included, so a sender that gives up cannot cut the receiver off between
    // queueing the order and marking it queued.
    let handling = tokio::spawn(async move {
        let (parts, body) = request.into_parts();
        let Ok(body) = axum::body::to_bytes(body, LAMBDA_PAYLOAD_LIMIT).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request payload too large or unreadable").into_response();
        };
        let request = webhook_receiver::request_from_parts(parts, body.to_vec(), &connection_id);
        let response = webhook_receiver::handle_http(&deps, request).await;
        response.map(|body| axum::body::Body::from(body.to_vec()))
    });
    match handling.await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(error.message = %error, "the webhook receiver's invocation failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the receiver failed").into_response()
        }
    }
}
