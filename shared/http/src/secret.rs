//! Reading credential fields out of a secret's JSON document (`{prefix}/{connection}/{system}` in
//! Secrets Manager), for the three API crates.
//!
//! Errors name the field and what is wrong with it, never its value: serde's own messages quote
//! the offending value (`invalid type: integer 12345, expected a string`), which for a secret
//! document could be the secret itself, so fields are checked here by hand.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

/// What is wrong with one field (or, with [`DOCUMENT`], the whole document).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {reason}")]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

/// The `field` of a [`FieldError`] about the document as a whole.
pub const DOCUMENT: &str = "(secret document)";

/// The parsed top-level object of a secret document.
pub struct SecretFields {
    fields: Map<String, Value>,
}

impl SecretFields {
    /// Parses the document; it must be a JSON object.
    pub fn parse(document: &SecretString) -> Result<SecretFields, FieldError> {
        match serde_json::from_str::<Value>(document.expose_secret()) {
            Ok(Value::Object(fields)) => Ok(SecretFields { fields }),
            Ok(_) => Err(FieldError { field: DOCUMENT, reason: "is not a JSON object".to_owned() }),
            // Line and column only: the message itself may quote part of the document.
            Err(error) => Err(FieldError {
                field: DOCUMENT,
                reason: format!("is not valid JSON (line {}, column {})", error.line(), error.column()),
            }),
        }
    }

    /// A field that must be present as a non-empty string.
    pub fn required(&self, field: &'static str) -> Result<SecretString, FieldError> {
        self.optional(field)?.ok_or_else(|| FieldError { field, reason: "is missing".to_owned() })
    }

    /// A field that may be absent, `null` or empty (all three mean "not configured").
    pub fn optional(&self, field: &'static str) -> Result<Option<SecretString>, FieldError> {
        Ok(self.optional_text(field)?.map(SecretString::from))
    }

    /// A field that is not itself a secret (a client id, a user name), as plain text.
    pub fn optional_text(&self, field: &'static str) -> Result<Option<String>, FieldError> {
        match self.fields.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.trim().to_owned())),
            Some(_) => Err(FieldError { field, reason: "must be a string".to_owned() }),
        }
    }
}

/// Lists the field names only.
impl fmt::Debug for SecretFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretFields").field("names", &self.fields.keys().collect::<Vec<_>>()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SecretFields, FieldError> {
        SecretFields::parse(&SecretString::from(text.to_owned()))
    }

    #[test]
    fn fields_are_read_trimmed_and_empty_means_absent() {
        let fields = parse(r#"{"token":" s3cret ","empty":"","nothing":null,"user":"ws"}"#).expect("parsed");
        assert_eq!(fields.required("token").expect("token").expose_secret(), "s3cret");
        assert!(fields.optional("empty").expect("empty").is_none());
        assert!(fields.optional("nothing").expect("null").is_none());
        assert!(fields.optional("absent").expect("absent").is_none());
        assert_eq!(fields.optional_text("user").expect("user").as_deref(), Some("ws"));
    }

    #[test]
    fn errors_name_the_field_but_never_echo_a_value() {
        let fields = parse(r#"{"token":123456789,"blank":"  "}"#).expect("parsed");
        let wrong_type = fields.required("token").expect_err("a number");
        assert_eq!(wrong_type.to_string(), "`token` must be a string");
        assert!(!format!("{wrong_type:?}").contains("123456789"));
        assert_eq!(fields.required("blank").expect_err("blank").to_string(), "`blank` is missing");
        assert!(!format!("{fields:?}").contains("123456789"), "Debug lists names only");
    }

    #[test]
    fn a_document_that_is_not_a_json_object_is_refused_without_quoting_it() {
        let broken = parse(r#"{"token": "hunter2"#).expect_err("unterminated");
        assert_eq!(broken.field, DOCUMENT);
        assert!(!broken.to_string().contains("hunter2"), "{broken}");
        assert_eq!(parse(r#""hunter2""#).expect_err("a string").reason, "is not a JSON object");
    }
}
