//! [`PlexSalesOrders`]: the order worker's `SalesOrderSink` over Plex, writing with the
//! connection's strategy (Connect REST, or the tenant's data sources).
//!
//! Errors leave as `domain::ports::ApiError`, keeping the class `millwright-http` decided and the
//! server's requested wait, so the worker decides retry, park or needs-mapping without knowing
//! Plex.

use async_trait::async_trait;
use domain::order::{
    CustomerKey, NewCustomer, PartRef, PlexLineRef, PlexOrderRef, SalesOrderDraft, SalesOrderLineDraft,
};
use domain::ports::{ApiError, SalesOrderSink};

use crate::{
    CreatedSalesOrder, DataSourceClient, DataSourceOrderIds, Error, NewCustomerAddress, PlexClient, ReleaseChange,
};

/// How a connection writes sales orders.
pub enum Writer {
    /// The Connect REST chain: order, then a line, a price and a release per line.
    Rest,
    /// The tenant's data sources; look-ups of customers and parts still use Connect.
    DataSource { client: Box<DataSourceClient>, ids: DataSourceOrderIds },
}

/// Plex as the order worker sees it.
pub struct PlexSalesOrders {
    client: PlexClient,
    writer: Writer,
}

impl PlexSalesOrders {
    pub fn new(client: PlexClient, writer: Writer) -> PlexSalesOrders {
        PlexSalesOrders { client, writer }
    }
}

/// A Plex error as the flows see it.
pub fn api_error(error: Error) -> ApiError {
    let retry_after = match &error {
        Error::Http(http) => http.retry_after(),
        _ => None,
    };
    ApiError { class: error.class(), message: error.to_string(), retry_after }
}

fn order_ref(created: CreatedSalesOrder) -> PlexOrderRef {
    PlexOrderRef {
        id: created.order_id,
        number: created.order_number,
        lines: created
            .lines
            .into_iter()
            .map(|line| PlexLineRef {
                line_number: line.line_number,
                line_id: line.line_id,
                release_id: Some(line.release_id),
            })
            .collect(),
    }
}

/// A data-source order is known by its order number; its lines by their numbers only.
fn datasource_ref(order_number: String, draft: &SalesOrderDraft) -> PlexOrderRef {
    PlexOrderRef {
        id: order_number.clone(),
        number: Some(order_number),
        lines: draft
            .lines
            .iter()
            .map(|line| PlexLineRef {
                line_number: line.line_number,
                line_id: line.line_number.to_string(),
                release_id: None,
            })
            .collect(),
    }
}

#[async_trait]
impl SalesOrderSink for PlexSalesOrders {
    async fn find_customer(&self, key: &CustomerKey) -> Result<Option<String>, ApiError> {
        let found = match key {
            CustomerKey::GuestCode(code) => self.client.customer_by_code(code).await,
            CustomerKey::Email(email) => self.client.customer_by_email(email).await,
            CustomerKey::Company(name) => self.client.customer_by_name(name).await,
            // The worker answers these from its id map; Plex knows nothing of BigCommerce ids.
            CustomerKey::BigCommerceId(_) => return Ok(None),
        };
        found.map(|customer| customer.map(|c| c.id)).map_err(api_error)
    }

    /// The customer, then its billing address as a bill-to and ship-to address: two calls, once per
    /// new shopper (the worker caches the id).
    async fn create_customer(&self, customer: &NewCustomer) -> Result<String, ApiError> {
        let created = self
            .client
            .create_customer(&crate::NewCustomer {
                code: customer.code.clone(),
                name: customer.name.clone(),
                email: customer.email.clone(),
                phone: customer.billing.phone.clone(),
                note: Some("Created by Millwright for a BigCommerce shopper".to_owned()),
                ..crate::NewCustomer::default()
            })
            .await
            .map_err(api_error)?;
        let billing = &customer.billing;
        let street = [Some(billing.street_1.as_str()), billing.street_2.as_deref()]
            .into_iter()
            .flatten()
            .filter(|line| !line.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        let address = NewCustomerAddress {
            code: Some("BILLING".to_owned()),
            name: Some(customer.name.clone()),
            address: Some(street).filter(|s| !s.is_empty()),
            city: Some(billing.city.clone()).filter(|s| !s.is_empty()),
            state: Some(billing.state.clone()).filter(|s| !s.is_empty()),
            zip: Some(billing.zip.clone()).filter(|s| !s.is_empty()),
            country: Some(billing.country_iso2.clone()).filter(|s| !s.is_empty()),
            email: customer.email.clone(),
            phone: billing.phone.clone(),
            ship_to: true,
            bill_to: true,
        };
        self.client.create_customer_address(&created.id, &address).await.map_err(api_error)?;
        Ok(created.id)
    }

    async fn part_by_number(&self, number: &str) -> Result<Option<PartRef>, ApiError> {
        let part = self.client.part_by_number(number).await.map_err(api_error)?;
        Ok(part.map(|part| PartRef { id: part.id, number: part.number }))
    }

    async fn find_by_po(&self, po_number: &str) -> Result<Option<PlexOrderRef>, ApiError> {
        match &self.writer {
            Writer::Rest => {
                let Some(order) = self.client.find_sales_order_by_po(po_number).await.map_err(api_error)? else {
                    return Ok(None);
                };
                let lines = self.client.sales_order_lines(&order.id).await.map_err(api_error)?;
                let line_ids: Vec<String> = lines.iter().map(|line| line.id.clone()).collect();
                let releases = self.client.releases(&line_ids).await.map_err(api_error)?;
                let lines = lines
                    .into_iter()
                    .filter_map(|line| {
                        let line_number = line.line_number.as_deref()?.trim().parse().ok()?;
                        let release_id = releases
                            .iter()
                            .find(|release| {
                                release.order_line_id.as_deref().is_some_and(|id| id.eq_ignore_ascii_case(&line.id))
                            })
                            .map(|release| release.id.clone());
                        Some(PlexLineRef { line_number, line_id: line.id, release_id })
                    })
                    .collect();
                Ok(Some(PlexOrderRef { id: order.id, number: order.order_number, lines }))
            }
            Writer::DataSource { client, ids } => {
                let orders = client.find_sales_orders_by_po(ids.find_by_po, po_number).await.map_err(api_error)?;
                Ok(orders.into_iter().next().map(|order| PlexOrderRef {
                    id: order.order_number.clone(),
                    number: Some(order.order_number),
                    lines: Vec::new(),
                }))
            }
        }
    }

    async fn create(&self, draft: &SalesOrderDraft) -> Result<PlexOrderRef, ApiError> {
        match &self.writer {
            Writer::Rest => self.client.create_sales_order(draft).await.map(order_ref).map_err(api_error),
            Writer::DataSource { client, ids } => {
                let customer_code = self.customer_code(&draft.customer_id).await?;
                let created =
                    client.create_sales_order_via_datasource(ids, draft, &customer_code).await.map_err(api_error)?;
                Ok(datasource_ref(created.order_number, draft))
            }
        }
    }

    async fn complete(&self, order: &PlexOrderRef, draft: &SalesOrderDraft) -> Result<PlexOrderRef, ApiError> {
        match &self.writer {
            Writer::Rest => self.client.complete_sales_order(&order.id, draft).await.map(order_ref).map_err(api_error),
            // The data-source create resumes a half-written order by its PO number itself.
            Writer::DataSource { .. } => self.create(draft).await,
        }
    }

    /// Each release is read and sent back whole with the new quantity and due date; repeating it
    /// after a lost answer sets the same values again.
    async fn update_releases(&self, order: &PlexOrderRef, lines: &[SalesOrderLineDraft]) -> Result<(), ApiError> {
        for line in lines {
            let known = order.lines.iter().find(|known| known.line_number == line.line_number);
            let release_id = match known {
                Some(PlexLineRef { release_id: Some(release_id), .. }) => Some(release_id.clone()),
                // A reference kept without its release (the line was found before its release
                // was written): Plex knows it by the line.
                Some(PlexLineRef { line_id, release_id: None, .. }) if matches!(self.writer, Writer::Rest) => {
                    self.only_release_of(line_id).await?
                }
                _ => None,
            };
            let release_id = release_id.ok_or_else(|| ApiError {
                class: domain::ErrorClass::Data,
                message: format!(
                    "Plex order {} has no known release for line {}; change it in Plex by hand",
                    order.number.as_deref().unwrap_or(&order.id),
                    line.line_number
                ),
                retry_after: None,
            })?;
            let change = ReleaseChange { quantity: Some(line.quantity), due_date: Some(line.due_date), status: None };
            self.client.update_release(&release_id, &change).await.map_err(api_error)?;
        }
        Ok(())
    }

    /// The tenants canary (`GET /mdm/v1/tenants`) with the API key: a 401 there too means the key
    /// is refused. An OAuth2 client already answered its 401 with a new token and a second send,
    /// so a second canary (and a second token request) would only repeat that check.
    async fn credentials_work(&self) -> Result<bool, ApiError> {
        if self.client.confirms_auth_failures() {
            return Ok(false);
        }
        match self.client.tenants().await {
            Ok(_) => Ok(true),
            Err(error) if error.class() == domain::ErrorClass::Auth => Ok(false),
            Err(error) => Err(api_error(error)),
        }
    }
}

impl PlexSalesOrders {
    /// The release of a Connect line, when it has exactly one (several mean someone split it in
    /// Plex, and which to change is not the worker's guess).
    async fn only_release_of(&self, line_id: &str) -> Result<Option<String>, ApiError> {
        let releases = self.client.releases(&[line_id.to_owned()]).await.map_err(api_error)?;
        Ok(match releases.as_slice() {
            [release] => Some(release.id.clone()),
            _ => None,
        })
    }

    /// Data sources take the customer's code, the draft carries its id.
    async fn customer_code(&self, customer_id: &str) -> Result<String, ApiError> {
        let customer = self.client.customer(customer_id).await.map_err(api_error)?;
        customer.and_then(|c| c.code).ok_or_else(|| ApiError {
            class: domain::ErrorClass::Data,
            message: format!("Plex customer {customer_id} has no code, which the order data source needs"),
            retry_after: None,
        })
    }
}
