//! What is kept of each API call: one log line, the last calls in a
//! bounded ring (`GET /_emulator/requests?limit=N`), the metrics.
//!
//! Never a secret: parameters whose names say they hold a credential
//! (`*Password*`, `*Secret*`, `Signature`, `SecurityToken`, `AccessKeyId`,
//! `ImageRegistryCredential.*`, …) are kept as [`REDACTED`], and the
//! `Authorization` header and the control token are never read here. Each
//! call keeps at most [`MAX_KEPT_PARAMETERS`] parameters and
//! [`MAX_KEPT_BYTES`] of them, each name and value cut to
//! [`MAX_KEPT_CHARS`] characters, so the ring's size is bounded whatever
//! the calls carry.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use eci_imagecache::api::Answer;
use serde::Serialize;

/// What a redacted value reads.
pub const REDACTED: &str = "(redacted)";

/// The most parameters kept of one call.
pub const MAX_KEPT_PARAMETERS: usize = 64;

/// The most characters kept of a parameter's name or value.
pub const MAX_KEPT_CHARS: usize = 256;

/// The most bytes of names and values kept of one call: with
/// [`DEFAULT_HISTORY`] calls, the ring holds at most about 16 MiB.
pub const MAX_KEPT_BYTES: usize = 16 * 1024;

/// How many calls the ring keeps unless told (`--request-history`).
pub const DEFAULT_HISTORY: usize = 1000;

/// The most calls `GET /_emulator/requests` returns unless `limit` says.
pub const DEFAULT_LIMIT: usize = 100;

/// Name fragments (lower case) of parameters whose values are never kept.
const SECRET_NAMES: [&str; 7] = [
    "password",
    "secret",
    "signature",
    "securitytoken",
    "accesskeyid",
    "credential",
    "authorization",
];

/// What is known of a call while it runs: filled by
/// [`App::api`](crate::app::App::api) as it learns it.
#[derive(Debug, Default)]
pub struct CallFacts {
    /// The request id the answer carries.
    pub request_id: String,
    /// Who called (the access key id with keys; the default account
    /// without), once authenticated.
    pub account: Option<String>,
    /// The `Action` named.
    pub action: Option<String>,
    /// The `RegionId` sent.
    pub region: Option<String>,
    /// The parameters, redacted and bounded.
    pub parameters: Vec<(String, String)>,
    /// How many parameters were not kept.
    pub parameters_omitted: usize,
    /// For an auto-match answered 200: whether it matched.
    pub matched: Option<bool>,
}

impl CallFacts {
    /// Learns who called, the action and the parameters (redacted and
    /// bounded), once the call is authenticated.
    pub(crate) fn learn(
        &mut self,
        account: &str,
        action: Option<&str>,
        params: &[(String, String)],
    ) {
        self.account = Some(clip(account));
        self.action = action.map(clip);
        self.region = params
            .iter()
            .find(|(name, _)| name == "RegionId")
            .map(|(_, value)| clip(value));
        let mut bytes = 0;
        self.parameters = params
            .iter()
            .take(MAX_KEPT_PARAMETERS)
            .map(|(name, value)| (clip(name), redacted(name, value)))
            .take_while(|(name, value)| {
                bytes += name.len() + value.len();
                bytes <= MAX_KEPT_BYTES
            })
            .collect();
        self.parameters_omitted = params.len() - self.parameters.len();
    }

    /// The record of the call, answered with `answer` after `took`.
    pub(crate) fn finish(self, answer: &Answer, took: Duration) -> CallRecord {
        self.answered(answer.http_status, answer.code.clone(), took)
    }

    /// The record of the call, answered with `status` and `code` after
    /// `took`.
    fn answered(self, status: u16, code: String, took: Duration) -> CallRecord {
        CallRecord {
            time: eci_imagecache::wire::format_time(jiff::Timestamp::now()),
            action: self.action,
            region_id: self.region,
            account: self.account,
            request_id: self.request_id,
            status,
            code,
            micros: took.as_micros().min(u128::from(u64::MAX)) as u64,
            parameters: self.parameters,
            parameters_omitted: self.parameters_omitted,
            matched: self.matched,
        }
    }
}

/// One call as kept: `GET /_emulator/requests` lists these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallRecord {
    /// When it was answered (the system clock, UTC).
    pub time: String,
    /// The `Action` named, if any.
    pub action: Option<String>,
    /// The `RegionId` sent, if any.
    pub region_id: Option<String>,
    /// Who called, once authenticated.
    pub account: Option<String>,
    /// The answer's request id.
    pub request_id: String,
    /// The HTTP status.
    pub status: u16,
    /// The error code, empty on success.
    pub code: String,
    /// How long it took, in microseconds.
    pub micros: u64,
    /// `[name, value]` in the order sent, secrets [`REDACTED`].
    pub parameters: Vec<(String, String)>,
    /// Parameters beyond [`MAX_KEPT_PARAMETERS`], not kept.
    #[serde(skip_serializing_if = "is_zero")]
    pub parameters_omitted: usize,
    /// For an auto-match answered 200: whether it matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<bool>,
}

impl CallRecord {
    /// A call refused before it was read (`body` its error body).
    pub(crate) fn refused(body: &serde_json::Value, status: u16, took: Duration) -> CallRecord {
        let text = |key: &str| body[key].as_str().unwrap_or_default().to_owned();
        let facts = CallFacts {
            request_id: text("RequestId"),
            ..CallFacts::default()
        };
        facts.answered(status, text("Code"), took)
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The last calls, newest last, at most `capacity` of them.
#[derive(Debug)]
pub struct History {
    capacity: AtomicUsize,
    calls: Mutex<VecDeque<CallRecord>>,
}

impl Default for History {
    fn default() -> History {
        History::new(DEFAULT_HISTORY)
    }
}

impl History {
    /// A ring of `capacity` calls (0 keeps none).
    pub fn new(capacity: usize) -> History {
        History {
            capacity: AtomicUsize::new(capacity),
            calls: Mutex::new(VecDeque::new()),
        }
    }

    /// Keeps at most `capacity` calls from now on.
    pub fn set_capacity(&self, capacity: usize) {
        self.capacity.store(capacity, Ordering::SeqCst);
        let mut calls = self.lock();
        while calls.len() > capacity {
            calls.pop_front();
        }
    }

    /// How many calls the ring keeps.
    pub fn capacity(&self) -> usize {
        self.capacity.load(Ordering::SeqCst)
    }

    /// Keeps `call`, forgetting the oldest beyond the capacity.
    pub fn push(&self, call: CallRecord) {
        let capacity = self.capacity();
        let mut calls = self.lock();
        if capacity == 0 {
            return;
        }
        while calls.len() >= capacity {
            calls.pop_front();
        }
        calls.push_back(call);
    }

    /// The last `limit` calls, newest first.
    pub fn last(&self, limit: usize) -> Vec<CallRecord> {
        self.lock().iter().rev().take(limit).cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<CallRecord>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `value`, or [`REDACTED`] when `name` says it holds a secret; cut to
/// [`MAX_KEPT_CHARS`].
pub fn redacted(name: &str, value: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if SECRET_NAMES.iter().any(|secret| lower.contains(secret)) {
        REDACTED.to_owned()
    } else {
        clip(value)
    }
}

/// `text` cut to [`MAX_KEPT_CHARS`] characters.
fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_KEPT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// `GET /_emulator/requests?limit=N`: the last `N` calls (default
/// [`DEFAULT_LIMIT`], at most the ring's capacity), newest first, as
/// `{"Requests": [...], "Capacity": C}`.
pub(crate) async fn requests(
    axum::extract::State(app): axum::extract::State<std::sync::Arc<crate::app::App>>,
    uri: axum::http::Uri,
) -> axum::response::Response {
    let mut limit = DEFAULT_LIMIT;
    for (name, value) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
        match (name.as_ref(), digits) {
            // More than the ring holds is all of it.
            ("limit", true) => limit = value.parse().unwrap_or(usize::MAX),
            ("limit", false) => {
                return crate::router::error_response(
                    400,
                    "InvalidParameter",
                    "limit is a whole number of calls.",
                );
            }
            _ => {}
        }
    }
    let calls = app.history.last(limit);
    crate::router::json_response(
        200,
        serde_json::json!({"Requests": calls, "Capacity": app.history.capacity()}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(name: &str, value: &str, kept: &str) {
        assert_eq!(redacted(name, value), kept, "{name}");
    }

    #[test]
    fn secrets_are_redacted_and_the_rest_kept() {
        check("RegionId", "cn-hangzhou", "cn-hangzhou");
        check("ClientToken", "t-1", "t-1");
        check("Image.1", "nginx", "nginx");
        check("ImageRegistryCredential.1.Password", "hunter2", REDACTED);
        check("ImageRegistryCredential.1.UserName", "me", REDACTED);
        check("Signature", "abc=", REDACTED);
        check("SecurityToken", "sts", REDACTED);
        check("AccessKeyId", "LTAI", REDACTED);
        check("accesskeysecret", "s", REDACTED);
        check("X-Password-Hint", "h", REDACTED);
    }

    #[test]
    fn long_values_are_cut() {
        let long = "é".repeat(MAX_KEPT_CHARS + 10);
        let kept = redacted("ImageCacheName", &long);
        assert_eq!(kept.chars().count(), MAX_KEPT_CHARS + 1);
        assert!(kept.ends_with('…'));
        assert_eq!(
            redacted("N", &"a".repeat(MAX_KEPT_CHARS)).len(),
            MAX_KEPT_CHARS
        );
    }

    fn call(n: usize) -> CallRecord {
        CallRecord {
            time: String::new(),
            action: None,
            region_id: None,
            account: None,
            request_id: n.to_string(),
            status: 200,
            code: String::new(),
            micros: 0,
            parameters: Vec::new(),
            parameters_omitted: 0,
            matched: None,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_up_to_its_capacity() {
        let ring = History::new(3);
        for n in 0..10 {
            ring.push(call(n));
        }
        let ids: Vec<String> = ring.last(10).into_iter().map(|c| c.request_id).collect();
        assert_eq!(ids, ["9", "8", "7"]);
        assert_eq!(ring.last(1)[0].request_id, "9");
        ring.set_capacity(1);
        assert_eq!(ring.last(10).len(), 1);
        ring.set_capacity(0);
        ring.push(call(11));
        assert!(ring.last(10).is_empty());
    }
}
