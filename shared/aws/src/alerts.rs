//! [`SnsAlerter`]: operator alerts published to the alert topic (e-mail subscribers).
//!
//! Admission goes through [`AlertWindow`], the same rule the in-memory `RecordingAlerter` applies:
//! one alert per connection and cause per window, claimed in a [`DedupeStore`] (the state table in
//! production), so a hundred orders failing for the same expired key make one e-mail.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sns::Client;
use chrono::Utc;
use domain::alert::{AlertOutcome, AlertWindow};
use domain::ports::{Alerter, DedupeStore};
use domain::{Alert, PortError};

use crate::error::from_sdk;

/// SNS requires a subject shorter than 100 characters.
const MAX_SUBJECT_CHARS: usize = 99;

/// What is sent when an alert's subject has nothing printable left.
const FALLBACK_SUBJECT: &str = "Millwright alert";

/// [`Alerter`] publishing to the SNS alert topic, one alert per cause per window.
pub struct SnsAlerter {
    client: Client,
    topic_arn: String,
    window: AlertWindow,
}

impl SnsAlerter {
    /// `window` is a `chrono::Duration` like `RecordingAlerter::new`'s and `AlertWindow::new`'s, so the
    /// production alerter and the fake are built from the same configured value.
    pub fn new(
        sdk: &SdkConfig,
        topic_arn: impl Into<String>,
        dedupe: Arc<dyn DedupeStore>,
        window: chrono::Duration,
    ) -> Self {
        Self { client: Client::new(sdk), topic_arn: topic_arn.into(), window: AlertWindow::new(dedupe, window) }
    }
}

/// An SNS subject (and e-mail subject line) from any text: printable ASCII only, no line breaks,
/// whitespace runs collapsed to one space, under 100 characters, never empty. Characters outside
/// ASCII become `?` so the reader can tell something was there.
pub(crate) fn sanitize_subject(subject: &str) -> String {
    let mut clean = String::with_capacity(subject.len());
    for c in subject.chars() {
        let c = if c.is_whitespace() || c.is_control() {
            ' '
        } else if c.is_ascii_graphic() {
            c
        } else {
            '?'
        };
        if c == ' ' && (clean.is_empty() || clean.ends_with(' ')) {
            continue;
        }
        clean.push(c);
    }
    let clean = clean.trim_end();
    if clean.is_empty() {
        return FALLBACK_SUBJECT.to_owned();
    }
    if clean.len() <= MAX_SUBJECT_CHARS {
        return clean.to_owned();
    }
    // Only ASCII is left, so byte and character counts agree.
    let cut = clean[..MAX_SUBJECT_CHARS - 3].trim_end();
    format!("{cut}...")
}

/// The message body: the alert's own text, then what it is about, so an e-mail read on its own
/// says which connection, cause and record to look at.
pub(crate) fn message_text(alert: &Alert) -> String {
    let mut text = alert.body.trim_end().to_owned();
    text.push_str("\n\n");
    text.push_str(&format!("Connection: {}\n", alert.connection));
    text.push_str(&format!("Cause: {}\n", alert.cause));
    if let Some(record) = &alert.record {
        text.push_str(&format!("Record: {record}\n"));
    }
    text
}

#[async_trait]
impl Alerter for SnsAlerter {
    async fn alert(&self, alert: &Alert) -> Result<AlertOutcome, PortError> {
        if !self.window.admit(alert, Utc::now()).await? {
            tracing::info!(connection = %alert.connection, cause = %alert.cause, "alert suppressed inside its window");
            return Ok(AlertOutcome::Suppressed);
        }
        let context = format!("publishing alert {} for {}", alert.cause, alert.connection);
        let output = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(sanitize_subject(&alert.subject))
            .message(message_text(alert))
            .send()
            .await
            .map_err(|err| from_sdk(context.clone(), err))?;
        let message_id = output
            .message_id
            .ok_or_else(|| PortError::invalid(context, "SNS accepted the alert but returned no id"))?;
        Ok(AlertOutcome::Sent { message_id })
    }
}

#[cfg(test)]
mod tests {
    use domain::{ConnectionId, RecordKey, RecordKind};

    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        assert_eq!(sanitize_subject(input), expected, "subject {input:?}");
    }

    #[test]
    fn subjects_lose_line_breaks_and_control_characters() {
        check("[acme] Plex key expired", "[acme] Plex key expired");
        check("[acme]\r\nPlex\tkey  expired\u{7}", "[acme] Plex key expired");
        check("  leading space", "leading space");
        check("Café 東京", "Caf? ??");
        check("\n\t ", "Millwright alert");
    }

    #[test]
    fn long_subjects_are_cut_below_the_sns_limit() {
        let long = format!("[acme] {}", "unmapped sku ".repeat(20));
        let subject = sanitize_subject(&long);
        assert_eq!(subject.len(), 99);
        assert!(subject.ends_with("..."), "{subject}");
        assert!(subject.starts_with("[acme] unmapped sku"), "{subject}");
        check(&"x".repeat(99), &"x".repeat(99));
    }

    #[test]
    fn messages_name_the_connection_cause_and_record() {
        let acme = ConnectionId::new("acme").unwrap();
        let alert = Alert {
            connection: acme.clone(),
            cause: "unmapped-sku:W-9".into(),
            subject: "[acme] unmapped SKU".into(),
            body: "SKU W-9 has no Plex part.\n".into(),
            record: Some(RecordKey::new(acme, RecordKind::BcOrder, "1042")),
        };
        assert_eq!(
            message_text(&alert),
            "SKU W-9 has no Plex part.\n\nConnection: acme\nCause: unmapped-sku:W-9\nRecord: acme#bc-order#1042\n"
        );
    }
}
