//! `webhook-receiver`: `POST /webhooks/bigcommerce/{connection_id}`.
//!
//! Authenticates a BigCommerce webhook callback over its raw body, parses the stub, de-duplicates
//! the delivery, queues an `OrderMessage` on the SQS FIFO order queue and answers 200 only once
//! SQS has accepted it (guarantee 1). It never calls BigCommerce: the order worker reads the order.
//!
//! - [`auth`]: the three authentication modes of a connection's profile.
//! - [`stub`]: the callback payload (`scope`, `store_id`, `data`, `hash`, `created_at`, `producer`).
//! - [`handler`]: the steps, answers and audit events, over the ports ([`Ports`], [`Delivery`]).
//! - [`edge`]: API Gateway request in, response out ([`handle_http`]), shared by Lambda and the
//!   local world.

pub mod auth;
pub mod edge;
pub mod handler;
pub mod stub;

pub use edge::{handle_http, handle_request, request_from_parts};
pub use handler::{Delivery, Ports, Reply, handle};
