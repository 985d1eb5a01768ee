//! Deployment configuration, read once from the environment at start-up.
//!
//! Only entry points (the Lambda `main`s, the CLI, the local runtime) call [`Config::from_env`];
//! everything below them receives a `Config` or the pieces it needs. Variables hold names, URLs and
//! secret *ids*, never secret values. Every external base URL and the AWS endpoint are here, so the
//! real services, the sandbox or a spec-generated mock can stand behind any of them.

use std::time::Duration;

/// One environment variable: its name, whether it must be set, and its default.
struct Var {
    name: &'static str,
    default: Option<&'static str>,
}

const fn required(name: &'static str) -> Var {
    Var { name, default: None }
}

const fn optional(name: &'static str, default: &'static str) -> Var {
    Var { name, default: Some(default) }
}

pub const AUDIT_TABLE_NAME: &str = "AUDIT_TABLE_NAME";
pub const STATE_TABLE_NAME: &str = "STATE_TABLE_NAME";
pub const ORDER_QUEUE_URL: &str = "ORDER_QUEUE_URL";
/// The order queue's dead-letter queue; only `millwright replay --dlq` reads it.
pub const ORDER_DLQ_URL: &str = "ORDER_DLQ_URL";
/// The order queue's `maxReceiveCount` (its redrive policy): a message handed back on this
/// receive moves to the dead-letter queue, so the order worker audits and alerts it as
/// dead-lettered. Only the order worker reads it; the template sets it from `OrderMaxReceiveCount`.
pub const ORDER_MAX_RECEIVE_COUNT: &str = "ORDER_MAX_RECEIVE_COUNT";
/// A scheduled function's own job queue: its scheduled invocation queues one job per connection
/// there, and the function consumes the queue to run each job in an invocation of its own.
pub const JOB_QUEUE_URL: &str = "JOB_QUEUE_URL";
/// The job queue's `maxReceiveCount`: a job that fails on this receive is alerted once and
/// acknowledged (the next scheduled run tries again) instead of going to the dead-letter queue.
pub const JOB_MAX_RECEIVE_COUNT: &str = "JOB_MAX_RECEIVE_COUNT";
pub const ALERT_TOPIC_ARN: &str = "ALERT_TOPIC_ARN";
pub const SECRET_PREFIX: &str = "SECRET_PREFIX";
pub const AUDIT_RETENTION_DAYS: &str = "AUDIT_RETENTION_DAYS";
pub const ALERT_WINDOW_MINUTES: &str = "ALERT_WINDOW_MINUTES";
pub const SECRET_CACHE_SECONDS: &str = "SECRET_CACHE_SECONDS";
pub const HTTP_TIMEOUT_SECONDS: &str = "HTTP_TIMEOUT_SECONDS";
/// Plex calls per minute ONE container may spend per connection. Plex allows about 200 per key in
/// all, and each container paces on its own, so a deployment sets this to 200 ÷ the worker's
/// maximum concurrency.
pub const PLEX_CALLS_PER_MINUTE: &str = "PLEX_CALLS_PER_MINUTE";
pub const BIGCOMMERCE_API_BASE_URL: &str = "BIGCOMMERCE_API_BASE_URL";
pub const PLEX_CONNECT_BASE_URL: &str = "PLEX_CONNECT_BASE_URL";
pub const PLEX_DATASOURCE_BASE_URL: &str = "PLEX_DATASOURCE_BASE_URL";
pub const MONDAY_API_URL: &str = "MONDAY_API_URL";
/// The webhook receiver's public base URL (the HTTP API's endpoint); the webhook health check
/// registers hooks at `{WEBHOOK_RECEIVER_URL}/webhooks/bigcommerce/{connection}`.
pub const WEBHOOK_RECEIVER_URL: &str = "WEBHOOK_RECEIVER_URL";
/// Read by the AWS SDK itself; listed so `millwright check` can show where AWS calls go.
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid ({value:?}): {reason}")]
    Invalid { name: &'static str, value: String, reason: String },
}

/// Where the deployment's state lives and where the external APIs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub audit_table: String,
    pub state_table: String,
    pub order_queue_url: String,
    /// The order queue's dead-letter queue, when configured (functions never read it; the CLI's
    /// `replay --dlq` moves its messages back to the order queue).
    pub order_dlq_url: Option<String>,
    /// The order queue's `maxReceiveCount`, where the function needs it (the order worker); unset,
    /// the worker cannot tell a record's last receive and audits no dead-lettering.
    pub order_max_receive_count: Option<u32>,
    /// The scheduled function's job queue, where the function is a scheduled one.
    pub job_queue_url: Option<String>,
    /// The job queue's `maxReceiveCount`; unset, a failing job is never taken for its last try.
    pub job_max_receive_count: Option<u32>,
    pub alert_topic_arn: String,
    /// Secret names are `{secret_prefix}/{connection}/{system}`.
    pub secret_prefix: String,
    pub audit_retention: Duration,
    pub alert_window: Duration,
    pub secret_cache_ttl: Duration,
    pub http_timeout: Duration,
    /// This container's share of each connection's Plex rate budget (calls per minute).
    pub plex_calls_per_minute: u32,
    pub endpoints: Endpoints,
    /// The webhook receiver's public base URL, where only the webhook health check needs it.
    pub webhook_receiver_url: Option<String>,
    /// `Some` when AWS calls go to an emulator or a VPC endpoint instead of the public AWS endpoints.
    pub aws_endpoint_url: Option<String>,
}

/// Default base URLs of the external APIs; a connection profile may override each one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub bigcommerce_api: String,
    pub plex_connect: String,
    pub plex_datasource: String,
    pub monday_api: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: Var| -> Result<String, ConfigError> {
            match lookup(var.name).filter(|v| !v.trim().is_empty()) {
                Some(value) => Ok(value.trim().to_owned()),
                None => var.default.map(str::to_owned).ok_or(ConfigError::Missing(var.name)),
            }
        };
        let seconds = |var: Var, unit: u64| -> Result<Duration, ConfigError> {
            let name = var.name;
            let raw = get(var)?;
            let value: u64 = raw.parse().map_err(|_| ConfigError::Invalid {
                name,
                value: raw.clone(),
                reason: "expected a whole number".to_owned(),
            })?;
            Ok(Duration::from_secs(value * unit))
        };
        let receive_count = |name: &'static str| -> Result<Option<u32>, ConfigError> {
            match lookup(name).filter(|v| !v.trim().is_empty()) {
                Some(raw) => Ok(Some(raw.trim().parse::<u32>().ok().filter(|count| *count >= 1).ok_or(
                    ConfigError::Invalid {
                        name,
                        value: raw,
                        reason: "expected a whole number of at least 1".to_owned(),
                    },
                )?)),
                None => Ok(None),
            }
        };
        let url = |var: Var| -> Result<String, ConfigError> {
            let name = var.name;
            let raw = get(var)?;
            if !(raw.starts_with("https://") || raw.starts_with("http://")) {
                return Err(ConfigError::Invalid { name, value: raw, reason: "expected an http(s) URL".to_owned() });
            }
            Ok(raw.trim_end_matches('/').to_owned())
        };
        Ok(Config {
            audit_table: get(required(AUDIT_TABLE_NAME))?,
            state_table: get(required(STATE_TABLE_NAME))?,
            order_queue_url: url(required(ORDER_QUEUE_URL))?,
            order_dlq_url: match lookup(ORDER_DLQ_URL).filter(|v| !v.trim().is_empty()) {
                Some(_) => Some(url(required(ORDER_DLQ_URL))?),
                None => None,
            },
            order_max_receive_count: receive_count(ORDER_MAX_RECEIVE_COUNT)?,
            job_queue_url: match lookup(JOB_QUEUE_URL).filter(|v| !v.trim().is_empty()) {
                Some(_) => Some(url(required(JOB_QUEUE_URL))?),
                None => None,
            },
            job_max_receive_count: receive_count(JOB_MAX_RECEIVE_COUNT)?,
            alert_topic_arn: get(required(ALERT_TOPIC_ARN))?,
            secret_prefix: get(optional(SECRET_PREFIX, domain::SecretName::DEFAULT_PREFIX))?,
            audit_retention: seconds(optional(AUDIT_RETENTION_DAYS, "90"), 86_400)?,
            alert_window: seconds(optional(ALERT_WINDOW_MINUTES, "60"), 60)?,
            secret_cache_ttl: seconds(optional(SECRET_CACHE_SECONDS, "300"), 1)?,
            http_timeout: seconds(optional(HTTP_TIMEOUT_SECONDS, "20"), 1)?,
            plex_calls_per_minute: {
                let raw = get(optional(PLEX_CALLS_PER_MINUTE, "200"))?;
                raw.parse::<u32>().ok().filter(|calls| (1..=200).contains(calls)).ok_or(ConfigError::Invalid {
                    name: PLEX_CALLS_PER_MINUTE,
                    value: raw,
                    reason: "expected a whole number from 1 to 200".to_owned(),
                })?
            },
            endpoints: Endpoints {
                bigcommerce_api: url(optional(BIGCOMMERCE_API_BASE_URL, "https://api.bigcommerce.com"))?,
                plex_connect: url(optional(PLEX_CONNECT_BASE_URL, "https://connect.plex.com"))?,
                plex_datasource: url(optional(PLEX_DATASOURCE_BASE_URL, "https://cloud.plex.com"))?,
                monday_api: url(optional(MONDAY_API_URL, "https://api.monday.com/v2"))?,
            },
            webhook_receiver_url: match lookup(WEBHOOK_RECEIVER_URL).filter(|v| !v.trim().is_empty()) {
                Some(_) => Some(url(required(WEBHOOK_RECEIVER_URL))?),
                None => None,
            },
            aws_endpoint_url: lookup(AWS_ENDPOINT_URL).filter(|v| !v.trim().is_empty()),
        })
    }

    /// The variables that reproduce this configuration, e.g. for an env file the local world writes.
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            (AUDIT_TABLE_NAME, self.audit_table.clone()),
            (STATE_TABLE_NAME, self.state_table.clone()),
            (ORDER_QUEUE_URL, self.order_queue_url.clone()),
            (ALERT_TOPIC_ARN, self.alert_topic_arn.clone()),
            (SECRET_PREFIX, self.secret_prefix.clone()),
            (AUDIT_RETENTION_DAYS, (self.audit_retention.as_secs() / 86_400).to_string()),
            (ALERT_WINDOW_MINUTES, (self.alert_window.as_secs() / 60).to_string()),
            (SECRET_CACHE_SECONDS, self.secret_cache_ttl.as_secs().to_string()),
            (HTTP_TIMEOUT_SECONDS, self.http_timeout.as_secs().to_string()),
            (PLEX_CALLS_PER_MINUTE, self.plex_calls_per_minute.to_string()),
            (BIGCOMMERCE_API_BASE_URL, self.endpoints.bigcommerce_api.clone()),
            (PLEX_CONNECT_BASE_URL, self.endpoints.plex_connect.clone()),
            (PLEX_DATASOURCE_BASE_URL, self.endpoints.plex_datasource.clone()),
            (MONDAY_API_URL, self.endpoints.monday_api.clone()),
        ];
        if let Some(dlq) = &self.order_dlq_url {
            vars.push((ORDER_DLQ_URL, dlq.clone()));
        }
        if let Some(count) = self.order_max_receive_count {
            vars.push((ORDER_MAX_RECEIVE_COUNT, count.to_string()));
        }
        if let Some(queue) = &self.job_queue_url {
            vars.push((JOB_QUEUE_URL, queue.clone()));
        }
        if let Some(count) = self.job_max_receive_count {
            vars.push((JOB_MAX_RECEIVE_COUNT, count.to_string()));
        }
        if let Some(receiver) = &self.webhook_receiver_url {
            vars.push((WEBHOOK_RECEIVER_URL, receiver.clone()));
        }
        if let Some(endpoint) = &self.aws_endpoint_url {
            vars.push((AWS_ENDPOINT_URL, endpoint.clone()));
        }
        vars
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn minimal() -> HashMap<&'static str, String> {
        HashMap::from([
            (AUDIT_TABLE_NAME, "mw-audit".to_owned()),
            (STATE_TABLE_NAME, "mw-state".to_owned()),
            (ORDER_QUEUE_URL, "http://127.0.0.1:5000/123456789012/mw-orders.fifo".to_owned()),
            (ALERT_TOPIC_ARN, "arn:aws:sns:us-east-1:123456789012:mw-alerts".to_owned()),
        ])
    }

    fn parse(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_point_at_the_real_services() {
        let config = parse(&minimal()).unwrap();
        assert_eq!(config.endpoints.bigcommerce_api, "https://api.bigcommerce.com");
        assert_eq!(config.endpoints.plex_connect, "https://connect.plex.com");
        assert_eq!(config.endpoints.monday_api, "https://api.monday.com/v2");
        assert_eq!(config.secret_prefix, "millwright");
        assert_eq!(config.audit_retention, Duration::from_secs(90 * 86_400));
        assert_eq!(config.aws_endpoint_url, None);
        assert_eq!(config.order_dlq_url, None);
        assert_eq!(config.plex_calls_per_minute, 200);
    }

    #[test]
    fn a_plex_budget_share_outside_plexs_limit_is_refused() {
        let mut vars = minimal();
        vars.insert(PLEX_CALLS_PER_MINUTE, "400".to_owned());
        assert!(parse(&vars).unwrap_err().to_string().contains("PLEX_CALLS_PER_MINUTE"));
        vars.insert(PLEX_CALLS_PER_MINUTE, "100".to_owned());
        assert_eq!(parse(&vars).unwrap().plex_calls_per_minute, 100);
    }

    #[test]
    fn a_dead_letter_queue_url_is_optional_but_checked_when_given() {
        let mut vars = minimal();
        vars.insert(ORDER_DLQ_URL, "http://127.0.0.1:5000/123456789012/mw-orders-dlq.fifo".to_owned());
        let config = parse(&vars).unwrap();
        assert_eq!(config.order_dlq_url.as_deref(), Some("http://127.0.0.1:5000/123456789012/mw-orders-dlq.fifo"));
        let env: HashMap<&'static str, String> = config.to_env().into_iter().collect();
        assert_eq!(parse(&env).unwrap(), config);

        vars.insert(ORDER_DLQ_URL, "mw-orders-dlq.fifo".to_owned());
        assert!(parse(&vars).unwrap_err().to_string().contains("ORDER_DLQ_URL"));
    }

    #[test]
    fn the_queues_max_receive_count_is_optional_but_checked_when_given() {
        let mut vars = minimal();
        assert_eq!(parse(&vars).unwrap().order_max_receive_count, None);
        vars.insert(ORDER_MAX_RECEIVE_COUNT, "5".to_owned());
        let config = parse(&vars).unwrap();
        assert_eq!(config.order_max_receive_count, Some(5));
        let env: HashMap<&'static str, String> = config.to_env().into_iter().collect();
        assert_eq!(parse(&env).unwrap(), config);
        for invalid in ["0", "five"] {
            vars.insert(ORDER_MAX_RECEIVE_COUNT, invalid.to_owned());
            assert!(parse(&vars).unwrap_err().to_string().contains("ORDER_MAX_RECEIVE_COUNT"), "{invalid}");
        }
    }

    #[test]
    fn a_scheduled_functions_job_queue_and_its_receive_count_are_optional_but_checked_when_given() {
        let mut vars = minimal();
        let config = parse(&vars).unwrap();
        assert_eq!((config.job_queue_url, config.job_max_receive_count), (None, None));
        vars.insert(JOB_QUEUE_URL, "http://127.0.0.1:5000/123456789012/mw-webhook-health-jobs".to_owned());
        vars.insert(JOB_MAX_RECEIVE_COUNT, "3".to_owned());
        let config = parse(&vars).unwrap();
        assert_eq!(config.job_queue_url.as_deref(), Some("http://127.0.0.1:5000/123456789012/mw-webhook-health-jobs"));
        assert_eq!(config.job_max_receive_count, Some(3));
        let env: HashMap<&'static str, String> = config.to_env().into_iter().collect();
        assert_eq!(parse(&env).unwrap(), config);
        vars.insert(JOB_MAX_RECEIVE_COUNT, "0".to_owned());
        assert!(parse(&vars).unwrap_err().to_string().contains("JOB_MAX_RECEIVE_COUNT"));
        vars.insert(JOB_MAX_RECEIVE_COUNT, "3".to_owned());
        vars.insert(JOB_QUEUE_URL, "mw-webhook-health-jobs".to_owned());
        assert!(parse(&vars).unwrap_err().to_string().contains("JOB_QUEUE_URL"));
    }

    #[test]
    fn a_missing_required_variable_is_named() {
        let mut vars = minimal();
        vars.remove(STATE_TABLE_NAME);
        assert_eq!(parse(&vars).unwrap_err().to_string(), "environment variable STATE_TABLE_NAME is not set");
    }

    #[test]
    fn invalid_values_name_the_variable_and_the_rule() {
        let mut vars = minimal();
        vars.insert(AUDIT_RETENTION_DAYS, "ninety".to_owned());
        assert_eq!(
            parse(&vars).unwrap_err().to_string(),
            "environment variable AUDIT_RETENTION_DAYS is invalid (\"ninety\"): expected a whole number"
        );
        let mut vars = minimal();
        vars.insert(PLEX_CONNECT_BASE_URL, "connect.plex.com".to_owned());
        assert!(parse(&vars).unwrap_err().to_string().contains("PLEX_CONNECT_BASE_URL"));
    }

    #[test]
    fn overrides_are_trimmed_and_round_trip_through_to_env() {
        let mut vars = minimal();
        vars.insert(MONDAY_API_URL, " http://127.0.0.1:4003/v2/ ".to_owned());
        vars.insert(AWS_ENDPOINT_URL, "http://127.0.0.1:5000".to_owned());
        let config = parse(&vars).unwrap();
        assert_eq!(config.endpoints.monday_api, "http://127.0.0.1:4003/v2");
        let env: HashMap<&'static str, String> = config.to_env().into_iter().collect();
        assert_eq!(parse(&env).unwrap(), config);
    }
}
