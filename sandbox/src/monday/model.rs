//! The monday.com double's data: accounts and their users (with API tokens), and the seed document.
//!
//! Seed format (`POST /__control/seed`); seeding an existing account or user id replaces it:
//!
//! ```json
//! {"accounts": [{"id": 9900001, "name": "Acme", "slug": "acme", "tier": "enterprise",
//!   "users": [{"id": 44000001, "name": "...", "email": "...", "tokens": ["..."]}]}]}
//! ```
//!
//! Any further field on an account or user (e.g. `"title"`, `"time_zone_identifier"`) is returned
//! when a query selects it, if the schema slice has that field.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::requestlog::REDACTED;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeedDocument {
    #[serde(default)]
    pub accounts: Vec<AccountSeed>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AccountSeed {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub users: Vec<UserSeed>,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UserSeed {
    pub id: u64,
    pub name: String,
    pub email: String,
    /// Personal API tokens that authenticate as this user.
    #[serde(default)]
    pub tokens: Vec<String>,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Account {
    pub id: u64,
    pub name: String,
    pub slug: String,
    pub fields: Map<String, Value>,
}

impl Account {
    pub(crate) fn from_seed(seed: &AccountSeed) -> Self {
        let slug = seed.slug.clone().unwrap_or_else(|| seed.name.to_lowercase().replace(' ', "-"));
        Account { id: seed.id, name: seed.name.clone(), slug, fields: seed.fields.clone() }
    }

    /// The account as GraphQL sees it: IDs are strings, like every `ID` monday returns.
    pub(crate) fn to_json(&self) -> Value {
        let mut account = json!({
            "id": self.id.to_string(),
            "name": self.name,
            "slug": self.slug,
            "tier": "enterprise",
            "country_code": "US",
            "created_at": "2024-01-15",
            "first_day_of_the_week": "monday",
            "is_during_trial": false,
            "is_trial_expired": false,
            "logo": null,
            "show_timeline_weekends": true,
            "sign_up_product_kind": "core",
            "active_members_count": 1,
        });
        if let Value::Object(account) = &mut account {
            account.extend(self.fields.clone());
        }
        account
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct User {
    pub id: u64,
    pub account_id: u64,
    pub name: String,
    pub email: String,
    pub tokens: Vec<String>,
    pub fields: Map<String, Value>,
}

impl User {
    pub(crate) fn from_seed(seed: &UserSeed, account_id: u64) -> Self {
        User {
            id: seed.id,
            account_id,
            name: seed.name.clone(),
            email: seed.email.clone(),
            tokens: seed.tokens.clone(),
            fields: seed.fields.clone(),
        }
    }

    pub(crate) fn to_json(&self, account: &Account) -> Value {
        let mut user = json!({
            "id": self.id.to_string(),
            "name": self.name,
            "email": self.email,
            "title": "",
            "url": format!("https://{}.monday.com/users/{}", account.slug, self.id),
            "created_at": "2024-01-15T09:00:00Z",
            "country_code": "US",
            "current_language": "en",
            "location": null,
            "phone": null,
            "mobile_phone": null,
            "birthday": null,
            "time_zone_identifier": "Etc/UTC",
            "utc_hours_diff": 0,
            "last_activity": null,
            "became_active_at": "2024-01-15T09:00:00Z",
            "account_id": account.id.to_string(),
            "kind": "admin",
            "status": "ACTIVE",
            "serial_number": null,
            "is_deleted": false,
            "is_email_confirmed": true,
            "account": account.to_json(),
        });
        if let Value::Object(user) = &mut user {
            user.extend(self.fields.clone());
        }
        user
    }

    /// The state dump's view: tokens redacted.
    pub(crate) fn describe(&self) -> Value {
        let mut shown = serde_json::to_value(self).unwrap_or_default();
        shown["tokens"] = json!(vec![REDACTED; self.tokens.len()]);
        shown
    }
}
