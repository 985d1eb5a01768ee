//! What a scheduled function's EventBridge event may ask for in its `detail`.
//!
//! A plain schedule rule sends an empty detail (`{}`): every connection. An operator (or the local
//! runtime) may name connections instead: `{"connections": ["acme"]}`.

use serde::Deserialize;
use serde_json::Value;

use crate::ids::ConnectionId;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ScheduledRequest {
    /// Only these connections; every connection when empty.
    #[serde(default)]
    pub connections: Vec<ConnectionId>,
}

impl ScheduledRequest {
    /// Reads an event's `detail`, saying what it must look like when it does not.
    pub fn from_detail(detail: Value) -> Result<ScheduledRequest, String> {
        match detail {
            Value::Null => Ok(ScheduledRequest::default()),
            detail => serde_json::from_value(detail).map_err(|error| {
                format!("the event's detail must be {{}} or {{\"connections\": [\"<connection id>\", ...]}}: {error}")
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_detail_is_empty_names_connections_or_is_refused_saying_what_it_must_be() {
        assert_eq!(ScheduledRequest::from_detail(Value::Null), Ok(ScheduledRequest::default()));
        assert_eq!(ScheduledRequest::from_detail(json!({})), Ok(ScheduledRequest::default()));
        let named = ScheduledRequest::from_detail(json!({"connections": ["acme"]})).unwrap();
        assert_eq!(named.connections, vec![ConnectionId::new("acme").unwrap()]);
        let refused = ScheduledRequest::from_detail(json!({"connections": "acme"})).unwrap_err();
        assert!(refused.starts_with("the event's detail must be {} or {\"connections\": ["), "{refused}");
        assert!(ScheduledRequest::from_detail(json!({"connections": ["not#valid"]})).is_err());
    }
}
