//! End-to-end tests: the project's own adapters, clients and handlers against moto (AWS) and the
//! sandbox doubles, as `make test` runs them.
//!
//! Each test gets its own sandbox (in-process, own ports and state) and its own connection id in
//! the shared moto, so tests run in parallel and a fault injected by one never reaches another.

mod check;
mod support;
mod webhook;
