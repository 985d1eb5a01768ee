//! The demo connection: its credentials and the seed documents that give each double some data.
//!
//! `make demo`, the end-to-end tests and `millwright-sandbox --seed-demo` all use these, so the
//! constants are the single place where the demo's store hash, keys and tokens are spelled. The
//! SKUs line up across systems: every BigCommerce SKU below is a Plex part number, and Plex has one
//! extra part (`MW-GEAR-24`) that the store does not sell.
//!
//! These credentials only open the local doubles; they are not secrets, but the doubles still keep
//! them out of their request logs and state dumps like real ones.

use serde_json::{Value, json};

/// The demo connection's id.
pub const CONNECTION_ID: &str = "demo";

/// BigCommerce store hash, API account and its client secret (the webhook signing key).
pub const BIGCOMMERCE_STORE_HASH: &str = "demo-store";
pub const BIGCOMMERCE_STORE_ID: u64 = 1_000_777;
pub const BIGCOMMERCE_ACCESS_TOKEN: &str = "bc-demo-token";
pub const BIGCOMMERCE_CLIENT_ID: &str = "bc-demo-client";
pub const BIGCOMMERCE_CLIENT_SECRET: &str = "bc-demo-client-secret";
/// The shared secret the store's hooks send in the connection's webhook auth header.
pub const BIGCOMMERCE_WEBHOOK_SECRET: &str = "bc-demo-webhook-secret";

/// Plex Connect API key (the app's Consumer Key).
pub const PLEX_API_KEY: &str = "plex-demo-key";
/// The default tenant and its PCN (`X-Plex-Connect-Customer-Id`).
pub const PLEX_TENANT_ID: &str = "5b0f3a52-8c1e-4b7a-9d65-1f2e3a4b5c6d";
pub const PLEX_TENANT_CODE: &str = "MW-DEMO";
pub const PLEX_PCN: &str = "310507";
/// A second tenant the demo key may also select.
pub const PLEX_SECOND_TENANT_ID: &str = "9c4e7d21-3f6a-4e8b-a1d2-7e8f9a0b1c2d";
pub const PLEX_SECOND_TENANT_CODE: &str = "MW-EU";
pub const PLEX_SECOND_PCN: &str = "310508";
/// OAuth2 client credentials for the opt-in `oauth2` auth mode.
pub const PLEX_OAUTH_CLIENT_ID: &str = "plex-demo-client";
pub const PLEX_OAUTH_CLIENT_SECRET: &str = "plex-demo-secret";
/// The Data Source API's web-service user (HTTP Basic).
pub const PLEX_DATASOURCE_USER: &str = "plex-demo-ws";
pub const PLEX_DATASOURCE_PASSWORD: &str = "plex-demo-ws-pass";
/// A registered read data source: parts by number and status.
pub const PLEX_PART_LOOKUP_DATASOURCE_ID: u64 = 18_765;
/// The Plex customer that web orders are booked to.
pub const PLEX_WEB_CUSTOMER_CODE: &str = "WEB-STORE";

/// monday.com personal API token and the account and user it belongs to.
pub const MONDAY_TOKEN: &str = "monday-demo-token";
pub const MONDAY_ACCOUNT_ID: u64 = 9_900_001;
pub const MONDAY_ACCOUNT_NAME: &str = "Millwright Demo";
pub const MONDAY_ACCOUNT_SLUG: &str = "millwright-demo";
pub const MONDAY_USER_ID: u64 = 44_000_001;
pub const MONDAY_USER_NAME: &str = "Millwright Integration";
pub const MONDAY_USER_EMAIL: &str = "integration@millwright.example";

/// SKUs the demo store sells; each is also a Plex part number.
pub const STORE_SKUS: &[&str] = &["MW-BOLT-M8", "MW-NUT-M8", "MW-BRKT-100-ZN", "MW-BRKT-100-SS"];

/// Seed for the BigCommerce double (`POST /__control/seed`).
pub fn seed_bigcommerce() -> Value {
    json!({
        "stores": [{
            "store_hash": BIGCOMMERCE_STORE_HASH,
            "store_id": BIGCOMMERCE_STORE_ID,
            "info": {
                "name": "Millwright Demo Store",
                "domain": "demo-store.millwright.example",
                "secure_url": "https://demo-store.millwright.example",
                "first_name": "Dana",
                "last_name": "Miller",
                "admin_email": "owner@millwright.example",
                "order_email": "orders@millwright.example",
                "industry": "Manufacturing",
                "plan_name": "Plus",
                "plan_level": "Plus"
            },
            "api_accounts": [{
                "client_id": BIGCOMMERCE_CLIENT_ID,
                "access_token": BIGCOMMERCE_ACCESS_TOKEN,
                "client_secret": BIGCOMMERCE_CLIENT_SECRET
            }],
            "products": [
                {
                    "id": 111,
                    "name": "Hex Bolt M8 x 40, zinc plated",
                    "sku": "MW-BOLT-M8",
                    "price": 0.45,
                    "inventory_tracking": "product",
                    "inventory_level": 1200,
                    "variants": [{ "id": 211, "sku": "MW-BOLT-M8", "inventory_level": 1200 }]
                },
                {
                    "id": 112,
                    "name": "Hex Nut M8",
                    "sku": "MW-NUT-M8",
                    "price": 0.12,
                    "inventory_tracking": "product",
                    "inventory_level": 3400,
                    "variants": [{ "id": 212, "sku": "MW-NUT-M8", "inventory_level": 3400 }]
                },
                {
                    "id": 113,
                    "name": "Mounting Bracket 100 mm",
                    "sku": "MW-BRKT-100",
                    "price": 6.90,
                    "inventory_tracking": "variant",
                    "inventory_level": 95,
                    "variants": [
                        { "id": 213, "sku": "MW-BRKT-100-ZN", "inventory_level": 80, "option_values": [{ "label": "Zinc", "option_display_name": "Finish" }] },
                        { "id": 214, "sku": "MW-BRKT-100-SS", "inventory_level": 15, "option_values": [{ "label": "Stainless", "option_display_name": "Finish" }] }
                    ]
                }
            ]
        }]
    })
}

/// Seed for the Plex double: two tenants (the first is the default), the API key, OAuth client,
/// Data Source user and one read data source.
pub fn seed_plex() -> Value {
    json!({
        "tenants": [
            {
                "id": PLEX_TENANT_ID,
                "code": PLEX_TENANT_CODE,
                "customer_id": PLEX_PCN,
                "name": "Millwright Demo Manufacturing",
                "default": true,
                "customers": [
                    {
                        "id": "0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e",
                        "code": PLEX_WEB_CUSTOMER_CODE,
                        "name": "Web Store Orders",
                        "status": "Active",
                        "type": "Web",
                        "email": "orders@millwright.example",
                        "createdDate": "2025-11-03T14:00:00Z",
                        "modifiedDate": "2026-01-05T10:00:00.12Z"
                    },
                    {
                        "id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                        "code": "ACME",
                        "name": "Acme Fabrication Ltd",
                        "status": "Active",
                        "type": "Distributor",
                        "phone": "+1 555 0100",
                        "createdDate": "2024-06-12T09:30:15.123Z",
                        "modifiedDate": "2026-02-10T08:30:15.1234567Z"
                    },
                    {
                        "id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
                        "code": "OLDCO",
                        "name": "Old Customer Co",
                        "status": "Inactive",
                        "type": "End User",
                        "createdDate": "2019-03-01T12:00Z",
                        "modifiedDate": "2021-07-19T16:45:00Z"
                    }
                ],
                "parts": [
                    part("3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f", "MW-BOLT-M8", "Hex Bolt M8 x 40, zinc plated", "2026-01-15T07:00:00Z"),
                    part("4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f80", "MW-NUT-M8", "Hex Nut M8", "2026-01-15T07:00:00.5Z"),
                    part("5e6f7a8b-9c0d-4e1f-8a3b-4c5d6e7f8091", "MW-BRKT-100-ZN", "Mounting Bracket 100 mm, zinc", "2026-02-01T11:20:31.06Z"),
                    part("6f7a8b9c-0d1e-4f2a-9b4c-5d6e7f8091a2", "MW-BRKT-100-SS", "Mounting Bracket 100 mm, stainless", "2026-02-01T11:20:31.017Z"),
                    part("7a8b9c0d-1e2f-4a3b-8c5d-6e7f8091a2b3", "MW-GEAR-24", "Spur Gear 24T", "2026-03-01T00:00:00.1234567Z")
                ]
            },
            {
                "id": PLEX_SECOND_TENANT_ID,
                "code": PLEX_SECOND_TENANT_CODE,
                "customer_id": PLEX_SECOND_PCN,
                "name": "Millwright Demo Europe",
                "default": false,
                "customers": [],
                "parts": [
                    part("8b9c0d1e-2f3a-4b4c-9d6e-7f8091a2b3c4", "MW-BOLT-M8", "Sechskantschraube M8 x 40", "2026-01-20T08:00:00Z")
                ]
            }
        ],
        "api_keys": [{
            "key": PLEX_API_KEY,
            "tenants": [PLEX_TENANT_ID, PLEX_SECOND_TENANT_ID],
            "default_tenant": PLEX_TENANT_ID,
            "collections": ["mdm", "sales", "inventory", "purchasing", "accounting"]
        }],
        "oauth_clients": [{
            "client_id": PLEX_OAUTH_CLIENT_ID,
            "client_secret": PLEX_OAUTH_CLIENT_SECRET,
            "tenants": [PLEX_TENANT_ID, PLEX_SECOND_TENANT_ID],
            "default_tenant": PLEX_TENANT_ID,
            "collections": ["mdm", "sales", "inventory", "purchasing", "accounting"]
        }],
        "datasource_users": [{
            "username": PLEX_DATASOURCE_USER,
            "password": PLEX_DATASOURCE_PASSWORD
        }],
        "datasources": [{
            "id": PLEX_PART_LOOKUP_DATASOURCE_ID,
            "name": "Part_Lookup_By_Number",
            "description": "Parts by number and status (demo read data source).",
            "inputs": [
                { "name": "Part_No", "type": "string", "required": true, "nullable": false },
                { "name": "Part_Status", "type": "string" },
                { "name": "Modified_After", "type": "date" }
            ],
            "columns": ["Part_Key", "Part_No", "Revision", "Name", "Part_Status"],
            "rows": [
                [8_265_836, "MW-BOLT-M8", "A", "Hex Bolt M8 x 40, zinc plated", "Production"],
                [8_265_837, "MW-NUT-M8", "A", "Hex Nut M8", "Production"],
                [8_265_838, "MW-BRKT-100-ZN", "B", "Mounting Bracket 100 mm, zinc", "Production"],
                [8_265_839, "MW-BRKT-100-SS", "B", "Mounting Bracket 100 mm, stainless", "Production"],
                [8_265_840, "MW-GEAR-24", "", "Spur Gear 24T", "Obsolete"]
            ]
        }]
    })
}

fn part(id: &str, number: &str, name: &str, modified: &str) -> Value {
    json!({
        "id": id,
        "number": number,
        "name": name,
        "revision": "A",
        "type": "Finished Good",
        "source": "Manufactured",
        "status": "Active",
        "buildingCode": "MAIN",
        "createdDate": "2025-09-01T06:00:00Z",
        "modifiedDate": modified
    })
}

/// Seed for the monday.com double: one account with one user whose token is [`MONDAY_TOKEN`].
pub fn seed_monday() -> Value {
    json!({
        "accounts": [{
            "id": MONDAY_ACCOUNT_ID,
            "name": MONDAY_ACCOUNT_NAME,
            "slug": MONDAY_ACCOUNT_SLUG,
            "tier": "enterprise",
            "country_code": "US",
            "users": [{
                "id": MONDAY_USER_ID,
                "name": MONDAY_USER_NAME,
                "email": MONDAY_USER_EMAIL,
                "title": "Integration user",
                "tokens": [MONDAY_TOKEN]
            }]
        }]
    })
}

/// The demo connection's profile in the form the state table stores (`domain::ConnectionProfile`
/// as JSON). With `sandbox`, the profile points every base URL at that sandbox (a test running its
/// own doubles); without, the deployment's default base URLs apply (the local world sets those).
pub fn connection_profile(connection_id: &str, sandbox: Option<&crate::Sandbox>) -> Value {
    let mut profile = json!({
        "id": connection_id,
        "display_name": "Demo Manufacturing",
        "bigcommerce": {
            "store_hash": BIGCOMMERCE_STORE_HASH,
            "webhook_auth": [{ "mode": "custom_header", "header": "X-Millwright-Auth" }]
        },
        "plex": { "auth": { "mode": "api_key" } },
        "monday": { "api_version": "2026-10" }
    });
    if let Some(sandbox) = sandbox {
        profile["bigcommerce"]["api_base_url"] = json!(sandbox.bigcommerce_url);
        profile["plex"]["connect_base_url"] = json!(sandbox.plex_url);
        profile["plex"]["datasource_base_url"] = json!(sandbox.plex_url);
        profile["monday"]["api_url"] = json!(format!("{}/v2", sandbox.monday_url));
    }
    profile
}

/// The demo connection's secret documents, by system name (`bigcommerce`, `plex`, `monday`), in
/// the shape Secrets Manager holds them.
pub fn connection_secrets() -> [(&'static str, Value); 3] {
    [
        (
            "bigcommerce",
            json!({
                "access_token": BIGCOMMERCE_ACCESS_TOKEN,
                "client_secret": BIGCOMMERCE_CLIENT_SECRET,
                "webhook_secret": BIGCOMMERCE_WEBHOOK_SECRET,
            }),
        ),
        (
            "plex",
            json!({
                "api_key": PLEX_API_KEY,
                "client_id": PLEX_OAUTH_CLIENT_ID,
                "client_secret": PLEX_OAUTH_CLIENT_SECRET,
                "datasource_user": PLEX_DATASOURCE_USER,
                "datasource_password": PLEX_DATASOURCE_PASSWORD,
            }),
        ),
        ("monday", json!({ "api_token": MONDAY_TOKEN })),
    ]
}
