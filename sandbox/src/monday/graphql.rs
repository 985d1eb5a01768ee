//! Reading a GraphQL request against the schema slice in `schema`: operation selection, fragments,
//! `@skip`/`@include`, variables and arguments, validation with monday's error codes, complexity,
//! and projecting resolver output onto the selection (aliases included).
//!
//! This is not a general GraphQL engine: there are no interfaces or unions, and variable types are
//! not checked. It is enough to answer the documents the project sends and to reject mistakes the
//! way monday does (HTTP 200 with an `errors` array, no `data`).

use std::collections::{HashMap, HashSet};

use graphql_parser::Pos;
use graphql_parser::query::{
    Definition, Document, Field, FragmentDefinition, OperationDefinition, Selection, SelectionSet,
    Value as GraphqlValue, VariableDefinition,
};
use serde_json::{Map, Value, json};

use super::schema::{FieldType, ObjectType};

/// One entry of a response's `errors` array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GraphqlError {
    pub message: String,
    pub locations: Vec<Pos>,
    pub path: Vec<String>,
    /// Always has `code`; may carry more (`typeName`, `fieldName`, ...).
    pub extensions: Map<String, Value>,
}

impl GraphqlError {
    pub(crate) fn new(message: impl Into<String>, code: &str) -> Self {
        let mut extensions = Map::new();
        extensions.insert("code".to_owned(), json!(code));
        GraphqlError { message: message.into(), locations: Vec::new(), path: Vec::new(), extensions }
    }

    pub(crate) fn at(mut self, position: Pos) -> Self {
        self.locations.push(position);
        self
    }

    fn on_path(mut self, path: &[String]) -> Self {
        self.path = path.to_vec();
        self
    }

    pub(crate) fn with(mut self, key: &str, value: Value) -> Self {
        self.extensions.insert(key.to_owned(), value);
        self
    }

    /// The JSON monday sends, with the request id every error carries.
    pub(crate) fn to_json(&self, request_id: &str) -> Value {
        let mut error = Map::new();
        error.insert("message".to_owned(), json!(self.message));
        if !self.locations.is_empty() {
            let locations: Vec<Value> =
                self.locations.iter().map(|at| json!({ "line": at.line, "column": at.column })).collect();
            error.insert("locations".to_owned(), Value::Array(locations));
        }
        if !self.path.is_empty() {
            error.insert("path".to_owned(), json!(self.path));
        }
        let mut extensions = self.extensions.clone();
        extensions.insert("request_id".to_owned(), json!(request_id));
        error.insert("extensions".to_owned(), Value::Object(extensions));
        Value::Object(error)
    }
}

/// Turns the parser's complaint into monday's "Parse error on ..." error with its location.
pub(crate) fn parse_error(parser_message: &str) -> GraphqlError {
    // The parser says "query parse error: Parse error at 1:9\nUnexpected `}`\nExpected Name".
    let detail: Vec<&str> = parser_message.lines().skip(1).map(str::trim).filter(|line| !line.is_empty()).collect();
    let mut error = GraphqlError::new(format!("Parse error on {}", detail.join(", ")), "PARSE_ERROR");
    let position = parser_message
        .lines()
        .next()
        .and_then(|first| first.rsplit(' ').next())
        .and_then(|place| place.split_once(':'))
        .and_then(|(line, column)| Some(Pos { line: line.parse().ok()?, column: column.parse().ok()? }));
    if let Some(position) = position {
        error = error.at(position);
    }
    error
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperationKind {
    Query,
    Mutation,
}

/// The operation being run, with what is needed to walk its selections.
pub(crate) struct Operation<'a> {
    pub kind: OperationKind,
    pub selection_set: &'a SelectionSet<'a, &'a str>,
    fragments: HashMap<&'a str, &'a FragmentDefinition<'a, &'a str>>,
    declared: HashSet<&'a str>,
    variables: Map<String, Value>,
}

/// Picks the operation to run (by `operationName` when the document has several).
pub(crate) fn select_operation<'a>(
    document: &'a Document<'a, &'a str>,
    operation_name: Option<&str>,
    provided: Map<String, Value>,
) -> Result<Operation<'a>, GraphqlError> {
    let mut fragments = HashMap::new();
    let mut operations = Vec::new();
    for definition in &document.definitions {
        match definition {
            Definition::Fragment(fragment) => {
                fragments.insert(fragment.name, fragment);
            }
            Definition::Operation(operation) => operations.push(operation),
        }
    }
    let name_of = |operation: &OperationDefinition<'a, &'a str>| match operation {
        OperationDefinition::SelectionSet(_) => None,
        OperationDefinition::Query(query) => query.name,
        OperationDefinition::Mutation(mutation) => mutation.name,
        OperationDefinition::Subscription(subscription) => subscription.name,
    };
    let chosen = match operation_name {
        Some(wanted) => operations
            .iter()
            .find(|operation| name_of(operation) == Some(wanted))
            .ok_or_else(|| GraphqlError::new(format!("No operation named \"{wanted}\""), "operationNotFound"))?,
        None if operations.len() == 1 => &operations[0],
        None => {
            return Err(GraphqlError::new(
                "An operation name is required when the document has several operations",
                "operationNameRequired",
            ));
        }
    };
    let (kind, selection_set, definitions): (_, _, &'a [VariableDefinition<'a, &'a str>]) = match chosen {
        OperationDefinition::SelectionSet(set) => (OperationKind::Query, set, &[]),
        OperationDefinition::Query(query) => (OperationKind::Query, &query.selection_set, &query.variable_definitions),
        OperationDefinition::Mutation(mutation) => {
            (OperationKind::Mutation, &mutation.selection_set, &mutation.variable_definitions)
        }
        OperationDefinition::Subscription(subscription) => {
            return Err(GraphqlError::new("Subscriptions are not supported", "subscriptionNotSupported")
                .at(subscription.position));
        }
    };
    let mut operation = Operation {
        kind,
        selection_set,
        fragments,
        declared: definitions.iter().map(|definition| definition.name).collect(),
        variables: Map::new(),
    };
    // Provided values win; declared defaults fill the gaps.
    let mut variables = Map::new();
    for definition in definitions {
        let value = match provided.get(definition.name) {
            Some(value) => value.clone(),
            None => match &definition.default_value {
                Some(default) => operation.value(default, definition.position)?,
                None => Value::Null,
            },
        };
        variables.insert(definition.name.to_owned(), value);
    }
    operation.variables = variables;
    Ok(operation)
}

impl<'a> Operation<'a> {
    /// A literal or variable argument as JSON.
    pub(crate) fn value(&self, value: &GraphqlValue<'a, &'a str>, position: Pos) -> Result<Value, GraphqlError> {
        Ok(match value {
            GraphqlValue::Variable(name) => {
                if !self.declared.contains(name) {
                    return Err(GraphqlError::new(
                        format!("Variable ${name} is used by this operation but not declared"),
                        "variableNotDefined",
                    )
                    .at(position)
                    .with("variableName", json!(name)));
                }
                self.variables.get(*name).cloned().unwrap_or(Value::Null)
            }
            GraphqlValue::Int(number) => number.as_i64().map_or(Value::Null, |number| json!(number)),
            GraphqlValue::Float(number) => json!(number),
            GraphqlValue::String(text) => json!(text),
            GraphqlValue::Boolean(flag) => json!(flag),
            GraphqlValue::Null => Value::Null,
            GraphqlValue::Enum(name) => json!(name),
            GraphqlValue::List(items) => {
                Value::Array(items.iter().map(|item| self.value(item, position)).collect::<Result<_, _>>()?)
            }
            GraphqlValue::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(name, item)| Ok(((*name).to_owned(), self.value(item, position)?)))
                    .collect::<Result<_, GraphqlError>>()?,
            ),
        })
    }

    /// A field's arguments as a JSON object.
    pub(crate) fn arguments(&self, field: &Field<'a, &'a str>) -> Result<Map<String, Value>, GraphqlError> {
        field
            .arguments
            .iter()
            .map(|(name, value)| Ok(((*name).to_owned(), self.value(value, field.position)?)))
            .collect()
    }

    /// Whether `@skip`/`@include` leave a selection in.
    fn included(&self, directives: &[graphql_parser::query::Directive<'a, &'a str>]) -> Result<bool, GraphqlError> {
        for directive in directives {
            let condition = directive.arguments.iter().find(|(name, _)| *name == "if");
            let flag = match condition {
                Some((_, value)) => self.value(value, directive.position)?.as_bool().unwrap_or(false),
                None => continue,
            };
            match directive.name {
                "skip" if flag => return Ok(false),
                "include" if !flag => return Ok(false),
                _ => {}
            }
        }
        Ok(true)
    }

    /// The fields a selection set asks of `type_name`, with fragments inlined and directives applied.
    pub(crate) fn fields(
        &self,
        set: &'a SelectionSet<'a, &'a str>,
        type_name: &str,
    ) -> Result<Vec<&'a Field<'a, &'a str>>, GraphqlError> {
        let mut fields = Vec::new();
        self.collect(set, type_name, &mut Vec::new(), &mut fields)?;
        Ok(fields)
    }

    fn collect(
        &self,
        set: &'a SelectionSet<'a, &'a str>,
        type_name: &str,
        visiting: &mut Vec<&'a str>,
        fields: &mut Vec<&'a Field<'a, &'a str>>,
    ) -> Result<(), GraphqlError> {
        for selection in &set.items {
            match selection {
                Selection::Field(field) => {
                    if self.included(&field.directives)? {
                        fields.push(field);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let applies = match &fragment.type_condition {
                        None => true,
                        Some(graphql_parser::query::TypeCondition::On(on)) => *on == type_name,
                    };
                    if applies && self.included(&fragment.directives)? {
                        self.collect(&fragment.selection_set, type_name, visiting, fields)?;
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.fragment_name;
                    let fragment = self.fragments.get(name).ok_or_else(|| {
                        GraphqlError::new(format!("Fragment {name} was used, but not defined"), "useAndDefineFragment")
                            .at(spread.position)
                    })?;
                    if visiting.contains(&name) {
                        return Err(GraphqlError::new(
                            format!("Fragment {name} contains an infinite loop"),
                            "infiniteLoop",
                        )
                        .at(spread.position));
                    }
                    let graphql_parser::query::TypeCondition::On(on) = fragment.type_condition;
                    if on == type_name && self.included(&spread.directives)? {
                        visiting.push(name);
                        self.collect(&fragment.selection_set, type_name, visiting, fields)?;
                        visiting.pop();
                    }
                }
            }
        }
        Ok(())
    }

    /// Validates a selection against `object_type` and returns its complexity. Every problem found
    /// is reported, as a GraphQL server reports all validation errors at once.
    pub(crate) fn check(
        &self,
        object_type: &ObjectType,
        set: &'a SelectionSet<'a, &'a str>,
        path: &mut Vec<String>,
        errors: &mut Vec<GraphqlError>,
    ) -> u64 {
        let fields = match self.fields(set, object_type.name) {
            Ok(fields) => fields,
            Err(error) => {
                errors.push(error.on_path(path));
                return 0;
            }
        };
        let mut cost = 0;
        for field in fields {
            path.push(field.alias.unwrap_or(field.name).to_owned());
            cost += self.check_field(object_type, field, path, errors);
            path.pop();
        }
        cost
    }

    fn check_field(
        &self,
        object_type: &ObjectType,
        field: &'a Field<'a, &'a str>,
        path: &mut Vec<String>,
        errors: &mut Vec<GraphqlError>,
    ) -> u64 {
        let has_selection = !field.selection_set.items.is_empty();
        if field.name == "__typename" {
            if has_selection {
                errors.push(scalar_with_selection(field, "String!").on_path(path));
            }
            return 0;
        }
        let Some(definition) = object_type.field(field.name) else {
            errors.push(
                GraphqlError::new(
                    format!("Field '{}' doesn't exist on type '{}'", field.name, object_type.name),
                    "undefinedField",
                )
                .at(field.position)
                .on_path(path)
                .with("typeName", json!(object_type.name))
                .with("fieldName", json!(field.name)),
            );
            return 0;
        };
        for (name, value) in &field.arguments {
            if !definition.args.iter().any(|argument| argument.name == *name) {
                errors.push(
                    GraphqlError::new(
                        format!("Field '{}' doesn't accept argument '{name}'", field.name),
                        "argumentNotAccepted",
                    )
                    .at(field.position)
                    .on_path(path)
                    .with("name", json!(field.name))
                    .with("typeName", json!("Field"))
                    .with("argumentName", json!(name)),
                );
            } else if let Err(error) = self.value(value, field.position) {
                errors.push(error.on_path(path));
            }
        }
        let missing: Vec<&str> = definition
            .args
            .iter()
            .filter(|argument| argument.required && !field.arguments.iter().any(|(name, _)| *name == argument.name))
            .map(|argument| argument.name)
            .collect();
        if !missing.is_empty() {
            errors.push(
                GraphqlError::new(
                    format!("Field '{}' is missing required arguments: {}", field.name, missing.join(", ")),
                    "missingRequiredArguments",
                )
                .at(field.position)
                .on_path(path),
            );
        }
        match definition.field_type {
            FieldType::Scalar(sdl_type) => {
                if has_selection {
                    errors.push(scalar_with_selection(field, sdl_type).on_path(path));
                }
                definition.cost
            }
            FieldType::Object(inner) | FieldType::List(inner) => {
                if !has_selection {
                    errors.push(
                        GraphqlError::new(
                            format!(
                                "Field must have selections (field '{}' returns {} but has no selections. Did you mean '{} {{ ... }}'?)",
                                field.name,
                                definition.field_type.describe(),
                                field.name
                            ),
                            "selectionMismatch",
                        )
                        .at(field.position)
                        .on_path(path),
                    );
                    return definition.cost;
                }
                definition.cost + self.check(inner, &field.selection_set, path, errors)
            }
        }
    }

    /// Copies the selected fields of `value` (a resolver's output) under their response keys.
    pub(crate) fn project(
        &self,
        object_type: &ObjectType,
        value: &Value,
        set: &'a SelectionSet<'a, &'a str>,
    ) -> Result<Value, GraphqlError> {
        let Value::Object(source) = value else {
            return Ok(Value::Null);
        };
        let mut projected = Map::new();
        for field in self.fields(set, object_type.name)? {
            let key = field.alias.unwrap_or(field.name).to_owned();
            let selected = match object_type.field(field.name) {
                _ if field.name == "__typename" => json!(object_type.name),
                Some(definition) => self.project_field(definition.field_type, source.get(field.name), field)?,
                // Validation has already rejected unknown fields.
                None => Value::Null,
            };
            projected.insert(key, selected);
        }
        Ok(Value::Object(projected))
    }

    /// Projects one field's value according to its type.
    pub(crate) fn project_field(
        &self,
        field_type: FieldType,
        value: Option<&Value>,
        field: &'a Field<'a, &'a str>,
    ) -> Result<Value, GraphqlError> {
        let value = value.unwrap_or(&Value::Null);
        match field_type {
            FieldType::Scalar(_) => Ok(value.clone()),
            FieldType::Object(inner) => self.project(inner, value, &field.selection_set),
            FieldType::List(inner) => match value {
                Value::Array(items) => Ok(Value::Array(
                    items
                        .iter()
                        .map(|item| self.project(inner, item, &field.selection_set))
                        .collect::<Result<_, _>>()?,
                )),
                _ => Ok(Value::Null),
            },
        }
    }
}

fn scalar_with_selection<'a>(field: &Field<'a, &'a str>, sdl_type: &str) -> GraphqlError {
    let selected: Vec<String> = field
        .selection_set
        .items
        .iter()
        .filter_map(|item| match item {
            Selection::Field(inner) => Some(inner.name.to_owned()),
            _ => None,
        })
        .collect();
    GraphqlError::new(
        format!(
            "Selections can't be made on scalars (field '{}' returns {sdl_type} but has selections [{}])",
            field.name,
            selected.join(", ")
        ),
        "selectionMismatch",
    )
    .at(field.position)
}

#[cfg(test)]
mod tests {
    use super::super::schema::QUERY;
    use super::*;

    fn check(query: &str, variables: Value) -> Result<u64, Vec<GraphqlError>> {
        let document =
            graphql_parser::parse_query::<&str>(query).map_err(|error| vec![parse_error(&error.to_string())])?;
        let operation = select_operation(&document, None, variables.as_object().cloned().unwrap_or_default())
            .map_err(|error| vec![error])?;
        let mut errors = Vec::new();
        let cost = operation.check(&QUERY, operation.selection_set, &mut Vec::new(), &mut errors);
        if errors.is_empty() { Ok(cost) } else { Err(errors) }
    }

    #[test]
    fn accepts_aliases_fragments_and_directives() {
        let query =
            "query Q($skip: Boolean = true) { who: me { ...U account { id } } complexity @skip(if: $skip) { query } }
                     fragment U on User { id name }";
        assert!(check(query, json!({})).is_ok());
    }

    #[test]
    fn reports_unknown_fields_with_monday_codes() {
        let errors = check("{ me { id supplier_name account } }", json!({})).unwrap_err();
        let codes: Vec<&str> = errors.iter().filter_map(|error| error.extensions["code"].as_str()).collect();
        assert_eq!(codes, ["undefinedField", "selectionMismatch"]);
        assert_eq!(errors[0].message, "Field 'supplier_name' doesn't exist on type 'User'");
        assert_eq!(errors[0].path, ["me", "supplier_name"]);
    }

    #[test]
    fn rejects_undeclared_variables_and_reports_parse_errors() {
        let errors = check("{ me @include(if: $nope) { id } }", json!({})).unwrap_err();
        assert_eq!(errors[0].extensions["code"], "variableNotDefined");
        let errors = check("{ me { id }", json!({})).unwrap_err();
        assert_eq!(errors[0].extensions["code"], "PARSE_ERROR");
        assert!(errors[0].message.starts_with("Parse error on"), "{}", errors[0].message);
    }
}
