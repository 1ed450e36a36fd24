//! One API request, from its bytes to its answer: the parameters and who
//! signed them, the action, injected faults, the engine's answer, the
//! commit.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use eci_imagecache::ApiError;
use eci_imagecache::api::{self, Action, Answer, Reply};
use eci_imagecache::engine::DEFAULT_ACCOUNT;

use crate::refusal::Refusal;
use crate::router::{Gate, error_response};
use crate::signature::{SignedRequest, request_params, resolve_action, verify};

use crate::app::App;
use crate::history::CallFacts;

/// Requests with more parameters than this are refused.
pub const MAX_PARAMETERS: usize = 2_000;

/// A request as authenticated: who calls, the action it names (if any)
/// and its parameters. With keys, only what the signature covers.
struct Call {
    account: String,
    action: Option<String>,
    params: Params,
}

/// A call's parameters, (name, value), in the order sent.
type Params = Vec<(String, String)>;

impl App {
    /// Answers one API request (blocking: runs the engine and commits its
    /// changes to the store before answering), in steps: the parameters
    /// and who sent them (`authenticate`), their count and the action
    /// (`checked`), an injected error (`injected`), then the engine's
    /// answer, under the read lock for an action that only reads
    /// (`answer_read_only`) or under the write lock and committed
    /// (`answer_and_commit`).
    ///
    /// Runs only if `gate` lets it (see [`Gate`]): a request whose deadline
    /// passed while it waited for the engine is answered 503 unrun.
    ///
    /// `facts` gets what the log and the request history say of the call:
    /// its request id, and once the call is authenticated, who sent it,
    /// the action, the region and the parameters.
    pub fn api(
        &self,
        method: &str,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        gate: &Gate,
        facts: &mut CallFacts,
    ) -> Answer {
        let request_id = self.next_request_id();
        facts.request_id = request_id.clone();
        let call = match self.authenticate(method, uri, headers, body) {
            Ok(call) => call,
            Err(refusal) => return refusal.reply(request_id).into(),
        };
        facts.learn(&call.account, call.action.as_deref(), &call.params);
        let (account, action, params) = match checked(call) {
            Ok(checked) => checked,
            Err(e) => return Refusal::from(e).reply(request_id).into(),
        };
        // An unknown action is answered by `api::call`, after the faults.
        let known = action.parse::<Action>().ok();
        if let Some(injected) = self.injected(known, &request_id) {
            return injected;
        }
        // Known and only reading: answered under the read lock.
        match known.filter(|a| a.is_read_only()) {
            Some(read_only) if !self.broken.load(Ordering::SeqCst) => {
                self.answer_read_only(&account, read_only, params, request_id, gate)
            }
            read_only => {
                let call = (account.as_str(), action.as_str(), read_only);
                let answer = self.answer_and_commit(call, params, request_id, gate);
                facts.matched = answer.1;
                answer.0
            }
        }
    }

    /// The parameters and who sent them: without keys, from the query and
    /// the body as sent, the action from the `Action` parameter or the
    /// `x-acs-action` header (which must agree); with keys, only what a
    /// valid, fresh signature covers.
    fn authenticate(
        &self,
        method: &str,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Call, Refusal> {
        let query = uri.query().unwrap_or("");
        // Values that are not visible ASCII keep their bytes (lossily), so
        // that verification reports them as not allowed, not as missing.
        let header_pairs: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| {
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.as_str().to_owned(), v)
            })
            .collect();
        let header = |name: &str| {
            header_pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if self.keys.keys.is_empty() {
            let params = request_params(query, header("content-type"), body)?;
            let action = resolve_action(header("x-acs-action"), &params)?;
            return Ok(Call {
                account: DEFAULT_ACCOUNT.to_owned(),
                action,
                params,
            });
        }
        let signed = SignedRequest {
            method,
            path: uri.path(),
            query,
            headers: &header_pairs,
            body,
        };
        // Only what the signature covers goes on from here.
        let verified = verify(&self.keys.keys, &signed)?;
        if let Some(freshness) = &self.keys.freshness {
            freshness.check(&verified, jiff::Timestamp::now())?;
        }
        Ok(Call {
            account: verified.key_id,
            action: verified.action,
            params: verified.params,
        })
    }

    /// The error a fault injected for this action (`None`: a name that is
    /// no action) makes the call get, used up.
    fn injected(&self, action: Option<Action>, request_id: &str) -> Option<Answer> {
        let injected = self.faults.take_error(action)?;
        let refusal = Refusal::new(injected.status, injected.code, injected.message);
        Some(refusal.reply(request_id.to_owned()).into())
    }

    /// An action that only reads, under the read lock: queries run side by
    /// side.
    fn answer_read_only(
        &self,
        account: &str,
        action: Action,
        params: Params,
        request_id: String,
        gate: &Gate,
    ) -> Answer {
        let engine = self.read_engine();
        if !gate.begin() {
            return too_late(request_id).into();
        }
        api::read_only(&engine, account, action, params, request_id).expect("a read-only action")
    }

    /// Any other call, under the write lock, its changes committed before
    /// the answer; a commit that fails undoes the call (500, and the
    /// faults it used wait again). `call` is (account, action, the action
    /// when it only reads): a read comes here when a failed commit left
    /// the engine to be rebuilt from the store first.
    ///
    /// Also says, for an auto-match answered 200, whether it matched.
    fn answer_and_commit(
        &self,
        (account, action, read_only): (&str, &str, Option<Action>),
        params: Params,
        request_id: String,
        gate: &Gate,
    ) -> (Answer, Option<bool>) {
        let mut engine = self.write_engine();
        let mut inner = self.lock();
        if !gate.begin() {
            return (too_late(request_id).into(), None);
        }
        if self.broken.load(Ordering::SeqCst) && self.commit(&mut engine, &mut inner).is_err() {
            return (internal_error(request_id).into(), None);
        }
        if let Some(read_only) = read_only {
            // The engine was rebuilt from the store just now.
            engine.tick();
            let answer = api::read_only(&engine, account, read_only, params, request_id)
                .expect("a read-only action");
            return (answer, None);
        }
        let reply = api::call(&mut engine, account, action, params, request_id.clone());
        let used = self.faults.take_consumed();
        if self.commit(&mut engine, &mut inner).is_err() {
            // Not durable, so undone: the caller must not believe it
            // happened, and the faults it used wait again.
            self.faults.give_back(used);
            return (internal_error(request_id).into(), None);
        }
        let matched = (action == Action::AutoMatch.as_str() && reply.http_status == 200)
            .then(|| reply.body["Matched"].as_bool())
            .flatten();
        (reply.into(), matched)
    }
}

/// A call's parameters within [`MAX_PARAMETERS`] and its action named:
/// (account, action, parameters).
fn checked(call: Call) -> Result<(String, String, Params), ApiError> {
    if call.params.len() > MAX_PARAMETERS {
        return Err(ApiError::invalid(
            "parameters",
            format_args!("at most {MAX_PARAMETERS} parameters"),
        ));
    }
    let action = call.action.ok_or_else(|| ApiError::missing("Action"))?;
    Ok((call.account, action, call.params))
}

/// 500 `InternalError`: a change that could not be made durable.
pub(crate) fn internal_error(request_id: String) -> Reply {
    Refusal::from(ApiError::internal()).reply(request_id)
}

/// 503: a request whose deadline passed before it ran.
fn too_late(request_id: String) -> Reply {
    Refusal::new(
        503,
        "ServiceUnavailable",
        "The request was not run: it waited past its deadline.",
    )
    .reply(request_id)
}

pub(crate) async fn api_handler(
    State(app): State<Arc<App>>,
    gate: Option<axum::Extension<Gate>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::GET && method != Method::POST {
        return error_response(405, "MethodNotAllowed", "Use GET or POST.");
    }
    let started = std::time::Instant::now();
    let gate = gate.map(|g| g.0).unwrap_or_default();
    let served = app.clone();
    let (answer, facts) = tokio::task::spawn_blocking(move || {
        let mut facts = CallFacts::default();
        let answer = served.api(method.as_str(), &uri, &headers, &body, &gate, &mut facts);
        (answer, facts)
    })
    .await
    .unwrap_or_else(|_| (internal_error(String::new()).into(), CallFacts::default()));
    if !answer.ignored_params.is_empty() {
        // Names only (Debug-escaped), never values; at most 20 of them,
        // each cut to 64 characters, so a call cannot flood the log.
        let shown: Vec<String> = answer
            .ignored_params
            .iter()
            .take(20)
            .map(|name| name.chars().take(64).collect())
            .collect();
        tracing::info!(
            ignored = ?shown,
            count = answer.ignored_params.len(),
            "parameters the action does not know were ignored (--strict-params rejects them)"
        );
    }
    app.record(facts.finish(&answer, started.elapsed()));
    let status =
        StatusCode::from_u16(answer.http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        answer.body,
    )
        .into_response()
}
