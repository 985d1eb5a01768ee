//! The BigCommerce secret document: `{"access_token": "...", "client_secret": "...",
//! "webhook_secret": "..."}`. Only `access_token` is needed to call the API; the client secret
//! signs `X-BC-Signature` and Standard Webhooks deliveries, and the webhook secret is the shared
//! value of a custom webhook header (DESIGN.md, connection profile `webhook_auth`).

use millwright_http::secret::{FieldError, SecretFields};
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::Error;

/// An API account's credentials. `Debug` shows `[REDACTED]` for every secret.
#[derive(Debug, Clone)]
pub struct Credentials {
    access_token: SecretString,
    client_secret: Option<SecretString>,
    webhook_secret: Option<SecretString>,
}

impl Credentials {
    /// Credentials with only an access token (enough for API calls).
    pub fn new(access_token: SecretString) -> Credentials {
        Credentials { access_token, client_secret: None, webhook_secret: None }
    }

    /// Reads the secret document; `access_token` is required, the others optional.
    pub fn from_secret_json(document: &SecretString) -> Result<Credentials, Error> {
        let fields = SecretFields::parse(document).map_err(credentials_error)?;
        let access_token = fields.required("access_token").map_err(credentials_error)?;
        if HeaderValue::from_str(access_token.expose_secret()).is_err() {
            return Err(Error::Credentials {
                field: "access_token",
                reason: "has characters an HTTP header cannot carry".to_owned(),
            });
        }
        Ok(Credentials {
            access_token,
            client_secret: fields.optional("client_secret").map_err(credentials_error)?,
            webhook_secret: fields.optional("webhook_secret").map_err(credentials_error)?,
        })
    }

    pub(crate) fn access_token(&self) -> &SecretString {
        &self.access_token
    }

    /// The API account's client secret: the key of webhook signatures.
    pub fn client_secret(&self) -> Option<&SecretString> {
        self.client_secret.as_ref()
    }

    /// The shared secret of the custom webhook header.
    pub fn webhook_secret(&self) -> Option<&SecretString> {
        self.webhook_secret.as_ref()
    }
}

fn credentials_error(error: FieldError) -> Error {
    Error::Credentials { field: error.field, reason: error.reason }
}

#[cfg(test)]
mod tests {
    use domain::ErrorClass;

    use super::*;

    fn parse(text: &str) -> Result<Credentials, Error> {
        Credentials::from_secret_json(&SecretString::from(text.to_owned()))
    }

    #[test]
    fn a_secret_with_all_fields_is_read() {
        let credentials =
            parse(r#"{"access_token":"tok-123","client_secret":"cs-456","webhook_secret":"wh-789"}"#).expect("valid");
        assert_eq!(credentials.access_token().expose_secret(), "tok-123");
        assert_eq!(credentials.client_secret().map(ExposeSecret::expose_secret), Some("cs-456"));
        assert_eq!(credentials.webhook_secret().map(ExposeSecret::expose_secret), Some("wh-789"));
    }

    #[test]
    fn the_access_token_is_required_and_the_error_names_it() {
        let error = parse(r#"{"client_secret":"cs-456"}"#).expect_err("no token");
        assert!(matches!(error, Error::Credentials { field: "access_token", .. }), "{error:?}");
        assert_eq!(error.class(), ErrorClass::Auth);
        assert_eq!(error.to_string(), "BigCommerce credentials: `access_token` is missing");
        assert!(!format!("{error:?}").contains("cs-456"));
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_refused() {
        let error = parse("{\"access_token\":\"tok\\n123\"}").expect_err("a newline");
        assert!(matches!(error, Error::Credentials { field: "access_token", .. }), "{error:?}");
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let credentials = parse(r#"{"access_token":"tok-123","client_secret":"cs-456"}"#).expect("valid");
        let debug = format!("{credentials:?}");
        assert!(!debug.contains("tok-123") && !debug.contains("cs-456"), "{debug}");
    }
}
