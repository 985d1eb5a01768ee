//! millwright-cli
