//! millwright-e2e
