//! bigcommerce
