//! Signature verification against every request the official SDKs signed
//! (`tests/data/sdk-wire-captures.txt`, fake key `AKIDEXAMPLE` /
//! `SECRETEXAMPLE`): V3 from the current SDK, V2 from the current SDK with
//! `signature_algorithm='v2'` and from the legacy SDK's GET requests.

use eci_imagecache_server::signature::{Keys, SignedRequest, verify};

struct Capture {
    title: String,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

fn captures() -> Vec<Capture> {
    let text = include_str!("../../tests/data/sdk-wire-captures.txt");
    let mut out: Vec<Capture> = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(title) = line.strip_prefix("### ") {
            let method = lines.next().unwrap().split(' ').next().unwrap().to_owned();
            out.push(Capture {
                title: title.to_owned(),
                method,
                target: String::new(),
                headers: Vec::new(),
            });
        } else if line == "-- raw request target:" {
            out.last_mut().unwrap().target = lines.next().unwrap().trim().to_owned();
        } else if line == "-- headers (wire order):" {
            while let Some(h) = lines.next_if(|l| l.starts_with("   ")) {
                let (name, value) = h
                    .trim()
                    .split_once(": ")
                    .unwrap_or((h.trim().trim_end_matches(':'), ""));
                out.last_mut()
                    .unwrap()
                    .headers
                    .push((name.to_owned(), value.to_owned()));
            }
        }
    }
    out
}

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
        // A body the V3 signature did not cover.
        if c.headers.iter().any(|(n, _)| n == "Authorization") {
            let r = SignedRequest {
                body: b"x=1",
                ..request(c)
            };
            assert_eq!(
                verify(&keys, &r).unwrap_err().code(),
                "SignatureDoesNotMatch"
            );
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
