//! The HTTP edge: an API Gateway (HTTP API) request in, a response out, around [`handle`].
//!
//! Lambda's `main` and the local world's HTTP server both go through [`handle_http`], so the
//! local world runs exactly the conversion production runs. The connection id comes from the
//! route's path parameter (`/webhooks/bigcommerce/{connection_id}`); when a request carries no path
//! parameters (a hand-made event, a proxy route) it is read from the path instead.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use http::{HeaderValue, Method, Response, StatusCode, header};
use lambda_http::{Body, Request, RequestExt};

use crate::handler::{Delivery, Ports, Reply, handle};

/// The route's path parameter and the path prefix it follows.
pub const PATH_PARAMETER: &str = "connection_id";
pub const ROUTE_PREFIX: &str = domain::hooks::RECEIVER_ROUTE;

/// Handles one request with the deployment's adapters and the current time.
pub async fn handle_http(deps: &runtime::Deps, request: Request) -> Response<Body> {
    handle_request(&Ports::from_deps(deps), &request, Utc::now()).await
}

/// [`handle_http`] with the ports and the time given, for tests.
pub async fn handle_request(ports: &Ports<'_>, request: &Request, now: DateTime<Utc>) -> Response<Body> {
    if request.method() != Method::POST {
        let mut response = to_response(Reply { status: StatusCode::METHOD_NOT_ALLOWED, body: "use POST".to_owned() });
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    // An empty id is not a valid connection id, so a request without one is answered 404 below.
    let connection_id = connection_id(request).unwrap_or_default();
    let delivery = Delivery { connection_id: &connection_id, headers: request.headers(), body: request.body(), now };
    to_response(handle(ports, &delivery).await)
}

/// Builds the request the Lambda runtime would hand over, from an HTTP server's request parts and
/// body and the route's connection id (used by the local world).
pub fn request_from_parts(parts: http::request::Parts, body: Vec<u8>, connection_id: &str) -> Request {
    let body = if body.is_empty() { Body::Empty } else { Body::Binary(body) };
    Request::from_parts(parts, body)
        .with_path_parameters(HashMap::from([(PATH_PARAMETER.to_owned(), connection_id.to_owned())]))
}

/// The `{connection_id}` of the route: its path parameter, else the segment after
/// [`ROUTE_PREFIX`] in the path (which may carry a stage prefix in front).
pub fn connection_id(request: &Request) -> Option<String> {
    if let Some(id) = request.path_parameters_ref().and_then(|parameters| parameters.first(PATH_PARAMETER)) {
        return Some(id.to_owned());
    }
    let path = request.uri().path();
    let (_, rest) = path.split_once(ROUTE_PREFIX)?;
    let id = rest.strip_suffix('/').unwrap_or(rest);
    (!id.is_empty() && !id.contains('/')).then(|| id.to_owned())
}

/// A reply as an HTTP response: an empty 200, or a short plain-text reason.
pub fn to_response(reply: Reply) -> Response<Body> {
    let mut response = Response::new(if reply.body.is_empty() { Body::Empty } else { Body::Text(reply.body) });
    *response.status_mut() = reply.status;
    if !matches!(response.body(), Body::Empty) {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    }
    response
}

#[cfg(test)]
mod tests {
    use domain::ports::ConnectionStore;
    use domain::ports::memory::{
        InMemoryAuditLog, InMemoryConnectionStore, InMemoryDedupeStore, InMemoryQueueMarks, RecordingQueue,
        StaticSecrets,
    };
    use domain::{ConnectionId, ConnectionProfile, OrderRef, SecretName, System};
    use sandbox::demo;

    use super::*;

    /// The committed sample event; `make invoke` sends the same file.
    const ORDER_CREATED: &str = include_str!("../../../events/webhook-receiver/order-created.json");

    /// In-memory ports holding the demo connection exactly as the local world seeds it.
    #[derive(Default)]
    struct Fakes {
        connections: InMemoryConnectionStore,
        secrets: StaticSecrets,
        dedupe: InMemoryDedupeStore,
        marks: InMemoryQueueMarks,
        queue: RecordingQueue,
        audit: InMemoryAuditLog,
    }

    impl Fakes {
        async fn demo() -> Fakes {
            let profile: ConnectionProfile =
                serde_json::from_value(demo::connection_profile(demo::CONNECTION_ID, None)).unwrap();
            let mut fakes = Fakes::default();
            fakes.connections.put(&profile).await.unwrap();
            for (system, document) in demo::connection_secrets() {
                let system: System = serde_json::from_value(serde_json::json!(system)).unwrap();
                let name = SecretName::new("millwright", profile.id.clone(), system);
                fakes.secrets = fakes.secrets.with(&name, document.to_string());
            }
            fakes
        }

        fn ports(&self) -> Ports<'_> {
            Ports {
                connections: &self.connections,
                secrets: &self.secrets,
                dedupe: &self.dedupe,
                queue: &self.queue,
                queue_marks: &self.marks,
                audit: &self.audit,
                secret_prefix: "millwright",
            }
        }
    }

    fn demo_parts(method: &str, path: &str) -> http::request::Parts {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("X-Millwright-Auth", demo::BIGCOMMERCE_WEBHOOK_SECRET)
            .body(())
            .unwrap();
        request.into_parts().0
    }

    /// The sample event's body, exactly as API Gateway would hand it over.
    fn sample_body() -> Vec<u8> {
        lambda_http::request::from_str(ORDER_CREATED).unwrap().into_body().to_vec()
    }

    fn demo_request(method: &str, path: &str) -> Request {
        Request::from_parts(demo_parts(method, path), Body::Binary(sample_body()))
    }

    #[tokio::test]
    async fn the_committed_sample_event_parses_and_is_accepted_for_the_demo_connection() {
        let fakes = Fakes::demo().await;
        let request = lambda_http::request::from_str(ORDER_CREATED).expect("an API Gateway HTTP API request");
        assert_eq!(connection_id(&request).as_deref(), Some(demo::CONNECTION_ID));

        let response = handle_request(&fakes.ports(), &request, Utc::now()).await;

        assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
        assert!(matches!(response.body(), Body::Empty));
        let messages = fakes.queue.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].order, OrderRef::new(ConnectionId::new(demo::CONNECTION_ID).unwrap(), 100));
    }

    #[tokio::test]
    async fn without_path_parameters_the_connection_id_is_read_from_the_path() {
        let fakes = Fakes::demo().await;
        let request = demo_request("POST", "/prod/webhooks/bigcommerce/demo/");
        assert_eq!(connection_id(&request).as_deref(), Some("demo"));

        let response = handle_request(&fakes.ports(), &request, Utc::now()).await;

        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(connection_id(&demo_request("POST", "/webhooks/bigcommerce/")), None);
        assert_eq!(connection_id(&demo_request("POST", "/webhooks/bigcommerce/demo/extra")), None);
    }

    #[tokio::test]
    async fn a_request_built_by_an_http_server_carries_its_route_parameter() {
        let fakes = Fakes::demo().await;
        let request = request_from_parts(demo_parts("POST", "/anything"), sample_body(), "demo");

        let response = handle_request(&fakes.ports(), &request, Utc::now()).await;

        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn methods_other_than_post_are_refused_405() {
        let fakes = Fakes::demo().await;

        let response =
            handle_request(&fakes.ports(), &demo_request("GET", "/webhooks/bigcommerce/demo"), Utc::now()).await;

        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "POST");
        assert!(fakes.queue.messages().is_empty());
    }

    #[tokio::test]
    async fn refusals_are_plain_text_reasons() {
        let fakes = Fakes::demo().await;
        let mut request = demo_request("POST", "/webhooks/bigcommerce/demo");
        request.headers_mut().insert("x-millwright-auth", HeaderValue::from_static("wrong"));

        let response = handle_request(&fakes.ports(), &request, Utc::now()).await;

        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/plain; charset=utf-8");
        assert_eq!(response.body().as_ref(), b"X-Millwright-Auth does not match");
    }
}
