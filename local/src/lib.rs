//! `local-runtime`: Millwright's functions in one process, wired the way Lambda wires them, for the
//! local world (`millwright local up`), the demo and the end-to-end tests.
//!
//! Nothing here is business logic. Each piece stands in for a part of AWS that moto does not run:
//! - [`serve_webhook_receiver`]: API Gateway in front of the webhook receiver (an HTTP server on
//!   127.0.0.1 calling `webhook_receiver::handle_http`, as the function's `main` does);
//! - [`OrderPoller`]: the SQS event source mapping of the order worker (batches as `SqsEvent`s,
//!   partial batch failures, the function timeout; visibility timeout and redrive are the queue's);
//! - [`Timer`]: the EventBridge schedules of the order sweep, the webhook health check and the stock sync (moto
//!   never fires schedules), whose invocations fan each run out onto the function's job queue;
//! - [`JobPoller`]: each scheduled function's job-queue event source (one job per invocation, many
//!   at once);
//! - [`LocalRuntime`]: all of them, started from one `runtime::Deps` and stopped together;
//! - [`install_demo_connection`]: the demo connection, as `local up`, the tests and the bench store it.
//!
//! The functions are built from `Deps` with the same calls their `main`s make
//! (`webhook_receiver::handle_http`, `order_worker::Ports::from_deps` + `Worker::for_invocation` +
//! `handle_batch`, `order_sweep::Ports::from_deps` / `webhook_health::Ports::from_deps` on a
//! `jobs::Runner` with `jobs::Ports::from_deps`, its `handle_scheduled` for the timer and its
//! `handle_jobs` for the job poller), so what runs here is what runs in Lambda. Further scheduled
//! functions join the same way: a [`Schedule`] in [`RuntimeOptions`], a timer and a job poller.

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
pub use poller::{BatchOutcome, JobPoller, OrderPoller, PollerOptions, PollerStats, SqsFunction, SqsPoller};
pub use receiver::serve_webhook_receiver;
pub use schedule::{DEFAULT_JOB_CONCURRENCY, Schedule, ScheduledHandler, Timer, TimerStats, scheduled_event};
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
    /// When the stock sync runs; `None` runs none.
    pub inventory_sync: Option<Schedule>,
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
    /// The order sweep's scheduled invocations, and its jobs' invocations.
    pub sweeps: TimerStats,
    pub sweep_jobs: PollerStats,
    /// The webhook health check's scheduled invocations, and its jobs' invocations.
    pub health_checks: TimerStats,
    pub health_jobs: PollerStats,
    /// The stock sync's scheduled invocations, and its jobs' invocations.
    pub stock_syncs: TimerStats,
    pub stock_jobs: PollerStats,
}

/// A scheduled function's two event sources in the local world: its timer and its job poller.
struct ScheduledTasks {
    timer: JoinHandle<TimerStats>,
    jobs: JoinHandle<PollerStats>,
    /// The function's handler of scheduled events, for an invocation outside its schedule.
    handler: ScheduledHandler,
    connections: Vec<domain::ConnectionId>,
}

impl ScheduledTasks {
    /// Starts `runner`'s timer (fan-outs) and job poller (jobs), as Lambda would invoke it from
    /// its schedule and from its job queue.
    fn start<J: jobs::Job>(
        runner: jobs::Runner<J>,
        schedule: Schedule,
        sdk: &aws_config::SdkConfig,
        shutdown: &Shutdown,
    ) -> ScheduledTasks {
        let name = runner.job().name();
        let source = millwright_aws::SqsEventSource::new(sdk, &schedule.job_queue_url);
        let jobs = tokio::spawn(JobPoller::new(source, runner.clone(), schedule.jobs.clone()).run(shutdown.clone()));
        let handler: ScheduledHandler = Arc::new(move |event| {
            let runner = runner.clone();
            Box::pin(async move { runner.handle_scheduled(event).await })
        });
        let connections = schedule.connections.clone();
        let timer = tokio::spawn(Timer::new(name, schedule, handler.clone()).run(shutdown.clone()));
        ScheduledTasks { timer, jobs, handler, connections }
    }

    async fn finished(tasks: Option<ScheduledTasks>, name: &str) -> (TimerStats, PollerStats) {
        let Some(tasks) = tasks else { return Default::default() };
        let timer = tasks.timer.await.unwrap_or_else(|error| {
            tracing::error!(error.message = %error, function = name, "the timer task failed");
            TimerStats::default()
        });
        let jobs = tasks.jobs.await.unwrap_or_else(|error| {
            tracing::error!(error.message = %error, function = name, "the job poller task failed");
            PollerStats::default()
        });
        (timer, jobs)
    }
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
    sweep: Option<ScheduledTasks>,
    health: Option<ScheduledTasks>,
    stock: Option<ScheduledTasks>,
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

        // The order sweep as its `main` builds it, on its own job queue.
        let sweep = options.sweep.map(|schedule| {
            let deps = deps.with_job_queue(&schedule.job_queue_url);
            let sweep = order_sweep::Sweep::new(order_sweep::Ports::from_deps(&deps), options.sweep_settings.clone());
            let runner =
                jobs::Runner::new(sweep, jobs::Ports::from_deps(&deps), jobs::Settings::from_config(&deps.config));
            ScheduledTasks::start(runner, schedule, sdk, &shutdown)
        });
        // The health check as its `main` builds it, pointing the hooks at this runtime's receiver.
        let health = options.webhook_health.map(|schedule| {
            let deps = deps.with_job_queue(&schedule.job_queue_url);
            let settings = webhook_health::Settings { receiver_url: receiver_url.clone(), ..Default::default() };
            let check = webhook_health::HealthCheck::new(webhook_health::Ports::from_deps(&deps), settings);
            let runner =
                jobs::Runner::new(check, jobs::Ports::from_deps(&deps), jobs::Settings::from_config(&deps.config));
            ScheduledTasks::start(runner, schedule, sdk, &shutdown)
        });
        // The stock sync as its `main` builds it.
        let stock = options.inventory_sync.map(|schedule| {
            let deps = deps.with_job_queue(&schedule.job_queue_url);
            let sync = inventory_sync::StockSync::new(inventory_sync::Ports::from_deps(&deps));
            let runner =
                jobs::Runner::new(sync, jobs::Ports::from_deps(&deps), jobs::Settings::from_config(&deps.config));
            ScheduledTasks::start(runner, schedule, sdk, &shutdown)
        });
        tracing::info!(%receiver_url, queue = %deps.config.order_queue_url, "local runtime started");
        Ok(LocalRuntime { receiver_url, trigger, receiver, order_poller, sweep, health, stock })
    }

    /// Invokes the scheduled function whose job is `job` (`order-sweep`, `webhook-health`) with a
    /// scheduled event now, outside its schedule, as `aws lambda invoke` with the sample event
    /// would: it fans a run out, and the runtime's job poller runs the jobs. Its answer is the
    /// function's (the fan-out's report).
    pub async fn invoke_scheduled(&self, job: &str) -> anyhow::Result<serde_json::Value> {
        let tasks = match job {
            order_sweep::JOB => self.sweep.as_ref(),
            webhook_health::JOB => self.health.as_ref(),
            inventory_sync::JOB => self.stock.as_ref(),
            other => anyhow::bail!("no scheduled function runs the {other} job"),
        };
        let tasks = tasks.with_context(|| format!("the {job} function is not scheduled in this runtime"))?;
        (tasks.handler)(scheduled_event(&tasks.connections)).await.map_err(|error| anyhow::anyhow!(error))
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
        let (sweeps, sweep_jobs) = ScheduledTasks::finished(self.sweep, "order sweep").await;
        let (health_checks, health_jobs) = ScheduledTasks::finished(self.health, "webhook health").await;
        let (stock_syncs, stock_jobs) = ScheduledTasks::finished(self.stock, "stock sync").await;
        RuntimeReport { orders, sweeps, sweep_jobs, health_checks, health_jobs, stock_syncs, stock_jobs }
    }
}
