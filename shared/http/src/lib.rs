//! millwright-http
