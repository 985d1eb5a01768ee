//! The orders logic shared by the order worker, the order sweep and the CLI, so that each decides
//! a look-up the same way and no function crate depends on another:
//! - `resolve`: an order's customer and parts through the id map first, then Plex, caching what
//!   Plex has ([`resolve()`]); the same look-up for one gap of a held order ([`recheck_gap`]), so
//!   the sweep releases an order exactly when the worker would map it; and an operator's mapping
//!   of a SKU ([`remember_part`]).
//! - `error`: what a look-up step fails with ([`StepError`]): the state table or the API.
//!
//! The id map's namespaces and key layouts are stored forms: they live in `domain::id_map`.

mod error;
mod resolve;

pub use error::StepError;
pub use resolve::{Resolved, recheck_gap, remember_part, resolve};
