//! Signature verification against every request the official SDKs signed
//! (`tests/data/sdk-wire-captures.txt`, fake key `AKIDEXAMPLE` /
//! `SECRETEXAMPLE`): V3 from the current SDK, V2 from the current SDK with
//! `signature_algorithm='v2'` and from the legacy SDK's GET requests.

mod common;

use common::{Capture, captures};
use eci_imagecache_server::signature::{Keys, SignedRequest, verify};

fn request(c: &Capture) -> SignedRequest<'_> {
    let (path, query) = c.target.split_once('?').unwrap_or((&c.target, ""));
    SignedRequest {
        method: &c.method,
        path,
        query,
        headers: &c.headers,
        body: b"",
    }
}

#[test]
fn every_captured_request_verifies() {
    let all = captures();
    assert_eq!(
        all.len(),
        14,
        "{:?}",
        all.iter().map(|c| &c.title).collect::<Vec<_>>()
    );
    let keys = Keys::new([("AKIDEXAMPLE", "SECRETEXAMPLE"), ("other", "x")]);
    let (mut v3, mut v2) = (0, 0);
    for c in &all {
        let r = request(c);
        assert_eq!(
            verify(&keys, &r).map(|v| v.key_id).as_deref(),
            Ok("AKIDEXAMPLE"),
            "{}",
            c.title
        );
        if c.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        {
            v3 += 1;
        } else {
            v2 += 1;
        }
    }
    assert_eq!((v3, v2), (5, 9));
}

#[test]
fn a_wrong_secret_or_an_unknown_key_fails() {
    for c in &captures() {
        let r = request(c);
        let wrong = Keys::new([("AKIDEXAMPLE", "SECRETEXAMPLf")]);
        let e = verify(&wrong, &r).unwrap_err();
        assert_eq!(
            (e.code(), e.http_status()),
            ("SignatureDoesNotMatch", 400),
            "{}",
            c.title
        );
        let unknown = Keys::new([("AKIDOTHER", "SECRETEXAMPLE")]);
        let e = verify(&unknown, &r).unwrap_err();
        assert_eq!(
            (e.code(), e.http_status()),
            ("InvalidAccessKeyId.NotFound", 404),
            "{}",
            c.title
        );
        assert_eq!(e.message(), "Specified access key is not found.");
    }
}

#[test]
fn any_change_to_a_signed_part_fails() {
    let keys = Keys::new([("AKIDEXAMPLE", "SECRETEXAMPLE")]);
    for c in &captures() {
        // A parameter value changed on the way.
        let mut tampered = Capture {
            title: c.title.clone(),
            method: c.method.clone(),
            target: c
                .target
                .replacen("RegionId=cn-hangzhou", "RegionId=cn-beijing", 1),
            headers: c.headers.clone(),
        };
        assert_ne!(tampered.target, c.target, "{}", c.title);
        assert_eq!(
            verify(&keys, &request(&tampered)).unwrap_err().code(),
            "SignatureDoesNotMatch",
            "{}",
            c.title
        );
        // Another method.
        tampered.target = c.target.clone();
        tampered.method = if c.method == "GET" {
            "POST".into()
        } else {
            "GET".into()
        };
        assert_eq!(
            verify(&keys, &request(&tampered)).unwrap_err().code(),
            "SignatureDoesNotMatch",
            "{}",
            c.title
        );
        // A body without a media type: refused before any signature.
        let r = SignedRequest {
            body: b"x=1",
            ..request(c)
        };
        assert_eq!(verify(&keys, &r).unwrap_err().code(), "InvalidParameter");
        // A form body the signature did not cover.
        let mut form = c.headers.clone();
        form.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        let r = SignedRequest {
            body: b"x=1",
            headers: &form,
            ..request(c)
        };
        assert_eq!(
            verify(&keys, &r).unwrap_err().code(),
            "SignatureDoesNotMatch",
            "{}",
            c.title
        );
        if c.headers.iter().any(|(n, _)| n == "Authorization") {
            // A signed header changed.
            let mut headers = c.headers.clone();
            for (n, v) in &mut headers {
                if n == "x-acs-date" {
                    *v = "2030-01-01T00:00:00Z".into();
                }
            }
            let r = SignedRequest {
                headers: &headers,
                ..request(c)
            };
            assert_eq!(
                verify(&keys, &r).unwrap_err().code(),
                "SignatureDoesNotMatch"
            );
        }
    }
}

#[test]
fn unsigned_and_malformed_requests_fail_cleanly() {
    let keys = Keys::new([("AKIDEXAMPLE", "SECRETEXAMPLE")]);
    let plain = SignedRequest {
        method: "POST",
        path: "/",
        query: "RegionId=cn-hangzhou",
        headers: &[],
        body: b"",
    };
    let e = verify(&keys, &plain).unwrap_err();
    assert_eq!(
        e.message(),
        "Specified signature is not matched with our calculation: the request carries no signature."
    );
    for auth in [
        "Bearer x",
        "ACS3-HMAC-SHA256 ",
        "ACS3-HMAC-SHA256 Credential=AKIDEXAMPLE",
        "ACS3-HMAC-SHA256 Credential=AKIDEXAMPLE,SignedHeaders=host,Signature=00,Extra=1",
    ] {
        let headers = vec![("Authorization".to_owned(), auth.to_owned())];
        let r = SignedRequest {
            headers: &headers,
            ..plain
        };
        assert_eq!(
            verify(&keys, &r).unwrap_err().code(),
            "SignatureDoesNotMatch",
            "{auth}"
        );
    }
    // A signed header that is not there.
    let headers = vec![(
        "Authorization".to_owned(),
        "ACS3-HMAC-SHA256 Credential=AKIDEXAMPLE,SignedHeaders=host;x-acs-date,Signature=00"
            .to_owned(),
    )];
    let r = SignedRequest {
        headers: &headers,
        ..plain
    };
    assert_eq!(
        verify(&keys, &r).unwrap_err().message(),
        "Specified signature is not matched with our calculation: a signed header is missing."
    );
    assert!(format!("{keys:?}").contains("AKIDEXAMPLE") && !format!("{keys:?}").contains("SECRET"));
}

#[test]
fn verify_returns_the_signed_action_and_parameters() {
    let keys = Keys::new([("AKIDEXAMPLE", "SECRETEXAMPLE")]);
    for c in &captures() {
        let v = verify(&keys, &request(c)).unwrap();
        let action = c.title.split(' ').next().unwrap();
        assert_eq!(v.action.as_deref(), Some(action), "{}", c.title);
        assert!(v.params.iter().all(|(k, _)| k != "Signature"));
        assert!(v.params.iter().any(|(k, _)| k == "RegionId"), "{}", c.title);
        assert!(v.timestamp.is_some() && v.nonce.is_some(), "{}", c.title);
    }
}

#[test]
fn one_media_type_parser() {
    use eci_imagecache_server::signature::{body_params, media_type};
    for (value, parsed) in [
        (
            "application/x-www-form-urlencoded",
            Some("application/x-www-form-urlencoded"),
        ),
        (
            "Application/X-WWW-Form-Urlencoded",
            Some("application/x-www-form-urlencoded"),
        ),
        (
            "application/x-www-form-urlencoded; charset=utf-8",
            Some("application/x-www-form-urlencoded"),
        ),
        (
            "application/x-www-form-urlencoded;charset=\"UTF-8\";",
            Some("application/x-www-form-urlencoded"),
        ),
        (
            "application/x-www-form-urlencodedX",
            Some("application/x-www-form-urlencodedx"),
        ),
        ("text/plain", Some("text/plain")),
        ("application/x-www-form-urlencoded; charset", None),
        ("application", None),
        ("/x", None),
        ("app lication/x", None),
        ("", None),
    ] {
        assert_eq!(media_type(value).as_deref(), parsed, "{value:?}");
    }
    assert_eq!(
        body_params(Some("Application/x-www-form-urlencoded"), b"a=1&b=x+y").unwrap(),
        [
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "x y".to_owned())
        ]
    );
    assert!(body_params(None, b"").unwrap().is_empty());
    assert!(body_params(Some("text/plain"), b"").unwrap().is_empty());
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencodedX"),
        Some("x"),
    ] {
        let e = body_params(ct, b"a=1").unwrap_err();
        assert_eq!(
            (e.code(), e.http_status()),
            ("InvalidParameter", 400),
            "{ct:?}"
        );
        assert!(e.message().contains("Content-Type"), "{}", e.message());
    }
}

#[test]
fn the_nonce_memory_expires_and_is_capped() {
    use eci_imagecache_server::signature::{Freshness, Scheme, Verified};
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    let request = |nonce: &str, time: &str| Verified {
        key_id: "AKIDEXAMPLE".into(),
        scheme: Scheme::V2,
        action: None,
        params: Vec::new(),
        timestamp: Some(time.into()),
        nonce: Some(nonce.into()),
    };
    let f = Freshness::with_cap(2);
    let now = at("2026-01-01T00:00:00Z");
    f.check(&request("a", "2026-01-01T00:00:00Z"), now).unwrap();
    let e = f
        .check(&request("a", "2026-01-01T00:00:00Z"), now)
        .unwrap_err();
    assert_eq!((e.code(), e.http_status()), ("SignatureNonceUsed", 400));
    f.check(&request("b", "2026-01-01T00:05:00Z"), now).unwrap();
    // Full: a third nonce is refused, not remembered.
    let e = f
        .check(&request("c", "2026-01-01T00:00:00Z"), now)
        .unwrap_err();
    assert_eq!((e.code(), e.http_status()), ("ServiceUnavailable", 503));
    assert_eq!(f.remembered(), 2);
    // 16 minutes on, "a" has expired with its time: room again, and "a"
    // itself is now refused for its time, not its nonce.
    let later = at("2026-01-01T00:16:00Z");
    f.check(&request("c", "2026-01-01T00:16:00Z"), later)
        .unwrap();
    assert_eq!(f.remembered(), 2);
    let e = f
        .check(&request("a", "2026-01-01T00:00:00Z"), later)
        .unwrap_err();
    assert_eq!(e.code(), "InvalidTimeStamp.Expired");
    // Missing parts.
    let mut r = request("d", "2026-01-01T00:16:00Z");
    r.nonce = None;
    assert_eq!(f.check(&r, later).unwrap_err().code(), "MissingParameter");
    let e = f
        .check(&request(&"n".repeat(300), "2026-01-01T00:16:00Z"), later)
        .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter");
}
