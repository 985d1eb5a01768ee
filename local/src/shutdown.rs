//! [`Shutdown`]: the signal that stops the local runtime's tasks.
//!
//! A `watch` channel rather than a one-shot so that every task (the receiver, the poller, later the
//! timers) holds its own cheap clone and can both ask "stop now?" between steps and await the signal
//! inside a `select!`.

use tokio::sync::watch;

/// Sends the stop signal; dropping it sends it too, so tasks never outlive their owner.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Receives the stop signal. Clone it for every task that must stop.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// A new signal, not yet sent.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (sender, receiver) = watch::channel(false);
        (ShutdownTrigger(sender), Shutdown(receiver))
    }

    /// Whether the stop signal was sent (or its trigger dropped).
    pub fn is_requested(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    /// Resolves once the stop signal is sent, or at once if it already was.
    pub async fn requested(&mut self) {
        // `wait_for` fails only when the trigger is gone, which also means "stop".
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        // No receivers left means nothing is running that could be stopped.
        let _ = self.0.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_clone_taken_before_the_trigger_sees_it() {
        let (trigger, shutdown) = Shutdown::new();
        let mut waiting = shutdown.clone();
        assert!(!shutdown.is_requested());

        trigger.trigger();

        waiting.requested().await;
        assert!(shutdown.is_requested());
    }

    #[tokio::test]
    async fn dropping_the_trigger_stops_the_tasks_too() {
        let (trigger, mut shutdown) = Shutdown::new();
        drop(trigger);
        shutdown.requested().await;
        assert!(shutdown.is_requested());
    }
}
