//! [`DataSourceClient`]: the Plex Data Source API (Plex notes §3), and the web-order route through
//! a tenant's own data sources (§2.4 "Data Source route") for tenants whose order entry needs
//! what the REST create lacks (bill-to and ship-to codes, freight, tax, prepaid).
//!
//! `POST {base}/api/datasources/{id}/execute` with `{"inputs": {...}}` and HTTP Basic with the
//! web-service user (`datasource_user`/`datasource_password` of the secret); the answer is
//! `{"outputs": {...}, "tables": [{"columns", "rows", "rowLimitExceeded"}], "transactionNo"}`.
//!
//! Failures come two ways. The API's own errors (`{"errors": [{"code", ...}]}`) are classed by
//! their documented code rather than only their status: `USER_ACCESS_DENIED` is auth; the
//! `..._ACCESS_DENIED` and `..._NOT_ACCESSIBLE` codes are permission; input, not-found and method
//! codes are data (the data source id or its inputs are configured wrong); `REQUEST_PROCESSING_ERROR`
//! is transient. Business failures of a write data source come back with HTTP 200 and outputs
//! `Result_Error` / `ResultCode` / `ResultMessage` (observed in web-order integrations): a set
//! `Result_Error`, or without one a `ResultCode` other than 0 or 200, is an [`Error::Rejected`]
//! carrying the message.

use std::collections::BTreeSet;

use domain::ErrorClass;
use domain::connection::WriteStrategy;
use domain::order::SalesOrderDraft;
use millwright_http::{Api, ApiClient, HttpError, HttpSettings, Pacer};
use reqwest::header::{ACCEPT, HeaderValue};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::credentials::missing;
use crate::sales::OrderDefaults;
use crate::wire::day;
use crate::{Credentials, Error};

/// One connection's Plex Data Source API. Clones share the HTTP client and the rate budget.
#[derive(Clone)]
pub struct DataSourceClient {
    api: ApiClient,
    base: String,
    user: String,
    password: SecretString,
    defaults: OrderDefaults,
}

impl std::fmt::Debug for DataSourceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `SecretString` hides itself too; listing the fields keeps that explicit here.
        f.debug_struct("DataSourceClient")
            .field("base", &self.base)
            .field("user", &self.user)
            .field("password", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// What a data source answered.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSourceResult {
    /// The result table's rows, each keyed by column name.
    pub rows: Vec<Map<String, Value>>,
    pub outputs: Map<String, Value>,
    /// Plex cut the rows at its row limit; narrow the inputs and ask again.
    pub row_limit_exceeded: bool,
    /// Plex's transaction number, for a support case.
    pub transaction_no: Option<String>,
    /// HTTP requests sent, retries included.
    pub calls: u32,
}

/// The tenant's data sources for writing a web order (their keys differ per tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSourceOrderIds {
    /// Adds the header: `Customer_Code, Order_No_Custom, PO_No, Ship_To_Customer_Address_Code,
    /// Bill_To_Customer_Address_Code, Freight_Amount, Tax_Amount, Prepaid_Amount` → outputs
    /// `Result_Error, ResultCode, ResultMessage, Order_No`.
    pub create_header: u64,
    /// Adds a line with its price and release: `Order_No, Part_No, Quantity, Price, Due_Date,
    /// Release_Status` → outputs `Result_Error, ResultCode, ResultMessage`.
    pub add_line: u64,
    /// Finds orders by PO number: `PO_No` → rows `Order_No, PO_No, Customer_Code` and, for an
    /// order an earlier attempt may have left half-written, `Line_Count`.
    pub find_by_po: u64,
}

impl DataSourceOrderIds {
    /// The ids of a connection whose write strategy is the data-source route.
    pub fn from_strategy(strategy: &WriteStrategy) -> Option<DataSourceOrderIds> {
        match strategy {
            WriteStrategy::DataSource { create_header, add_line, find_by_po } => {
                Some(DataSourceOrderIds { create_header: *create_header, add_line: *add_line, find_by_po: *find_by_po })
            }
            WriteStrategy::Rest => None,
        }
    }
}

/// Header values only the data-source route can carry; each is left out when `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataSourceHeader {
    pub ship_to_address_code: Option<String>,
    pub bill_to_address_code: Option<String>,
    pub freight_amount: Option<Decimal>,
    pub tax_amount: Option<Decimal>,
    pub prepaid_amount: Option<Decimal>,
}

/// A sales order the find-by-PO data source returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSourceOrder {
    pub order_number: String,
    pub po_number: Option<String>,
    pub customer_code: Option<String>,
    /// How many lines the order has, when the data source reports it.
    pub line_count: Option<u32>,
}

/// The outcome of [`DataSourceClient::create_sales_order_via_datasource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSourceSalesOrder {
    pub order_number: String,
    /// Lines this call added (fewer than the draft's when it resumed a half-written order).
    pub lines_added: u32,
    /// The order existed already (an earlier attempt made it); only missing lines were added.
    pub resumed: bool,
    /// HTTP requests sent, retries included.
    pub calls: u32,
}

impl DataSourceClient {
    /// `datasource_base_url` is e.g. `https://cloud.plex.com` (or `https://{pcn}.on.plex.com`, the
    /// test tier, or the sandbox). The credentials must hold the web-service login.
    pub fn new(
        settings: &HttpSettings,
        datasource_base_url: &str,
        credentials: &Credentials,
    ) -> Result<DataSourceClient, Error> {
        let base = millwright_http::base_url(datasource_base_url)
            .map_err(|reason| Error::Config { what: "Data Source base URL", reason })?;
        let (user, password) = credentials
            .datasource_login()
            .ok_or_else(|| missing("datasource_user", "is missing (the connection writes through data sources)"))?;
        let api = ApiClient::new(Api::Plex, settings)?;
        Ok(DataSourceClient {
            api,
            base,
            user: user.to_owned(),
            password: password.clone(),
            defaults: OrderDefaults::default(),
        })
    }

    /// Draws from `pacer` instead of this client's own budget.
    pub fn with_pacer(mut self, pacer: Pacer) -> DataSourceClient {
        self.api = self.api.with_pacer(pacer);
        self
    }

    /// Uses `defaults.release_status` as the lines' `Release_Status`.
    pub fn with_order_defaults(mut self, defaults: OrderDefaults) -> DataSourceClient {
        self.defaults = defaults;
        self
    }

    /// Executes data source `id` with `inputs` (a JSON object; names are case-sensitive).
    pub async fn execute(&self, id: u64, inputs: Value) -> Result<DataSourceResult, Error> {
        if !inputs.is_object() {
            return Err(Error::Config { what: "data source inputs", reason: "must be a JSON object".to_owned() });
        }
        let url = format!("{}/api/datasources/{id}/execute", self.base);
        let body = json!({ "inputs": inputs });
        let outcome = self
            .api
            .send(|http| {
                http.post(&url)
                    .basic_auth(&self.user, Some(self.password.expose_secret()))
                    .header(ACCEPT, HeaderValue::from_static("application/json"))
                    .json(&body)
            })
            .await;
        let reply = outcome.map_err(|error| datasource_error(id, error))?;
        let answer: wire::Answer =
            reply.json().map_err(|source| Error::Decode { what: "data source result", element: None, source })?;
        let result = answer.into_result(reply.attempts);
        if let Some((code, message)) = reported_failure(&result.outputs) {
            return Err(Error::Rejected {
                request: format!("data source {id}"),
                code,
                field: None,
                message,
                source: None,
            });
        }
        Ok(result)
    }

    /// The orders the find-by-PO data source returns for exactly this PO number.
    pub async fn find_sales_orders_by_po(
        &self,
        find_by_po: u64,
        po_number: &str,
    ) -> Result<Vec<DataSourceOrder>, Error> {
        Ok(self.find(find_by_po, po_number).await?.0)
    }

    async fn find(&self, find_by_po: u64, po_number: &str) -> Result<(Vec<DataSourceOrder>, u32), Error> {
        let result = self.execute(find_by_po, json!({ "PO_No": po_number })).await?;
        let orders = result
            .rows
            .iter()
            .filter(|row| row.get("PO_No").and_then(Value::as_str).is_none_or(|po| po == po_number))
            .filter_map(|row| {
                Some(DataSourceOrder {
                    order_number: text(row.get("Order_No")?)?,
                    po_number: row.get("PO_No").and_then(text),
                    customer_code: row.get("Customer_Code").and_then(text),
                    line_count: row.get("Line_Count").and_then(count),
                })
            })
            .collect();
        Ok((orders, result.calls))
    }

    /// Writes a draft through the tenant's data sources: looks the PO number up first; then adds
    /// the header and a line per draft line, or, when an earlier attempt made the order, only
    /// the lines after those it reports (lines are added in draft order, so a count says which).
    pub async fn create_sales_order_via_datasource(
        &self,
        ids: &DataSourceOrderIds,
        draft: &SalesOrderDraft,
        customer_code: &str,
    ) -> Result<DataSourceSalesOrder, Error> {
        self.create_sales_order_via_datasource_with(ids, draft, customer_code, &DataSourceHeader::default()).await
    }

    /// [`create_sales_order_via_datasource`](Self::create_sales_order_via_datasource) with the
    /// header values only this route carries.
    pub async fn create_sales_order_via_datasource_with(
        &self,
        ids: &DataSourceOrderIds,
        draft: &SalesOrderDraft,
        customer_code: &str,
        header: &DataSourceHeader,
    ) -> Result<DataSourceSalesOrder, Error> {
        let inconsistent = |reason: String| Error::Inconsistent { what: format!("PO {}", draft.po_number), reason };
        let (found, mut calls) = self.find(ids.find_by_po, &draft.po_number).await?;
        let (order_number, first_line, resumed) = match found.as_slice() {
            [] => {
                let (order_number, header_calls) =
                    self.add_header(ids.create_header, draft, customer_code, header).await?;
                calls += header_calls;
                if header_calls > 1 {
                    // The header was sent more than once (the shared policy retried it); the
                    // data source has no idempotency key, so check nothing was made twice.
                    let (again, find_calls) = self.find(ids.find_by_po, &draft.po_number).await?;
                    calls += find_calls;
                    if again.len() > 1 {
                        return Err(inconsistent(format!("a retried header made {} orders", again.len())));
                    }
                }
                (order_number, 0, false)
            }
            [existing] => {
                let count = existing.line_count.ok_or_else(|| {
                    inconsistent(format!(
                        "order {} exists, and data source {} does not report how many lines it has",
                        existing.order_number, ids.find_by_po
                    ))
                })?;
                let count = usize::try_from(count).unwrap_or(usize::MAX);
                if count > draft.lines.len() {
                    return Err(inconsistent(format!(
                        "order {} has {count} lines, the draft {}",
                        existing.order_number,
                        draft.lines.len()
                    )));
                }
                (existing.order_number.clone(), count, true)
            }
            several => {
                let numbers: BTreeSet<&str> = several.iter().map(|order| order.order_number.as_str()).collect();
                return Err(inconsistent(format!("Plex holds several orders: {numbers:?}")));
            }
        };
        let mut lines_added = 0;
        for line in &draft.lines[first_line..] {
            let inputs = json!({
                "Order_No": order_number,
                "Part_No": line.part_number,
                // Decimal inputs take numeric strings, which keep the exact value.
                "Quantity": line.quantity.normalize().to_string(),
                "Price": line.unit_price.normalize().to_string(),
                "Due_Date": day(line.due_date),
                "Release_Status": self.defaults.release_status,
            });
            calls += self.execute(ids.add_line, inputs).await?.calls;
            lines_added += 1;
        }
        Ok(DataSourceSalesOrder { order_number, lines_added, resumed, calls })
    }

    /// Runs the header data source; returns the order number and the requests it took.
    async fn add_header(
        &self,
        create_header: u64,
        draft: &SalesOrderDraft,
        customer_code: &str,
        header: &DataSourceHeader,
    ) -> Result<(String, u32), Error> {
        let mut inputs = Map::new();
        inputs.insert("Customer_Code".to_owned(), json!(customer_code));
        inputs.insert("PO_No".to_owned(), json!(draft.po_number));
        for (name, value) in [
            ("Ship_To_Customer_Address_Code", header.ship_to_address_code.clone()),
            ("Bill_To_Customer_Address_Code", header.bill_to_address_code.clone()),
            ("Freight_Amount", header.freight_amount.map(|amount| amount.normalize().to_string())),
            ("Tax_Amount", header.tax_amount.map(|amount| amount.normalize().to_string())),
            ("Prepaid_Amount", header.prepaid_amount.map(|amount| amount.normalize().to_string())),
        ] {
            if let Some(value) = value {
                inputs.insert(name.to_owned(), json!(value));
            }
        }
        let result = self.execute(create_header, Value::Object(inputs)).await?;
        let order_number = result.outputs.get("Order_No").and_then(text).ok_or_else(|| Error::Inconsistent {
            what: format!("data source {create_header}"),
            reason: "reported success without an Order_No".to_owned(),
        })?;
        Ok((order_number, result.calls))
    }
}

/// A Data Source API failure, classed by its code when it has one (see the module docs).
fn datasource_error(id: u64, error: HttpError) -> Error {
    let Some(code) = error.code().map(str::to_owned) else {
        return Error::Http(error);
    };
    let class = match code.as_str() {
        "USER_ACCESS_DENIED" => ErrorClass::Auth,
        "CUSTOMER_ACCESS_DENIED"
        | "DATA_SOURCE_ACCESS_DENIED"
        | "DATA_SOURCE_API_ACCESS_DENIED"
        | "DATA_SOURCE_INPUT_NOT_ACCESSIBLE" => ErrorClass::Permission,
        "DATA_SOURCE_INPUT_FORMAT_INVALID"
        | "DATA_SOURCE_INPUT_NOT_FOUND"
        | "DATA_SOURCE_INPUT_NOT_NULLABLE"
        | "DATA_SOURCE_INPUT_REQUIRED"
        | "DATA_SOURCE_INPUT_TYPE_MISMATCH"
        | "DATA_SOURCE_NOT_FOUND"
        | "DATA_SOURCE_OBJECT_NOT_FOUND"
        | "METHOD_NOT_ALLOWED" => ErrorClass::Data,
        "REQUEST_PROCESSING_ERROR" => ErrorClass::Transient,
        _ => error.class(),
    };
    Error::DataSource { id, code, class, source: error }
}

/// `Some((code, message))` when the outputs report a business failure (see the module docs).
fn reported_failure(outputs: &Map<String, Value>) -> Option<(Option<String>, String)> {
    let flagged = outputs.get("Result_Error").and_then(|value| match value {
        Value::Bool(flag) => Some(*flag),
        Value::Number(number) => Some(number.as_f64() != Some(0.0)),
        Value::String(text) => Some(matches!(text.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes")),
        _ => None,
    });
    let code = outputs.get("ResultCode").and_then(text);
    let failed = flagged.unwrap_or_else(|| code.as_deref().is_some_and(|code| !matches!(code, "0" | "200")));
    if !failed {
        return None;
    }
    let message = outputs
        .get("ResultMessage")
        .and_then(text)
        .unwrap_or_else(|| "the data source reported an error without a message".to_owned());
    Some((code, message))
}

/// A cell or output as text: strings as they are, numbers written out.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn count(value: &Value) -> Option<u32> {
    match value {
        Value::Number(number) => number.as_u64().and_then(|count| u32::try_from(count).ok()),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

mod wire {
    //! The Data Source API's answer, in the default shape (`tables`) or the `format=2` shape
    //! (`rows` of objects), so either server setting reads.

    use super::{DataSourceResult, Deserialize, Map, Value};

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Answer {
        #[serde(default)]
        outputs: Option<Map<String, Value>>,
        #[serde(default)]
        tables: Vec<Table>,
        #[serde(default)]
        rows: Option<Vec<Map<String, Value>>>,
        #[serde(default)]
        row_limit_exceeded: Option<bool>,
        #[serde(default)]
        transaction_no: Option<Value>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Table {
        #[serde(default)]
        columns: Vec<String>,
        #[serde(default)]
        rows: Vec<Vec<Value>>,
        #[serde(default)]
        row_limit_exceeded: Option<bool>,
    }

    impl Answer {
        pub(super) fn into_result(self, calls: u32) -> DataSourceResult {
            let mut row_limit_exceeded = self.row_limit_exceeded.unwrap_or(false);
            let rows = match (self.rows, self.tables.into_iter().next()) {
                (Some(rows), _) => rows,
                (None, Some(table)) => {
                    row_limit_exceeded |= table.row_limit_exceeded.unwrap_or(false);
                    table.rows.into_iter().map(|row| table.columns.iter().cloned().zip(row).collect()).collect()
                }
                (None, None) => Vec::new(),
            };
            let transaction_no = match self.transaction_no {
                Some(Value::String(number)) => Some(number),
                Some(Value::Number(number)) => Some(number.to_string()),
                _ => None,
            };
            DataSourceResult {
                rows,
                outputs: self.outputs.unwrap_or_default(),
                row_limit_exceeded,
                transaction_no,
                calls,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn result_error_or_a_non_zero_result_code_is_a_failure() {
        assert_eq!(reported_failure(&outputs(json!({"Result_Error": false, "ResultCode": 0}))), None);
        assert_eq!(
            reported_failure(&outputs(json!({"Result_Error": true, "ResultCode": 12, "ResultMessage": "no part"}))),
            Some((Some("12".to_owned()), "no part".to_owned()))
        );
        assert!(reported_failure(&outputs(json!({"ResultCode": 7}))).is_some());
        assert_eq!(reported_failure(&outputs(json!({"ResultCode": "200"}))), None);
        assert_eq!(reported_failure(&outputs(json!({}))), None);
    }

    #[test]
    fn both_answer_shapes_become_rows_keyed_by_column() {
        let tables: wire::Answer = serde_json::from_value(json!({
            "outputs": {}, "tables": [{"columns": ["A", "B"], "rows": [[1, "x"]], "rowLimitExceeded": true}],
            "transactionNo": "77"
        }))
        .unwrap();
        let result = tables.into_result(1);
        assert_eq!(result.rows, vec![outputs(json!({"A": 1, "B": "x"}))]);
        assert!(result.row_limit_exceeded);
        assert_eq!(result.transaction_no.as_deref(), Some("77"));
        let flat: wire::Answer = serde_json::from_value(json!({"rows": [{"A": 2}], "transactionNo": 78})).unwrap();
        assert_eq!(flat.into_result(1).rows, vec![outputs(json!({"A": 2}))]);
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let credentials = Credentials::from_secret_json(&SecretString::from(
            r#"{"api_key":"k","datasource_user":"ws","datasource_password":"pw-secret-9"}"#.to_owned(),
        ))
        .unwrap();
        let client = DataSourceClient::new(&HttpSettings::default(), "https://cloud.plex.com", &credentials).unwrap();
        assert!(!format!("{client:?}").contains("pw-secret-9"));
    }

    #[test]
    fn a_missing_login_is_a_credentials_error() {
        let credentials = Credentials::from_secret_json(&SecretString::from(r#"{"api_key":"k"}"#.to_owned())).unwrap();
        let error =
            DataSourceClient::new(&HttpSettings::default(), "https://cloud.plex.com", &credentials).unwrap_err();
        assert!(matches!(error, Error::Credentials { field: "datasource_user", .. }), "{error:?}");
    }
}
