//! The webhook callback stub BigCommerce sends (BigCommerce notes §5.1), parsed after the delivery
//! was authenticated.
//!
//! ```json
//! {"scope": "store/order/created", "store_id": "1025646", "data": {"type": "order", "id": 250},
//!  "hash": "dd70c0976e06b67aaf671e73f49dcb79230ebf9d", "created_at": 1561479335,
//!  "producer": "stores/{store_hash}"}
//! ```
//!
//! The stub is only a pointer: the order worker re-reads the order through the API, so nothing here
//! is trusted beyond `data.id`. Fields are read by hand from a `serde_json::Value` so that every
//! error names the field by its path (`missing field data.id`), and so that the documented
//! variations are accepted: `store_id` as a string or (in older docs) a number, ids as numbers or
//! numeric strings.

use serde_json::{Map, Value, json};

/// The scopes that queue an order; every other scope is acknowledged and skipped.
pub const ORDER_SCOPES: [&str; 2] = ["store/order/created", "store/order/updated"];

/// `hash` is a SHA-1 in hex in practice; it is kept in audit details, so only a bounded
/// alphanumeric value is accepted.
const MAX_HASH_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookStub {
    pub scope: String,
    pub store_id: String,
    pub data_type: String,
    /// Absent for scopes whose `data` carries no id; numeric for order scopes (see [`Self::order_id`]).
    pub data_id: Option<DataId>,
    /// BigCommerce's SHA-1 of `data` (`{"type":"order","id":N}`): the same for every event of one
    /// order, so it identifies no delivery (and, not keyed, authenticates nothing). Only the
    /// `webhook-id` header tells deliveries apart (see the handler).
    pub hash: String,
    /// Unix seconds.
    pub created_at: i64,
    /// `stores/{store_hash}`.
    pub producer: String,
}

/// `data.id`: orders, products and customers use numbers; carts use UUID strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataId {
    Number(u64),
    Text(String),
}

/// What is wrong with a body; names the field, never quotes the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StubError {
    #[error("body is not valid JSON (line {line}, column {column})")]
    NotJson { line: usize, column: usize },
    #[error("body is not a JSON object")]
    NotObject,
    #[error("missing field {0}")]
    Missing(&'static str),
    #[error("invalid field {field}: expected {expected}")]
    Invalid { field: &'static str, expected: &'static str },
}

impl WebhookStub {
    pub fn parse(body: &[u8]) -> Result<WebhookStub, StubError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|error| StubError::NotJson { line: error.line(), column: error.column() })?;
        let Value::Object(root) = value else { return Err(StubError::NotObject) };
        let data = match root.get("data") {
            None | Some(Value::Null) => return Err(StubError::Missing("data")),
            Some(Value::Object(data)) => data,
            Some(_) => return Err(StubError::Invalid { field: "data", expected: "an object" }),
        };
        let hash = text(&root, "hash")?;
        if hash.len() > MAX_HASH_LEN || !hash.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StubError::Invalid { field: "hash", expected: "at most 128 letters and digits" });
        }
        Ok(WebhookStub {
            scope: text(&root, "scope")?,
            store_id: text_or_number(&root, "store_id")?,
            data_type: text(data, "data.type")?,
            data_id: data_id(data)?,
            hash,
            created_at: integer(&root, "created_at")?,
            producer: text(&root, "producer")?,
        })
    }

    /// Whether this scope queues the order (created and updated).
    pub fn is_order_scope(&self) -> bool {
        ORDER_SCOPES.contains(&self.scope.as_str())
    }

    /// Whether this is a stock event (`domain::hooks::is_inventory_scope`), which is acknowledged
    /// and nothing more.
    pub fn is_inventory_scope(&self) -> bool {
        domain::hooks::is_inventory_scope(&self.scope)
    }

    /// The BigCommerce order id of an order event: `data.type` must be `order` and `data.id` a
    /// positive whole number (or a string of digits).
    pub fn order_id(&self) -> Result<u64, StubError> {
        if self.data_type != "order" {
            return Err(StubError::Invalid { field: "data.type", expected: "\"order\" for an order scope" });
        }
        match &self.data_id {
            None => Err(StubError::Missing("data.id")),
            Some(DataId::Number(id)) if *id > 0 => Ok(*id),
            Some(DataId::Text(text)) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                text.parse().ok().filter(|id| *id > 0).ok_or(INVALID_ORDER_ID)
            }
            Some(_) => Err(INVALID_ORDER_ID),
        }
    }

    /// The stub as audit detail: every field is a pointer or a timestamp, none is a secret.
    pub fn to_detail(&self) -> Value {
        let id = match &self.data_id {
            Some(DataId::Number(id)) => json!(id),
            Some(DataId::Text(text)) => json!(text),
            None => Value::Null,
        };
        json!({
            "scope": self.scope,
            "store_id": self.store_id,
            "data": {"type": self.data_type, "id": id},
            "hash": self.hash,
            "created_at": self.created_at,
            "producer": self.producer,
        })
    }
}

const INVALID_ORDER_ID: StubError = StubError::Invalid { field: "data.id", expected: "a positive order number" };

/// The last segment of a dotted field path: the key inside its object.
fn key(field: &'static str) -> &'static str {
    field.rsplit('.').next().unwrap_or(field)
}

fn present<'v>(object: &'v Map<String, Value>, field: &'static str) -> Result<&'v Value, StubError> {
    match object.get(key(field)) {
        None | Some(Value::Null) => Err(StubError::Missing(field)),
        Some(value) => Ok(value),
    }
}

fn text(object: &Map<String, Value>, field: &'static str) -> Result<String, StubError> {
    match present(object, field)? {
        Value::String(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        Value::String(_) => Err(StubError::Missing(field)),
        _ => Err(StubError::Invalid { field, expected: "a string" }),
    }
}

fn text_or_number(object: &Map<String, Value>, field: &'static str) -> Result<String, StubError> {
    match present(object, field)? {
        Value::String(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        Value::String(_) => Err(StubError::Missing(field)),
        Value::Number(number) if number.is_u64() => Ok(number.to_string()),
        _ => Err(StubError::Invalid { field, expected: "a string or a whole number" }),
    }
}

fn integer(object: &Map<String, Value>, field: &'static str) -> Result<i64, StubError> {
    let invalid = StubError::Invalid { field, expected: "a whole number of seconds" };
    match present(object, field)? {
        Value::Number(number) => number.as_i64().ok_or(invalid),
        Value::String(text) => text.trim().parse().map_err(|_| invalid),
        _ => Err(invalid),
    }
}

fn data_id(data: &Map<String, Value>) -> Result<Option<DataId>, StubError> {
    match data.get("id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number.as_u64().map(|id| Some(DataId::Number(id))).ok_or(INVALID_ORDER_ID),
        Some(Value::String(text)) => Ok(Some(DataId::Text(text.trim().to_owned()))),
        Some(_) => Err(StubError::Invalid { field: "data.id", expected: "a number or a string" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap()
    }

    fn documented() -> Value {
        json!({
            "scope": "store/order/created",
            "store_id": "1025646",
            "data": {"type": "order", "id": 250},
            "hash": "dd70c0976e06b67aaf671e73f49dcb79230ebf9d",
            "created_at": 1561479335,
            "producer": "stores/abc123"
        })
    }

    #[track_caller]
    fn check_error(mutate: impl FnOnce(&mut Value), expected: &str) {
        let mut value = documented();
        mutate(&mut value);
        let error = WebhookStub::parse(&body(value)).and_then(|stub| stub.order_id().map(|_| stub)).unwrap_err();
        assert_eq!(error.to_string(), expected);
    }

    #[test]
    fn the_documented_order_callback_parses() {
        let stub = WebhookStub::parse(&body(documented())).unwrap();
        assert_eq!(stub.scope, "store/order/created");
        assert_eq!(stub.store_id, "1025646");
        assert_eq!(stub.order_id(), Ok(250));
        assert_eq!(stub.hash, "dd70c0976e06b67aaf671e73f49dcb79230ebf9d");
        assert_eq!(stub.created_at, 1_561_479_335);
        assert_eq!(stub.producer, "stores/abc123");
        assert!(stub.is_order_scope());
    }

    #[test]
    fn store_id_may_be_a_number_as_older_docs_show() {
        let mut value = documented();
        value["store_id"] = json!(11111);
        assert_eq!(WebhookStub::parse(&body(value)).unwrap().store_id, "11111");
    }

    #[test]
    fn an_order_id_sent_as_a_numeric_string_is_read_as_the_number() {
        let mut value = documented();
        value["data"]["id"] = json!("1042");
        assert_eq!(WebhookStub::parse(&body(value)).unwrap().order_id(), Ok(1042));
    }

    #[test]
    fn missing_fields_are_named_by_their_path() {
        check_error(|v| drop(v.as_object_mut().unwrap().remove("scope")), "missing field scope");
        check_error(|v| drop(v.as_object_mut().unwrap().remove("store_id")), "missing field store_id");
        check_error(|v| drop(v.as_object_mut().unwrap().remove("data")), "missing field data");
        check_error(|v| drop(v["data"].as_object_mut().unwrap().remove("type")), "missing field data.type");
        check_error(|v| drop(v["data"].as_object_mut().unwrap().remove("id")), "missing field data.id");
        check_error(|v| drop(v.as_object_mut().unwrap().remove("hash")), "missing field hash");
        check_error(|v| drop(v.as_object_mut().unwrap().remove("created_at")), "missing field created_at");
        check_error(|v| drop(v.as_object_mut().unwrap().remove("producer")), "missing field producer");
        check_error(|v| v["producer"] = json!(""), "missing field producer");
    }

    #[test]
    fn fields_of_the_wrong_type_are_named_with_what_was_expected() {
        check_error(|v| v["scope"] = json!(7), "invalid field scope: expected a string");
        check_error(|v| v["store_id"] = json!(true), "invalid field store_id: expected a string or a whole number");
        check_error(|v| v["data"] = json!([1]), "invalid field data: expected an object");
        check_error(|v| v["data"]["id"] = json!("W-1"), "invalid field data.id: expected a positive order number");
        check_error(|v| v["data"]["id"] = json!(-3), "invalid field data.id: expected a positive order number");
        check_error(|v| v["data"]["id"] = json!(0), "invalid field data.id: expected a positive order number");
        check_error(|v| v["data"]["id"] = json!({"id": 1}), "invalid field data.id: expected a number or a string");
        check_error(
            |v| v["data"]["type"] = json!("product"),
            "invalid field data.type: expected \"order\" for an order scope",
        );
        check_error(|v| v["hash"] = json!("a b"), "invalid field hash: expected at most 128 letters and digits");
        check_error(|v| v["created_at"] = json!(1.5), "invalid field created_at: expected a whole number of seconds");
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_refused_without_being_quoted() {
        let error = WebhookStub::parse(br#"{"scope": "store/order/created", "hash": "sec"#).unwrap_err();
        assert_eq!(error, StubError::NotJson { line: 1, column: 45 });
        assert_eq!(error.to_string(), "body is not valid JSON (line 1, column 45)");
        assert_eq!(WebhookStub::parse(b"[1,2]").unwrap_err().to_string(), "body is not a JSON object");
        assert!(matches!(WebhookStub::parse(b"").unwrap_err(), StubError::NotJson { .. }));
    }

    #[test]
    fn other_scopes_parse_with_non_numeric_ids_and_are_not_order_scopes() {
        let mut value = documented();
        value["scope"] = json!("store/cart/created");
        value["data"] = json!({"type": "cart", "id": "09346904-4175-44fd-be53-f7e598531b6c"});
        let stub = WebhookStub::parse(&body(value)).unwrap();
        assert!(!stub.is_order_scope());
        assert_eq!(stub.data_id, Some(DataId::Text("09346904-4175-44fd-be53-f7e598531b6c".into())));
        assert_eq!(stub.to_detail()["data"]["id"], "09346904-4175-44fd-be53-f7e598531b6c");
    }
}
