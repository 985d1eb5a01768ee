//! millwright-aws
