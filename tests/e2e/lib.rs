//! The end-to-end world as a library: [`support`] (a test's sandbox, connection, queues and local
//! runtime) and [`soak`] (the project's own fault soak on that world). The end-to-end tests
//! (`main.rs`, the `e2e` test binary) use both; the bench runs the soak for its table.

pub mod soak;
pub mod support;
