//! Control endpoints and the Host check: state changes only by POST with
//! JSON, with a token when one is set (always with keys), and without keys
//! only for requests whose Host is the listen address. Fault injection is
//! bounded. Every refusal is a JSON error and changes nothing.

mod common;

use std::net::SocketAddr;

use common::{Server, error_code, http, options, start};
use eci_imagecache_server::router::host_allowed;
use serde_json::Value;

const JSON: (&str, &str) = ("content-type", "application/json");

fn create(s: &Server, name: &str) -> (u16, Value) {
    http(
        s.addr,
        "POST",
        &format!("/?RegionId=cn-hangzhou&ImageCacheName={name}&Image.1=nginx"),
        &[("x-acs-action", "CreateImageCache")],
        "",
    )
}

fn count(s: &Server) -> u64 {
    let (status, page) = http(
        s.addr,
        "POST",
        "/?RegionId=cn-hangzhou",
        &[("x-acs-action", "DescribeImageCaches")],
        "",
    );
    assert_eq!(status, 200, "{page}");
    page["TotalCount"].as_u64().unwrap()
}

#[test]
fn control_changes_state_only_by_post_with_json() {
    let s = start(options());
    assert_eq!(create(&s, "keep").0, 200);
    // GET /_emulator/reset: 405 with a JSON body.
    let (status, e) = http(s.addr, "GET", "/_emulator/reset", &[], "");
    assert_eq!(error_code(status, &e), (405, "MethodNotAllowed".into()));
    for (ct, body) in [
        (None, "{}"),
        (Some("text/plain"), "{}"),
        (Some("application/x-www-form-urlencoded"), "a=1"),
        (Some("application/jsonx"), "{}"),
    ] {
        let headers: Vec<(&str, &str)> = ct.map(|c| ("content-type", c)).into_iter().collect();
        let (status, e) = http(s.addr, "POST", "/_emulator/reset", &headers, body);
        assert_eq!(
            error_code(status, &e),
            (415, "UnsupportedMediaType".into()),
            "{ct:?}"
        );
        let (status, e) = http(
            s.addr,
            "POST",
            "/_emulator/clock",
            &headers,
            r#"{"Advance": 600}"#,
        );
        assert_eq!(error_code(status, &e), (415, "UnsupportedMediaType".into()));
    }
    // DELETE is gone; other methods are 405.
    for method in ["DELETE", "PUT"] {
        let (status, e) = http(s.addr, method, "/_emulator/faults", &[], "");
        assert_eq!(error_code(status, &e), (405, "MethodNotAllowed".into()));
    }
    // A reset body that is not JSON, with the JSON type: 400.
    let (status, e) = http(s.addr, "POST", "/_emulator/reset", &[JSON], "nope");
    assert_eq!(error_code(status, &e), (400, "InvalidParameter".into()));
    assert_eq!(count(&s), 1, "nothing was reset");
    let (_, clock) = http(s.addr, "GET", "/_emulator/clock", &[], "");
    assert_eq!(
        clock["Now"], "2024-05-01T08:00:00Z",
        "the clock did not move"
    );
    // The real thing works, with a charset too.
    let (status, _) = http(
        s.addr,
        "POST",
        "/_emulator/reset",
        &[("Content-Type", "Application/JSON; charset=utf-8")],
        "",
    );
    assert_eq!(status, 200);
    assert_eq!(count(&s), 0);
}

#[test]
fn without_keys_only_the_listen_host_is_answered() {
    let s = start(options());
    let port = s.addr.port();
    for host in [
        format!("evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("127.0.0.2:{port}"),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        "127.0.0.1".to_owned(),
        String::new(),
    ] {
        // A cross-site form post to the API, and control.
        let (status, e) = http(
            s.addr,
            "POST",
            "/",
            &[
                ("host", &host),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            "Action=CreateImageCache&RegionId=cn-hangzhou&ImageCacheName=x&Image.1=nginx",
        );
        assert_eq!(
            error_code(status, &e),
            (403, "Forbidden.Host".into()),
            "{host}"
        );
        let (status, e) = http(
            s.addr,
            "POST",
            "/_emulator/reset",
            &[("host", &host), JSON],
            "{}",
        );
        assert_eq!(
            error_code(status, &e),
            (403, "Forbidden.Host".into()),
            "{host}"
        );
    }
    assert_eq!(count(&s), 0);
    assert_eq!(create(&s, "mine").0, 200);
    // localhost:PORT on a loopback listener is the same server.
    let (status, _) = http(
        s.addr,
        "POST",
        "/?RegionId=cn-hangzhou",
        &[
            ("host", &format!("localhost:{port}")),
            ("x-acs-action", "DescribeImageCaches"),
        ],
        "",
    );
    assert_eq!(status, 200);
    assert_eq!(count(&s), 1);
}

#[test]
fn host_rules() {
    let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
    let any6: SocketAddr = "[::]:8080".parse().unwrap();
    let lan: SocketAddr = "192.168.1.5:8080".parse().unwrap();
    for (host, listen, ok) in [
        ("127.0.0.1:8080", lo, true),
        ("localhost:8080", lo, true),
        ("LOCALHOST:8080", lo, true),
        ("127.0.0.1:8081", lo, false),
        ("127.0.0.1", lo, false),
        ("[::1]:8080", lo, false),
        ("evil.example:8080", lo, false),
        ("localhost.evil.example:8080", lo, false),
        ("10.0.0.7:8080", any, true),
        ("[::1]:8080", any6, true),
        ("[fe80::1]:8080", any6, true),
        ("localhost:8080", any, true),
        ("attacker.example:8080", any, false),
        // On every interface (a container), behind a published port the
        // client names another: any port of an IP literal or localhost.
        ("10.0.0.7:9999", any, true),
        ("localhost:18080", any, true),
        ("127.0.0.1", any, true),
        ("attacker.example:18080", any, false),
        ("192.168.1.5:8080", lan, true),
        ("localhost:8080", lan, false),
        ("10.0.0.7:8080", lan, false),
        ("[::1", any6, false),
        ("[::1]x", any6, false),
        ("127.0.0.1:+8080", lo, false),
        ("127.0.0.1:99999", lo, false),
    ] {
        assert_eq!(host_allowed(host, listen), ok, "{host} on {listen}");
    }
    let web: SocketAddr = "127.0.0.1:80".parse().unwrap();
    assert!(host_allowed("127.0.0.1", web) && host_allowed("localhost", web));
}

#[test]
fn with_a_token_control_needs_it_and_with_keys_the_host_check_is_off() {
    let mut o = common::signed_options();
    o.control_token = Some("s3cret-token".into());
    let s = start(o);
    for token in [
        None,
        Some("wrong"),
        Some("s3cret-toke"),
        Some("s3cret-token2"),
    ] {
        let mut headers = vec![JSON];
        if let Some(t) = token {
            headers.push(("x-eci-emulator-token", t));
        }
        let (status, e) = http(
            s.addr,
            "POST",
            "/_emulator/clock",
            &headers,
            r#"{"Advance": 600}"#,
        );
        assert_eq!(
            error_code(status, &e),
            (403, "Forbidden.ControlToken".into()),
            "{token:?}"
        );
        let (status, e) = http(s.addr, "GET", "/_emulator/faults", &headers, "");
        assert_eq!(
            error_code(status, &e),
            (403, "Forbidden.ControlToken".into())
        );
    }
    let good = [JSON, ("x-eci-emulator-token", "s3cret-token")];
    let (_, clock) = http(s.addr, "GET", "/_emulator/clock", &good, "");
    assert_eq!(
        clock["Now"], "2024-05-01T08:00:00Z",
        "the clock did not move"
    );
    // The right token from any host (the keys protect the API, the token control).
    let (status, now) = http(
        s.addr,
        "POST",
        "/_emulator/clock",
        &[
            JSON,
            ("x-eci-emulator-token", "s3cret-token"),
            ("host", "emulator.internal:1"),
        ],
        r#"{"Advance": 600}"#,
    );
    assert_eq!(
        (status, now["Now"].as_str()),
        (200, Some("2024-05-01T08:10:00Z"))
    );
}

#[test]
fn fault_injection_is_bounded() {
    let s = start(options());
    let post = |body: &str| http(s.addr, "POST", "/_emulator/faults", &[JSON], body);
    let long = "r".repeat(1025);
    for body in [
        r#"{"Code": "Account.Arrearage", "Count": 0}"#.to_owned(),
        r#"{"Code": "Account.Arrearage", "Count": 4294967295}"#.to_owned(),
        r#"{"Code": "Account.Arrearage", "Count": 4294967296}"#.to_owned(),
        r#"{"Code": "Account.Arrearage", "Count": 1001}"#.to_owned(),
        r#"{"Code": "Account.Arrearage", "Count": 1, "Action": "RunInstances"}"#.to_owned(),
        r#"{"Code": "NoSuchCode", "Count": 1}"#.to_owned(),
        format!(r#"{{"FailNext": "CreateImageCache", "Reason": "{long}"}}"#),
        r#"{"FailNext": "CreateImageCache", "Reason": 7}"#.to_owned(),
        r#"{"FailNext": "DeleteImageCache"}"#.to_owned(),
    ] {
        let (status, e) = post(&body);
        assert_eq!(
            error_code(status, &e),
            (400, "InvalidParameter".into()),
            "{body}"
        );
    }
    let (_, pending) = http(s.addr, "GET", "/_emulator/faults", &[], "");
    assert_eq!(pending, serde_json::json!({"Failures": [], "Errors": []}));
    // 1000 and 1024 characters are fine; at most 100 pending.
    let (status, _) =
        post(r#"{"Code": "Account.Arrearage", "Count": 1000, "Action": "AutoMatch"}"#);
    assert_eq!(status, 200);
    let ok = "r".repeat(1024);
    for i in 1..100 {
        let (status, e) = post(&format!(
            r#"{{"FailNext": "CreateImageCache", "Reason": "{ok}"}}"#
        ));
        assert_eq!(status, 200, "{i}: {e}");
    }
    let (status, e) = post(r#"{"FailNext": "UpdateImageCache"}"#);
    assert_eq!(error_code(status, &e), (400, "InvalidParameter".into()));
    assert!(e["Message"].as_str().unwrap().contains("100"), "{e}");
    let (_, pending) = http(s.addr, "GET", "/_emulator/faults", &[], "");
    assert_eq!(pending["Failures"].as_array().unwrap().len(), 99);
    let (status, pending) = post(r#"{"Clear": true}"#);
    assert_eq!(status, 200);
    assert_eq!(pending, serde_json::json!({"Failures": [], "Errors": []}));
}

/// Each refused fault names what is wrong, in the endpoint's order: the
/// body's shape, then `Count`, then `Action`.
#[test]
fn refused_faults_say_what_is_wrong_in_order() {
    let s = start(options());
    for (body, message) in [
        (
            "null",
            "Expected FailNext, Clear or Code/Count: invalid type: null, expected struct ErrorFault.",
        ),
        (
            "[]",
            "Expected FailNext, Clear or Code/Count: invalid length 0, expected struct ErrorFault with 4 elements.",
        ),
        (
            r#"{"Code": "Account.Arrearage", "Count": 0, "Action": "RunInstances"}"#,
            "Count is 1 to 1000.",
        ),
        (
            r#"{"FailNext": "DeleteImageCache"}"#,
            "FailNext takes CreateImageCache or UpdateImageCache.",
        ),
    ] {
        let (status, e) = http(s.addr, "POST", "/_emulator/faults", &[JSON], body);
        assert_eq!(
            error_code(status, &e),
            (400, "InvalidParameter".into()),
            "{body}"
        );
        assert_eq!(e["Message"], message, "{body}");
    }
    let body = r#"{"Code": "Account.Arrearage", "Count": 1, "Action": "RunInstances"}"#;
    let (_, e) = http(s.addr, "POST", "/_emulator/faults", &[JSON], body);
    let message = e["Message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Action must be one of: CreateImageCache, DescribeImageCaches, UpdateImageCache, DeleteImageCache, AutoMatch"
        ),
        "{message}"
    );
}

#[test]
fn without_keys_the_action_header_and_parameter_must_agree_and_form_types_are_parsed() {
    let s = start(options());
    let (status, e) = http(
        s.addr,
        "POST",
        "/?RegionId=cn-hangzhou&Action=DeleteImageCache&ImageCacheId=imc-x",
        &[("x-acs-action", "DescribeImageCaches")],
        "",
    );
    assert_eq!(
        error_code(status, &e),
        (400, "InvalidParameter".into()),
        "{e}"
    );
    // Ignored before: a capitalised form type.
    let (status, c) = http(
        s.addr,
        "POST",
        "/",
        &[("Content-Type", "Application/x-www-form-urlencoded")],
        "Action=CreateImageCache&RegionId=cn-hangzhou&ImageCacheName=form&Image.1=nginx",
    );
    assert_eq!(status, 200, "{c}");
    for ct in ["application/x-www-form-urlencodedX", "text/plain"] {
        let (status, e) = http(
            s.addr,
            "POST",
            "/",
            &[("Content-Type", ct)],
            "Action=CreateImageCache&RegionId=cn-hangzhou&ImageCacheName=f2&Image.1=nginx",
        );
        assert_eq!(
            error_code(status, &e),
            (400, "InvalidParameter".into()),
            "{ct}"
        );
    }
    assert_eq!(count(&s), 1);
}
