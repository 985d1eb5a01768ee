//! Authenticating a BigCommerce webhook delivery, over its raw body bytes and before anything
//! parses it (BigCommerce notes §5.2).
//!
//! A connection's profile lists one or more [`WebhookAuth`] modes and every listed mode must pass:
//!
//! | mode | header(s) | check | key |
//! |---|---|---|---|
//! | `standard_webhooks` | `webhook-id`, `webhook-timestamp`, `webhook-signature` | HMAC-SHA256 over `{id}.{timestamp}.{body}`, any `v1,<base64>` entry, timestamp within ± tolerance | raw bytes of `client_secret` |
//! | `custom_header` | the configured header | equals the shared value | `webhook_secret` |
//! | `x_bc_signature` | `X-BC-Signature` | HMAC-SHA256 over the body, hex (either case) or base64 | raw bytes of `client_secret` |
//!
//! Every comparison is constant-time: MACs through [`Mac::verify_slice`], the shared header value
//! through [`subtle`] on SHA-256 digests (so not even the secret's length leaks). Rejections name
//! the header and what is wrong with it, never a header's value or a secret.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use domain::connection::WebhookAuth;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Standard Webhooks headers (https://www.standardwebhooks.com, "Signature scheme").
pub const WEBHOOK_ID: &str = "webhook-id";
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// The header of the `x_bc_signature` mode.
pub const X_BC_SIGNATURE: &str = "X-BC-Signature";

/// The secret fields a delivery is checked against (the connection's BigCommerce secret document).
/// A field is `None` when the document leaves it out; a mode that needs it then fails as a
/// configuration error rather than as the sender's fault.
#[derive(Debug, Default, Clone)]
pub struct WebhookSecrets {
    pub client_secret: Option<SecretString>,
    pub webhook_secret: Option<SecretString>,
}

/// The secret-document field each mode needs.
pub const CLIENT_SECRET: &str = "client_secret";
pub const WEBHOOK_SECRET: &str = "webhook_secret";

/// Why the sender's delivery was refused: the header at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{header} {problem}")]
pub struct Rejection {
    pub header: String,
    pub problem: String,
}

impl Rejection {
    fn new(header: &str, problem: impl Into<String>) -> Self {
        Rejection { header: header.to_owned(), problem: problem.into() }
    }
}

/// Why a delivery could not be authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The sender is at fault (401): a header is missing, malformed, stale or does not match.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The connection cannot authenticate anything until an operator fixes it (500, so the
    /// sender retries once it is fixed): a secret field an enabled mode needs is missing.
    #[error("the {mode} webhook authentication mode needs the secret field `{field}`, which is missing")]
    MissingSecret { mode: &'static str, field: &'static str },
    /// The profile itself is unusable: no mode at all, or a custom header name HTTP cannot carry.
    #[error("{0}")]
    Misconfigured(String),
}

/// Whether a mode looked at the delivery or stood aside (an optional mode whose headers are absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checked {
    Verified,
    Skipped,
}

/// Checks `body` and `headers` against every mode in `modes`; all must pass, and at least one must
/// actually have verified something.
///
/// The last rule closes a gap the modes leave open on their own: a profile whose only mode is an
/// optional Standard Webhooks check would otherwise accept a delivery that carries no
/// authentication at all. "Optional" means "checked when present, next to another mode".
pub fn verify(
    modes: &[WebhookAuth],
    secrets: &WebhookSecrets,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    if modes.is_empty() {
        return Err(AuthError::Misconfigured("the connection has no webhook authentication mode".to_owned()));
    }
    let mut verified = false;
    for mode in modes {
        let checked = match mode {
            WebhookAuth::StandardWebhooks { required, tolerance_seconds } => {
                standard_webhooks(secrets, headers, body, now, *required, *tolerance_seconds)?
            }
            WebhookAuth::CustomHeader { header } => custom_header(secrets, headers, header)?,
            WebhookAuth::XBcSignature => x_bc_signature(secrets, headers, body)?,
        };
        verified |= checked == Checked::Verified;
    }
    if !verified {
        return Err(Rejection::new(WEBHOOK_SIGNATURE, "is missing and no other authentication is configured").into());
    }
    Ok(())
}

/// The key of both signature modes: the raw bytes of the API account's client secret (BigCommerce's
/// samples base64-encode it only because the Standard Webhooks libraries decode their key).
fn client_secret<'s>(secrets: &'s WebhookSecrets, mode: &'static str) -> Result<&'s [u8], AuthError> {
    secrets
        .client_secret
        .as_ref()
        .map(|secret| secret.expose_secret().as_bytes())
        .ok_or(AuthError::MissingSecret { mode, field: CLIENT_SECRET })
}

/// A header as text: `None` when absent or blank, a rejection when it is not visible ASCII.
fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, Rejection> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => {
            let text = value.to_str().map_err(|_| Rejection::new(name, "is not valid header text"))?.trim();
            Ok((!text.is_empty()).then_some(text))
        }
    }
}

fn required_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, Rejection> {
    header(headers, name)?.ok_or_else(|| Rejection::new(name, "is missing"))
}

fn standard_webhooks(
    secrets: &WebhookSecrets,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    required: bool,
    tolerance_seconds: u32,
) -> Result<Checked, AuthError> {
    const MODE: &str = "standard_webhooks";
    let present = [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE].iter().any(|name| headers.contains_key(*name));
    if !present && !required {
        return Ok(Checked::Skipped);
    }
    let key = client_secret(secrets, MODE)?;
    let id = required_header(headers, WEBHOOK_ID)?;
    let timestamp = required_header(headers, WEBHOOK_TIMESTAMP)?;
    let signatures = required_header(headers, WEBHOOK_SIGNATURE)?;

    let timestamp: i64 =
        timestamp.parse().map_err(|_| Rejection::new(WEBHOOK_TIMESTAMP, "is not a unix timestamp in seconds"))?;
    // A replayed delivery keeps its old timestamp (it is part of what is signed), so the window
    // bounds how long a captured request stays usable.
    if now.timestamp().abs_diff(timestamp) > u64::from(tolerance_seconds) {
        return Err(Rejection::new(
            WEBHOOK_TIMESTAMP,
            format!("is outside the {tolerance_seconds} s tolerance of the receiver's clock"),
        )
        .into());
    }

    let mac = standard_webhooks_mac(key, id, timestamp, body)?;
    let mut saw_v1 = false;
    // Several entries appear while a secret is rotated (one per secret); any one matching passes.
    // Entries of other versions (e.g. `v1a`, asymmetric) are not ours to check.
    for entry in signatures.split_whitespace() {
        let Some(("v1", signature)) = entry.split_once(',') else { continue };
        saw_v1 = true;
        if let Ok(signature) = STANDARD.decode(signature)
            && mac.clone().verify_slice(&signature).is_ok()
        {
            return Ok(Checked::Verified);
        }
    }
    let problem = if saw_v1 { "does not match" } else { "has no v1 signature" };
    Err(Rejection::new(WEBHOOK_SIGNATURE, problem).into())
}

/// HMAC-SHA256 over `{id}.{timestamp}.{body}`. The timestamp is formatted back from its parsed
/// value, as the reference libraries do.
fn standard_webhooks_mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Result<HmacSha256, AuthError> {
    let mut mac = new_mac(key)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// HMAC takes keys of any length (long ones are hashed first), so the error is unreachable in
/// practice; it is still an error and not a panic, and it fails closed.
fn new_mac(key: &[u8]) -> Result<HmacSha256, AuthError> {
    HmacSha256::new_from_slice(key)
        .map_err(|_| AuthError::Misconfigured("the client secret cannot key HMAC-SHA256".to_owned()))
}

fn custom_header(secrets: &WebhookSecrets, headers: &HeaderMap, name: &str) -> Result<Checked, AuthError> {
    const MODE: &str = "custom_header";
    if HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(AuthError::Misconfigured(format!(
            "the custom_header mode names {name:?}, which is not a valid HTTP header name"
        )));
    }
    let expected =
        secrets.webhook_secret.as_ref().ok_or(AuthError::MissingSecret { mode: MODE, field: WEBHOOK_SECRET })?;
    let provided = required_header(headers, name)?;
    // Comparing digests rather than the values themselves keeps the comparison's time
    // independent of both the content and the length of the secret.
    let provided = Sha256::digest(provided.as_bytes());
    let expected = Sha256::digest(expected.expose_secret().trim().as_bytes());
    if bool::from(provided.ct_eq(&expected)) {
        Ok(Checked::Verified)
    } else {
        Err(Rejection::new(name, "does not match").into())
    }
}

fn x_bc_signature(secrets: &WebhookSecrets, headers: &HeaderMap, body: &[u8]) -> Result<Checked, AuthError> {
    const MODE: &str = "x_bc_signature";
    let key = client_secret(secrets, MODE)?;
    let signature = required_header(headers, X_BC_SIGNATURE)?;
    let signature =
        decode_digest(signature).ok_or_else(|| Rejection::new(X_BC_SIGNATURE, "is neither hex nor base64"))?;
    let mut mac = new_mac(key)?;
    mac.update(body);
    mac.verify_slice(&signature).map_err(|_| Rejection::new(X_BC_SIGNATURE, "does not match"))?;
    Ok(Checked::Verified)
}

/// The encoding of `X-BC-Signature` is not specified anywhere, so both common ones are accepted:
/// 64 hex digits (either case), or base64 (standard or URL-safe, padded or not).
fn decode_digest(value: &str) -> Option<Vec<u8>> {
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(value).ok();
    }
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().find_map(|engine| engine.decode(value).ok())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const CLIENT: &str = "client-secret-for-tests";
    const SHARED: &str = "shared-header-secret";
    const BODY: &[u8] = br#"{"scope":"store/order/created","data":{"type":"order","id":250}}"#;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000, 0).unwrap()
    }

    fn secrets() -> WebhookSecrets {
        WebhookSecrets { client_secret: Some(CLIENT.into()), webhook_secret: Some(SHARED.into()) }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    /// Signs independently of the code under test: the `hmac` crate's one-shot API over the
    /// concatenated content the specification describes.
    fn sign(key: &[u8], content: &[u8]) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(key).unwrap();
        mac.update(content);
        mac.finalize().into_bytes().to_vec()
    }

    fn standard_signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
        let content = [format!("{id}.{timestamp}.").as_bytes(), body].concat();
        format!("v1,{}", STANDARD.encode(sign(key, &content)))
    }

    fn standard(required: bool) -> Vec<WebhookAuth> {
        vec![WebhookAuth::StandardWebhooks { required, tolerance_seconds: 300 }]
    }

    fn standard_headers(id: &str, timestamp: i64, signature: &str) -> HeaderMap {
        headers(&[(WEBHOOK_ID, id), (WEBHOOK_TIMESTAMP, &timestamp.to_string()), (WEBHOOK_SIGNATURE, signature)])
    }

    fn rejected(result: Result<(), AuthError>) -> String {
        match result {
            Err(AuthError::Rejected(rejection)) => rejection.to_string(),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn the_standard_webhooks_published_test_vector_verifies() {
        // The specification's own example (standard-webhooks test suites): key is the base64
        // part of `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`, decoded.
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let mac =
            standard_webhooks_mac(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, br#"{"test": 2432232314}"#)
                .unwrap();
        let expected = STANDARD.decode("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=").unwrap();
        assert!(mac.verify_slice(&expected).is_ok());
    }

    #[test]
    fn a_standard_webhooks_delivery_signed_with_the_client_secret_passes() {
        let timestamp = now().timestamp();
        let signature = standard_signature(CLIENT.as_bytes(), "msg_1", timestamp, BODY);
        let headers = standard_headers("msg_1", timestamp, &signature);
        assert_eq!(verify(&standard(true), &secrets(), &headers, BODY, now()), Ok(()));
    }

    #[test]
    fn a_standard_webhooks_signature_over_another_body_does_not_match() {
        let timestamp = now().timestamp();
        let signature = standard_signature(CLIENT.as_bytes(), "msg_1", timestamp, b"{}");
        let headers = standard_headers("msg_1", timestamp, &signature);
        assert_eq!(
            rejected(verify(&standard(true), &secrets(), &headers, BODY, now())),
            "webhook-signature does not match"
        );
    }

    #[test]
    fn a_standard_webhooks_signature_made_with_another_key_does_not_match() {
        let timestamp = now().timestamp();
        let signature = standard_signature(b"someone-else", "msg_1", timestamp, BODY);
        let headers = standard_headers("msg_1", timestamp, &signature);
        assert_eq!(
            rejected(verify(&standard(true), &secrets(), &headers, BODY, now())),
            "webhook-signature does not match"
        );
    }

    #[test]
    fn a_stale_or_future_standard_webhooks_timestamp_is_refused_even_when_correctly_signed() {
        for offset in [-301, 301] {
            let timestamp = now().timestamp() + offset;
            let signature = standard_signature(CLIENT.as_bytes(), "msg_1", timestamp, BODY);
            let headers = standard_headers("msg_1", timestamp, &signature);
            assert_eq!(
                rejected(verify(&standard(true), &secrets(), &headers, BODY, now())),
                "webhook-timestamp is outside the 300 s tolerance of the receiver's clock",
                "offset {offset}"
            );
        }
        // The edge of the window is still inside it.
        let timestamp = now().timestamp() - 300;
        let signature = standard_signature(CLIENT.as_bytes(), "msg_1", timestamp, BODY);
        assert_eq!(
            verify(&standard(true), &secrets(), &standard_headers("msg_1", timestamp, &signature), BODY, now()),
            Ok(())
        );
    }

    #[test]
    fn during_a_secret_rotation_any_one_of_several_signatures_passes() {
        let timestamp = now().timestamp();
        let old = standard_signature(b"the-previous-client-secret", "msg_1", timestamp, BODY);
        let new = standard_signature(CLIENT.as_bytes(), "msg_1", timestamp, BODY);
        for list in [format!("{old} {new}"), format!("{new} {old}"), format!("v1a,AAAA {old}  {new}")] {
            let headers = standard_headers("msg_1", timestamp, &list);
            assert_eq!(verify(&standard(true), &secrets(), &headers, BODY, now()), Ok(()), "{list}");
        }
    }

    #[test]
    fn a_signature_list_without_a_v1_entry_is_named_as_such() {
        let headers = standard_headers("msg_1", now().timestamp(), "v1a,AAAA v2,BBBB");
        assert_eq!(
            rejected(verify(&standard(true), &secrets(), &headers, BODY, now())),
            "webhook-signature has no v1 signature"
        );
    }

    #[test]
    fn required_standard_webhooks_headers_that_are_absent_are_named() {
        assert_eq!(
            rejected(verify(&standard(true), &secrets(), &HeaderMap::new(), BODY, now())),
            "webhook-id is missing"
        );
        let partial = headers(&[(WEBHOOK_ID, "msg_1"), (WEBHOOK_TIMESTAMP, "1764000000")]);
        assert_eq!(
            rejected(verify(&standard(false), &secrets(), &partial, BODY, now())),
            "webhook-signature is missing"
        );
        let not_a_number =
            headers(&[(WEBHOOK_ID, "msg_1"), (WEBHOOK_TIMESTAMP, "yesterday"), (WEBHOOK_SIGNATURE, "v1,x")]);
        assert_eq!(
            rejected(verify(&standard(true), &secrets(), &not_a_number, BODY, now())),
            "webhook-timestamp is not a unix timestamp in seconds"
        );
    }

    #[test]
    fn optional_standard_webhooks_stands_aside_when_its_headers_are_absent_but_not_when_they_are_wrong() {
        let modes = vec![
            WebhookAuth::StandardWebhooks { required: false, tolerance_seconds: 300 },
            WebhookAuth::CustomHeader { header: "X-Millwright-Auth".into() },
        ];
        let only_custom = headers(&[("X-Millwright-Auth", SHARED)]);
        assert_eq!(verify(&modes, &secrets(), &only_custom, BODY, now()), Ok(()));

        let mut wrong = standard_headers("msg_1", now().timestamp(), "v1,AAAA");
        wrong.insert("x-millwright-auth", HeaderValue::from_static(SHARED));
        assert_eq!(rejected(verify(&modes, &secrets(), &wrong, BODY, now())), "webhook-signature does not match");
    }

    #[test]
    fn an_optional_mode_alone_does_not_let_an_unauthenticated_delivery_through() {
        assert_eq!(
            rejected(verify(&standard(false), &secrets(), &HeaderMap::new(), BODY, now())),
            "webhook-signature is missing and no other authentication is configured"
        );
    }

    #[test]
    fn the_custom_header_must_equal_the_webhook_secret() {
        let modes = vec![WebhookAuth::CustomHeader { header: "X-Millwright-Auth".into() }];
        // Header names are case-insensitive on the wire.
        assert_eq!(verify(&modes, &secrets(), &headers(&[("x-millwright-auth", SHARED)]), BODY, now()), Ok(()));
        assert_eq!(
            rejected(verify(
                &modes,
                &secrets(),
                &headers(&[("X-Millwright-Auth", "shared-header-secreT")]),
                BODY,
                now()
            )),
            "X-Millwright-Auth does not match"
        );
        assert_eq!(
            rejected(verify(&modes, &secrets(), &headers(&[("X-Millwright-Auth", "shared")]), BODY, now())),
            "X-Millwright-Auth does not match"
        );
        assert_eq!(
            rejected(verify(&modes, &secrets(), &HeaderMap::new(), BODY, now())),
            "X-Millwright-Auth is missing"
        );
    }

    #[test]
    fn x_bc_signature_is_accepted_as_lowercase_hex_uppercase_hex_or_base64() {
        let digest = sign(CLIENT.as_bytes(), BODY);
        let modes = vec![WebhookAuth::XBcSignature];
        for encoded in [
            hex::encode(&digest),
            hex::encode_upper(&digest),
            STANDARD.encode(&digest),
            STANDARD_NO_PAD.encode(&digest),
            URL_SAFE.encode(&digest),
        ] {
            let headers = headers(&[(X_BC_SIGNATURE, &encoded)]);
            assert_eq!(verify(&modes, &secrets(), &headers, BODY, now()), Ok(()), "{encoded}");
        }
    }

    #[test]
    fn x_bc_signature_over_another_body_or_in_no_known_encoding_is_refused() {
        let modes = vec![WebhookAuth::XBcSignature];
        let forged = hex::encode(sign(CLIENT.as_bytes(), b"{}"));
        assert_eq!(
            rejected(verify(&modes, &secrets(), &headers(&[(X_BC_SIGNATURE, &forged)]), BODY, now())),
            "X-BC-Signature does not match"
        );
        assert_eq!(
            rejected(verify(&modes, &secrets(), &headers(&[(X_BC_SIGNATURE, "not*an*encoding")]), BODY, now())),
            "X-BC-Signature is neither hex nor base64"
        );
        assert_eq!(rejected(verify(&modes, &secrets(), &HeaderMap::new(), BODY, now())), "X-BC-Signature is missing");
    }

    #[test]
    fn every_enabled_mode_must_pass() {
        let modes = vec![WebhookAuth::CustomHeader { header: "X-Millwright-Auth".into() }, WebhookAuth::XBcSignature];
        let signature = hex::encode(sign(CLIENT.as_bytes(), BODY));
        let both = headers(&[("X-Millwright-Auth", SHARED), (X_BC_SIGNATURE, &signature)]);
        assert_eq!(verify(&modes, &secrets(), &both, BODY, now()), Ok(()));
        let only_header = headers(&[("X-Millwright-Auth", SHARED)]);
        assert_eq!(rejected(verify(&modes, &secrets(), &only_header, BODY, now())), "X-BC-Signature is missing");
    }

    #[test]
    fn a_mode_whose_secret_field_is_missing_is_a_configuration_error_naming_the_field() {
        let no_fields = WebhookSecrets::default();
        let custom = vec![WebhookAuth::CustomHeader { header: "X-Millwright-Auth".into() }];
        assert_eq!(
            verify(&custom, &no_fields, &headers(&[("X-Millwright-Auth", SHARED)]), BODY, now()),
            Err(AuthError::MissingSecret { mode: "custom_header", field: "webhook_secret" })
        );
        assert_eq!(
            verify(&[WebhookAuth::XBcSignature], &no_fields, &HeaderMap::new(), BODY, now()),
            Err(AuthError::MissingSecret { mode: "x_bc_signature", field: "client_secret" })
        );
        assert_eq!(
            verify(&standard(true), &no_fields, &HeaderMap::new(), BODY, now()),
            Err(AuthError::MissingSecret { mode: "standard_webhooks", field: "client_secret" })
        );
    }

    #[test]
    fn a_profile_without_modes_or_with_an_unusable_header_name_authenticates_nothing() {
        assert!(matches!(verify(&[], &secrets(), &HeaderMap::new(), BODY, now()), Err(AuthError::Misconfigured(_))));
        let bad = vec![WebhookAuth::CustomHeader { header: "X Millwright Auth".into() }];
        assert!(matches!(verify(&bad, &secrets(), &HeaderMap::new(), BODY, now()), Err(AuthError::Misconfigured(_))));
    }

    #[test]
    fn rejections_never_quote_a_header_value_or_a_secret() {
        let modes = vec![WebhookAuth::CustomHeader { header: "X-Millwright-Auth".into() }];
        let message =
            rejected(verify(&modes, &secrets(), &headers(&[("X-Millwright-Auth", "guess-123")]), BODY, now()));
        assert!(!message.contains("guess-123") && !message.contains(SHARED), "{message}");
    }
}
