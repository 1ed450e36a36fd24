//! The server on a loopback port, driven over HTTP: every action and error,
//! the wire forms the SDKs use, signatures, control, durability.

mod common;

use std::path::PathBuf;

use common::{Server, http, options, start};
use serde_json::Value;

/// Control requests carry JSON.
const JSON: &[(&str, &str)] = &[("content-type", "application/json")];

use common::form as query;

/// The current SDK's form: POST, everything in the query, action in a header.
fn call(s: &Server, action: &str, params: &[(&str, &str)]) -> (u16, Value) {
    http(
        s.addr,
        "POST",
        &format!("/?{}", query(params)),
        &[("x-acs-action", action), ("x-acs-version", "2018-08-08")],
        "",
    )
}

#[test]
fn every_action_and_error_over_http() {
    let s = start(options());
    let r = [("RegionId", "cn-hangzhou")];
    let (status, created) = call(
        &s,
        "CreateImageCache",
        &[
            r[0],
            ("ImageCacheName", "web"),
            ("Image.1", "nginx:1.25"),
            ("ClientToken", "c1"),
            ("EliminationStrategy", "LRU"),
        ],
    );
    assert_eq!(status, 200, "{created}");
    let id = created["ImageCacheId"].as_str().unwrap().to_owned();
    assert!(
        created["ContainerGroupId"]
            .as_str()
            .unwrap()
            .starts_with("eci-")
    );
    // A replay: the same answer, a fresh RequestId.
    let (_, again) = call(
        &s,
        "CreateImageCache",
        &[
            r[0],
            ("ImageCacheName", "web"),
            ("Image.1", "nginx:1.25"),
            ("ClientToken", "c1"),
            ("EliminationStrategy", "LRU"),
        ],
    );
    assert_eq!(again["ImageCacheId"], created["ImageCacheId"]);
    assert_ne!(again["RequestId"], created["RequestId"]);
    // The legacy GET form with Action as a parameter, and the legacy ACR spelling.
    let (status, legacy) = http(
        s.addr,
        "GET",
        &format!(
            "/?{}",
            query(&[
                ("Action", "CreateImageCache"),
                r[0],
                ("ImageCacheName", "api"),
                ("Image.1", "redis"),
                ("AcrRegistryInfo.1.InstanceId", "cri-1"),
                ("AcrRegistryInfo.1Domain.1", "a.example.com"),
                ("Format", "JSON"),
                ("Version", "2018-08-08")
            ])
        ),
        &[],
        "",
    );
    assert_eq!(status, 200, "{legacy}");
    // A form-encoded body merged with the query.
    let (status, form) = http(
        s.addr,
        "POST",
        "/?RegionId=cn-hangzhou",
        &[("content-type", "application/x-www-form-urlencoded")],
        &query(&[("Action", "DescribeImageCaches"), ("ImageCacheName", "web")]),
    );
    assert_eq!(
        (status, form["TotalCount"].as_u64()),
        (200, Some(1)),
        "{form}"
    );
    assert_eq!(form["ImageCaches"][0]["Status"], "Preparing");
    // Time passes through the control endpoint.
    let (status, now) = http(
        s.addr,
        "POST",
        "/_emulator/clock",
        JSON,
        r#"{"Advance": 600}"#,
    );
    assert_eq!(
        (status, now["Now"].as_str()),
        (200, Some("2024-05-01T08:10:00Z"))
    );
    // 100 MatchImage values: a request line of more than 16 KiB.
    let long = "a-rather-long-repository-name-".repeat(4);
    let images: Vec<(String, String)> = (1..=99)
        .map(|i| (format!("MatchImage.{i}"), format!("registry-vpc.cn-hangzhou.aliyuncs.com/some-team-namespace/{long}{i}:v1.2.3-build{i}")))
        .collect();
    let mut params: Vec<(&str, &str)> = vec![r[0], ("MatchImage.100", "nginx:1.25")];
    params.extend(images.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let target = format!("/?{}", query(&params));
    assert!(target.len() > 16 * 1024, "{}", target.len());
    let (status, page) = http(
        s.addr,
        "POST",
        &target,
        &[("x-acs-action", "DescribeImageCaches")],
        "",
    );
    assert_eq!(
        (status, page["TotalCount"].as_u64()),
        (200, Some(1)),
        "{page}"
    );
    assert_eq!(page["ImageCaches"][0]["Status"], "Ready");
    assert!(
        page["ImageCaches"][0]["ImageCacheSize"].is_u64()
            && page["ImageCaches"][0]["Images"].is_array()
    );
    // Update, NoNeedUpdate, OperationConflict, Delete, NotFound.
    let (status, _) = call(
        &s,
        "UpdateImageCache",
        &[r[0], ("ImageCacheId", &id), ("Image.1", "nginx:1.26")],
    );
    assert_eq!(status, 200);
    let (status, e) = call(
        &s,
        "UpdateImageCache",
        &[r[0], ("ImageCacheId", &id), ("Image.1", "nginx:1.27")],
    );
    assert_eq!(
        (status, e["Code"].as_str()),
        (400, Some("OperationConflict"))
    );
    http(
        s.addr,
        "POST",
        "/_emulator/clock",
        JSON,
        r#"{"Advance": 600}"#,
    );
    let (status, e) = call(
        &s,
        "UpdateImageCache",
        &[r[0], ("ImageCacheId", &id), ("Image.1", "nginx:1.26")],
    );
    assert_eq!((status, e["Code"].as_str()), (400, Some("NoNeedUpdate")));
    assert_eq!(e.as_object().unwrap().len(), 3);
    let (status, hit) = call(&s, "AutoMatch", &[r[0], ("Image.1", "nginx:1.26")]);
    assert_eq!((status, hit["Matched"].as_bool()), (200, Some(true)));
    // Quota 3: a third create fills it; a fourth evicts the LRU cache.
    assert_eq!(
        call(
            &s,
            "CreateImageCache",
            &[r[0], ("ImageCacheName", "db"), ("Image.1", "mysql")]
        )
        .0,
        200
    );
    assert_eq!(
        call(
            &s,
            "CreateImageCache",
            &[r[0], ("ImageCacheName", "mq"), ("Image.1", "rabbitmq")]
        )
        .0,
        200
    );
    let (status, e) = call(
        &s,
        "CreateImageCache",
        &[r[0], ("ImageCacheName", "more"), ("Image.1", "alpine")],
    );
    assert_eq!((status, e["Code"].as_str()), (403, Some("QuotaExceeded")));
    let (status, e) = call(&s, "DeleteImageCache", &[r[0], ("ImageCacheId", &id)]);
    assert_eq!(
        (status, e["Code"].as_str()),
        (404, Some("InvalidImageCacheId.NotFound")),
        "web was evicted"
    );
    let (status, e) = call(&s, "DescribeImageCaches", &[]);
    assert_eq!(
        (status, e["Code"].as_str()),
        (400, Some("MissingParameter"))
    );
    let (status, e) = call(&s, "RunInstances", &[r[0]]);
    assert_eq!(
        (status, e["Code"].as_str()),
        (404, Some("InvalidAction.NotFound"))
    );
    let (status, e) = http(s.addr, "POST", "/?RegionId=cn-hangzhou", &[], "");
    assert_eq!(
        (status, e["Code"].as_str()),
        (400, Some("MissingParameter"))
    );
    assert!(e["RequestId"].is_string());
    // A body over the limit: a clear 413, not a dropped connection.
    let big = "x".repeat(300 * 1024);
    let (status, e) = http(
        s.addr,
        "POST",
        "/?RegionId=cn-hangzhou",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-acs-action", "DescribeImageCaches"),
        ],
        &big,
    );
    assert_eq!(
        (status, e["Code"].as_str()),
        (413, Some("RequestBodyTooLarge")),
        "{e}"
    );
    assert!(
        e["Message"]
            .as_str()
            .unwrap()
            .contains("larger than 262144 bytes"),
        "{e}"
    );
    // Auto-match naming an unknown cache.
    let (status, e) = call(&s, "AutoMatch", &[r[0], ("ImageCacheId", "imc-nope")]);
    assert_eq!(
        (status, e["Code"].as_str()),
        (404, Some("ImageCacheNotFound"))
    );
    // Too many parameters.
    let many: String = (0..2_100).map(|i| format!("Tag.{i}.Key=k&")).collect();
    let (status, e) = http(
        s.addr,
        "POST",
        "/",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-acs-action", "DescribeImageCaches"),
        ],
        &many,
    );
    assert_eq!(
        (status, e["Code"].as_str()),
        (400, Some("InvalidParameter"))
    );
}

#[test]
fn signatures_are_enforced_when_keys_are_given() {
    let mut o = options();
    o.access_keys = vec![("AKIDEXAMPLE".into(), "SECRETEXAMPLE".into())];
    // The captures are old: replaying them needs freshness off.
    o.freshness = false;
    let s = start(o);
    // Every SDK-signed capture is accepted (the signature, that is: what
    // the call then answers depends on the state).
    let text = include_str!("../../tests/data/sdk-wire-captures.txt");
    let mut checked = 0;
    for section in text.split("\n### ").skip(1) {
        let mut lines = section.lines();
        let method = lines.nth(1).unwrap().split(' ').next().unwrap();
        let target = section
            .split("-- raw request target:\n")
            .nth(1)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .trim();
        let headers_text = section.split("-- headers (wire order):\n").nth(1).unwrap();
        let headers: Vec<(&str, &str)> = headers_text
            .lines()
            .take_while(|l| l.starts_with("   "))
            .filter_map(|l| l.trim().split_once(": "))
            .filter(|(n, _)| {
                !n.eq_ignore_ascii_case("content-length") && !n.eq_ignore_ascii_case("connection")
            })
            .collect();
        let (status, body) = http(s.addr, method, target, &headers, "");
        let code = body["Code"].as_str().unwrap_or("");
        assert!(
            status == 200
                || !code.starts_with("Signature")
                    && !code.starts_with("InvalidAccessKeyId")
                    && !code.starts_with("InvalidTimeStamp"),
            "{target}: {body}"
        );
        checked += 1;
    }
    assert_eq!(checked, 14);
    // Unsigned, and signed with an unknown key.
    let (status, e) = call(&s, "DescribeImageCaches", &[("RegionId", "cn-hangzhou")]);
    assert_eq!(
        (status, e["Code"].as_str()),
        (400, Some("SignatureDoesNotMatch"))
    );
    let (status, e) = call(
        &s,
        "DescribeImageCaches",
        &[
            ("RegionId", "cn-hangzhou"),
            ("AccessKeyId", "nobody"),
            ("Signature", "x"),
        ],
    );
    assert_eq!(
        (status, e["Code"].as_str()),
        (404, Some("InvalidAccessKeyId.NotFound"))
    );
}

#[test]
fn injected_faults_and_reset() {
    let s = start(options());
    let r = ("RegionId", "cn-hangzhou");
    let (status, _) = http(
        s.addr,
        "POST",
        "/_emulator/faults",
        JSON,
        r#"{"FailNext": "CreateImageCache", "Reason": "Failed to pull image \"private/x\": unauthorized."}"#,
    );
    assert_eq!(status, 200);
    let (_, created) = call(
        &s,
        "CreateImageCache",
        &[r, ("ImageCacheName", "bad"), ("Image.1", "private/x")],
    );
    http(
        s.addr,
        "POST",
        "/_emulator/clock",
        JSON,
        r#"{"Advance": 3600}"#,
    );
    let (_, page) = call(
        &s,
        "DescribeImageCaches",
        &[
            r,
            ("ImageCacheId", created["ImageCacheId"].as_str().unwrap()),
        ],
    );
    assert_eq!(page["ImageCaches"][0]["Status"], "Failed");
    let events = page["ImageCaches"][0]["Events"].as_array().unwrap();
    assert_eq!(
        events.last().unwrap()["Message"],
        "Failed to pull image \"private/x\": unauthorized."
    );
    // Account errors for the next two Describe calls only.
    let (status, _) = http(
        s.addr,
        "POST",
        "/_emulator/faults",
        JSON,
        r#"{"Code": "Forbidden.RiskControl", "Count": 2, "Action": "DescribeImageCaches"}"#,
    );
    assert_eq!(status, 200);
    for _ in 0..2 {
        let (status, e) = call(&s, "DescribeImageCaches", &[r]);
        assert_eq!(
            (status, e["Code"].as_str()),
            (403, Some("Forbidden.RiskControl"))
        );
    }
    assert_eq!(call(&s, "DescribeImageCaches", &[r]).0, 200);
    let (status, e) = http(
        s.addr,
        "POST",
        "/_emulator/faults",
        JSON,
        r#"{"Code": "NoSuchCode", "Count": 1}"#,
    );
    assert_eq!(status, 400, "{e}");
    let (status, _) = http(s.addr, "POST", "/_emulator/reset", JSON, "");
    assert_eq!(status, 200);
    assert_eq!(call(&s, "DescribeImageCaches", &[r]).1["TotalCount"], 0);
    let (status, e) = http(s.addr, "GET", "/elsewhere", &[], "");
    assert_eq!((status, e["Code"].as_str()), (404, Some("NotFound")));
}

#[test]
fn accepted_changes_survive_a_restart_without_shutdown() {
    let dir = std::env::temp_dir().join(format!("eci-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state: PathBuf = dir.join("state");
    let mut o = options();
    o.state = Some(state.clone());
    let s = start(o.clone());
    let r = ("RegionId", "cn-hangzhou");
    let mut ids = Vec::new();
    for name in ["one", "two"] {
        let (status, c) = call(
            &s,
            "CreateImageCache",
            &[r, ("ImageCacheName", name), ("Image.1", "nginx")],
        );
        assert_eq!(status, 200);
        ids.push(c["ImageCacheId"].as_str().unwrap().to_owned());
    }
    http(
        s.addr,
        "POST",
        "/_emulator/clock",
        JSON,
        r#"{"Advance": 600}"#,
    );
    assert_eq!(
        call(&s, "DeleteImageCache", &[r, ("ImageCacheId", &ids[0])]).0,
        200
    );
    let before = call(&s, "DescribeImageCaches", &[r]).1;
    // No checkpoint: as after a kill, only what was committed remains.
    drop(s);
    let again = start(o);
    let after = call(&again, "DescribeImageCaches", &[r]).1;
    assert_eq!(after["ImageCaches"], before["ImageCaches"]);
    assert_eq!(after["ImageCaches"][0]["ImageCacheId"], ids[1].as_str());
    assert_eq!(after["ImageCaches"][0]["Status"], "Ready");
    again.app.checkpoint().unwrap();
    assert!(!dir.join("state.journal").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn imports_the_generated_workload() {
    use eci_imagecache::workload::Workload;
    let dir = std::env::temp_dir().join(format!("eci-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("caches.json");
    let caches: Vec<_> = Workload::new(5).caches(300).collect();
    write_import(&file, &caches);
    let mut o = options();
    o.import = Some(file);
    o.quota = None;
    let s = start(o);
    let (status, page) = call(
        &s,
        "DescribeImageCaches",
        &[("RegionId", "cn-hangzhou"), ("Limit", "5")],
    );
    assert_eq!((status, page["TotalCount"].as_u64()), (200, Some(300)));
    let first = &page["ImageCaches"][0];
    let newest = caches
        .iter()
        .max_by_key(|c| (c.creation_time, std::cmp::Reverse(c.id().to_owned())))
        .unwrap();
    assert_eq!(first["ImageCacheId"], newest.id());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With a state store: `--import` happens on the first start only; a state
/// made on a manual clock resumes it at its saved time, with or without
/// `--now`; clock moves stay within the printable range.
#[test]
fn restarts_import_once_and_keep_the_manual_clock() {
    use eci_imagecache::workload::Workload;
    let dir = std::env::temp_dir().join(format!("eci-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("caches.json");
    let caches: Vec<_> = Workload::new(5).caches(30).collect();
    write_import(&file, &caches);
    let mut o = options();
    o.state = Some(dir.join("state.db"));
    o.import = Some(file);
    o.quota = None;
    let total = |s: &Server| {
        call(
            s,
            "DescribeImageCaches",
            &[("RegionId", "cn-hangzhou"), ("Limit", "1")],
        )
        .1["TotalCount"]
            .as_u64()
    };
    let clock = |s: &Server| http(s.addr, "GET", "/_emulator/clock", &[], "").1;
    let s = start(o.clone());
    assert_eq!(total(&s), Some(30));
    let (status, moved) = control(&s, "/_emulator/clock", r#"{"Advance": 3600}"#);
    assert_eq!(
        (status, moved["Now"].as_str()),
        (200, Some("2024-05-01T09:00:00Z"))
    );
    drop(s);

    // Restarted without --now: the saved manual clock, and no second import.
    let mut again = o.clone();
    again.now = None;
    let s = start(again.clone());
    assert_eq!(total(&s), Some(30));
    assert_eq!(
        clock(&s),
        serde_json::json!({"Now": "2024-05-01T09:00:00Z", "Manual": true})
    );
    // The ends of the range: times stay printable.
    let (_, low) = control(
        &s,
        "/_emulator/clock",
        r#"{"Advance": -9223372036854775808}"#,
    );
    assert_eq!(low["Now"], "1970-01-01T00:00:00Z");
    let (_, high) = control(
        &s,
        "/_emulator/clock",
        r#"{"Advance": 9223372036854775807}"#,
    );
    assert_eq!(high["Now"], "9999-12-30T22:00:00Z");
    drop(s);

    // The saved time is part of the state: --now starts only a new state's
    // clock.
    let mut later = again;
    later.now = Some("2025-01-01T00:00:00Z".parse().unwrap());
    let s = start(later);
    assert_eq!(clock(&s)["Now"], "9999-12-30T22:00:00Z");
    drop(s);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn control(s: &Server, path: &str, body: &str) -> (u16, Value) {
    http(s.addr, "POST", path, JSON, body)
}

/// A first start whose import fails writes nothing: the next start, with
/// the file fixed, imports it. Ids are unique in an account across regions.
#[test]
fn a_failed_first_import_is_retried_and_ids_are_unique_per_account() {
    use eci_imagecache::workload::Workload;
    let dir = std::env::temp_dir().join(format!("eci-import-retry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("caches.json");
    let mut caches: Vec<_> = Workload::new(7).caches(3).collect();
    let mut twin = caches[0].clone();
    twin.set_region_id("cn-shanghai");
    caches.push(twin);
    write_import(&file, &caches);
    let mut o = options();
    o.state = Some(dir.join("state.db"));
    o.import = Some(file.clone());
    o.quota = None;
    let error = match eci_imagecache_server::serve::build(&o, Default::default()) {
        Err(e) => e,
        Ok(_) => panic!("an id twice in one account was imported"),
    };
    assert!(error.contains("already exists"), "{error}");
    caches.pop();
    write_import(&file, &caches);
    let s = start(o);
    let (_, page) = call(
        &s,
        "DescribeImageCaches",
        &[("RegionId", "cn-hangzhou"), ("Limit", "1")],
    );
    assert_eq!(page["TotalCount"], 3);
    drop(s);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes caches as `eci-imagecache gen` prints them.
fn write_import(file: &std::path::Path, caches: &[eci_imagecache::record::ImageCache]) {
    let doc = serde_json::json!({
        "RequestId": "gen",
        "TotalCount": caches.len(),
        "ImageCaches": caches.iter().map(eci_imagecache::wire::json::ImageCacheJson::from).collect::<Vec<_>>(),
    });
    std::fs::write(file, doc.to_string()).unwrap();
}
