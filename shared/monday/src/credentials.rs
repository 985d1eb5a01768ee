//! The monday.com secret document: `{"api_token": "...", "signing_secret": "..."}`. The token is
//! a personal (V2) or OAuth app token; the signing secret verifies the JWT on monday's webhook
//! calls and is optional until a board webhook is configured.

use millwright_http::secret::{FieldError, SecretFields};
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::Error;

/// A monday.com account's credentials. `Debug` shows `[REDACTED]` for every secret.
#[derive(Debug, Clone)]
pub struct Credentials {
    api_token: SecretString,
    signing_secret: Option<SecretString>,
}

impl Credentials {
    /// Credentials with only an API token (enough for API calls).
    pub fn new(api_token: SecretString) -> Credentials {
        Credentials { api_token, signing_secret: None }
    }

    /// Reads the secret document; `api_token` is required.
    pub fn from_secret_json(document: &SecretString) -> Result<Credentials, Error> {
        let fields = SecretFields::parse(document).map_err(credentials_error)?;
        let api_token = fields.required("api_token").map_err(credentials_error)?;
        if HeaderValue::from_str(api_token.expose_secret()).is_err() {
            return Err(Error::Credentials {
                field: "api_token",
                reason: "has characters an HTTP header cannot carry".to_owned(),
            });
        }
        Ok(Credentials { api_token, signing_secret: fields.optional("signing_secret").map_err(credentials_error)? })
    }

    pub(crate) fn api_token(&self) -> &SecretString {
        &self.api_token
    }

    /// The app's signing secret, for verifying webhook JWTs.
    pub fn signing_secret(&self) -> Option<&SecretString> {
        self.signing_secret.as_ref()
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
    fn the_token_and_signing_secret_are_read() {
        let credentials = parse(r#"{"api_token":"tok-1","signing_secret":"sig-2"}"#).expect("valid");
        assert_eq!(credentials.api_token().expose_secret(), "tok-1");
        assert_eq!(credentials.signing_secret().map(ExposeSecret::expose_secret), Some("sig-2"));
    }

    #[test]
    fn the_api_token_is_required_and_the_error_names_it() {
        let error = parse(r#"{"signing_secret":"sig-2"}"#).expect_err("no token");
        assert!(matches!(error, Error::Credentials { field: "api_token", .. }), "{error:?}");
        assert_eq!(error.class(), ErrorClass::Auth);
        assert!(!format!("{error} {error:?}").contains("sig-2"));
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let credentials = parse(r#"{"api_token":"tok-1","signing_secret":"sig-2"}"#).expect("valid");
        let debug = format!("{credentials:?}");
        assert!(!debug.contains("tok-1") && !debug.contains("sig-2"), "{debug}");
    }
}
