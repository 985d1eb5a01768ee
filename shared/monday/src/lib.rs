//! monday
