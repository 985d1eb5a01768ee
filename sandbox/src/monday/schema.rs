//! The slice of monday.com's GraphQL schema the double answers, as static type descriptors.
//!
//! Field names and types follow the API version 2026-10 SDL. Only fields the project may select are
//! listed; selecting anything else gets monday's `undefinedField` error, exactly as a field missing
//! from the real schema would, so a typo in a client query fails here as it would in production.
//!
//! Root fields carry a resolver (see `resolve`); nested fields are read from the JSON the resolver
//! returns. Costs are the double's own complexity points per selected field, not monday's formula:
//! what matters for tests is that queries spend a budget that can run out.
//!
//! To answer a new root field: describe its result type here, add a [`FieldDef`] with a resolver to
//! [`QUERY`] or [`MUTATION`], and write the resolver in `resolve`.

use super::resolve::{self, Resolver};

/// An object type: a name and its fields.
#[derive(Debug)]
pub(crate) struct ObjectType {
    pub name: &'static str,
    pub fields: &'static [FieldDef],
}

impl ObjectType {
    pub(crate) fn field(&self, name: &str) -> Option<&'static FieldDef> {
        let fields: &'static [FieldDef] = self.fields;
        fields.iter().find(|field| field.name == name)
    }
}

/// What a field returns.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FieldType {
    /// A scalar or enum; the name is the SDL type, used in error messages.
    Scalar(&'static str),
    Object(&'static ObjectType),
    List(&'static ObjectType),
}

impl FieldType {
    /// The type as the SDL writes it, for error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            FieldType::Scalar(name) => (*name).to_owned(),
            FieldType::Object(object) => object.name.to_owned(),
            FieldType::List(object) => format!("[{}!]", object.name),
        }
    }
}

/// An argument a field accepts.
#[derive(Debug)]
pub(crate) struct ArgDef {
    pub name: &'static str,
    pub required: bool,
}

#[derive(Debug)]
pub(crate) struct FieldDef {
    pub name: &'static str,
    pub field_type: FieldType,
    pub args: &'static [ArgDef],
    /// Complexity points this field adds each time it is selected.
    pub cost: u64,
    /// Root fields only: produces the JSON the selection is projected from.
    pub resolve: Option<Resolver>,
}

const fn scalar(name: &'static str, sdl_type: &'static str) -> FieldDef {
    FieldDef { name, field_type: FieldType::Scalar(sdl_type), args: &[], cost: 0, resolve: None }
}

const fn object(name: &'static str, object_type: &'static ObjectType) -> FieldDef {
    FieldDef { name, field_type: FieldType::Object(object_type), args: &[], cost: 1, resolve: None }
}

const fn root(name: &'static str, field_type: FieldType, cost: u64, resolve: Resolver) -> FieldDef {
    FieldDef { name, field_type, args: &[], cost, resolve: Some(resolve) }
}

pub(crate) static ACCOUNT: ObjectType = ObjectType {
    name: "Account",
    fields: &[
        scalar("id", "ID!"),
        scalar("name", "String!"),
        scalar("slug", "String!"),
        scalar("tier", "String"),
        scalar("country_code", "String"),
        scalar("created_at", "Date"),
        scalar("first_day_of_the_week", "FirstDayOfTheWeek!"),
        scalar("is_during_trial", "Boolean"),
        scalar("is_trial_expired", "Boolean"),
        scalar("logo", "String"),
        scalar("show_timeline_weekends", "Boolean!"),
        scalar("sign_up_product_kind", "String"),
        scalar("active_members_count", "Int"),
    ],
};

pub(crate) static USER: ObjectType = ObjectType {
    name: "User",
    fields: &[
        scalar("id", "ID!"),
        scalar("name", "String!"),
        scalar("email", "String!"),
        scalar("title", "String!"),
        scalar("url", "String!"),
        scalar("created_at", "ISO8601DateTime!"),
        scalar("country_code", "String"),
        scalar("current_language", "String"),
        scalar("location", "String"),
        scalar("phone", "String"),
        scalar("mobile_phone", "String"),
        scalar("birthday", "String"),
        scalar("time_zone_identifier", "String"),
        scalar("utc_hours_diff", "Float"),
        scalar("last_activity", "Date"),
        scalar("became_active_at", "ISO8601DateTime"),
        scalar("account_id", "ID!"),
        scalar("kind", "String!"),
        scalar("status", "UserStatus!"),
        scalar("serial_number", "Int"),
        scalar("is_deleted", "Boolean!"),
        scalar("is_email_confirmed", "Boolean!"),
        object("account", &ACCOUNT),
    ],
};

pub(crate) static COMPLEXITY: ObjectType = ObjectType {
    name: "Complexity",
    fields: &[
        scalar("before", "Int!"),
        scalar("after", "Int!"),
        scalar("query", "Int!"),
        scalar("reset_in_x_seconds", "Int!"),
    ],
};

pub(crate) static VERSION: ObjectType = ObjectType {
    name: "Version",
    fields: &[scalar("display_name", "String!"), scalar("kind", "VersionKind!"), scalar("value", "String!")],
};

pub(crate) static QUERY: ObjectType = ObjectType {
    name: "Query",
    fields: &[
        root("me", FieldType::Object(&USER), 10, resolve::me),
        root("account", FieldType::Object(&ACCOUNT), 10, resolve::account),
        root("complexity", FieldType::Object(&COMPLEXITY), 0, resolve::complexity),
        root("version", FieldType::Object(&VERSION), 1, resolve::version),
        root("versions", FieldType::List(&VERSION), 1, resolve::versions),
    ],
};

/// No mutation is answered yet beyond `complexity`; `create_item` and friends go here.
pub(crate) static MUTATION: ObjectType = ObjectType {
    name: "Mutation",
    fields: &[root("complexity", FieldType::Object(&COMPLEXITY), 0, resolve::complexity)],
};
