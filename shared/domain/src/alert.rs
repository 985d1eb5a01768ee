//! Operator alerts. One alert per distinct cause within a window: a hundred orders failing for the
//! same expired key make one e-mail, not a hundred.

use serde::{Deserialize, Serialize};

use crate::ids::{ConnectionId, RecordKey};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub connection: ConnectionId,
    /// Stable name of the cause, e.g. `plex-auth` or `unmapped-sku:W-9`; alerts with the same
    /// connection and cause inside the de-duplication window are sent once.
    pub cause: String,
    /// E-mail subject: short, names the connection and the cause.
    pub subject: String,
    /// E-mail body: what happened, what it affects, what to do. Never contains a secret.
    pub body: String,
    /// The record that raised it, when there is one.
    #[serde(default)]
    pub record: Option<RecordKey>,
}

impl Alert {
    /// The key under which the alert window is de-duplicated.
    pub fn dedupe_key(&self) -> String {
        format!("alert#{}#{}", self.connection, self.cause)
    }
}

/// What became of an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertOutcome {
    /// Published; carries the message id the alerting service returned.
    Sent { message_id: String },
    /// The same cause already alerted inside the window.
    Suppressed,
}

/// The "same cause alerts once per window" rule, shared by every [`crate::ports::Alerter`].
pub struct AlertWindow {
    dedupe: std::sync::Arc<dyn crate::ports::DedupeStore>,
    window: chrono::Duration,
}

impl AlertWindow {
    pub fn new(dedupe: std::sync::Arc<dyn crate::ports::DedupeStore>, window: chrono::Duration) -> Self {
        Self { dedupe, window }
    }

    /// `true` if this alert is the first of its cause inside the window (and claims the window).
    pub async fn admit(&self, alert: &Alert, now: chrono::DateTime<chrono::Utc>) -> Result<bool, crate::PortError> {
        self.dedupe.claim(&alert.dedupe_key(), now, self.window).await
    }
}
