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
/// The Plex customer that web orders are booked to, and its id.
pub const PLEX_WEB_CUSTOMER_CODE: &str = "WEB-STORE";
pub const PLEX_WEB_CUSTOMER_ID: &str = "0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e";
/// The web customer's ship-to and bill-to address codes.
pub const PLEX_WEB_SHIP_TO_CODE: &str = "WEB-SHIP";
pub const PLEX_WEB_BILL_TO_CODE: &str = "WEB-BILL";
/// A distributor customer with two ship-to addresses and an inactive one.
pub const PLEX_ACME_CUSTOMER_ID: &str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
/// The Plex customer of the store's registered customer ([`BIGCOMMERCE_DEMO_CUSTOMER_ID`]): same
/// company, and the same e-mail as the orders' billing address, which is how the demo connection
/// matches registered shoppers.
pub const PLEX_FITTER_CUSTOMER_ID: &str = "e5f6a7b8-9c0d-4e1f-8a2b-3c4d5e6f7a80";
pub const PLEX_FITTER_CUSTOMER_CODE: &str = "FITTER";
/// The demo customer's e-mail, in BigCommerce (billing address) and in Plex (customer record).
pub const DEMO_CUSTOMER_EMAIL: &str = "robin@fitter.example";
/// The "procedure" data sources of the web-order-via-data-source route: add a sales order header,
/// add a line (with its price and release), and find sales orders by PO number.
pub const PLEX_ORDER_HEADER_DATASOURCE_ID: u64 = 230_853;
pub const PLEX_ORDER_LINE_DATASOURCE_ID: u64 = 230_854;
pub const PLEX_ORDER_BY_PO_DATASOURCE_ID: u64 = 230_855;

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

/// The demo store's orders: a registered customer's (two lines, one shipping address) and a
/// guest's (one line). Orders placed through `POST /__control/orders` get the ids after these.
/// Both were placed (and last modified) at [`DEMO_ORDERS_PLACED`], long before any connection was
/// installed, so no order sweep takes them for orders whose webhook was missed.
pub const BIGCOMMERCE_DEMO_ORDER_ID: u64 = 100;
pub const BIGCOMMERCE_DEMO_GUEST_ORDER_ID: u64 = 101;
pub const DEMO_ORDERS_PLACED: &str = "2026-01-05T09:30:00Z";
/// The registered customer of the first demo order.
pub const BIGCOMMERCE_DEMO_CUSTOMER_ID: u64 = 7;

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
            ],
            "orders": [demo_order(), demo_guest_order()]
        }]
    })
}

/// A registered customer's order: 100 bolts and 4 zinc brackets to one address.
fn demo_order() -> Value {
    json!({
        "id": BIGCOMMERCE_DEMO_ORDER_ID,
        "date_created": DEMO_ORDERS_PLACED,
        "status_id": 11,
        "customer_id": BIGCOMMERCE_DEMO_CUSTOMER_ID,
        "currency_code": "USD",
        "customer_message": "Please deliver to the loading dock.",
        "billing_address": demo_address("Robin", "Fitter", "Fitter Fabrication LLC", DEMO_CUSTOMER_EMAIL),
        "shipping_addresses": [
            { "id": 1, "shipping_method": "Ground", "first_name": "Robin", "last_name": "Fitter",
              "company": "Fitter Fabrication LLC", "street_1": "12 Foundry Road", "street_2": "Dock 3",
              "city": "Austin", "state": "Texas", "zip": "78701", "country": "United States",
              "country_iso2": "US", "phone": "+1 555 0142", "email": DEMO_CUSTOMER_EMAIL }
        ],
        "products": [
            { "product_id": 111, "variant_id": 211, "sku": "MW-BOLT-M8", "name": "Hex Bolt M8 x 40, zinc plated",
              "quantity": 100, "price_ex_tax": "0.4500", "order_address_id": 1 },
            { "product_id": 113, "variant_id": 213, "sku": "MW-BRKT-100-ZN", "name": "Mounting Bracket 100 mm (Finish: Zinc)",
              "quantity": 4, "price_ex_tax": "6.9000", "order_address_id": 1 }
        ]
    })
}

/// A guest checkout (customer 0): 250 nuts.
fn demo_guest_order() -> Value {
    json!({
        "id": BIGCOMMERCE_DEMO_GUEST_ORDER_ID,
        "date_created": DEMO_ORDERS_PLACED,
        "status_id": 11,
        "customer_id": 0,
        "currency_code": "USD",
        "billing_address": demo_address("Sam", "Guest", "", "sam.guest@example.com"),
        "shipping_addresses": [
            { "id": 2, "shipping_method": "Free Shipping", "first_name": "Sam", "last_name": "Guest",
              "street_1": "9 Elm Street", "city": "Denver", "state": "Colorado", "zip": "80202",
              "country": "United States", "country_iso2": "US", "email": "sam.guest@example.com" }
        ],
        "products": [
            { "product_id": 112, "variant_id": 212, "sku": "MW-NUT-M8", "name": "Hex Nut M8",
              "quantity": 250, "price_ex_tax": "0.1200", "order_address_id": 2 }
        ]
    })
}

fn demo_address(first_name: &str, last_name: &str, company: &str, email: &str) -> Value {
    json!({
        "first_name": first_name, "last_name": last_name, "company": company,
        "street_1": "500 Commerce Street", "street_2": "", "city": "Austin", "state": "Texas", "zip": "78701",
        "country": "United States", "country_iso2": "US", "phone": "+1 555 0100", "email": email
    })
}

/// Seed for the Plex double: two tenants (the first is the default) with customers (and their
/// addresses) and parts, the API key, OAuth client, Data Source user, one read data source and the
/// three sales-order data sources.
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
                        "id": PLEX_WEB_CUSTOMER_ID,
                        "code": PLEX_WEB_CUSTOMER_CODE,
                        "name": "Web Store Orders",
                        "status": "Active",
                        "type": "Web",
                        "email": "orders@millwright.example",
                        "createdDate": "2025-11-03T14:00:00Z",
                        "modifiedDate": "2026-01-05T10:00:00.12Z",
                        "addresses": [
                            address("a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a01", PLEX_WEB_SHIP_TO_CODE, "Web Store Fulfilment", "400 Mill Road", true, false, true),
                            address("a1b2c3d4-0002-4e5f-8a9b-0c1d2e3f4a02", PLEX_WEB_BILL_TO_CODE, "Web Store Accounts", "1 Commerce Plaza", false, true, true)
                        ]
                    },
                    {
                        "id": PLEX_ACME_CUSTOMER_ID,
                        "code": "ACME",
                        "name": "Acme Fabrication Ltd",
                        "status": "Active",
                        "type": "Distributor",
                        "phone": "+1 555 0100",
                        "createdDate": "2024-06-12T09:30:15.123Z",
                        "modifiedDate": "2026-02-10T08:30:15.1234567Z",
                        "addresses": [
                            address("b2c3d4e5-0001-4f6a-9b0c-1d2e3f4a5b01", "ACME-HQ", "Acme Head Office", "12 Foundry Lane", true, true, true),
                            address("b2c3d4e5-0002-4f6a-9b0c-1d2e3f4a5b02", "ACME-DOCK2", "Acme Dock 2", "14 Foundry Lane", true, false, true),
                            address("b2c3d4e5-0003-4f6a-9b0c-1d2e3f4a5b03", "ACME-OLD", "Acme (old site)", "3 Canal Street", true, true, false)
                        ]
                    },
                    {
                        "id": PLEX_FITTER_CUSTOMER_ID,
                        "code": PLEX_FITTER_CUSTOMER_CODE,
                        "name": "Fitter Fabrication LLC",
                        "status": "Active",
                        "type": "End User",
                        "email": DEMO_CUSTOMER_EMAIL,
                        "createdDate": "2025-12-01T09:00:00Z",
                        "modifiedDate": "2025-12-01T09:00:00Z",
                        "addresses": [
                            address("d4e5f6a7-0001-4b8c-9d0e-1f2a3b4c5d01", "FITTER-DOCK", "Fitter Fabrication, Dock 3", "12 Foundry Road", true, true, true)
                        ]
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
            "password": PLEX_DATASOURCE_PASSWORD,
            "tenant": PLEX_TENANT_CODE
        }],
        "datasources": [
            {
                "id": PLEX_ORDER_HEADER_DATASOURCE_ID,
                "name": "Sales_Order_Add_Web",
                "description": "Adds a web sales order header (demo procedure).",
                "inputs": [
                    { "name": "Customer_Code", "type": "string", "required": true, "nullable": false },
                    { "name": "Order_No_Custom", "type": "string" },
                    { "name": "PO_No", "type": "string", "required": true, "nullable": false },
                    { "name": "Ship_To_Customer_Address_Code", "type": "string" },
                    { "name": "Bill_To_Customer_Address_Code", "type": "string" },
                    { "name": "Freight_Amount", "type": "decimal" },
                    { "name": "Tax_Amount", "type": "decimal" },
                    { "name": "Prepaid_Amount", "type": "decimal" }
                ],
                "outputs": { "Result_Error": null, "ResultCode": null, "ResultMessage": null, "Order_No": null },
                "procedure": "sales_order_add"
            },
            {
                "id": PLEX_ORDER_LINE_DATASOURCE_ID,
                "name": "Sales_Order_Line_Add_Web",
                "description": "Adds a line with its price and release to a sales order (demo procedure).",
                "inputs": [
                    { "name": "Order_No", "type": "string", "required": true, "nullable": false },
                    { "name": "Part_No", "type": "string", "required": true, "nullable": false },
                    { "name": "Quantity", "type": "decimal", "required": true, "nullable": false },
                    { "name": "Price", "type": "decimal", "required": true, "nullable": false },
                    { "name": "Due_Date", "type": "date", "required": true, "nullable": false },
                    { "name": "Release_Status", "type": "string" }
                ],
                "outputs": { "Result_Error": null, "ResultCode": null, "ResultMessage": null },
                "procedure": "sales_order_line_add"
            },
            {
                "id": PLEX_ORDER_BY_PO_DATASOURCE_ID,
                "name": "Sales_Orders_By_PO",
                "description": "Sales orders with a customer PO number (demo procedure).",
                "inputs": [
                    { "name": "PO_No", "type": "string", "required": true, "nullable": false },
                    { "name": "Customer_Code", "type": "string" }
                ],
                "columns": ["Order_No", "PO_No", "Customer_Code", "Line_Count"],
                "procedure": "sales_orders_by_po"
            },
            {
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
            }
        ]
    })
}

/// A customer address of the demo seed.
fn address(id: &str, code: &str, name: &str, street: &str, ship_to: bool, bill_to: bool, active: bool) -> Value {
    json!({
        "id": id,
        "code": code,
        "name": name,
        "address": street,
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "country": "USA",
        "shipTo": ship_to,
        "billTo": bill_to,
        "soldTo": bill_to,
        "active": active,
        "createdDate": "2025-11-03T14:00:00Z",
        "modifiedDate": "2025-11-03T14:00:00Z"
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
        "monday": { "api_version": "2026-10" },
        // Registered shoppers are matched by billing e-mail (the default), which finds
        // `PLEX_FITTER_CUSTOMER_ID` for the demo customer; guest checkouts go to the web customer.
        "orders": { "guest_customer_code": PLEX_WEB_CUSTOMER_CODE }
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
