//! Bounds: body limits per route, every error a JSON body with a fresh
//! RequestId, slow clients timed out without blocking others, the
//! connection cap, idle keep-alive connections closed.

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{error_code, http, options, parse, raw, start};
use eci_imagecache_server::serve::Limits;

fn quick() -> Limits {
    Limits {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        ..Limits::default()
    }
}

#[test]
fn every_error_is_json_with_a_fresh_request_id() {
    let s = start(options());
    let a = s.addr;
    let mut ids = HashSet::new();
    let mut check = |(status, body): (u16, serde_json::Value), expected: (u16, &str)| {
        assert_eq!(
            error_code(status, &body),
            (expected.0, expected.1.to_owned()),
            "{body}"
        );
        assert!(
            ids.insert(body["RequestId"].as_str().unwrap().to_owned()),
            "{body}"
        );
    };
    check(http(a, "GET", "/nope", &[], ""), (404, "NotFound"));
    check(http(a, "GET", "/nope", &[], ""), (404, "NotFound"));
    check(http(a, "PUT", "/", &[], ""), (405, "MethodNotAllowed"));
    check(
        http(a, "GET", "/_emulator/reset", &[], ""),
        (405, "MethodNotAllowed"),
    );
    check(
        http(
            a,
            "POST",
            "/_emulator/reset",
            &[("content-type", "text/plain")],
            "",
        ),
        (415, "UnsupportedMediaType"),
    );
    let form = [("content-type", "application/x-www-form-urlencoded")];
    check(
        http(a, "POST", "/", &form, &"x".repeat(256 * 1024 + 1)),
        (413, "RequestBodyTooLarge"),
    );
    // Exactly the limit is read (and then refused for what it says).
    let (status, e) = http(a, "POST", "/", &form, &"x".repeat(256 * 1024));
    assert_ne!(status, 413, "{e}");
    let json = [("content-type", "application/json")];
    check(
        http(
            a,
            "POST",
            "/_emulator/clock",
            &json,
            &" ".repeat(64 * 1024 + 1),
        ),
        (413, "RequestBodyTooLarge"),
    );
    // Chunked, without a length: over the limit is 413, broken is 400.
    let chunked = |body: &str| {
        format!(
            "POST / HTTP/1.1\r\nhost: {a}\r\nconnection: close\r\ncontent-type: application/x-www-form-urlencoded\r\ntransfer-encoding: chunked\r\n\r\n{body}"
        )
    };
    let big: String = (0..5)
        .map(|_| format!("10000\r\n{}\r\n", "y".repeat(0x10000)))
        .collect::<String>()
        + "0\r\n\r\n";
    check(
        parse(&raw(a, chunked(&big).as_bytes())),
        (413, "RequestBodyTooLarge"),
    );
    let broken = parse(&raw(a, chunked("zz\r\nabc\r\n0\r\n\r\n").as_bytes()));
    let message = broken.1["Message"].as_str().unwrap().to_owned();
    check(broken, (400, "InvalidParameter"));
    assert!(
        message.contains("malformed") && !message.contains("larger"),
        "{message}"
    );
}

/// Opens a connection and sends `part`, leaving the request unfinished.
fn half(addr: SocketAddr, part: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(part.as_bytes()).unwrap();
    s
}

/// Reads until the server closes; `Some(what was read)` if it did within `limit`.
fn closed_within(mut s: TcpStream, limit: Duration) -> Option<String> {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&out).into_owned());
            }
            Err(_) => return None,
        }
    }
}

#[test]
fn slow_clients_neither_block_others_nor_stay() {
    let mut o = options();
    o.limits = quick();
    let s = start(o);
    let started = Instant::now();
    let headers_only: Vec<TcpStream> = (0..40)
        .map(|_| {
            half(
                s.addr,
                "POST /?RegionId=cn-hangzhou HTTP/1.1\r\nhost: x\r\nx-acs-act",
            )
        })
        .collect();
    let half_bodies: Vec<TcpStream> = (0..40)
        .map(|_| {
            half(
                s.addr,
                &format!(
                    "POST / HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\nAction=Describe",
                    s.addr
                ),
            )
        })
        .collect();
    // A normal client is answered at once.
    let t = Instant::now();
    let (status, _) = http(
        s.addr,
        "POST",
        "/?RegionId=cn-hangzhou",
        &[("x-acs-action", "DescribeImageCaches")],
        "",
    );
    assert_eq!(status, 200);
    assert!(
        t.elapsed() < Duration::from_millis(800),
        "{:?}",
        t.elapsed()
    );
    // The slow ones are closed by the server after the timeouts.
    for c in headers_only {
        let left = Duration::from_secs(4).saturating_sub(started.elapsed());
        assert!(
            closed_within(c, left).is_some(),
            "a half-sent header stayed open"
        );
    }
    for c in half_bodies {
        let left = Duration::from_secs(4).saturating_sub(started.elapsed());
        let answer = closed_within(c, left).expect("a half-sent body stayed open");
        let (status, e) = parse(&answer);
        assert_eq!(
            error_code(status, &e),
            (408, "RequestTimeout".into()),
            "{e}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn the_connection_cap_holds_and_timeouts_free_the_slots() {
    let mut o = options();
    o.limits = Limits {
        max_connections: 4,
        ..quick()
    };
    let s = start(o);
    let slow: Vec<TcpStream> = (0..4).map(|_| half(s.addr, "GET / HTTP/1.1\r\n")).collect();
    std::thread::sleep(Duration::from_millis(200));
    // The fifth waits for a slot (the cap holds) and gets one when the
    // header timeout closes a slow connection (the cap is not a lockout).
    let t = Instant::now();
    let (status, _) = http(
        s.addr,
        "POST",
        "/?RegionId=cn-hangzhou",
        &[("x-acs-action", "DescribeImageCaches")],
        "",
    );
    let waited = t.elapsed();
    assert_eq!(status, 200);
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    drop(slow);
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let mut o = options();
    o.limits = quick();
    let s = start(o);
    let mut c = TcpStream::connect(s.addr).unwrap();
    write!(
        c,
        "POST /?RegionId=cn-hangzhou HTTP/1.1\r\nhost: {}\r\nx-acs-action: DescribeImageCaches\r\ncontent-length: 0\r\n\r\n",
        s.addr
    )
    .unwrap();
    let t = Instant::now();
    let answer = closed_within(c, Duration::from_secs(4)).expect("the idle connection stayed open");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        t.elapsed() >= Duration::from_millis(800) && t.elapsed() < Duration::from_secs(3),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn a_request_over_its_deadline_gets_503() {
    let mut o = options();
    o.limits = Limits {
        request_timeout: Duration::from_millis(500),
        body_read_timeout: Duration::from_secs(10),
        ..quick()
    };
    let s = start(o);
    let c = half(
        s.addr,
        &format!(
            "POST / HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 50\r\n\r\nAction=",
            s.addr
        ),
    );
    let t = Instant::now();
    let answer = closed_within(c, Duration::from_secs(4)).expect("answered and closed");
    let (status, e) = parse(&answer);
    assert_eq!(
        error_code(status, &e),
        (503, "ServiceUnavailable".into()),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}
