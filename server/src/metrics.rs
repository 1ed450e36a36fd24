//! `GET /_emulator/metrics`: the metrics in the OpenMetrics text format
//! (Prometheus's exposition format, which Prometheus scrapes by content
//! negotiation), by the Prometheus project's own Rust client
//! (`prometheus-client`).
//!
//! * `eci_imagecache_requests_total{action,status,code}`: API calls by
//!   action, HTTP status and error code (`""` on success).
//! * `eci_imagecache_request_duration_seconds{action}`: their latency, a
//!   histogram.
//! * `eci_imagecache_caches{status}`: the caches of every account and
//!   region by status, counted when scraped.
//! * `eci_imagecache_auto_match_total{outcome}`: auto-matches answered,
//!   `hit` or `miss`.
//!
//! Label values are bounded: `action` is one of the API's actions,
//! `Unknown` for any other name and `""` when none was sent, so a caller
//! cannot grow the series by sending made-up names; codes are the
//! emulator's own.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use eci_imagecache::api::Action;
use eci_imagecache::record::CacheStatus;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::app::App;
use crate::history::CallRecord;

/// The media type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    action: &'static str,
    status: u16,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The emulator's metrics and the registry that writes them out.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<ActionLabels, Histogram>,
    caches: Family<StatusLabels, Gauge>,
    auto_match: Family<OutcomeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("eci_imagecache");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "API calls by action, HTTP status and error code (empty on success)",
            requests.clone(),
        );
        // 50 µs to about 13 s, a factor of 4 apart.
        let latency = Family::<ActionLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.000_05, 4.0, 10))) as fn() -> Histogram,
        );
        registry.register_with_unit(
            "request_duration",
            "How long API calls took, by action",
            prometheus_client::registry::Unit::Seconds,
            latency.clone(),
        );
        let caches = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "caches",
            "Image caches of every account and region, by status",
            caches.clone(),
        );
        let auto_match = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "auto_match",
            "Auto-matches answered, by outcome (hit or miss)",
            auto_match.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            caches,
            auto_match,
        }
    }
}

impl Metrics {
    /// Counts one API call.
    pub fn observe(&self, call: &CallRecord) {
        let action = action_label(call.action.as_deref());
        self.requests
            .get_or_create(&RequestLabels {
                action,
                status: call.status,
                code: call.code.clone(),
            })
            .inc();
        self.latency
            .get_or_create(&ActionLabels { action })
            .observe(call.micros as f64 / 1e6);
        if let Some(matched) = call.matched {
            let outcome = if matched { "hit" } else { "miss" };
            self.auto_match
                .get_or_create(&OutcomeLabels { outcome })
                .inc();
        }
    }

    /// The text format, with the caches counted from `app` now.
    pub fn render(&self, app: &App) -> String {
        let mut counts = [0i64; CacheStatus::ALL.len()];
        {
            let engine = app.read_engine();
            for (account, region) in engine.regions() {
                for cache in engine
                    .index(account, region)
                    .into_iter()
                    .flat_map(|i| i.iter())
                {
                    let at = CacheStatus::ALL
                        .iter()
                        .position(|s| *s == cache.status)
                        .expect("every status is listed");
                    counts[at] += 1;
                }
            }
        }
        for (status, count) in CacheStatus::ALL.iter().zip(counts) {
            self.caches
                .get_or_create(&StatusLabels {
                    status: status.as_str(),
                })
                .set(count);
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }
}

/// The `action` label: a known action's name, `Unknown`, or `""`.
fn action_label(action: Option<&str>) -> &'static str {
    match action {
        None => "",
        Some(name) => name.parse::<Action>().map_or("Unknown", Action::as_str),
    }
}

/// `GET /_emulator/metrics`.
pub(crate) async fn metrics(State(app): State<Arc<App>>) -> Response {
    let Ok(text) = tokio::task::spawn_blocking(move || app.metrics.render(&app)).await else {
        return crate::router::error_response(
            500,
            "InternalError",
            "The metrics could not be written.",
        );
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}
