//! The order worker's `WebOrderSource` over the BigCommerce client. Errors leave as
//! `domain::ports::ApiError`, keeping the class `millwright-http` decided and the server's wait.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::order::{OrderChange, WebOrder};
use domain::ports::{ApiError, WebOrderSource};

use crate::{BigCommerceClient, Error};

/// A BigCommerce error as the flows see it.
pub fn api_error(error: Error) -> ApiError {
    let retry_after = match &error {
        Error::Http(http) => http.retry_after(),
        _ => None,
    };
    ApiError { class: error.class(), message: error.to_string(), retry_after }
}

#[async_trait]
impl WebOrderSource for BigCommerceClient {
    async fn order(&self, id: u64) -> Result<Option<WebOrder>, ApiError> {
        BigCommerceClient::order(self, id).await.map_err(api_error)
    }

    async fn order_changes(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: u32,
        limit: u32,
    ) -> Result<Vec<OrderChange>, ApiError> {
        BigCommerceClient::order_changes(self, from, to, page, limit).await.map_err(api_error)
    }
}
