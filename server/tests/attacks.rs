//! "Signed means authorised": with access keys configured, nothing the
//! signature does not cover changes what runs. Each test tries an attack
//! on a real loopback server and checks the exact answer and that the
//! state did not change.

mod common;

use common::{
    AK, Server, captures, error_code, http, send, sign_v2, sign_v3, signed_options, start,
    timestamp, v2_params,
};
use serde_json::Value;

const REGION: (&str, &str) = ("RegionId", "cn-hangzhou");

/// A fresh V2-signed GET.
fn v2(s: &Server, action: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let query = sign_v2(
        "GET",
        &v2_params(action, params, &timestamp(0)),
        common::SECRET,
    );
    http(s.addr, "GET", &format!("/?{query}"), &[], "")
}

fn ids(s: &Server) -> Vec<String> {
    let (status, page) = v2(s, "DescribeImageCaches", &[REGION]);
    assert_eq!(status, 200, "{page}");
    page["ImageCaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["ImageCacheId"].as_str().unwrap().to_owned())
        .collect()
}

fn create(s: &Server, name: &str) -> String {
    let (status, c) = v2(
        s,
        "CreateImageCache",
        &[REGION, ("ImageCacheName", name), ("Image.1", "nginx")],
    );
    assert_eq!(status, 200, "{c}");
    c["ImageCacheId"].as_str().unwrap().to_owned()
}

#[test]
fn an_unsigned_action_header_cannot_turn_a_v2_describe_into_a_delete() {
    let s = start(signed_options());
    let id = create(&s, "victim");
    // A V2-signed Describe of that cache, with x-acs-action: DeleteImageCache.
    let query = sign_v2(
        "GET",
        &v2_params(
            "DescribeImageCaches",
            &[REGION, ("ImageCacheId", &id)],
            &timestamp(0),
        ),
        common::SECRET,
    );
    let (status, e) = http(
        s.addr,
        "GET",
        &format!("/?{query}"),
        &[("x-acs-action", "DeleteImageCache")],
        "",
    );
    assert_eq!(
        error_code(status, &e),
        (400, "InvalidParameter".into()),
        "{e}"
    );
    assert!(
        e["Message"].as_str().unwrap().contains("x-acs-action"),
        "{e}"
    );
    // A V2 request without Action: the header cannot supply it.
    let mut params = v2_params("x", &[REGION, ("ImageCacheId", &id)], &timestamp(0));
    params.remove(0);
    let query = sign_v2("GET", &params, common::SECRET);
    let (status, e) = http(
        s.addr,
        "GET",
        &format!("/?{query}"),
        &[("x-acs-action", "DeleteImageCache")],
        "",
    );
    assert_eq!(
        error_code(status, &e),
        (400, "MissingParameter".into()),
        "{e}"
    );
    assert_eq!(ids(&s), vec![id]);
}

#[test]
fn captured_requests_with_a_foreign_action_header_or_body_are_refused() {
    let mut o = signed_options();
    o.freshness = false;
    let s = start(o);
    let id = create(&s, "victim");
    for c in captures() {
        if !c.title.starts_with("DescribeImageCaches") {
            continue;
        }
        // The action header says Delete.
        let headers = c.with_header("x-acs-action", "DeleteImageCache");
        let (status, e) = send(s.addr, &c.method, &c.target, &headers, "");
        let expected = if c.is_v3() {
            "SignatureDoesNotMatch" // the header is signed
        } else {
            "InvalidParameter" // the signed Action decides
        };
        assert_eq!(
            error_code(status, &e),
            (400, expected.into()),
            "{}: {e}",
            c.title
        );
        // An unsigned form body naming the cache and another action.
        let headers = c.with_header("content-type", "application/x-www-form-urlencoded");
        let body = format!("Action=DeleteImageCache&ImageCacheId={id}");
        let (status, e) = send(s.addr, &c.method, &c.target, &headers, &body);
        assert_eq!(
            error_code(status, &e),
            (400, "SignatureDoesNotMatch".into()),
            "{}: {e}",
            c.title
        );
        // A body of another media type.
        let headers = c.with_header("content-type", "text/plain");
        let (status, e) = send(s.addr, &c.method, &c.target, &headers, &body);
        assert_eq!(
            error_code(status, &e),
            (400, "InvalidParameter".into()),
            "{}: {e}",
            c.title
        );
        assert!(
            e["Message"].as_str().unwrap().contains("Content-Type"),
            "{e}"
        );
    }
    assert_eq!(ids(&s), vec![id]);
}

#[test]
fn v3_action_header_must_be_signed_and_agree_with_the_query() {
    let s = start(signed_options());
    let id = create(&s, "victim");
    let query = format!("RegionId=cn-hangzhou&ImageCacheId={id}");
    // x-acs-action sent but left out of SignedHeaders.
    let headers = sign_v3(
        s.addr,
        "POST",
        &query,
        &[],
        &[("x-acs-action", "DeleteImageCache")],
        b"",
    );
    let (status, e) = send(s.addr, "POST", &format!("/?{query}"), &headers, "");
    assert_eq!(
        error_code(status, &e),
        (400, "SignatureDoesNotMatch".into()),
        "{e}"
    );
    assert!(
        e["Message"]
            .as_str()
            .unwrap()
            .contains("x-acs-action is not signed"),
        "{e}"
    );
    // Signed header Describe, signed query Action=DeleteImageCache: they disagree.
    let q2 = format!("{query}&Action=DeleteImageCache");
    let headers = sign_v3(
        s.addr,
        "POST",
        &q2,
        &[("x-acs-action", "DescribeImageCaches")],
        &[],
        b"",
    );
    let (status, e) = send(s.addr, "POST", &format!("/?{q2}"), &headers, "");
    assert_eq!(
        error_code(status, &e),
        (400, "InvalidParameter".into()),
        "{e}"
    );
    // The same, agreeing, signed properly: it runs.
    let headers = sign_v3(
        s.addr,
        "POST",
        &query,
        &[("x-acs-action", "DescribeImageCaches")],
        &[],
        b"",
    );
    let (status, page) = send(s.addr, "POST", &format!("/?{query}"), &headers, "");
    assert_eq!(
        (status, page["TotalCount"].as_u64()),
        (200, Some(1)),
        "{page}"
    );
    assert_eq!(ids(&s), vec![id]);
}

#[test]
fn form_bodies_are_merged_in_any_case_and_covered_by_the_signature() {
    let s = start(signed_options());
    // V2: the body's parameters are signed with the query's.
    let mut params = v2_params("CreateImageCache", &[REGION], &timestamp(0));
    let body_params = [
        ("ImageCacheName".to_owned(), "from-body".to_owned()),
        ("Image.1".to_owned(), "redis".to_owned()),
    ];
    params.extend(body_params.iter().cloned());
    let signed = sign_v2("POST", &params, common::SECRET);
    // Everything went into one string: split the body part off the end.
    let body = "ImageCacheName=from-body&Image.1=redis";
    let (query, rest) = signed.split_once("&ImageCacheName=").unwrap();
    let signature = rest.split_once("&Signature=").unwrap().1;
    let query = format!("{query}&Signature={signature}");
    for ct in [
        "application/x-www-form-urlencodedX",
        "text/plain",
        "application/json",
        "application/x-www-form-urlencoded; charset",
    ] {
        let (status, e) = http(
            s.addr,
            "POST",
            &format!("/?{query}"),
            &[("content-type", ct)],
            body,
        );
        assert_eq!(
            error_code(status, &e),
            (400, "InvalidParameter".into()),
            "{ct}: {e}"
        );
    }
    let (status, e) = http(s.addr, "POST", &format!("/?{query}"), &[], body);
    assert_eq!(
        error_code(status, &e),
        (400, "InvalidParameter".into()),
        "{e}"
    );
    assert!(ids(&s).is_empty());
    let (status, created) = http(
        s.addr,
        "POST",
        &format!("/?{query}"),
        &[(
            "Content-Type",
            "Application/X-WWW-Form-Urlencoded; charset=utf-8",
        )],
        body,
    );
    assert_eq!(status, 200, "{created}");
    // V3: the body hash covers a form body.
    let body = "ImageCacheName=v3-body&Image.1=redis";
    let headers = sign_v3(
        s.addr,
        "POST",
        "RegionId=cn-hangzhou",
        &[
            ("x-acs-action", "CreateImageCache"),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &[],
        body.as_bytes(),
    );
    let (status, created3) = send(s.addr, "POST", "/?RegionId=cn-hangzhou", &headers, body);
    assert_eq!(status, 200, "{created3}");
    let (status, page) = v2(&s, "DescribeImageCaches", &[REGION]);
    assert_eq!(status, 200);
    let mut names: Vec<&str> = page["ImageCaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["ImageCacheName"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["from-body", "v3-body"]);
}

#[test]
fn only_hmac_sha1_and_version_1_0() {
    let s = start(signed_options());
    for (name, value) in [
        ("SignatureMethod", "HMAC-SHA256"),
        ("SignatureVersion", "9.9"),
    ] {
        let mut params = v2_params(
            "CreateImageCache",
            &[REGION, ("ImageCacheName", "x"), ("Image.1", "nginx")],
            &timestamp(0),
        );
        for (k, v) in &mut params {
            if k == name {
                *v = value.into();
            }
        }
        // Signed with SHA-1 all the same.
        let query = sign_v2("GET", &params, common::SECRET);
        let (status, e) = http(s.addr, "GET", &format!("/?{query}"), &[], "");
        assert_eq!(
            error_code(status, &e),
            (400, "InvalidParameter".into()),
            "{e}"
        );
        assert!(e["Message"].as_str().unwrap().contains(name), "{e}");
        params.retain(|(k, _)| k != name);
        let query = sign_v2("GET", &params, common::SECRET);
        let (status, e) = http(s.addr, "GET", &format!("/?{query}"), &[], "");
        assert_eq!(
            error_code(status, &e),
            (400, "MissingParameter".into()),
            "{e}"
        );
    }
    assert!(ids(&s).is_empty());
}

#[test]
fn fresh_requests_work_once_and_old_ones_never() {
    let s = start(signed_options());
    let params = v2_params(
        "CreateImageCache",
        &[REGION, ("ImageCacheName", "once"), ("Image.1", "nginx")],
        &timestamp(0),
    );
    let query = sign_v2("GET", &params, common::SECRET);
    let (status, created) = http(s.addr, "GET", &format!("/?{query}"), &[], "");
    assert_eq!(status, 200, "{created}");
    let (status, e) = http(s.addr, "GET", &format!("/?{query}"), &[], "");
    assert_eq!(
        error_code(status, &e),
        (400, "SignatureNonceUsed".into()),
        "{e}"
    );
    assert_eq!(e["Message"], "Specified signature nonce was used already.");
    assert_eq!(ids(&s).len(), 1, "nothing created twice");
    // 16 minutes old, and 16 minutes ahead.
    for offset in [-16 * 60, 16 * 60] {
        let params = v2_params(
            "CreateImageCache",
            &[REGION, ("ImageCacheName", "old"), ("Image.1", "nginx")],
            &timestamp(offset),
        );
        let query = sign_v2("GET", &params, common::SECRET);
        let (status, e) = http(s.addr, "GET", &format!("/?{query}"), &[], "");
        assert_eq!(
            error_code(status, &e),
            (400, "InvalidTimeStamp.Expired".into()),
            "{e}"
        );
        assert_eq!(
            e["Message"],
            "Specified time stamp or date value is expired."
        );
    }
    // 14 minutes old is still fresh.
    let params = v2_params("DescribeImageCaches", &[REGION], &timestamp(-14 * 60));
    let query = sign_v2("GET", &params, common::SECRET);
    assert_eq!(http(s.addr, "GET", &format!("/?{query}"), &[], "").0, 200);
    // No time, no nonce, a malformed time.
    for drop in ["Timestamp", "SignatureNonce"] {
        let mut params = v2_params("DescribeImageCaches", &[REGION], &timestamp(0));
        params.retain(|(k, _)| k != drop);
        let query = sign_v2("GET", &params, common::SECRET);
        let (status, e) = http(s.addr, "GET", &format!("/?{query}"), &[], "");
        assert_eq!(
            error_code(status, &e),
            (400, "MissingParameter".into()),
            "{e}"
        );
        assert!(e["Message"].as_str().unwrap().contains(drop), "{e}");
    }
    let params = v2_params("DescribeImageCaches", &[REGION], "yesterday");
    let query = sign_v2("GET", &params, common::SECRET);
    let (status, e) = http(s.addr, "GET", &format!("/?{query}"), &[], "");
    assert_eq!(
        error_code(status, &e),
        (400, "InvalidTimeStamp.Format".into()),
        "{e}"
    );
    // V3: the same rules on x-acs-date and x-acs-signature-nonce.
    let query = "RegionId=cn-hangzhou";
    let headers = sign_v3(
        s.addr,
        "POST",
        query,
        &[("x-acs-action", "DescribeImageCaches")],
        &[],
        b"",
    );
    assert_eq!(
        send(s.addr, "POST", &format!("/?{query}"), &headers, "").0,
        200
    );
    let (status, e) = send(s.addr, "POST", &format!("/?{query}"), &headers, "");
    assert_eq!(
        error_code(status, &e),
        (400, "SignatureNonceUsed".into()),
        "{e}"
    );
    let headers = sign_v3(
        s.addr,
        "POST",
        query,
        &[
            ("x-acs-action", "DescribeImageCaches"),
            ("x-acs-date", &timestamp(-16 * 60)),
        ],
        &[],
        b"",
    );
    let (status, e) = send(s.addr, "POST", &format!("/?{query}"), &headers, "");
    assert_eq!(
        error_code(status, &e),
        (400, "InvalidTimeStamp.Expired".into()),
        "{e}"
    );
    // The old captures: expired once freshness is on.
    for c in captures() {
        let (status, e) = send(s.addr, &c.method, &c.target, &c.headers, "");
        assert_eq!(
            error_code(status, &e),
            (400, "InvalidTimeStamp.Expired".into()),
            "{}: {e}",
            c.title
        );
    }
    assert_eq!(ids(&s).len(), 1);
    assert!(AK == "AKIDEXAMPLE");
}

#[test]
fn a_non_ascii_signed_header_is_not_allowed_rather_than_missing() {
    let s = start(signed_options());
    let query = "RegionId=cn-hangzhou";
    let headers = sign_v3(
        s.addr,
        "POST",
        query,
        &[
            ("x-acs-action", "DescribeImageCaches"),
            ("user-agent", "caf\u{e9}"),
        ],
        &[],
        b"",
    );
    let (status, e) = send(s.addr, "POST", &format!("/?{query}"), &headers, "");
    assert_eq!(
        error_code(status, &e),
        (400, "SignatureDoesNotMatch".into()),
        "{e}"
    );
    let message = e["Message"].as_str().unwrap();
    assert!(
        message.contains("user-agent")
            && message.contains("not visible ASCII")
            && !message.contains("missing"),
        "{e}"
    );
}
