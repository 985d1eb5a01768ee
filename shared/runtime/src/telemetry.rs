//! Tracing set-up shared by the functions, the CLI and the local runtime.
//!
//! On Lambda (detected by `AWS_LAMBDA_FUNCTION_NAME`) logs are JSON, one object per line, as the
//! template's `LogFormat: JSON` expects; elsewhere they are compact text on stderr. `RUST_LOG`
//! overrides the level. TRACE is never the default: it would log raw payloads of the HTTP stack.

use tracing_subscriber::EnvFilter;

pub fn init_tracing(default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // `try_init` so that tests and the local runtime, which may initialise twice, do not panic.
    let _ = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder.json().with_current_span(false).without_time().try_init()
    } else {
        builder.compact().try_init()
    };
}
