//! The operator commands of the `millwright` CLI that work on a deployment's records, as a library
//! so the end-to-end tests run the code the binary runs:
//!
//! - [`connections`]: install, update, list and show connections (profile and credentials).
//! - [`trace`]: one record's audit trail and, for an order, its ledger entry.
//! - [`failures`]: what needs an operator, per connection, with the command that replays it.
//! - [`replay`]: queue orders again (by id, by outcome, or from the dead-letter queue).
//! - [`sweep`]: run the order sweep now (release held orders whose mappings exist).
//! - [`backfill`]: queue the orders of a time window the worker has not read.
//! - [`webhooks`]: the order hooks' state, and their repair.
//! - [`map`]: map a SKU to a Plex part or a shopper to a Plex customer, and release what waited.
//! - [`stock`]: what the next stock sync would push (`stock diff`), writing nothing.
//! - [`since`]: the `--since` argument (an age or a time).
//!
//! Each command module has a clap `…Args` (the binary's subcommand), functions that return what
//! they found or did (for tests), `lines` that format it, and `run` that does both and prints.

pub mod backfill;
pub mod connections;
pub mod failures;
pub mod map;
pub mod replay;
pub mod since;
pub mod stock;
pub mod sweep;
pub mod trace;
pub mod webhooks;

use anyhow::Context;
use runtime::{Config, Deps};

/// The deployment's configuration from the environment, read before anything else so a missing
/// variable is the first and only thing reported.
pub fn config() -> anyhow::Result<Config> {
    Config::from_env().context("reading the configuration")
}

/// The deployment's adapters, as every command starts (`Config::from_env`, then the SDK's default
/// configuration chain, which honours `AWS_ENDPOINT_URL`).
pub async fn deps() -> anyhow::Result<Deps> {
    let config = config()?;
    Ok(Deps::build(&config).await)
}
