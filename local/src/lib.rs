//! `local-runtime`: Millwright's functions in one process, wired the way Lambda wires them, for the
//! local world (`millwright local up`), the demo and the end-to-end tests.
//!
//! Nothing here is business logic. Each piece stands in for a part of AWS that moto does not run:
//! - [`serve_webhook_receiver`]: API Gateway in front of the webhook receiver (an HTTP server on
//!   127.0.0.1 calling `webhook_receiver::handle_http`, as the function's `main` does);
//! - [`OrderPoller`]: the SQS event source mapping of the order worker (batches as `SqsEvent`s,
//!   partial batch failures, the function timeout; visibility timeout and redrive are the queue's);
//! - [`Timer`]: the EventBridge schedules of the order sweep and the webhook health check (moto
//!   never fires schedules);
//! - [`LocalRuntime`]: all of them, started from one `runtime::Deps` and stopped together;
//! - [`install_demo_connection`]: the demo connection, as `local up`, the tests and the bench store it.
//!
//! The functions are built from `Deps` with the same calls their `main`s make
//! (`webhook_receiver::handle_http`, `order_worker::Ports::from_deps` + `Worker::for_invocation` +
//! `handle_batch`, `order_sweep::Ports::from_deps` / `webhook_health::Ports::from_deps` +
//! `handle_scheduled`), so what runs here is what
//! runs in Lambda. Further scheduled functions join as timers like [`SweepTimer`]: a task with a
//! clone of the runtime's [`Shutdown`] that reports its counts from [`LocalRuntime::shutdown`].

mod demo;
mod poller;
mod receiver;
mod schedule;
mod shutdown;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;

pub use demo::install_demo_connection;
pub use poller::{BatchOutcome, OrderPoller, PollerOptions, PollerStats};
pub use receiver::serve_webhook_receiver;
pub use schedule::{Schedule, ScheduledHandler, Timer, TimerStats};
pub use shutdown::{Shutdown, ShutdownTrigger};

/// How the local runtime serves and polls.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// The webhook receiver's port on 127.0.0.1; 0 picks a free one.
    pub receiver_port: u16,
    /// How the order queue (`Config::order_queue_url` of the `Deps`) is polled.
    pub poller: PollerOptions,
    /// The order worker's settings (lease length, concurrency, actor name).
    pub worker: order_worker::Settings,
    /// When the order sweep runs; `None` runs no sweep (a test that wants none, or runs it itself).
    pub sweep: Option<Schedule>,
    /// The order sweep's settings: the function's defaults unless a run scales its windows with
    /// its schedule (the fault soak runs the sweep every few seconds, so its two-minute settle
    /// would leave every order of the run to the webhooks).
    pub sweep_settings: order_sweep::Settings,
    /// When the webhook health check runs (repairing hooks to this runtime's receiver); `None`
    /// runs none.
    pub webhook_health: Option<Schedule>,
}

impl RuntimeOptions {
    /// Options for a queue whose visibility timeout is shorter than the template's, as the local
    /// world and the tests use so that retries show within seconds.
    ///
    /// The ledger lease must run out before SQS delivers a message again, or the delivery after an
    /// invocation that was stopped half-way finds the order still leased and goes back to the
    /// queue, possibly until it lands in the dead-letter queue. The lease is taken a moment after
    /// the receive, so it lasts a second less than the visibility timeout (at least a second).
    /// Batches run one at a time here, so a live invocation whose lease ran out never meets a
    /// second one taking it over. A rate-limited record's shortest wait is the timeout too, so
    /// retries show as quickly as other failures.
    ///
    /// The queue is taken to dead-letter after the local world's receive count
    /// (`provision::DEFAULT_MAX_RECEIVE_COUNT`); [`RuntimeOptions::with_max_receive_count`] says
    /// otherwise for a queue with another redrive policy.
    pub fn for_visibility_timeout(visibility_timeout: Duration) -> RuntimeOptions {
        let lease = visibility_timeout.saturating_sub(Duration::from_secs(1)).max(Duration::from_secs(1));
        let lease_for = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(1));
        RuntimeOptions {
            worker: order_worker::Settings {
                lease_for,
                // A rate-limited record comes back after the server's wait or the short timeout.
                redelivery_floor: visibility_timeout,
                ..order_worker::Settings::default()
            },
            ..RuntimeOptions::default()
        }
        .with_max_receive_count(millwright_aws::provision::DEFAULT_MAX_RECEIVE_COUNT)
    }

    /// These options for a queue whose redrive policy moves a message to the dead-letter queue
    /// after `max_receive_count` receives, so the worker audits and alerts the records it hands
    /// back on their last receive. A count below 1 (no redrive) leaves them unaudited.
    pub fn with_max_receive_count(mut self, max_receive_count: i32) -> RuntimeOptions {
        self.worker.max_receive_count = u32::try_from(max_receive_count).ok().filter(|count| *count >= 1);
        self
    }
}

/// What the runtime did, reported when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeReport {
    pub orders: PollerStats,
    pub sweeps: TimerStats,
    pub health_checks: TimerStats,
}

/// The running functions: the webhook receiver on [`LocalRuntime::receiver_url`], the order
/// worker polling the order queue and, when scheduled, the order sweep and the webhook health check.
pub struct LocalRuntime {
    /// `http://127.0.0.1:PORT`; hooks are registered at
    /// `{receiver_url}/webhooks/bigcommerce/{connection_id}`.
    pub receiver_url: String,
    trigger: ShutdownTrigger,
    receiver: JoinHandle<()>,
    order_poller: JoinHandle<PollerStats>,
    sweep_timer: Option<JoinHandle<TimerStats>>,
    health_timer: Option<JoinHandle<TimerStats>>,
}

impl LocalRuntime {
    /// Starts the receiver and the order poller on `deps` (the order queue is
    /// `deps.config.order_queue_url`, read through `sdk`).
    pub async fn start(
        deps: runtime::Deps,
        sdk: &aws_config::SdkConfig,
        options: RuntimeOptions,
    ) -> anyhow::Result<LocalRuntime> {
        let (trigger, shutdown) = Shutdown::new();
        let (receiver_url, receiver) = serve_webhook_receiver(deps.clone(), options.receiver_port, shutdown.clone())
            .await
            .context("starting the webhook receiver")?;

        // The order worker as its `main` builds it; each batch is then one invocation.
        let worker = order_worker::Worker::new(order_worker::Ports::from_deps(&deps), options.worker);
        let source = millwright_aws::SqsEventSource::new(sdk, &deps.config.order_queue_url);
        let order_poller = tokio::spawn(OrderPoller::new(source, worker, options.poller).run(shutdown.clone()));

        // The order sweep as its `main` builds it; each tick is then one invocation.
        let sweep_timer = options.sweep.map(|schedule| {
            let sweep = order_sweep::Sweep::new(order_sweep::Ports::from_deps(&deps), options.sweep_settings.clone());
            let handler: ScheduledHandler = Arc::new(move |event| {
                let sweep = sweep.clone();
                Box::pin(async move { order_sweep::handle_scheduled(&sweep, event).await })
            });
            tokio::spawn(Timer::new("order-sweep", schedule, handler).run(shutdown.clone()))
        });
        // The health check as its `main` builds it, pointing the hooks at this runtime's receiver.
        let health_timer = options.webhook_health.map(|schedule| {
            let settings = webhook_health::Settings { receiver_url: receiver_url.clone(), ..Default::default() };
            let check = webhook_health::HealthCheck::new(webhook_health::Ports::from_deps(&deps), settings);
            let handler: ScheduledHandler = Arc::new(move |event| {
                let check = check.clone();
                Box::pin(async move { webhook_health::handle_scheduled(&check, event).await })
            });
            tokio::spawn(Timer::new("webhook-health", schedule, handler).run(shutdown.clone()))
        });
        tracing::info!(%receiver_url, queue = %deps.config.order_queue_url, "local runtime started");
        Ok(LocalRuntime { receiver_url, trigger, receiver, order_poller, sweep_timer, health_timer })
    }

    /// Stops taking webhooks and polling, lets the batch in progress finish, and reports.
    pub async fn shutdown(self) -> RuntimeReport {
        self.trigger.trigger();
        if let Err(error) = self.receiver.await {
            tracing::error!(error.message = %error, "the webhook receiver task failed");
        }
        let orders = match self.order_poller.await {
            Ok(stats) => stats,
            Err(error) => {
                tracing::error!(error.message = %error, "the order poller task failed");
                PollerStats::default()
            }
        };
        RuntimeReport {
            orders,
            sweeps: finished(self.sweep_timer, "order sweep").await,
            health_checks: finished(self.health_timer, "webhook health").await,
        }
    }
}

/// A timer's counts once it stopped (zero when it never ran).
async fn finished(timer: Option<JoinHandle<TimerStats>>, name: &str) -> TimerStats {
    match timer {
        Some(timer) => timer.await.unwrap_or_else(|error| {
            tracing::error!(error.message = %error, timer = name, "the timer task failed");
            TimerStats::default()
        }),
        None => TimerStats::default(),
    }
}
