//! What every entry point shares: configuration from the environment, the adapters and clients
//! built once per container, tracing set-up, and the connection check.
//!
//! The Lambda `main`s, the CLI and the local runtime all build their world through this crate, so
//! a function under `cargo lambda watch`, the local world and production are wired the same way.
//!
//! - [`config`]: `Config::from_env`, naming any missing or invalid variable.
//! - [`deps`]: `Deps`, the ports' production adapters and the per-connection API clients.
//! - [`apis`]: `CachedApis`, each connection's API clients as the flows' ports, cached.
//! - [`check`]: reach AWS and every system of a connection and say what answered.
//! - [`plex_token`]: a connection's Plex OAuth2 token, shared by every container through Secrets
//!   Manager, one refresher at a time.
//! - [`telemetry`]: tracing (JSON on Lambda, compact text elsewhere).

pub mod apis;
pub mod check;
pub mod config;
pub mod deps;
pub mod plex_token;
pub mod telemetry;

pub use config::Config;
pub use deps::{Deps, DepsError};
