//! The failures of a step that talks to both the state table and an API (the look-ups), kept apart
//! because they are handled apart: a port failure is infrastructure (retry), an API failure is
//! classified by its `ErrorClass` (retry, park or fail).

use domain::PortError;
use domain::ports::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("{context}: {source}")]
    Port {
        context: &'static str,
        #[source]
        source: PortError,
    },
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl StepError {
    /// The error class that decides retry, park or fail.
    pub fn class(&self) -> domain::ErrorClass {
        match self {
            StepError::Port { source, .. } => source.class(),
            StepError::Api(error) => error.class,
        }
    }

    pub(crate) fn port(context: &'static str) -> impl FnOnce(PortError) -> StepError {
        move |source| StepError::Port { context, source }
    }
}
