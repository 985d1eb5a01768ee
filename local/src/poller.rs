//! [`SqsPoller`]: the Lambda SQS event source mapping, in process: [`OrderPoller`] for the order
//! worker on the order queue, [`JobPoller`] for a scheduled function on its job queue.
//!
//! Lambda polls a queue for a function, hands it each batch as an `SqsEvent` and, because the
//! template sets `FunctionResponseTypes: [ReportBatchItemFailures]`, deletes exactly the records the
//! function did not name in `batchItemFailures`. Nobody does that for the local world, so this loop
//! does, with the same rules:
//! - a record named as failed stays in the queue and comes back after the queue's visibility timeout
//!   (or after the wait the worker itself set on it through `Queue::redeliver_after`, on the same
//!   queue); SQS's redrive policy moves it to the dead-letter queue after `maxReceiveCount` receives
//!   (moto enforces both, as SQS does);
//! - a response naming a record that is not in the batch (or an empty id), a panic, or an invocation
//!   that outlives the function timeout fails the whole batch: nothing is deleted;
//! - each batch is one invocation with its own request id, which the worker uses as its ledger lease
//!   holder.
//!
//! Up to `PollerOptions::concurrency` invocations run at once (the event source's
//! `MaximumConcurrency`), each on its own batch. The order poller runs one at a time: the FIFO queue hands out one order's
//! messages in order either way, and one at a time keeps a batch that outlives the visibility
//! timeout from being received twice at once. A job poller runs many, one job per invocation, as
//! the template's job event sources do.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use millwright_aws::SqsEventSource;
use order_worker::Worker;

use crate::Shutdown;

/// A function an SQS event source invokes: the order worker, a scheduled function's job runner.
pub trait SqsFunction: Clone + Send + Sync + 'static {
    /// The function, in logs.
    fn name(&self) -> &'static str;

    /// One invocation on `event`, as the function's Lambda handler runs it: `request_id` is the
    /// invocation's, `deadline` the one Lambda's context gives it.
    fn invoke(
        self,
        request_id: String,
        deadline: tokio::time::Instant,
        event: SqsEvent,
    ) -> impl Future<Output = SqsBatchResponse> + Send + 'static;
}

impl SqsFunction for Worker {
    fn name(&self) -> &'static str {
        "order worker"
    }

    async fn invoke(self, request_id: String, deadline: tokio::time::Instant, event: SqsEvent) -> SqsBatchResponse {
        self.for_invocation(&request_id).until(deadline).handle_batch(event, chrono::Utc::now()).await
    }
}

impl<J: jobs::Job> SqsFunction for jobs::Runner<J> {
    fn name(&self) -> &'static str {
        self.job().name()
    }

    async fn invoke(self, request_id: String, deadline: tokio::time::Instant, event: SqsEvent) -> SqsBatchResponse {
        self.handle_jobs(event, &request_id, Some(deadline)).await
    }
}

/// The order worker's event source.
pub type OrderPoller = SqsPoller<Worker>;

/// A scheduled function's job-queue event source.
pub type JobPoller<J> = SqsPoller<jobs::Runner<J>>;

/// How the poller reads the queue and how long an invocation may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollerOptions {
    /// Records per batch, 1 to 10 (Lambda's SQS default and SQS's receive maximum).
    pub batch_size: i32,
    /// Invocations at once (the event source's `MaximumConcurrency`; at least 1).
    pub concurrency: usize,
    /// Long-polling wait of one receive. Short, so an idle poller notices new messages at once and
    /// moto is not held on a request for long.
    pub wait: Duration,
    /// The function timeout: an invocation still running after this is stopped and its whole batch
    /// goes back to the queue, as when Lambda times a function out.
    pub function_timeout: Duration,
    /// The first pause after a failed receive (moto down, say); it doubles up to `max_backoff` and
    /// resets after a receive that works.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for PollerOptions {
    fn default() -> Self {
        PollerOptions {
            batch_size: 10,
            concurrency: 1,
            wait: Duration::from_secs(1),
            // The template's function timeout.
            function_timeout: Duration::from_secs(30),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// What a poller did, summed over its batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollerStats {
    /// Invocations of the worker.
    pub batches: u64,
    /// Records the worker finished, whatever their outcome; they were deleted from the queue.
    pub handled: u64,
    /// Records left in the queue for another delivery.
    pub failed: u64,
    /// Receives that failed (each was retried after a pause).
    pub receive_errors: u64,
    /// Deletes that failed; their records come back and the worker finds them done.
    pub delete_errors: u64,
    /// Invocations stopped at the function timeout (their whole batch went back).
    pub timeouts: u64,
}

impl PollerOptions {
    /// A scheduled function's job queue as the template's event source reads it: one job per
    /// invocation, `concurrency` at once, within the function's timeout.
    pub fn for_jobs(function_timeout: Duration, concurrency: usize) -> PollerOptions {
        PollerOptions { batch_size: 1, concurrency, function_timeout, ..PollerOptions::default() }
    }
}

impl PollerStats {
    /// These counts and `other`'s, summed (the pollers of one event source).
    pub fn merged(mut self, other: PollerStats) -> PollerStats {
        self.batches += other.batches;
        self.handled += other.handled;
        self.failed += other.failed;
        self.receive_errors += other.receive_errors;
        self.delete_errors += other.delete_errors;
        self.timeouts += other.timeouts;
        self
    }

    fn add(&mut self, batch: &BatchOutcome) {
        self.batches += 1;
        self.handled += batch.handled;
        self.failed += batch.failed;
        self.delete_errors += u64::from(batch.delete_failed);
        self.timeouts += u64::from(batch.timed_out);
    }
}

/// One invocation's result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub handled: u64,
    pub failed: u64,
    /// Whether deleting the handled records failed (they come back after the visibility timeout).
    pub delete_failed: bool,
    /// Whether the invocation was stopped at the function timeout.
    pub timed_out: bool,
}

/// Polls a queue and runs a function on each batch; see the module documentation.
pub struct SqsPoller<F> {
    source: Arc<SqsEventSource>,
    function: F,
    options: PollerOptions,
}

impl<F: SqsFunction> SqsPoller<F> {
    pub fn new(source: SqsEventSource, function: F, options: PollerOptions) -> SqsPoller<F> {
        SqsPoller { source: Arc::new(source), function, options }
    }

    /// Polls until `shutdown` with up to `options.concurrency` invocations at once, then returns
    /// what they did. One receive at a time asks for as many records as the free invocations take
    /// (at most 10, SQS's maximum), and each `batch_size` of them is one invocation, so an idle
    /// poller holds a single long poll whatever its concurrency. Invocations being processed when
    /// the signal comes are finished first (their records are acknowledged as usual); a receive in
    /// flight is abandoned, and whatever it would have returned comes back after the visibility
    /// timeout.
    pub async fn run(self, mut shutdown: Shutdown) -> PollerStats {
        let poller = Arc::new(self);
        let batch_size = usize::try_from(poller.options.batch_size.clamp(1, 10)).unwrap_or(1);
        let free = Arc::new(tokio::sync::Semaphore::new(poller.options.concurrency.max(1)));
        let mut running = tokio::task::JoinSet::new();
        let mut stats = PollerStats::default();
        let mut backoff = poller.options.min_backoff;
        while !shutdown.is_requested() {
            // Wait for one free invocation, then take the others free now, up to a full receive.
            let first = tokio::select! {
                () = shutdown.requested() => break,
                permit = free.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            };
            let mut permits = vec![first];
            while permits.len() * batch_size < 10 {
                match free.clone().try_acquire_owned() {
                    Ok(permit) => permits.push(permit),
                    Err(_) => break,
                }
            }
            let max = i32::try_from((permits.len() * batch_size).min(10)).unwrap_or(10);
            let received = tokio::select! {
                () = shutdown.requested() => break,
                received = poller.source.receive(max, poller.options.wait) => received,
            };
            while let Some(done) = running.try_join_next() {
                stats.add(&done.unwrap_or_else(|_| BatchOutcome::default()));
            }
            match received {
                Ok(records) => {
                    backoff = poller.options.min_backoff;
                    let mut records = records.into_iter().peekable();
                    while records.peek().is_some() {
                        let batch: Vec<SqsMessage> = records.by_ref().take(batch_size).collect();
                        let permit = permits.pop().expect("a free invocation per batch received");
                        let poller = poller.clone();
                        running.spawn(async move {
                            let outcome = poller.invoke(batch).await;
                            drop(permit);
                            outcome
                        });
                    }
                }
                Err(error) => {
                    stats.receive_errors += 1;
                    tracing::warn!(
                        error.message = %error,
                        error.cause_chain = ?error,
                        retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                        function = poller.function.name(),
                        "receiving from the queue failed; trying again"
                    );
                    drop(permits);
                    tokio::select! {
                        () = shutdown.requested() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(poller.options.max_backoff);
                }
            }
        }
        while let Some(done) = running.join_next().await {
            stats.add(&done.unwrap_or_else(|_| BatchOutcome::default()));
        }
        tracing::info!(function = poller.function.name(), ?stats, "poller stopped");
        stats
    }

    /// Runs the function on one batch, as Lambda invokes it, and deletes what it handled.
    async fn invoke(&self, records: Vec<SqsMessage>) -> BatchOutcome {
        let request_id = uuid::Uuid::new_v4().to_string();
        // The invocation's deadline, as Lambda's context gives it to the function.
        let deadline = tokio::time::Instant::now() + self.options.function_timeout;
        let function = self.function.name();
        let ids: Vec<(Option<String>, Option<String>)> =
            records.iter().map(|record| (record.message_id.clone(), record.receipt_handle.clone())).collect();
        let mut event = SqsEvent::default();
        event.records = records;

        // A task of its own, so that a panic is caught and a timeout can stop it, as Lambda does.
        let invocation = tokio::spawn(self.function.clone().invoke(request_id.clone(), deadline, event));
        let abort = invocation.abort_handle();
        let mut timed_out = false;
        let response = match tokio::time::timeout_at(deadline, invocation).await {
            Ok(Ok(response)) => Some(response),
            Ok(Err(error)) => {
                tracing::error!(error.message = %error, %request_id, function, "the function failed; the whole batch goes back");
                None
            }
            Err(_) => {
                abort.abort();
                timed_out = true;
                tracing::error!(
                    %request_id,
                    function,
                    timeout_s = self.options.function_timeout.as_secs_f64(),
                    "the function timed out; the whole batch goes back"
                );
                None
            }
        };
        let handled = match &response {
            Some(response) => handled_records(&ids, response).unwrap_or_else(|| {
                tracing::error!(
                    %request_id,
                    "the batch response names a record that is not in the batch; the whole batch goes back"
                );
                Vec::new()
            }),
            None => Vec::new(),
        };
        let receipts: Vec<String> = handled.iter().filter_map(|&index| ids[index].1.clone()).collect();
        // A batch holds at most ten records, so these counts always fit.
        let mut outcome = BatchOutcome {
            handled: handled.len() as u64,
            failed: (ids.len() - handled.len()) as u64,
            delete_failed: false,
            timed_out,
        };
        if let Err(error) = self.source.delete(&receipts).await {
            // At least once, as in production: the worker's ledger makes the redelivery a no-op.
            tracing::warn!(
                error.message = %error,
                error.cause_chain = ?error,
                "deleting handled records failed; they come back after the visibility timeout"
            );
            outcome.delete_failed = true;
        }
        tracing::debug!(%request_id, function, handled = outcome.handled, failed = outcome.failed, "batch done");
        outcome
    }
}

/// The positions of the records a partial batch response acknowledges, read the way Lambda reads
/// it: every record it does not name. `None` (nothing acknowledged) when it names an empty id or
/// one that is not in the batch, which Lambda treats as the whole batch failing.
fn handled_records(ids: &[(Option<String>, Option<String>)], response: &SqsBatchResponse) -> Option<Vec<usize>> {
    let in_batch: HashSet<&str> = ids.iter().filter_map(|(id, _)| id.as_deref()).collect();
    let mut failed: HashSet<&str> = HashSet::new();
    for failure in &response.batch_item_failures {
        let id = failure.item_identifier.as_str();
        if id.is_empty() || !in_batch.contains(id) {
            return None;
        }
        failed.insert(id);
    }
    Some(
        ids.iter()
            .enumerate()
            .filter(|(_, (id, _))| id.as_deref().is_some_and(|id| !failed.contains(id)))
            .map(|(index, _)| index)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use domain::ports::fakes::FakeConnectionApis;
    use domain::ports::memory::{
        InMemoryAuditLog, InMemoryConnectionStore, InMemoryHoldStore, InMemoryIdMap, InMemoryOrderLedger,
        RecordingAlerter, RecordingQueue,
    };

    use super::*;

    /// A worker over in-memory ports; these tests never get as far as a record.
    fn idle_worker() -> Worker {
        let ports = order_worker::Ports {
            ledger: Arc::new(InMemoryOrderLedger::default()),
            audit: Arc::new(InMemoryAuditLog::default()),
            alerter: Arc::new(RecordingAlerter::new(chrono::Duration::hours(1))),
            id_map: Arc::new(InMemoryIdMap::default()),
            holds: Arc::new(InMemoryHoldStore::default()),
            connections: Arc::new(InMemoryConnectionStore::default()),
            apis: Arc::new(FakeConnectionApis::default()),
            queue: Arc::new(RecordingQueue::default()),
        };
        Worker::new(ports, order_worker::Settings::default())
    }

    #[tokio::test]
    async fn an_unreachable_queue_is_retried_with_backoff_until_shutdown() {
        // GIVEN a queue endpoint nobody listens on (moto down), reached without the SDK's own
        // retries so that each failed receive reaches the poller at once
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let sdk = millwright_aws::config::sdk_config_for_endpoint(&format!("http://{closed}"), "us-east-1")
            .await
            .into_builder()
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        let options = PollerOptions {
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            ..PollerOptions::default()
        };

        // WHEN the poller runs for a while and is then stopped (again, until it has met an error,
        // for a machine too busy to fail a connection within the first window)
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let stats = loop {
            let source = SqsEventSource::new(&sdk, format!("http://{closed}/123456789012/orders.fifo"));
            let (trigger, shutdown) = Shutdown::new();
            let poller = tokio::spawn(OrderPoller::new(source, idle_worker(), options.clone()).run(shutdown));
            tokio::time::sleep(Duration::from_millis(300)).await;
            trigger.trigger();
            // THEN it stops promptly
            let stats = tokio::time::timeout(Duration::from_secs(5), poller).await.unwrap().unwrap();
            if stats.receive_errors > 0 || std::time::Instant::now() > deadline {
                break stats;
            }
        };

        // AND it retried its failed receives instead of giving up or panicking
        assert!(stats.receive_errors >= 1, "{stats:?}");
        assert_eq!((stats.batches, stats.handled, stats.failed), (0, 0, 0));
    }

    fn batch(ids: &[&str]) -> Vec<(Option<String>, Option<String>)> {
        ids.iter().map(|id| (Some((*id).to_owned()), Some(format!("receipt-{id}")))).collect()
    }

    fn failures(ids: &[&str]) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for id in ids {
            response.add_failure(*id);
        }
        response
    }

    #[test]
    fn every_record_not_named_as_failed_is_acknowledged() {
        let ids = batch(&["a", "b", "c"]);
        assert_eq!(handled_records(&ids, &failures(&[])), Some(vec![0, 1, 2]));
        assert_eq!(handled_records(&ids, &failures(&["b"])), Some(vec![0, 2]));
        assert_eq!(handled_records(&ids, &failures(&["a", "b", "c"])), Some(vec![]));
    }

    #[test]
    fn a_failure_naming_no_record_of_the_batch_fails_the_whole_batch() {
        let ids = batch(&["a", "b"]);
        assert_eq!(handled_records(&ids, &failures(&[""])), None);
        assert_eq!(handled_records(&ids, &failures(&["a", "z"])), None);
    }

    #[test]
    fn a_record_without_a_message_id_is_never_acknowledged() {
        let mut ids = batch(&["a"]);
        ids.push((None, Some("receipt-x".to_owned())));
        assert_eq!(handled_records(&ids, &failures(&[])), Some(vec![0]));
    }
}
