//! Root field resolvers and the executor that runs an operation's root fields in order.
//!
//! A resolver returns the full JSON of its result (e.g. the whole user with its account); the
//! executor then projects the client's selection onto it (`Operation::project`). A resolver error
//! becomes an `errors[]` entry whose `path` is the field's response key, with `null` in `data` for
//! that key: the partial-success shape monday uses for aliased batches.

use serde_json::{Map, Value, json};

use super::graphql::{GraphqlError, Operation};
use super::schema::ObjectType;
use super::{Caller, MondayState};

/// Produces a root field's value from its arguments.
pub(crate) type Resolver = fn(&mut ResolveContext<'_>, &Map<String, Value>) -> Result<Value, GraphqlError>;

/// What the request's complexity accounting looked like; the `complexity` field reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ComplexityReading {
    pub before: u64,
    pub after: u64,
    pub query: u64,
    pub reset_in_x_seconds: i64,
}

/// Everything a resolver may read or change.
pub(crate) struct ResolveContext<'s> {
    pub state: &'s mut MondayState,
    pub caller: &'s Caller,
    pub complexity: ComplexityReading,
}

/// Runs every root field of the operation, in document order (mutations included, as GraphQL
/// requires root mutation fields to run serially).
pub(crate) fn execute<'a>(
    operation: &Operation<'a>,
    root: &'static ObjectType,
    context: &mut ResolveContext<'_>,
) -> (Map<String, Value>, Vec<GraphqlError>) {
    let mut data = Map::new();
    let mut errors = Vec::new();
    let fields = match operation.fields(operation.selection_set, root.name) {
        Ok(fields) => fields,
        Err(error) => return (data, vec![error]),
    };
    for field in fields {
        let key = field.alias.unwrap_or(field.name).to_owned();
        if field.name == "__typename" {
            data.insert(key, json!(root.name));
            continue;
        }
        let Some(resolve) =
            root.field(field.name).and_then(|definition| definition.resolve.map(|resolve| (definition, resolve)))
        else {
            data.insert(key, Value::Null);
            continue;
        };
        let (definition, resolve) = resolve;
        let outcome = operation
            .arguments(field)
            .and_then(|arguments| resolve(context, &arguments))
            .and_then(|value| operation.project_field(definition.field_type, Some(&value), field));
        match outcome {
            Ok(value) => {
                data.insert(key, value);
            }
            Err(mut error) => {
                if error.locations.is_empty() {
                    error = error.at(field.position);
                }
                error.path = vec![key.clone()];
                errors.push(error);
                data.insert(key, Value::Null);
            }
        }
    }
    (data, errors)
}

/// `me`: the user the token belongs to.
pub(crate) fn me(context: &mut ResolveContext<'_>, _arguments: &Map<String, Value>) -> Result<Value, GraphqlError> {
    context
        .state
        .user_json(context.caller.user_id)
        .ok_or_else(|| GraphqlError::new("User not found", "ResourceNotFoundException"))
}

/// `account`: the caller's account.
pub(crate) fn account(
    context: &mut ResolveContext<'_>,
    _arguments: &Map<String, Value>,
) -> Result<Value, GraphqlError> {
    context
        .state
        .account_json(context.caller.account_id)
        .ok_or_else(|| GraphqlError::new("Account not found", "ResourceNotFoundException"))
}

/// `complexity`: the budget before and after this request, and its cost.
pub(crate) fn complexity(
    context: &mut ResolveContext<'_>,
    _arguments: &Map<String, Value>,
) -> Result<Value, GraphqlError> {
    let reading = context.complexity;
    Ok(json!({
        "before": reading.before,
        "after": reading.after,
        "query": reading.query,
        "reset_in_x_seconds": reading.reset_in_x_seconds,
    }))
}

/// `version`: the version this request is served by.
pub(crate) fn version(
    context: &mut ResolveContext<'_>,
    _arguments: &Map<String, Value>,
) -> Result<Value, GraphqlError> {
    let value = context.caller.api_version.clone();
    let kind = context.state.config.versions.kind_of(&value);
    Ok(json!({ "display_name": value, "kind": kind, "value": value }))
}

/// `versions`: every version the double knows, with its kind.
pub(crate) fn versions(
    context: &mut ResolveContext<'_>,
    _arguments: &Map<String, Value>,
) -> Result<Value, GraphqlError> {
    let versions = &context.state.config.versions;
    let listed: Vec<Value> = [&versions.maintenance, &versions.current, &versions.release_candidate]
        .into_iter()
        .map(|value| json!({ "display_name": value, "kind": versions.kind_of(value), "value": value }))
        .collect();
    Ok(Value::Array(listed))
}
