//! Table tests for every validation limit and error code reachable through
//! the engine (behaviour.md sections 5, 6, 7, 8), through the same path as
//! the wire: flat parameters into `api::call`. Every failing call must leave
//! the engine's state byte for byte as it was.

use crate::common;

use eci_imagecache::api::{Reply, call};
use eci_imagecache::clock::ManualClock;
use eci_imagecache::engine::{DEFAULT_ACCOUNT, Engine};

use common::REGION;

/// An engine at a fixed time with quota 3: `ready` (Ready, LRU) and
/// `creating` (still Creating), ids returned.
fn fixture() -> (Engine, ManualClock, String, String) {
    let clock = ManualClock::new("2024-05-01T08:00:00Z".parse().unwrap());
    let mut engine = Engine::builder()
        .clock(clock.clone())
        .seed(1)
        .quota(3)
        .build();
    let ready = create(
        &mut engine,
        &[
            ("ImageCacheName", "ready"),
            ("Image.1", "nginx:1.25"),
            ("EliminationStrategy", "LRU"),
            ("ClientToken", "t-ready"),
        ],
    );
    clock.advance_secs(3600);
    let creating = create(
        &mut engine,
        &[("ImageCacheName", "creating"), ("Image.1", "redis:7")],
    );
    clock.advance_secs(60);
    (engine, clock, ready, creating)
}

#[track_caller]
fn create(engine: &mut Engine, params: &[(&str, &str)]) -> String {
    let reply = run(engine, "CreateImageCache", &with_region(params));
    assert_eq!(reply.http_status, 200, "{reply:?}");
    reply.body["ImageCacheId"].as_str().unwrap().to_owned()
}

fn with_region<'a>(params: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![("RegionId", REGION)];
    all.extend_from_slice(params);
    all
}

fn run(engine: &mut Engine, action: &str, params: &[(&str, &str)]) -> Reply {
    call(
        engine,
        DEFAULT_ACCOUNT,
        action,
        params.iter().copied(),
        "req-1".to_owned(),
    )
}

/// Asserts the call fails with exactly this code, status and message, and
/// changes nothing.
#[track_caller]
fn fails(
    engine: &mut Engine,
    action: &str,
    params: &[(&str, &str)],
    code: &str,
    status: u16,
    message: &str,
) {
    // What time has made due is applied first: only the call itself must
    // change nothing.
    engine.tick();
    let before = engine.to_bytes();
    let reply = run(engine, action, params);
    assert_eq!(
        (
            reply.http_status,
            reply.body["Code"].as_str(),
            reply.body["Message"].as_str()
        ),
        (status, Some(code), Some(message)),
        "{action} {params:?}"
    );
    assert_eq!(reply.body["RequestId"], "req-1");
    assert_eq!(reply.body.as_object().unwrap().len(), 3, "{reply:?}");
    assert!(
        engine.to_bytes() == before,
        "{action} {params:?} changed the state"
    );
}

fn missing(name: &str) -> String {
    format!(
        "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
    )
}

fn invalid(name: &str, reason: &str) -> String {
    format!("The specified parameter \"{name}\" is not valid: {reason}.")
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

#[test]
fn create_validation() {
    let (mut e, _, _, _) = fixture();
    let base = [
        ("RegionId", REGION),
        ("ImageCacheName", "web"),
        ("Image.1", "nginx"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = base.to_vec();
        for (k, val) in extra {
            v.retain(|(n, _)| n != k);
            v.push((k, val));
        }
        v
    };
    let without = |name: &str| {
        base.iter()
            .copied()
            .filter(|(n, _)| *n != name)
            .collect::<Vec<_>>()
    };
    let c = "CreateImageCache";
    fails(
        &mut e,
        c,
        &without("RegionId"),
        "MissingParameter",
        400,
        &missing("RegionId"),
    );
    fails(
        &mut e,
        c,
        &without("ImageCacheName"),
        "MissingParameter",
        400,
        &missing("ImageCacheName"),
    );
    fails(
        &mut e,
        c,
        &without("Image.1"),
        "MissingParameter",
        400,
        &missing("Image.1"),
    );
    let many: Vec<(String, String)> = (1..=21)
        .map(|i| (format!("Image.{i}"), format!("app{i}")))
        .collect();
    let mut p = without("Image.1");
    p.extend(many.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    fails(
        &mut e,
        c,
        &p,
        "InvalidParameter",
        400,
        &invalid("Image", "at most 20 images"),
    );
    fails(
        &mut e,
        c,
        &with(&[("Image.1", "Nginx")]),
        "InvalidParameter",
        400,
        &invalid(
            "Image.1",
            "repository path must be lower case: found 'N' at byte 0",
        ),
    );
    // Names: 1–128 characters without control characters, nothing more
    // (the lower-case rule is the container groups', not the caches').
    let mut roomy = Engine::builder().seed(1).quota(100).build();
    for name in [
        "a",
        "Web",
        "web_1",
        "-web",
        "web-",
        "my cache",
        "缓存",
        &"a".repeat(128),
    ] {
        let reply = run(&mut roomy, c, &with(&[("ImageCacheName", leak(name))]));
        assert_eq!(reply.http_status, 200, "{name:?}: {reply:?}");
    }
    for (name, reason) in [
        ("a".repeat(129), "at most 128 characters"),
        ("a\tb".to_owned(), "must not hold control characters"),
        ("\u{7f}web".to_owned(), "must not hold control characters"),
    ] {
        fails(
            &mut e,
            c,
            &with(&[("ImageCacheName", leak(&name))]),
            "InvalidParameter",
            400,
            &invalid("ImageCacheName", reason),
        );
    }
    for size in ["19", "32769", "0"] {
        fails(
            &mut e,
            c,
            &with(&[("ImageCacheSize", size)]),
            "InvalidParameter",
            400,
            &invalid("ImageCacheSize", "must be 20 to 32768 GiB"),
        );
    }
    fails(
        &mut e,
        c,
        &with(&[("ImageCacheSize", "2x")]),
        "InvalidParameter",
        400,
        &invalid("ImageCacheSize", "expected an integer, got \"2x\""),
    );
    fails(
        &mut e,
        c,
        &with(&[("ImageCacheSize", "-20")]),
        "InvalidParameter",
        400,
        &invalid("ImageCacheSize", "expected an integer, got \"-20\""),
    );
    fails(
        &mut e,
        c,
        &with(&[("RetentionDays", "0")]),
        "InvalidParameter",
        400,
        &invalid("RetentionDays", "must be 1 to 65536"),
    );
    let tags: Vec<(String, String)> = (1..=21)
        .map(|i| (format!("Tag.{i}.Key"), format!("k{i}")))
        .collect();
    let mut p = with(&[]);
    p.extend(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    fails(
        &mut e,
        c,
        &p,
        "InvalidParameter",
        400,
        &invalid("Tag", "at most 20 tags"),
    );
    fails(
        &mut e,
        c,
        &with(&[("Tag.1.Value", "v")]),
        "MissingParameter",
        400,
        &missing("Tag.1.Key"),
    );
    let creds: Vec<(String, String)> = (1..=11)
        .flat_map(|i| {
            ["Server", "UserName", "Password"]
                .map(|f| (format!("ImageRegistryCredential.{i}.{f}"), "x".to_owned()))
        })
        .collect();
    let mut p = with(&[]);
    p.extend(creds.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    fails(
        &mut e,
        c,
        &p,
        "InvalidParameter",
        400,
        &invalid("ImageRegistryCredential", "at most 10 credentials"),
    );
    fails(
        &mut e,
        c,
        &with(&[("VSwitchId", "v1,v2,v3,v4,v5,v6,v7,v8,v9,v10,v11")]),
        "InvalidParameter",
        400,
        &invalid("VSwitchId", "at most 10 ids separated by commas"),
    );
    fails(
        &mut e,
        c,
        &with(&[("VSwitchId", "v1,,v2")]),
        "InvalidParameter",
        400,
        &invalid("VSwitchId", "an empty id between commas"),
    );
    fails(
        &mut e,
        c,
        &with(&[("EliminationStrategy", "FIFO")]),
        "InvalidParameter",
        400,
        &invalid("EliminationStrategy", "expected empty or LRU, got \"FIFO\""),
    );
    let token = "t".repeat(65);
    let mut p = with(&[]);
    p.push(("ClientToken", token.as_str()));
    fails(
        &mut e,
        c,
        &p,
        "InvalidParameter",
        400,
        &invalid("ClientToken", "at most 64 characters"),
    );
    fails(
        &mut e,
        c,
        &with(&[("ClientToken", "caf\u{e9}")]),
        "InvalidParameter",
        400,
        &invalid("ClientToken", "may hold only printable ASCII characters"),
    );
    fails(
        &mut e,
        c,
        &with(&[("ClientToken", "a\tb")]),
        "InvalidParameter",
        400,
        &invalid("ClientToken", "may hold only printable ASCII characters"),
    );
    fails(
        &mut e,
        c,
        &with(&[("Flash", "yes")]),
        "InvalidParameter",
        400,
        &invalid("Flash", "expected true or false, got \"yes\""),
    );
    fails(
        &mut e,
        c,
        &with(&[("FlashCopyCount", "0")]),
        "InvalidParameter",
        400,
        &invalid("FlashCopyCount", "must be at least 1"),
    );
    // Unknown parameters: ignored and named (as the cloud's gateway), or
    // rejected by a strict engine.
    let reply = run(&mut roomy, c, &with(&[("Colour", "blue")]));
    assert_eq!(
        (reply.http_status, reply.ignored_params.clone()),
        (200, vec!["Colour".to_owned()])
    );
    let mut strict = Engine::builder().seed(1).strict_params(true).build();
    fails(
        &mut strict,
        c,
        &with(&[("Colour", "blue")]),
        "InvalidParameter",
        400,
        &invalid("Colour", "unknown parameter for CreateImageCache"),
    );
    fails(
        &mut e,
        c,
        &with(&[("Image.0", "redis")]),
        "InvalidParameter",
        400,
        &invalid(
            "Image.0",
            "list indices are 1-based decimal numbers without leading zeros",
        ),
    );
    fails(
        &mut e,
        c,
        &with(&[("Image.01", "redis")]),
        "InvalidParameter",
        400,
        &invalid(
            "Image.01",
            "list indices are 1-based decimal numbers without leading zeros",
        ),
    );
    // The legacy no-dot spelling is the legacy SDK's, for AcrRegistryInfo only.
    fails(
        &mut e,
        c,
        &with(&[("Tag.1Key", "k"), ("Tag.1Value", "v")]),
        "InvalidParameter",
        400,
        &invalid("Tag.1Key", "expected Tag.N.<field>"),
    );
    fails(
        &mut e,
        c,
        &with(&[
            ("AcrRegistryInfo.1.InstanceId", "cri-1"),
            ("AcrRegistryInfo.1.Domain.1", "not a host!"),
        ]),
        "InvalidParameter",
        400,
        &invalid(
            "AcrRegistryInfo.1.Domain",
            "\"not a host!\" is not a registry host name",
        ),
    );
    // The rules each public source states, no stricter (README "Validation").
    // (extra parameters, "MissingParameter" or the parameter named, reason)
    type Rejected<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let rejected: &[Rejected] = &[
        // "you must also set the AcrRegistryInfo.N.InstanceId parameter"
        (
            &[("AcrRegistryInfo.1.Domain.1", "a.example.com")],
            "MissingParameter",
            "AcrRegistryInfo.1.InstanceId",
        ),
        (
            &[
                ("AcrRegistryInfo.1.InstanceId", "cri-1"),
                ("AcrRegistryInfo.2.InstanceName", "second"),
            ],
            "MissingParameter",
            "AcrRegistryInfo.2.InstanceId",
        ),
        // Alibaba Cloud's tag rules.
        (
            &[("Tag.1.Key", "acs:team")],
            "Tag.1.Key",
            "must not start with \"aliyun\" or \"acs:\"",
        ),
        (
            &[("Tag.1.Key", "aliyunEnv")],
            "Tag.1.Key",
            "must not start with \"aliyun\" or \"acs:\"",
        ),
        (
            &[("Tag.1.Key", "k"), ("Tag.1.Value", "acs:x")],
            "Tag.1.Value",
            "must not start with \"aliyun\" or \"acs:\"",
        ),
        (
            &[("Tag.1.Key", "see-https://x")],
            "Tag.1.Key",
            "must not contain \"http://\" or \"https://\"",
        ),
        (
            &[("Tag.1.Key", "k"), ("Tag.1.Value", "http://x")],
            "Tag.1.Value",
            "must not contain \"http://\" or \"https://\"",
        ),
        (
            &[
                ("Tag.1.Key", "env"),
                ("Tag.1.Value", "a"),
                ("Tag.2.Key", "env"),
                ("Tag.2.Value", "b"),
            ],
            "Tag.2.Key",
            "the key \"env\" is given twice",
        ),
        // "The address of the image repository, without http:// or https://"
        (
            &[("ImageRegistryCredential.1.Server", "https://r.example.com")],
            "ImageRegistryCredential.1.Server",
            "is a registry address without http:// or https://",
        ),
        (
            &[("ImageRegistryCredential.1.Server", "HTTP://r.example.com")],
            "ImageRegistryCredential.1.Server",
            "is a registry address without http:// or https://",
        ),
        // The ImageCache CRD: 1 to 65536 days.
        (
            &[("RetentionDays", "65537")],
            "RetentionDays",
            "must be 1 to 65536",
        ),
        (
            &[("RetentionDays", "70000")],
            "RetentionDays",
            "must be 1 to 65536",
        ),
    ];
    for (extra, code_or_name, reason) in rejected {
        let (code, message) = if *code_or_name == "MissingParameter" {
            ("MissingParameter", missing(reason))
        } else {
            ("InvalidParameter", invalid(code_or_name, reason))
        };
        fails(&mut e, c, &with(extra), code, 400, &message);
    }
    let long_key = "k".repeat(129);
    fails(
        &mut e,
        c,
        &with(&[("Tag.1.Key", leak(&long_key))]),
        "InvalidParameter",
        400,
        &invalid("Tag.1.Key", "at most 128 characters"),
    );
    let accepted: &[&[(&str, &str)]] = &[
        // Each credential field is optional (Terraform, ROS).
        &[("ImageRegistryCredential.1.Server", "r.example.com")],
        &[
            ("ImageRegistryCredential.1.UserName", "u"),
            ("ImageRegistryCredential.1.Password", "p"),
        ],
        &[
            ("ImageRegistryCredential.1.Server", "r.example.com:5000"),
            ("ImageRegistryCredential.1.UserName", "u"),
        ],
        &[("AcrRegistryInfo.1.InstanceId", "cri-1")],
        &[("Tag.1.Key", "my-aliyun"), ("Tag.1.Value", "x-acs:y")],
        &[("Tag.1.Key", "env"), ("Tag.1.Value", "")],
        &[("Tag.1.Key", "Env"), ("Tag.2.Key", "env")],
        &[("RetentionDays", "65536")],
        &[("RetentionDays", "1")],
    ];
    for extra in accepted {
        let reply = run(&mut roomy, c, &with(extra));
        assert_eq!(reply.http_status, 200, "{extra:?}: {reply:?}");
    }
    // ClientToken reused with other parameters.
    fails(
        &mut e,
        c,
        &with(&[("ImageCacheName", "other"), ("ClientToken", "t-ready")]),
        "IdempotentParameterMismatch",
        400,
        "The request uses the same client token as a previous, but non-identical request.",
    );
}

#[test]
fn create_limits_accepted_at_the_boundary() {
    let (mut e, _, _, _) = fixture();
    let name128 = format!("a{}", "-b".repeat(63) + "c");
    assert_eq!(name128.len(), 128);
    let images: Vec<(String, String)> = (1..=20)
        .map(|i| (format!("Image.{i}"), format!("app{i}:v{i}")))
        .collect();
    let tags: Vec<(String, String)> = (1..=20)
        .map(|i| (format!("Tag.{i}.Key"), format!("k{i}")))
        .collect();
    let creds: Vec<(String, String)> = (1..=10)
        .flat_map(|i| {
            ["Server", "UserName", "Password"].map(|f| {
                (
                    format!("ImageRegistryCredential.{i}.{f}"),
                    format!("{f}{i}"),
                )
            })
        })
        .collect();
    let token = "T".repeat(64);
    let mut p: Vec<(&str, &str)> = vec![
        ("ImageCacheName", name128.as_str()),
        ("ImageCacheSize", "32768"),
        ("RetentionDays", "65536"),
        ("VSwitchId", "v1,v2,v3,v4,v5,v6,v7,v8,v9,v10"),
        ("ClientToken", token.as_str()),
        ("EliminationStrategy", ""),
    ];
    for list in [&images, &tags, &creds] {
        p.extend(list.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    let id = create(&mut e, &p);
    let cache = e
        .index(DEFAULT_ACCOUNT, REGION)
        .unwrap()
        .get(&id)
        .unwrap()
        .clone();
    assert_eq!(
        (
            cache.images().len(),
            cache.tags().len(),
            cache.settings.image_registry_credentials.len(),
            cache.size_gib
        ),
        (20, 20, 10, 32768)
    );
    assert_eq!(
        cache.expire_time.map(|t| t.to_string()).as_deref(),
        // 65 536 days after 2024-05-01T09:01:00Z.
        Some("2203-10-07T09:01:00Z")
    );
    create(
        &mut e,
        &[
            ("ImageCacheName", "ab"),
            ("Image.1", "nginx"),
            ("ImageCacheSize", "20"),
        ],
    );
}

#[test]
fn quota_evicts_the_least_recently_used_else_fails() {
    let (mut e, clock, ready, creating) = fixture();
    let third = create(
        &mut e,
        &[("ImageCacheName", "third"), ("Image.1", "busybox")],
    );
    // At quota 3: `ready` is the only LRU cache that is not busy: evicted.
    let fourth = create(
        &mut e,
        &[("ImageCacheName", "fourth"), ("Image.1", "alpine")],
    );
    let index = e.index(DEFAULT_ACCOUNT, REGION).unwrap();
    assert!(index.get(&ready).is_none());
    assert!(
        index.get(&creating).is_some()
            && index.get(&third).is_some()
            && index.get(&fourth).is_some()
    );
    fails(
        &mut e,
        "CreateImageCache",
        &with_region(&[("ImageCacheName", "fifth"), ("Image.1", "alpine")]),
        "QuotaExceeded",
        403,
        "ImageCache quota exceeded.",
    );
    // An LRU cache still being created cannot be evicted; once Ready it can.
    clock.advance_secs(1000);
    fails(
        &mut e,
        "CreateImageCache",
        &with_region(&[("ImageCacheName", "fifth"), ("Image.1", "alpine")]),
        "QuotaExceeded",
        403,
        "ImageCache quota exceeded.",
    );
    let mut zero = Engine::builder().seed(1).quota(0).build();
    fails(
        &mut zero,
        "CreateImageCache",
        &with_region(&[("ImageCacheName", "x1"), ("Image.1", "alpine")]),
        "QuotaExceeded",
        403,
        "ImageCache quota exceeded.",
    );
}

#[test]
fn update_rules() {
    let (mut e, _, ready, creating) = fixture();
    let u = "UpdateImageCache";
    fails(
        &mut e,
        u,
        &[("ImageCacheId", &ready)],
        "MissingParameter",
        400,
        &missing("RegionId"),
    );
    fails(
        &mut e,
        u,
        &with_region(&[]),
        "MissingParameter",
        400,
        &missing("ImageCacheId"),
    );
    fails(
        &mut e,
        u,
        &with_region(&[
            ("ImageCacheId", "imc-00000000000000000000"),
            ("Image.1", "nginx"),
        ]),
        "InvalidImageCacheId.NotFound",
        404,
        "The specified image cache imc-00000000000000000000 does not exist.",
    );
    fails(
        &mut e,
        u,
        &[
            ("RegionId", "cn-beijing"),
            ("ImageCacheId", &ready),
            ("Image.1", "nginx"),
        ],
        "InvalidImageCacheId.NotFound",
        404,
        &format!("The specified image cache {ready} does not exist."),
    );
    fails(
        &mut e,
        u,
        &with_region(&[("ImageCacheId", &creating), ("Image.1", "nginx")]),
        "OperationConflict",
        400,
        "Request was denied due to conflict with a previous request.",
    );
    fails(
        &mut e,
        u,
        &with_region(&[("ImageCacheId", &ready), ("Image.1", "nginx:1.25")]),
        "NoNeedUpdate",
        400,
        "There are no changes to be updated for current resource.",
    );
    fails(
        &mut e,
        u,
        &with_region(&[("ImageCacheId", &ready)]),
        "NoNeedUpdate",
        400,
        "There are no changes to be updated for current resource.",
    );
    fails(
        &mut e,
        u,
        &with_region(&[("ImageCacheId", &ready), ("ImageCacheSize", "10")]),
        "InvalidParameter",
        400,
        &invalid("ImageCacheSize", "must be 20 to 32768 GiB"),
    );
    fails(
        &mut e,
        u,
        &with_region(&[("ImageCacheId", &ready), ("ImageCacheName", "a\u{1b}b")]),
        "InvalidParameter",
        400,
        &invalid("ImageCacheName", "must not hold control characters"),
    );
    fails(
        &mut e,
        u,
        &with_region(&[("ImageCacheId", &ready), ("Annotations", "{}")]),
        "NoNeedUpdate",
        400,
        "There are no changes to be updated for current resource.",
    );
    // Updating, then a conflicting update; a token reused differently.
    let ok = run(
        &mut e,
        u,
        &with_region(&[
            ("ImageCacheId", &ready),
            ("Image.1", "nginx:1.26"),
            ("ClientToken", "u1"),
        ]),
    );
    assert_eq!(ok.http_status, 200, "{ok:?}");
    assert_eq!(ok.body, serde_json::json!({"RequestId": "req-1"}));
    let replay = run(
        &mut e,
        u,
        &with_region(&[
            ("ImageCacheId", &ready),
            ("Image.1", "nginx:1.26"),
            ("ClientToken", "u1"),
        ]),
    );
    assert_eq!(
        replay.http_status, 200,
        "a replay answers again even while Updating"
    );
    fails(
        &mut e,
        u,
        &with_region(&[
            ("ImageCacheId", &ready),
            ("Image.1", "nginx:1.27"),
            ("ClientToken", "u1"),
        ]),
        "IdempotentParameterMismatch",
        400,
        "The request uses the same client token as a previous, but non-identical request.",
    );
    fails(
        &mut e,
        u,
        &with_region(&[("ImageCacheId", &ready), ("Image.1", "nginx:1.27")]),
        "OperationConflict",
        400,
        "Request was denied due to conflict with a previous request.",
    );
}

#[test]
fn delete_describe_auto_match_and_action_errors() {
    let (mut e, _, ready, creating) = fixture();
    let d = "DeleteImageCache";
    fails(
        &mut e,
        d,
        &[("ImageCacheId", &ready)],
        "MissingParameter",
        400,
        &missing("RegionId"),
    );
    fails(
        &mut e,
        d,
        &with_region(&[]),
        "MissingParameter",
        400,
        &missing("ImageCacheId"),
    );
    fails(
        &mut e,
        d,
        &with_region(&[("ImageCacheId", "imc-x")]),
        "InvalidImageCacheId.NotFound",
        404,
        "The specified image cache imc-x does not exist.",
    );
    // Delete works in any state, and a token replays it.
    let ok = run(
        &mut e,
        d,
        &with_region(&[("ImageCacheId", &creating), ("ClientToken", "d1")]),
    );
    assert_eq!(ok.http_status, 200);
    let replay = run(
        &mut e,
        d,
        &with_region(&[("ImageCacheId", &creating), ("ClientToken", "d1")]),
    );
    assert_eq!(replay.http_status, 200);
    fails(
        &mut e,
        d,
        &with_region(&[("ImageCacheId", &ready), ("ClientToken", "d1")]),
        "IdempotentParameterMismatch",
        400,
        "The request uses the same client token as a previous, but non-identical request.",
    );
    fails(
        &mut e,
        d,
        &with_region(&[("ImageCacheId", &creating)]),
        "InvalidImageCacheId.NotFound",
        404,
        &format!("The specified image cache {creating} does not exist."),
    );

    let q = "DescribeImageCaches";
    fails(
        &mut e,
        q,
        &[],
        "MissingParameter",
        400,
        &missing("RegionId"),
    );
    fails(
        &mut e,
        q,
        &with_region(&[("Limit", "0")]),
        "InvalidParameter",
        400,
        &invalid("Limit", "must be at least 1"),
    );
    fails(
        &mut e,
        q,
        &with_region(&[("NextToken", "AAAA")]),
        "InvalidParameter.NextToken",
        400,
        "The specified parameter \"NextToken\" is not valid.",
    );

    let a = "AutoMatch";
    fails(
        &mut e,
        a,
        &with_region(&[]),
        "MissingParameter",
        400,
        &missing("Image.1"),
    );
    fails(
        &mut e,
        a,
        &with_region(&[("ImageCacheId", "imc-x")]),
        "ImageCacheNotFound",
        404,
        "The specified image cache imc-x does not exist.",
    );
    let busy = create(&mut e, &[("ImageCacheName", "busy"), ("Image.1", "redis")]);
    fails(
        &mut e,
        a,
        &with_region(&[("ImageCacheId", &busy)]),
        "ImageCacheNotComplete",
        400,
        &format!("The specified image cache {busy} is not ready."),
    );
    fails(
        &mut e,
        a,
        &with_region(&[("Image.1", "nginx"), ("TemporaryStorageSize", "0")]),
        "InvalidParameter",
        400,
        &invalid("TemporaryStorageSize", "must be at least 1"),
    );

    fails(
        &mut e,
        "StartImageCache",
        &with_region(&[]),
        "InvalidAction.NotFound",
        404,
        "The specified action \"StartImageCache\" is not valid.",
    );
}

#[test]
fn every_error_code_has_its_status() {
    use eci_imagecache::ErrorCode;
    let table = [
        ("MissingParameter", 400),
        ("InvalidParameter", 400),
        ("InvalidParameter.NextToken", 400),
        ("IdempotentParameterMismatch", 400),
        ("NoNeedUpdate", 400),
        ("OperationConflict", 400),
        ("InvalidImageCacheId.NotFound", 404),
        ("QuotaExceeded", 403),
        ("ImageCacheNotFound", 404),
        ("ImageCacheNotComplete", 400),
        ("InvalidAction.NotFound", 404),
        ("SignatureDoesNotMatch", 400),
        ("InvalidAccessKeyId.NotFound", 404),
        ("InternalError", 500),
    ];
    assert_eq!(ErrorCode::ALL.len(), table.len());
    for (name, status) in table {
        let code = ErrorCode::from_name(name).unwrap();
        assert_eq!((code.as_str(), code.http_status()), (name, status));
    }
}

/// Every region id, free-text field and container group id is bounded:
/// the call fails with the field's name and changes nothing.
#[test]
fn free_text_and_region_ids_are_bounded() {
    let (mut e, _, _, _) = fixture();
    let long65 = "a".repeat(65);
    let long129 = "k".repeat(129);
    let long257 = "r".repeat(257);
    let long4097 = "x".repeat(4097);
    let region_rule =
        "must be 1 to 64 of a-z, 0-9 and '-', starting and ending with a letter or a digit";
    for region in [
        "../etc",
        "cn-hangzhou\0",
        "CN-HANGZHOU",
        "-cn",
        "cn-",
        long65.as_str(),
        "cn hangzhou",
    ] {
        for (action, extra) in [
            (
                "CreateImageCache",
                &[("ImageCacheName", "web"), ("Image.1", "nginx")][..],
            ),
            ("DescribeImageCaches", &[][..]),
            (
                "UpdateImageCache",
                &[("ImageCacheId", "imc-1"), ("Image.1", "nginx")][..],
            ),
            ("DeleteImageCache", &[("ImageCacheId", "imc-1")][..]),
            ("AutoMatch", &[("Image.1", "nginx")][..]),
        ] {
            let mut p = vec![("RegionId", region)];
            p.extend_from_slice(extra);
            fails(
                &mut e,
                action,
                &p,
                "InvalidParameter",
                400,
                &invalid("RegionId", region_rule),
            );
        }
    }
    let base = |extra: &[(&'static str, &'static str)]| {
        let mut p: Vec<(&str, &str)> = vec![
            ("RegionId", REGION),
            ("ImageCacheName", "web"),
            ("Image.1", "nginx"),
        ];
        p.extend_from_slice(extra);
        p
    };
    let table: Vec<(&str, &str, String)> = vec![
        (
            "Tag.1.Key",
            leak(&long129),
            invalid("Tag.1.Key", "at most 128 characters"),
        ),
        (
            "Tag.1.Value",
            leak(&long129),
            invalid("Tag.1.Value", "at most 128 characters"),
        ),
        (
            "ResourceGroupId",
            leak(&long257),
            invalid("ResourceGroupId", "at most 256 characters"),
        ),
        (
            "SecurityGroupId",
            leak(&long257),
            invalid("SecurityGroupId", "at most 256 characters"),
        ),
        (
            "EipInstanceId",
            leak(&long257),
            invalid("EipInstanceId", "at most 256 characters"),
        ),
        (
            "Annotations",
            leak(&long4097),
            invalid("Annotations", "at most 4096 characters"),
        ),
        (
            "Annotations",
            "a\u{7}b",
            invalid("Annotations", "must not hold control characters"),
        ),
        (
            "RetentionDays",
            "65537",
            invalid("RetentionDays", "must be 1 to 65536"),
        ),
        (
            "RetentionDays",
            "4294967295",
            invalid("RetentionDays", "must be 1 to 65536"),
        ),
    ];
    for (name, value, message) in &table {
        let mut p = base(&[(name, value)]);
        if name.ends_with(".Value") {
            p.push(("Tag.1.Key", "k"));
        }
        fails(
            &mut e,
            "CreateImageCache",
            &p,
            "InvalidParameter",
            400,
            message,
        );
    }
    fails(
        &mut e,
        "AutoMatch",
        &with_region(&[
            ("Image.1", "nginx"),
            ("ContainerGroupId", "Not A Valid\nName"),
            ("AutoCreate", "true"),
        ]),
        "InvalidParameter",
        400,
        &invalid(
            "ContainerGroupId",
            "must be 1 to 64 of a-z, 0-9 and '-', not ending with '-'",
        ),
    );
    fails(
        &mut e,
        "DescribeImageCaches",
        &with_region(&[("Tag.1.Key", leak(&long129))]),
        "InvalidParameter",
        400,
        &invalid("Tag.N", "tag keys and values are at most 128 characters"),
    );
}

/// A create with two faults gets the error of the one checked first: the
/// order of the settings' checks is part of the contract (retention, text
/// lengths, credentials, ACR instances, vSwitches, ACR domains, copy
/// counts), and an SDK caller sees one error for one call every time.
/// Every pair of neighbouring checks is here, so swapping any two fails.
#[test]
fn of_two_faults_a_create_names_the_one_checked_first() {
    let long_id = "e".repeat(257);
    let eleven = ["vsw-1"; 11].join(",");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("EipInstanceId", &long_id),
                ("ImageRegistryCredential.1.Server", "https://r.example.com"),
            ],
            "The specified parameter \"EipInstanceId\" is not valid: at most 256 characters.",
        ),
        (
            &[
                ("ImageRegistryCredential.1.Server", "https://r.example.com"),
                ("AcrRegistryInfo.1.Domain.1", "r.example.com"),
            ],
            "The specified parameter \"ImageRegistryCredential.1.Server\" is not valid: is a registry address without http:// or https://.",
        ),
        (
            &[
                ("AcrRegistryInfo.1.Domain.1", "r.example.com"),
                ("VSwitchId", &eleven),
            ],
            "The input parameter \"AcrRegistryInfo.1.InstanceId\" that is mandatory for processing this request is not supplied.",
        ),
        (
            &[
                ("VSwitchId", &eleven),
                ("AcrRegistryInfo.1.InstanceId", "cri-1"),
                ("AcrRegistryInfo.1.Domain.1", "not a host!"),
            ],
            "The specified parameter \"VSwitchId\" is not valid: at most 10 ids separated by commas.",
        ),
        (
            &[("RetentionDays", "0"), ("FlashCopyCount", "0")],
            "The specified parameter \"RetentionDays\" is not valid: must be 1 to 65536.",
        ),
        (
            &[("EipInstanceId", &long_id), ("RetentionDays", "0")],
            "The specified parameter \"RetentionDays\" is not valid: must be 1 to 65536.",
        ),
        (
            &[("EipInstanceId", &long_id), ("VSwitchId", &eleven)],
            "The specified parameter \"EipInstanceId\" is not valid: at most 256 characters.",
        ),
        (
            &[
                ("ImageRegistryCredential.1.Server", "https://r.example.com"),
                ("VSwitchId", "vsw-1,,vsw-2"),
            ],
            "The specified parameter \"ImageRegistryCredential.1.Server\" is not valid: is a registry address without http:// or https://.",
        ),
        (
            &[
                ("AcrRegistryInfo.1.Domain.1", "not a host!"),
                ("FlashCopyCount", "0"),
            ],
            "The input parameter \"AcrRegistryInfo.1.InstanceId\" that is mandatory for processing this request is not supplied.",
        ),
        (
            &[("VSwitchId", &eleven), ("StandardCopyCount", "0")],
            "The specified parameter \"VSwitchId\" is not valid: at most 10 ids separated by commas.",
        ),
        (
            &[
                ("AcrRegistryInfo.1.InstanceId", "cri-1"),
                ("AcrRegistryInfo.1.Domain.1", "not a host!"),
                ("FlashCopyCount", "0"),
            ],
            "The specified parameter \"AcrRegistryInfo.1.Domain\" is not valid: \"not a host!\" is not a registry host name.",
        ),
        (
            &[("FlashCopyCount", "0"), ("StandardCopyCount", "0")],
            "The specified parameter \"FlashCopyCount\" is not valid: must be at least 1.",
        ),
    ];
    for (faults, message) in cases {
        let mut engine = Engine::builder().seed(1).build();
        let mut params = vec![
            ("RegionId", REGION),
            ("ImageCacheName", "web"),
            ("Image.1", "nginx"),
        ];
        params.extend_from_slice(faults);
        let reply = call(
            &mut engine,
            DEFAULT_ACCOUNT,
            "CreateImageCache",
            params,
            "r".to_owned(),
        );
        assert_eq!(reply.http_status, 400, "{faults:?}");
        assert_eq!(reply.body["Message"], *message, "{faults:?}");
    }
}
