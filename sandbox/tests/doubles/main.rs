//! Tests of the sandbox doubles over real HTTP: each test starts its own sandbox in-process on free
//! 127.0.0.1 ports with the demo seed, so tests run in parallel without sharing state. Time windows
//! are scaled down through the control plane, or the double's clock is moved, so nothing waits long.
//!
//! One test binary, one module per area.

mod support;

mod bigcommerce;
mod control;
mod faults;
mod inventory;
mod lifecycle;
mod monday;
mod plex;
mod plex_sales;
mod webhooks;
