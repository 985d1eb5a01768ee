//! End-to-end tests: the project's own adapters, clients and handlers against moto (AWS) and the
//! sandbox doubles, as `make test` runs them.
//!
//! Each test gets its own sandbox (in-process, own ports and state) and its own connection id in
//! the shared moto, so tests run in parallel and a fault injected by one never reaches another.
//! Order-flow tests (`orders`) also get their own order queue, dead-letter queue and local runtime
//! (`support::OrderFlow`), so a redelivery or a dead letter of one test is never seen by another.
//!
//! `support` and the fault soak live in this package's library (`lib.rs`), which the bench shares.

mod check;
mod cli;
mod connections;
mod fault_soak;
mod health;
mod mapping;
mod orders;
mod stock;
mod stock_report;
mod webhook;

use millwright_e2e::support;
