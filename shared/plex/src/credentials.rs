//! The Plex secret document. Either auth mode's fields may be present (a connection can be
//! switched between modes in its profile without touching the secret):
//!
//! ```json
//! {"api_key": "...", "api_secret": "...",
//!  "client_id": "...", "client_secret": "...",
//!  "datasource_user": "...", "datasource_password": "..."}
//! ```
//!
//! `api_key` is the app's Consumer Key; `api_secret` (optional) is sent as
//! `X-Plex-Connect-Api-Secret`, which some tenants require. `client_id`/`client_secret` are the
//! OAuth2 client. `datasource_user`/`datasource_password` are the Data Source API's web-service
//! user (HTTP Basic), for the calls that need it.

use millwright_http::secret::{FieldError, SecretFields};
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::Error;

/// A connection's Plex credentials. `Debug` shows `[REDACTED]` for every secret.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub(crate) api_key: Option<SecretString>,
    pub(crate) api_secret: Option<SecretString>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<SecretString>,
    datasource_user: Option<String>,
    datasource_password: Option<SecretString>,
}

impl Credentials {
    /// Reads the secret document. It must hold an `api_key`, or a `client_id` with its
    /// `client_secret`; which one is used is the connection profile's choice
    /// ([`PlexClient::new`](crate::PlexClient::new) checks that the chosen one is there).
    pub fn from_secret_json(document: &SecretString) -> Result<Credentials, Error> {
        let fields = SecretFields::parse(document).map_err(credentials_error)?;
        let credentials = Credentials {
            api_key: header_safe(&fields, "api_key")?,
            api_secret: header_safe(&fields, "api_secret")?,
            client_id: fields.optional_text("client_id").map_err(credentials_error)?,
            client_secret: fields.optional("client_secret").map_err(credentials_error)?,
            datasource_user: fields.optional_text("datasource_user").map_err(credentials_error)?,
            datasource_password: fields.optional("datasource_password").map_err(credentials_error)?,
        };
        if credentials.client_id.is_some() && credentials.client_secret.is_none() {
            return Err(missing("client_secret", "is missing (client_id is set)"));
        }
        if credentials.api_key.is_none() && credentials.client_id.is_none() {
            return Err(missing("api_key", "is missing (or give client_id and client_secret for OAuth2)"));
        }
        if credentials.datasource_user.is_some() != credentials.datasource_password.is_some() {
            let field = if credentials.datasource_user.is_some() { "datasource_password" } else { "datasource_user" };
            return Err(missing(field, "is missing (the Data Source login needs both)"));
        }
        Ok(credentials)
    }

    /// The Data Source API's web-service user and password, when the secret has them.
    pub fn datasource_login(&self) -> Option<(&str, &SecretString)> {
        self.datasource_user.as_deref().zip(self.datasource_password.as_ref())
    }
}

fn credentials_error(error: FieldError) -> Error {
    Error::Credentials { field: error.field, reason: error.reason }
}

pub(crate) fn missing(field: &'static str, reason: &str) -> Error {
    Error::Credentials { field, reason: reason.to_owned() }
}

/// A secret that is sent as a header value as is, so it must be one.
fn header_safe(fields: &SecretFields, field: &'static str) -> Result<Option<SecretString>, Error> {
    let value = fields.optional(field).map_err(credentials_error)?;
    if value.as_ref().is_some_and(|value| HeaderValue::from_str(value.expose_secret()).is_err()) {
        return Err(missing(field, "has characters an HTTP header cannot carry"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use domain::ErrorClass;

    use super::*;

    fn parse(text: &str) -> Result<Credentials, Error> {
        Credentials::from_secret_json(&SecretString::from(text.to_owned()))
    }

    fn field_of(error: &Error) -> &'static str {
        match error {
            Error::Credentials { field, .. } => field,
            other => panic!("expected a credentials error, got {other:?}"),
        }
    }

    #[test]
    fn an_api_key_alone_is_enough() {
        let credentials = parse(r#"{"api_key":"key-1"}"#).expect("valid");
        assert_eq!(credentials.api_key.as_ref().map(ExposeSecret::expose_secret), Some("key-1"));
        assert!(credentials.datasource_login().is_none());
    }

    #[test]
    fn oauth_client_credentials_and_a_datasource_login_are_read() {
        let credentials =
            parse(r#"{"client_id":"cid","client_secret":"cs-9","datasource_user":"ws","datasource_password":"pw-7"}"#)
                .expect("valid");
        assert_eq!(credentials.client_id.as_deref(), Some("cid"));
        let (user, password) = credentials.datasource_login().expect("a login");
        assert_eq!((user, password.expose_secret()), ("ws", "pw-7"));
    }

    #[test]
    fn missing_fields_are_named() {
        assert_eq!(field_of(&parse("{}").expect_err("empty")), "api_key");
        assert_eq!(field_of(&parse(r#"{"client_id":"cid"}"#).expect_err("no secret")), "client_secret");
        assert_eq!(
            field_of(&parse(r#"{"api_key":"k","datasource_user":"ws"}"#).expect_err("no password")),
            "datasource_password"
        );
        assert_eq!(parse("{}").expect_err("empty").class(), ErrorClass::Auth);
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let credentials = parse(r#"{"api_key":"key-1","api_secret":"sec-2","client_id":"cid","client_secret":"cs-3"}"#)
            .expect("valid");
        let debug = format!("{credentials:?}");
        for secret in ["key-1", "sec-2", "cs-3"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}
