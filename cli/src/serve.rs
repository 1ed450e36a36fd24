//! `eci-imagecache serve`: the emulator server.

use std::net::SocketAddr;
use std::path::PathBuf;

use eci_imagecache::engine::Durations;
use std::time::Duration;

use clap::builder::BoolishValueParser;

use eci_imagecache_server::history::DEFAULT_HISTORY;
use eci_imagecache_server::logging::LogFormat;
use eci_imagecache_server::serve::{DEFAULT_MAX_STATE_BYTES, Limits, Options, run as serve};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ECI_IMAGECACHE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// State store (SQLite, created if missing): every accepted change is
    /// committed before its response; one process at a time.
    #[arg(long, env = "ECI_IMAGECACHE_STATE", value_name = "FILE")]
    state: Option<PathBuf>,
    /// Import caches at start (the JSON `eci-imagecache gen` prints); with
    /// --state, only on the state's first start.
    #[arg(long, env = "ECI_IMAGECACHE_IMPORT", value_name = "FILE")]
    import: Option<PathBuf>,
    /// Make ids and request ids the same on every run.
    #[arg(long, env = "ECI_IMAGECACHE_SEED")]
    seed: Option<u64>,
    /// Start a manual clock here (RFC 3339), moved with /_emulator/clock.
    #[arg(long, env = "ECI_IMAGECACHE_NOW", value_name = "RFC3339")]
    now: Option<jiff::Timestamp>,
    /// New caches are Ready at once.
    #[arg(long, env = "ECI_IMAGECACHE_INSTANT", value_parser = BoolishValueParser::new())]
    instant: bool,
    /// Seconds in Preparing.
    #[arg(long, env = "ECI_IMAGECACHE_PREPARING", default_value_t = Durations::default().preparing)]
    preparing: u32,
    /// Seconds in Creating.
    #[arg(long, env = "ECI_IMAGECACHE_CREATING", default_value_t = Durations::default().creating)]
    creating: u32,
    /// Seconds in Updating.
    #[arg(long, env = "ECI_IMAGECACHE_UPDATING", default_value_t = Durations::default().updating)]
    updating: u32,
    /// Caches per region (default 50).
    #[arg(long, env = "ECI_IMAGECACHE_QUOTA")]
    quota: Option<usize>,
    /// Do not fold registry endpoint variants.
    #[arg(long, env = "ECI_IMAGECACHE_STRICT_REFERENCES", value_parser = BoolishValueParser::new())]
    strict_references: bool,
    /// The most caches a DescribeImageCaches page holds (the cloud's 20
    /// unless set; a page holds min(Limit, cap), 20 without a Limit).
    #[arg(long, env = "ECI_IMAGECACHE_PAGE_CAP", value_name = "N", default_value_t = eci_imagecache::limits::DEFAULT_PAGE_SIZE,
          value_parser = clap::value_parser!(u32).range(1..))]
    page_cap: u32,
    /// Reject parameters an action does not know with InvalidParameter
    /// (by default they are ignored and logged, as the cloud ignores them).
    #[arg(long, env = "ECI_IMAGECACHE_STRICT_PARAMS", value_parser = BoolishValueParser::new())]
    strict_params: bool,
    /// An access key, ID:SECRET (repeatable; in the environment, several
    /// separated by commas); with any, every request must be signed (V3 or
    /// V2) by one of them.
    #[arg(
        long = "access-key",
        env = "ECI_IMAGECACHE_ACCESS_KEY",
        value_name = "ID:SECRET",
        value_delimiter = ',',
        hide_env_values = true
    )]
    access_keys: Vec<String>,
    /// Accept signed times of any age and reused nonces (to replay old
    /// captures); by default V2 `Timestamp` / V3 `x-acs-date` must be
    /// within 15 minutes and nonces unique.
    #[arg(long, env = "ECI_IMAGECACHE_NO_FRESHNESS", value_parser = BoolishValueParser::new())]
    no_freshness: bool,
    /// The token /_emulator/* requests must carry in x-eci-emulator-token
    /// (with --access-key and none given, a random one is logged at start).
    #[arg(
        long,
        env = "ECI_IMAGECACHE_CONTROL_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    control_token: Option<String>,
    /// Seconds to send request headers; also the idle keep-alive timeout.
    #[arg(long, env = "ECI_IMAGECACHE_HEADER_TIMEOUT", value_name = "S", default_value_t = Limits::default().header_read_timeout.as_secs_f64())]
    header_timeout: f64,
    /// Seconds to send a request body.
    #[arg(long, env = "ECI_IMAGECACHE_BODY_TIMEOUT", value_name = "S", default_value_t = Limits::default().body_read_timeout.as_secs_f64())]
    body_timeout: f64,
    /// Seconds a request may take in all.
    #[arg(long, env = "ECI_IMAGECACHE_REQUEST_TIMEOUT", value_name = "S", default_value_t = Limits::default().request_timeout.as_secs_f64())]
    request_timeout: f64,
    /// Connections served at once (more wait for a free slot).
    #[arg(long, env = "ECI_IMAGECACHE_MAX_CONNECTIONS", value_name = "N", default_value_t = Limits::default().max_connections)]
    max_connections: usize,
    /// Seconds shutdown waits for in-flight requests.
    #[arg(long, env = "ECI_IMAGECACHE_SHUTDOWN_DEADLINE", value_name = "S", default_value_t = Limits::default().shutdown_deadline.as_secs_f64())]
    shutdown_deadline: f64,
    /// How the log is written: text, or json (one object per line).
    #[arg(
        long,
        env = "ECI_IMAGECACHE_LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
    /// How many API calls /_emulator/requests keeps (0: none).
    #[arg(long, env = "ECI_IMAGECACHE_REQUEST_HISTORY", value_name = "N", default_value_t = DEFAULT_HISTORY)]
    request_history: usize,
    /// The largest state POST /_emulator/state takes, in bytes.
    #[arg(long, env = "ECI_IMAGECACHE_MAX_STATE_BYTES", value_name = "BYTES", default_value_t = DEFAULT_MAX_STATE_BYTES)]
    max_state_bytes: usize,
}

fn seconds(s: f64) -> std::io::Result<Duration> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| std::io::Error::other(format!("{s}: expected a positive number of seconds")))
}

/// The access keys as (id, secret); an entry that is not `ID:SECRET` is
/// named by its place, never shown (it may hold a secret).
fn access_keys(entries: Vec<String>) -> std::io::Result<Vec<(String, String)>> {
    entries
        .into_iter()
        .enumerate()
        .map(|(n, entry)| match entry.split_once(':') {
            Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
                Ok((id.to_owned(), secret.to_owned()))
            }
            _ => Err(std::io::Error::other(format!(
                "access key {} (--access-key or ECI_IMAGECACHE_ACCESS_KEY) is not ID:SECRET \
                 (not shown: it may hold a secret)",
                n + 1
            ))),
        })
        .collect()
}

pub fn run(args: ServeArgs) -> std::io::Result<()> {
    let durations = if args.instant {
        Durations::instant()
    } else {
        Durations {
            preparing: args.preparing,
            creating: args.creating,
            updating: args.updating,
        }
    };
    serve(Options {
        listen: args.listen,
        state: args.state,
        import: args.import,
        seed: args.seed,
        now: args.now,
        durations,
        quota: args.quota,
        strict_references: args.strict_references,
        page_cap: args.page_cap,
        strict_params: args.strict_params,
        access_keys: access_keys(args.access_keys)?,
        freshness: !args.no_freshness,
        control_token: args.control_token,
        limits: Limits {
            header_read_timeout: seconds(args.header_timeout)?,
            body_read_timeout: seconds(args.body_timeout)?,
            request_timeout: seconds(args.request_timeout)?,
            max_connections: args.max_connections.max(1),
            shutdown_deadline: seconds(args.shutdown_deadline)?,
        },
        log_format: args.log_format,
        request_history: args.request_history,
        max_state_bytes: args.max_state_bytes,
    })
}
