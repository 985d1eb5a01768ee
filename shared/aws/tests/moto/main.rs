//! Tests of the AWS adapters against a real `moto_server`: conditional writes, FIFO de-duplication,
//! redrive, secrets and e-mail alerts are proven against something that enforces them.
//!
//! One binary with one module per adapter (each file under `tests/` would be its own binary). Every
//! test provisions its own uniquely named stack, so tests run in parallel against one moto without
//! seeing each other's data. `AWS_ENDPOINT_URL` must point at moto; `make test` starts it.

mod alerts;
mod audit;
mod jobs;
mod provision;
mod queue;
mod secrets;
mod state;
mod support;
