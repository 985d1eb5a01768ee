//! Master data the order flow reads (and, when configured, writes): customers, their addresses, and
//! parts (`/mdm/v1/...`, Plex notes §2.4).
//!
//! Look-ups by code or number check the answer themselves: Plex ignores a filter it does not know
//! and then returns everything (§8), so "the first record of the list" is never trusted as a match.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{Error, PlexClient};

/// A Plex customer (the fields the order flow uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: String,
    pub code: Option<String>,
    pub name: Option<String>,
    /// e.g. `Active`, `Inactive`.
    pub status: Option<String>,
    pub customer_type: Option<String>,
    pub email: Option<String>,
}

impl Customer {
    /// Whether orders may be booked to it: Plex marks retired customers `Inactive`.
    pub fn is_active(&self) -> bool {
        !self.status.as_deref().is_some_and(|status| status.eq_ignore_ascii_case("inactive"))
    }
}

/// One of a customer's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerAddress {
    pub id: String,
    pub code: Option<String>,
    pub name: Option<String>,
    /// The street lines, as Plex keeps them in one field.
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub ship_to: bool,
    pub bill_to: bool,
    /// `false` only when Plex says so.
    pub active: bool,
}

/// A customer to create (`POST /mdm/v1/customers`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCustomer {
    /// Unique per tenant.
    pub code: String,
    pub name: String,
    /// A tenant setup value; Plex's default applies when `None`.
    pub status: Option<String>,
    pub customer_type: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub note: Option<String>,
}

/// An address to add to a customer (`POST /mdm/v1/customers/{customerId}/addresses`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCustomerAddress {
    pub code: Option<String>,
    pub name: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub ship_to: bool,
    pub bill_to: bool,
}

/// A Plex part (the SKU's counterpart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub id: String,
    pub number: String,
    pub name: Option<String>,
    pub revision: Option<String>,
    /// e.g. `Active`, `Obsolete`.
    pub status: Option<String>,
    pub part_type: Option<String>,
}

impl PlexClient {
    /// `GET /mdm/v1/customers?code=`: the customer with exactly this code.
    pub async fn customer_by_code(&self, code: &str) -> Result<Option<Customer>, Error> {
        let customers: Vec<wire::Customer> =
            self.get_list("/mdm/v1/customers", &[("code", code)], "customers", &mut 0).await?;
        Ok(customers.into_iter().find(|customer| customer.code.as_deref() == Some(code)).map(Customer::from))
    }

    /// `GET /mdm/v1/customers?name=`: the active customer with exactly this name.
    pub async fn customer_by_name(&self, name: &str) -> Result<Option<Customer>, Error> {
        let customers: Vec<wire::Customer> =
            self.get_list("/mdm/v1/customers", &[("name", name)], "customers", &mut 0).await?;
        Ok(customers
            .into_iter()
            .map(Customer::from)
            .find(|customer| customer.is_active() && customer.name.as_deref() == Some(name)))
    }

    /// The active customer whose e-mail is this one, compared case-insensitively. Plex's customer
    /// list has no e-mail filter, so this reads the list of active customers (one call; the order
    /// worker caches the answer in its id map, so each address costs this once).
    pub async fn customer_by_email(&self, email: &str) -> Result<Option<Customer>, Error> {
        let customers: Vec<wire::Customer> =
            self.get_list("/mdm/v1/customers", &[("status", "Active")], "customers", &mut 0).await?;
        Ok(customers.into_iter().map(Customer::from).find(|customer| {
            customer.is_active()
                && customer.email.as_deref().is_some_and(|e| e.trim().eq_ignore_ascii_case(email.trim()))
        }))
    }

    /// `GET /mdm/v1/customers/{id}`; `None` when Plex has no such customer.
    pub async fn customer(&self, id: &str) -> Result<Option<Customer>, Error> {
        let customer: Option<wire::Customer> =
            self.get_optional(&format!("/mdm/v1/customers/{id}"), "customer", &mut 0).await?;
        Ok(customer.map(Customer::from))
    }

    /// `GET /mdm/v1/customers/{customerId}/addresses`: every address of the customer (empty when
    /// the customer is unknown).
    pub async fn customer_addresses(&self, customer_id: &str) -> Result<Vec<CustomerAddress>, Error> {
        let path = format!("/mdm/v1/customers/{customer_id}/addresses");
        let addresses: Vec<wire::Address> = self.get_list(&path, &[], "customer addresses", &mut 0).await?;
        Ok(addresses.into_iter().map(CustomerAddress::from).collect())
    }

    /// `POST /mdm/v1/customers`. A code that is taken is refused ([`Error::Rejected`] naming
    /// `Code`), so look it up first.
    pub async fn create_customer(&self, customer: &NewCustomer) -> Result<Customer, Error> {
        let mut body = Map::new();
        body.insert("id".to_owned(), json!(uuid::Uuid::new_v4().to_string()));
        body.insert("code".to_owned(), json!(customer.code));
        body.insert("name".to_owned(), json!(customer.name));
        for (field, value) in [
            ("status", &customer.status),
            ("type", &customer.customer_type),
            ("email", &customer.email),
            ("phone", &customer.phone),
            ("note", &customer.note),
        ] {
            if let Some(value) = value {
                body.insert(field.to_owned(), json!(value));
            }
        }
        let created: wire::Customer =
            self.write_json(Method::POST, "/mdm/v1/customers", &Value::Object(body), "customer", &mut 0).await?;
        Ok(Customer::from(created))
    }

    /// `POST /mdm/v1/customers/{customerId}/addresses`.
    pub async fn create_customer_address(
        &self,
        customer_id: &str,
        address: &NewCustomerAddress,
    ) -> Result<CustomerAddress, Error> {
        let mut body = Map::new();
        body.insert("shipTo".to_owned(), json!(address.ship_to));
        body.insert("billTo".to_owned(), json!(address.bill_to));
        body.insert("active".to_owned(), json!(true));
        for (field, value) in [
            ("code", &address.code),
            ("name", &address.name),
            ("address", &address.address),
            ("city", &address.city),
            ("state", &address.state),
            ("zip", &address.zip),
            ("country", &address.country),
            ("email", &address.email),
            ("phone", &address.phone),
        ] {
            if let Some(value) = value {
                body.insert(field.to_owned(), json!(value));
            }
        }
        let path = format!("/mdm/v1/customers/{customer_id}/addresses");
        let created: wire::Address =
            self.write_json(Method::POST, &path, &Value::Object(body), "customer address", &mut 0).await?;
        Ok(CustomerAddress::from(created))
    }

    /// `GET /mdm/v1/parts?number=`: the part with exactly this number. Of several revisions, an
    /// active one wins, then the first Plex lists.
    pub async fn part_by_number(&self, number: &str) -> Result<Option<Part>, Error> {
        let parts: Vec<wire::Part> = self.get_list("/mdm/v1/parts", &[("number", number)], "parts", &mut 0).await?;
        let mut matching: Vec<wire::Part> =
            parts.into_iter().filter(|part| part.number.as_deref() == Some(number)).collect();
        let active = matching.iter().position(|part| part.status.as_deref() == Some("Active")).unwrap_or(0);
        Ok((!matching.is_empty()).then(|| matching.swap_remove(active)).and_then(Part::from_wire))
    }
}

impl From<wire::Customer> for Customer {
    fn from(customer: wire::Customer) -> Self {
        Customer {
            id: customer.id,
            code: customer.code,
            name: customer.name,
            status: customer.status,
            customer_type: customer.customer_type,
            email: customer.email,
        }
    }
}

impl From<wire::Address> for CustomerAddress {
    fn from(address: wire::Address) -> Self {
        CustomerAddress {
            id: address.id,
            code: address.code,
            name: address.name,
            address: address.address,
            city: address.city,
            state: address.state,
            zip: address.zip,
            country: address.country,
            email: address.email,
            phone: address.phone,
            ship_to: address.ship_to.unwrap_or(false),
            bill_to: address.bill_to.unwrap_or(false),
            active: address.active.unwrap_or(true),
        }
    }
}

impl Part {
    fn from_wire(part: wire::Part) -> Option<Part> {
        Some(Part {
            id: part.id,
            number: part.number?,
            name: part.name,
            revision: part.revision,
            status: part.status,
            part_type: part.part_type,
        })
    }
}

mod wire {
    //! Plex's customer, address and part JSON, as much of it as this client reads.

    use super::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Customer {
        pub id: String,
        #[serde(default)]
        pub code: Option<String>,
        #[serde(default)]
        pub name: Option<String>,
        #[serde(default)]
        pub status: Option<String>,
        #[serde(default, rename = "type")]
        pub customer_type: Option<String>,
        #[serde(default)]
        pub email: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Address {
        pub id: String,
        #[serde(default)]
        pub code: Option<String>,
        #[serde(default)]
        pub name: Option<String>,
        #[serde(default)]
        pub address: Option<String>,
        #[serde(default)]
        pub city: Option<String>,
        #[serde(default)]
        pub state: Option<String>,
        #[serde(default)]
        pub zip: Option<String>,
        #[serde(default)]
        pub country: Option<String>,
        #[serde(default)]
        pub email: Option<String>,
        #[serde(default)]
        pub phone: Option<String>,
        #[serde(default)]
        pub ship_to: Option<bool>,
        #[serde(default)]
        pub bill_to: Option<bool>,
        #[serde(default)]
        pub active: Option<bool>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Part {
        pub id: String,
        #[serde(default)]
        pub number: Option<String>,
        #[serde(default)]
        pub name: Option<String>,
        #[serde(default)]
        pub revision: Option<String>,
        #[serde(default)]
        pub status: Option<String>,
        #[serde(default, rename = "type")]
        pub part_type: Option<String>,
    }
}
