//! One call in, one reply out: the flat RPC parameters of any action, answered
//! with the HTTP status and the exact JSON body the cloud returns (or its
//! error body). This is what the command line's `run` and the emulator
//! server put on the wire.
//!
//! ```
//! use eci_imagecache::api::call;
//! use eci_imagecache::ids::RequestIds;
//! use eci_imagecache::engine::{Engine, DEFAULT_ACCOUNT};
//!
//! let mut engine = Engine::builder().seed(1).instant(true).build();
//! let mut request_ids = RequestIds::seeded(1);
//! let reply = call(&mut engine, DEFAULT_ACCOUNT, "CreateImageCache", [
//!     ("RegionId", "cn-hangzhou"), ("ImageCacheName", "web"), ("Image.1", "nginx"),
//! ], request_ids.next_id());
//! assert_eq!(reply.http_status, 200);
//! assert!(reply.body["ImageCacheId"].as_str().unwrap().starts_with("imc-"));
//!
//! let reply = call(&mut engine, DEFAULT_ACCOUNT, "DescribeImageCaches", [
//!     ("RegionId", "cn-hangzhou"), ("MatchImage.1", "nginx:latest"),
//! ], request_ids.next_id());
//! assert_eq!(reply.body["TotalCount"], 1);
//! assert_eq!(reply.body["ImageCaches"][0]["Status"], "Ready");
//!
//! let reply = call(&mut engine, DEFAULT_ACCOUNT, "DeleteImageCache", [
//!     ("RegionId", "cn-hangzhou"), ("ImageCacheId", "imc-00000000000000000000"),
//! ], request_ids.next_id());
//! assert_eq!(reply.http_status, 404);
//! assert_eq!(reply.body["Code"], "InvalidImageCacheId.NotFound");
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod action;

pub use action::Action;

use crate::automatch::AutoMatchOutcome;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::wire::json::{DescribeImageCachesResponse, ErrorBody};
use crate::wire::rpc::{self, UnknownParams};

/// Answers an action that only reads ([`Action::is_read_only`]) on an
/// engine shared for reading, as of its last [`Engine::tick`]; `None` for
/// other actions.
pub fn read_only<K, V>(
    engine: &Engine,
    account: &str,
    action: Action,
    params: impl IntoIterator<Item = (K, V)>,
    request_id: String,
) -> Option<Answer>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    match action {
        Action::DescribeImageCaches => Some(describe_answer(engine, account, params, request_id)),
        #[cfg(feature = "pod")]
        Action::MatchPod => {
            let reply = reply_with(engine.config().strict_params, request_id, |id, unknown| {
                let (pod, explain) = rpc::decode_match_pod_with(params, unknown)?;
                match_pod_body(engine, account, &pod, explain, id)
            });
            Some(reply.into())
        }
        _ => None,
    }
}

/// An HTTP status and a JSON body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Reply {
    /// The HTTP status.
    pub http_status: u16,
    /// The JSON body.
    pub body: Value,
    /// The parameters the action did not know and ignored (names only,
    /// never values), for the caller to log. Not part of the body.
    #[serde(skip)]
    pub ignored_params: Vec<String>,
}

impl Reply {
    /// A reply with this status and body.
    pub fn new(http_status: u16, body: Value) -> Reply {
        Reply {
            http_status,
            body,
            ignored_params: Vec::new(),
        }
    }

    /// The reply for an error: its status and `{"RequestId","Code","Message"}`.
    pub fn error(request_id: String, error: &ApiError) -> Reply {
        Reply::new(
            error.http_status(),
            serde_json::to_value(ErrorBody::new(request_id, error)).expect("serialises"),
        )
    }
}

/// Answers one call of `action` for `account`. Parameters the action does
/// not know are ignored and listed in [`Reply::ignored_params`], or
/// rejected with `InvalidParameter` when the engine is built with
/// [`strict_params`](crate::engine::EngineBuilder::strict_params).
pub fn call<K, V>(
    engine: &mut Engine,
    account: &str,
    action: &str,
    params: impl IntoIterator<Item = (K, V)>,
    request_id: String,
) -> Reply
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let strict = engine.config().strict_params;
    reply_with(strict, request_id, |id, unknown| {
        answer(engine, account, action, params, id, unknown)
    })
}

/// The reply of one decoded call: 200 and `body`, or the error's reply;
/// with the parameters the decoder ignored (rejected when `strict`).
fn reply_with(
    strict: bool,
    request_id: String,
    body: impl FnOnce(&str, &mut UnknownParams) -> Result<Value, ApiError>,
) -> Reply {
    let mut unknown = UnknownParams::strict(strict);
    let mut reply = match body(&request_id, &mut unknown) {
        Ok(body) => Reply::new(200, body),
        Err(e) => Reply::error(request_id, &e),
    };
    reply.ignored_params = unknown.take_names();
    reply
}

fn answer<K, V>(
    engine: &mut Engine,
    account: &str,
    action: &str,
    params: impl IntoIterator<Item = (K, V)>,
    request_id: &str,
    unknown: &mut UnknownParams,
) -> Result<Value, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    Ok(match action.parse::<Action>()? {
        Action::DescribeImageCaches => {
            engine.tick();
            describe_body(engine, account, params, request_id, unknown)?
        }
        Action::CreateImageCache => {
            let request = rpc::decode_create_with(params, unknown)?;
            let created = engine.create_as(account, &request)?;
            json!({
                "RequestId": request_id,
                "ImageCacheId": created.image_cache_id,
                "ContainerGroupId": created.container_group_id,
            })
        }
        Action::UpdateImageCache => {
            engine.update_as(account, &rpc::decode_update_with(params, unknown)?)?;
            json!({ "RequestId": request_id })
        }
        Action::DeleteImageCache => {
            engine.delete_as(account, &rpc::decode_delete_with(params, unknown)?)?;
            json!({ "RequestId": request_id })
        }
        Action::AutoMatch => {
            let request = rpc::decode_auto_match_with(params, unknown)?;
            let outcome = engine.auto_match_as(account, &request)?;
            auto_match_body(request_id, &outcome)
        }
        #[cfg(feature = "pod")]
        Action::MatchPod => {
            engine.tick();
            let (pod, explain) = rpc::decode_match_pod_with(params, unknown)?;
            match_pod_body(engine, account, &pod, explain, request_id)?
        }
    })
}

/// Answers `DescribeImageCaches` on an engine shared for reading: as of its
/// last [`Engine::tick`], so many readers can answer at once (the caller
/// applies what time made due first, under its write access).
pub fn describe<K, V>(
    engine: &Engine,
    account: &str,
    params: impl IntoIterator<Item = (K, V)>,
    request_id: String,
) -> Reply
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    reply_with(engine.config().strict_params, request_id, |id, unknown| {
        describe_body(engine, account, params, id, unknown)
    })
}

/// A reply already written out: the status, the error code (empty on
/// success) and the JSON body text. What a server sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub http_status: u16,
    /// The error's `Code`, or empty.
    pub code: String,
    /// The JSON body.
    pub body: String,
    /// The parameters the action did not know and ignored (names only).
    pub ignored_params: Vec<String>,
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Answer {
        let code = reply
            .body
            .get("Code")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Answer {
            http_status: reply.http_status,
            code,
            body: reply.body.to_string(),
            ignored_params: reply.ignored_params,
        }
    }
}

/// [`describe`], written out as it is serialised: one record's JSON at a
/// time, never a JSON tree of the whole page. The bytes are those of
/// [`describe`]'s body.
///
/// ```
/// use eci_imagecache::api::{call, describe, describe_answer};
/// use eci_imagecache::engine::{Engine, DEFAULT_ACCOUNT};
///
/// let mut engine = Engine::builder().seed(1).instant(true).build();
/// call(&mut engine, DEFAULT_ACCOUNT, "CreateImageCache", [
///     ("RegionId", "cn-hangzhou"), ("ImageCacheName", "web"), ("Image.1", "nginx"),
/// ], "r0".to_owned());
/// let params = [("RegionId", "cn-hangzhou")];
/// let answer = describe_answer(&engine, DEFAULT_ACCOUNT, params, "r1".to_owned());
/// let reply = describe(&engine, DEFAULT_ACCOUNT, params, "r1".to_owned());
/// assert_eq!(answer.body, reply.body.to_string());
/// ```
pub fn describe_answer<K, V>(
    engine: &Engine,
    account: &str,
    params: impl IntoIterator<Item = (K, V)>,
    request_id: String,
) -> Answer
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut unknown = UnknownParams::strict(engine.config().strict_params);
    let page = rpc::decode_describe_with(params, &mut unknown).and_then(|request| {
        engine.describe_as_of_last_tick(account, &request, &mut crate::index::Scratch::default())
    });
    let mut answer: Answer = match page {
        Ok(page) => Answer {
            http_status: 200,
            code: String::new(),
            body: crate::wire::json::page_body(&request_id, &page),
            ignored_params: Vec::new(),
        },
        Err(e) => Reply::error(request_id, &e).into(),
    };
    answer.ignored_params = unknown.take_names();
    answer
}

fn describe_body<K, V>(
    engine: &Engine,
    account: &str,
    params: impl IntoIterator<Item = (K, V)>,
    request_id: &str,
    unknown: &mut UnknownParams,
) -> Result<Value, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let request = rpc::decode_describe_with(params, unknown)?;
    let page = engine.describe_as_of_last_tick(
        account,
        &request,
        &mut crate::index::Scratch::default(),
    )?;
    Ok(
        serde_json::to_value(DescribeImageCachesResponse::new(request_id, &page))
            .expect("serialises"),
    )
}

/// The emulator's body for an auto-match: `Matched`; on a hit the cache,
/// its match counts and the group's `Event`; the auto-created cache
/// (`AutoCreatedImageCacheId`), if any, on a miss or beside a partial hit.
pub fn auto_match_body(request_id: &str, outcome: &AutoMatchOutcome) -> Value {
    match outcome {
        AutoMatchOutcome::Hit {
            image_cache_id,
            exact,
            partial,
            container_group_id,
            event,
            auto_created,
        } => {
            let mut body = json!({
                "RequestId": request_id,
                "Matched": true,
                "ImageCacheId": image_cache_id,
                "ExactMatchCount": exact,
                "PartialMatchCount": partial,
                "ContainerGroupId": container_group_id,
                "Event": crate::wire::json::EventJson::from(event),
            });
            if let Some(id) = auto_created {
                body["AutoCreatedImageCacheId"] = json!(id);
            }
            body
        }
        AutoMatchOutcome::Miss {
            container_group_id,
            auto_created,
        } => {
            let mut body = json!({
                "RequestId": request_id,
                "Matched": false,
                "ContainerGroupId": container_group_id,
            });
            if let Some(id) = auto_created {
                body["AutoCreatedImageCacheId"] = json!(id);
            }
            body
        }
    }
}

/// The decision for a Pod (feature `pod`), without recording anything: the
/// body of the emulator's `MatchPod` action and of `eci-imagecache match
/// --json`. `Decision` is `Hit` (a cache would be used: `ImageCacheId`,
/// `ExactMatchCount`, `PartialMatchCount`, `Score`, `CompleteMatch`),
/// `Miss`, or `NoImageCache` (the pod turns matching off and names no
/// cache); `WouldAutoCreate` says whether a cache for the whole pod would be
/// created beside it; `DistinctImages` counts the images as matching does
/// (duplicates and endpoint variants once). With `explain`, `Candidates`
/// (ranked, each with why it is behind the first) and `Excluded` (caches
/// that match an image but are not candidates, with the reason), at most
/// [`MAX_EXPLAINED`](crate::limits::MAX_EXPLAINED) of each, with `CandidateCount` and `ExcludedCount`.
///
/// ```
/// use eci_imagecache::api::match_pod_body;
/// use eci_imagecache::engine::{CreateRequest, Engine, DEFAULT_ACCOUNT};
/// use eci_imagecache::pod;
///
/// let mut engine = Engine::builder().seed(1).instant(true).build();
/// engine.create(&CreateRequest::new("cn-hangzhou", "web").image("nginx:1")?)?;
/// let manifest = "kind: Pod\nspec:\n  containers:\n  - name: web\n    image: nginx:2\n";
/// let found = pod::from_manifest(manifest, "cn-hangzhou").unwrap();
/// let body = match_pod_body(&engine, DEFAULT_ACCOUNT, &found, false, "r1")?;
/// assert_eq!(body["Decision"], "Hit");
/// assert_eq!(body["PartialMatchCount"], 1);
/// assert_eq!(body["WouldAutoCreate"], true); // a partial hit, eci-auto-imc on by default
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
///
/// # Errors
///
/// As [`Engine::evaluate_as`]: with a named cache, `ImageCacheNotFound` or
/// `ImageCacheNotComplete`.
#[cfg(feature = "pod")]
pub fn match_pod_body(
    engine: &Engine,
    account: &str,
    pod: &crate::pod::PodMatch,
    explain: bool,
    request_id: &str,
) -> Result<Value, ApiError> {
    let request = &pod.request;
    let mut body = json!({
        "RequestId": request_id,
        "Kind": pod.kind.as_str(),
        "RegionId": request.region_id,
        "Images": request.images.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "TemporaryStorageSize": request.temporary_storage_gib,
        "UsesImageCache": pod.uses_image_cache(),
    });
    if let Some(name) = &pod.name {
        body["Name"] = json!(name);
    }
    if let Some(namespace) = &pod.namespace {
        body["Namespace"] = json!(namespace);
    }
    if !pod.uses_image_cache() {
        body["Decision"] = json!("NoImageCache");
        body["WouldAutoCreate"] = json!(false);
        return Ok(body);
    }
    let k = if explain { usize::MAX } else { 1 };
    let evaluation = engine.evaluate_as(account, request, k)?;
    let complete = evaluation.complete();
    body["DistinctImages"] = json!(evaluation.images);
    body["WouldAutoCreate"] = json!(evaluation.auto_create);
    match evaluation.candidates.first() {
        Some(best) => {
            body["Decision"] = json!("Hit");
            body["ImageCacheId"] = json!(best.image_cache_id);
            body["ExactMatchCount"] = json!(best.exact);
            body["PartialMatchCount"] = json!(best.partial);
            body["Score"] = json!(best.score);
            body["CompleteMatch"] = json!(complete);
        }
        None => body["Decision"] = json!("Miss"),
    }
    if explain {
        explain_into(&mut body, engine, account, request, &evaluation);
    }
    Ok(body)
}

/// Adds to a `match-pod` body every candidate, ranked, with why it lost to
/// the first, and the caches that were not candidates, with why (each list
/// cut at [`MAX_EXPLAINED`](crate::limits::MAX_EXPLAINED), its count whole).
#[cfg(feature = "pod")]
fn explain_into(
    body: &mut Value,
    engine: &Engine,
    account: &str,
    request: &crate::automatch::AutoMatchRequest,
    evaluation: &crate::automatch::Evaluation,
) {
    let best = evaluation.candidates.first();
    body["CandidateCount"] = json!(evaluation.candidates.len());
    body["Candidates"] = evaluation
        .candidates
        .iter()
        .take(crate::limits::MAX_EXPLAINED)
        .map(|c| {
            let mut row = json!({
                "ImageCacheId": c.image_cache_id,
                "ExactMatchCount": c.exact,
                "PartialMatchCount": c.partial,
                "SizeDistance": c.size_distance_gib,
                "CreationTime": crate::wire::format_time(c.creation_time),
                "Score": c.score,
            });
            if let Some(best) = best.filter(|b| b.image_cache_id != c.image_cache_id) {
                row["Behind"] = json!(c.behind(best));
            }
            row
        })
        .collect();
    let excluded = if request.image_cache_id.is_some() {
        Vec::new()
    } else {
        engine.excluded_as(account, request)
    };
    body["ExcludedCount"] = json!(excluded.len());
    body["Excluded"] = excluded
        .iter()
        .take(crate::limits::MAX_EXPLAINED)
        .map(|x| {
            json!({
                "ImageCacheId": x.image_cache_id,
                "ExactMatchCount": x.exact,
                "PartialMatchCount": x.partial,
                "Reason": x.reason,
            })
        })
        .collect();
}
