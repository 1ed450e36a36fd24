//! The server's log on standard error: human-readable text (the default)
//! or JSON lines (`--log-format json`), one line per API call with its
//! action, region, account, request id, status, code and latency, and
//! never a credential (see [`crate::history`]).

use crate::history::CallRecord;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Text for people (colour on a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("{s:?}: expected text or json")),
        }
    }
}

/// Sends the process's log to standard error in `format`, filtered by
/// `RUST_LOG` (default `info`). A second call changes nothing.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}

/// The line of one API call.
pub(crate) fn call(call: &CallRecord) {
    tracing::info!(
        action = call.action.as_deref().unwrap_or(""),
        region = call.region_id.as_deref().unwrap_or(""),
        account = call.account.as_deref().unwrap_or(""),
        request_id = call.request_id,
        status = call.status,
        code = call.code,
        micros = call.micros,
        "api"
    );
}
