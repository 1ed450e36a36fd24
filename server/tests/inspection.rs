//! The endpoints a CI pipeline inspects the emulator with: health (before
//! and after the state loads), the request history (bounded, redacted),
//! the metrics, the state over HTTP (export → import round trip, bad input
//! changes nothing), the dashboard, and who may see each.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::{Server, error_code, form, http, options, start};
use eci_imagecache_server::faults::Faults;
use eci_imagecache_server::health::VERSION;
use eci_imagecache_server::serve::build;
use serde_json::{Value, json};

/// One exchange of raw bytes: (status, head, body bytes).
fn fetch(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole response");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head[9..12].parse().unwrap();
    (status, head, response[split + 4..].to_vec())
}

#[track_caller]
fn api(server: &Server, params: &[(&str, &str)]) -> (u16, Value) {
    http(server.addr, "GET", &format!("/?{}", form(params)), &[], "")
}

#[track_caller]
fn get(server: &Server, path: &str) -> (u16, Value) {
    http(server.addr, "GET", path, &[], "")
}

fn create(server: &Server, region: &str, name: &str) -> String {
    let (status, body) = api(
        server,
        &[
            ("Action", "CreateImageCache"),
            ("RegionId", region),
            ("ImageCacheName", name),
            ("Image.1", "nginx:1.25"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    body["ImageCacheId"].as_str().unwrap().to_owned()
}

#[test]
fn health_says_loading_until_the_state_is_loaded_then_what_it_holds() {
    let options = options();
    let loading = common::start_loading(&options);
    let (addr, site) = (loading.addr, &loading.site);

    let (status, body) = http(addr, "GET", "/_emulator/health", &[], "");
    assert_eq!(
        (status, body),
        (503, json!({"Status": "loading", "Version": VERSION}))
    );
    // Everything else waits too, with the one shape of error body.
    for target in [
        "/?Action=DescribeImageCaches&RegionId=cn-hangzhou",
        "/_emulator/clock",
    ] {
        let (status, body) = http(addr, "GET", target, &[], "");
        assert_eq!(
            error_code(status, &body),
            (503, "ServiceUnavailable".into())
        );
    }
    assert!(!site.is_ready());

    let (app, _) = build(&options, Faults::default()).unwrap();
    site.ready(app);
    let (status, body) = http(addr, "GET", "/_emulator/health", &[], "");
    assert_eq!(
        (status, body),
        (
            200,
            json!({"Status": "ready", "Version": VERSION, "Caches": 0, "Regions": 0,
                   "Clock": "2024-05-01T08:00:00Z"})
        )
    );
}

#[test]
fn health_counts_caches_and_regions_and_needs_no_control_token() {
    let mut o = options();
    o.control_token = Some("tok".into());
    let server = start(o);
    create(&server, "cn-hangzhou", "a");
    create(&server, "cn-hangzhou", "b");
    create(&server, "cn-beijing", "c");
    let (status, body) = get(&server, "/_emulator/health");
    assert_eq!(
        (status, body),
        (
            200,
            json!({"Status": "ready", "Version": VERSION, "Caches": 3, "Regions": 2,
                   "Clock": "2024-05-01T08:00:00Z"})
        )
    );
    // The rest of /_emulator/ still needs the token.
    for path in [
        "/_emulator/requests",
        "/_emulator/metrics",
        "/_emulator/state",
        "/_emulator/",
        "/_emulator/requests?token=tok",
    ] {
        let (status, _, body) = fetch(server.addr, "GET", path, &[], b"");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            error_code(status, &body),
            (403, "Forbidden.ControlToken".into()),
            "{path}"
        );
    }
}

#[test]
fn the_request_history_is_bounded_newest_first_and_redacted() {
    let mut o = options();
    o.request_history = 5;
    let server = start(o);
    let mut ids = Vec::new();
    for n in 0..11 {
        let (_, body) = api(
            &server,
            &[
                ("Action", "DescribeImageCaches"),
                ("RegionId", "cn-hangzhou"),
                ("ImageCacheName", &format!("n{n}")),
            ],
        );
        ids.push(body["RequestId"].as_str().unwrap().to_owned());
    }
    let (status, body) = api(
        &server,
        &[
            ("Action", "CreateImageCache"),
            ("RegionId", "cn-hangzhou"),
            ("ImageCacheName", "private"),
            ("Image.1", "registry.example.com/app:1"),
            ("ImageRegistryCredential.1.Server", "registry.example.com"),
            ("ImageRegistryCredential.1.UserName", "deploy"),
            ("ImageRegistryCredential.1.Password", "hunter2-secret"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    ids.push(body["RequestId"].as_str().unwrap().to_owned());

    let (status, body) = get(&server, "/_emulator/requests?limit=100");
    assert_eq!(status, 200);
    assert_eq!(body["Capacity"], 5);
    let calls = body["Requests"].as_array().unwrap();
    let listed: Vec<&str> = calls
        .iter()
        .map(|c| c["RequestId"].as_str().unwrap())
        .collect();
    let newest: Vec<&str> = ids.iter().rev().take(5).map(String::as_str).collect();
    assert_eq!(listed, newest);
    let create = &calls[0];
    assert_eq!(create["Action"], "CreateImageCache");
    assert_eq!(create["RegionId"], "cn-hangzhou");
    assert_eq!(create["Account"], "");
    assert_eq!(create["Status"], 200);
    assert_eq!(create["Code"], "");
    assert_eq!(
        create["Parameters"],
        json!([
            ["Action", "CreateImageCache"],
            ["RegionId", "cn-hangzhou"],
            ["ImageCacheName", "private"],
            ["Image.1", "registry.example.com/app:1"],
            ["ImageRegistryCredential.1.Server", "(redacted)"],
            ["ImageRegistryCredential.1.UserName", "(redacted)"],
            ["ImageRegistryCredential.1.Password", "(redacted)"],
        ])
    );
    assert!(!body.to_string().contains("hunter2"));
    assert!(!body.to_string().contains("deploy"));

    let (_, body) = get(&server, "/_emulator/requests?limit=2");
    assert_eq!(body["Requests"].as_array().unwrap().len(), 2);
    let (status, body) = get(&server, "/_emulator/requests?limit=two");
    assert_eq!(error_code(status, &body), (400, "InvalidParameter".into()));
}

#[test]
fn a_call_keeps_a_bounded_number_of_parameters() {
    let server = start(options());
    let mut params: Vec<(String, String)> = vec![
        ("Action".into(), "DescribeImageCaches".into()),
        ("RegionId".into(), "cn-hangzhou".into()),
    ];
    for n in 0..200 {
        params.push((format!("Junk{n}"), "x".repeat(1000)));
    }
    let query = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    http(
        server.addr,
        "POST",
        "/",
        &[("content-type", "application/x-www-form-urlencoded")],
        &query,
    );
    let (_, body) = get(&server, "/_emulator/requests?limit=1");
    let call = &body["Requests"][0];
    // 16 KiB of names and values at most: the two first and 61 values of
    // 256 characters (and an ellipsis, 3 bytes) with their names.
    let kept = call["Parameters"].as_array().unwrap();
    let bytes: usize = kept
        .iter()
        .map(|p| p[0].as_str().unwrap().len() + p[1].as_str().unwrap().len())
        .sum();
    assert!(bytes <= 16 * 1024, "{bytes}");
    assert_eq!(
        kept.len() + call["ParametersOmitted"].as_u64().unwrap() as usize,
        202
    );
    let value = kept[2][1].as_str().unwrap();
    assert_eq!(value.chars().count(), 257, "256 characters and an ellipsis");
    let (_, all) = get(&server, "/_emulator/requests?limit=99999999999999999999999");
    assert_eq!(all["Requests"].as_array().unwrap().len(), 1);
}

/// The value of the sample `name` (with its labels, as written) in the
/// metrics text.
#[track_caller]
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn metrics_count_what_a_scenario_did() {
    let server = start(options());
    create(&server, "cn-hangzhou", "a");
    create(&server, "cn-hangzhou", "b");
    api(
        &server,
        &[
            ("Action", "DescribeImageCaches"),
            ("RegionId", "cn-hangzhou"),
        ],
    );
    let (status, _) = api(
        &server,
        &[
            ("Action", "DeleteImageCache"),
            ("RegionId", "cn-hangzhou"),
            ("ImageCacheId", "imc-00000000000000000000"),
        ],
    );
    assert_eq!(status, 404);
    api(
        &server,
        &[("Action", "MadeUp"), ("RegionId", "cn-hangzhou")],
    );
    api(&server, &[("Action", "AlsoMadeUp")]);
    // Ready after the clock moves past Preparing and Creating.
    http(
        server.addr,
        "POST",
        "/_emulator/clock",
        &[("content-type", "application/json")],
        r#"{"Advance": 3600}"#,
    );
    for image in ["nginx:1.25", "redis:7"] {
        let (status, body) = api(
            &server,
            &[
                ("Action", "AutoMatch"),
                ("RegionId", "cn-hangzhou"),
                ("Image.1", image),
                ("AutoCreate", "false"),
            ],
        );
        assert_eq!(status, 200, "{body}");
    }

    let (status, head, body) = fetch(server.addr, "GET", "/_emulator/metrics", &[], b"");
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{head}"
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    let requests = "eci_imagecache_requests_total";
    assert_eq!(
        sample(
            &text,
            &format!(r#"{requests}{{action="CreateImageCache",status="200",code=""}}"#)
        ),
        2.0
    );
    assert_eq!(
        sample(
            &text,
            &format!(r#"{requests}{{action="DescribeImageCaches",status="200",code=""}}"#)
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            &format!(
                r#"{requests}{{action="DeleteImageCache",status="404",code="InvalidImageCacheId.NotFound"}}"#
            )
        ),
        1.0
    );
    // Made-up names share one label value: callers cannot add series.
    let unknown: f64 = text
        .lines()
        .filter(|l| l.starts_with(&format!(r#"{requests}{{action="Unknown""#)))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(unknown, 2.0);
    assert!(!text.contains("MadeUp"));
    assert_eq!(
        sample(
            &text,
            r#"eci_imagecache_request_duration_seconds_count{action="CreateImageCache"}"#
        ),
        2.0
    );
    assert_eq!(
        sample(&text, r#"eci_imagecache_caches{status="Ready"}"#),
        2.0
    );
    assert_eq!(
        sample(&text, r#"eci_imagecache_caches{status="Preparing"}"#),
        0.0
    );
    assert_eq!(
        sample(&text, r#"eci_imagecache_auto_match_total{outcome="hit"}"#),
        1.0
    );
    assert_eq!(
        sample(&text, r#"eci_imagecache_auto_match_total{outcome="miss"}"#),
        1.0
    );
}

const OCTETS: (&str, &str) = ("content-type", "application/octet-stream");

#[test]
fn state_export_then_import_round_trips_and_bad_input_changes_nothing() {
    let server = start(options());
    let a = create(&server, "cn-hangzhou", "a");
    create(&server, "cn-beijing", "b");
    let (status, head, exported) = fetch(server.addr, "GET", "/_emulator/state", &[], b"");
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/octet-stream")
    );
    assert!(exported.starts_with(b"ECIIMCST"));
    let describe = |server: &Server| {
        let (_, mut body) = api(
            server,
            &[
                ("Action", "DescribeImageCaches"),
                ("RegionId", "cn-hangzhou"),
            ],
        );
        body.as_object_mut().unwrap().remove("RequestId");
        body
    };
    let before = describe(&server);

    // Into an empty emulator elsewhere: the same state, byte for byte.
    let other = start(options());
    create(&other, "cn-shanghai", "replaced");
    let (status, _, body) = fetch(other.addr, "POST", "/_emulator/state", &[OCTETS], &exported);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body, json!({"Imported": true, "Caches": 2, "Regions": 2}));
    let (_, _, again) = fetch(other.addr, "GET", "/_emulator/state", &[], b"");
    assert_eq!(again, exported);
    assert_eq!(describe(&other), before);
    assert_eq!(
        describe(&other)["ImageCaches"][0]["ImageCacheId"],
        a.as_str()
    );

    // Refused: garbage, a flipped byte, a truncation, the wrong type, too
    // large. None changes the state or the clock.
    let mut flipped = exported.clone();
    *flipped.last_mut().unwrap() ^= 1;
    let cases: [(&[u8], &str, u16, &str); 4] = [
        (
            b"garbage",
            "application/octet-stream",
            400,
            "InvalidParameter",
        ),
        (
            &flipped,
            "application/octet-stream",
            400,
            "InvalidParameter",
        ),
        (
            &exported[..exported.len() - 1],
            "application/octet-stream",
            400,
            "InvalidParameter",
        ),
        (&exported, "application/json", 415, "UnsupportedMediaType"),
    ];
    for (body, media, status_expected, code) in cases {
        let (status, _, answer) = fetch(
            server.addr,
            "POST",
            "/_emulator/state",
            &[("content-type", media)],
            body,
        );
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(
            error_code(status, &answer),
            (status_expected, code.into()),
            "{answer}"
        );
        let (_, _, now) = fetch(server.addr, "GET", "/_emulator/state", &[], b"");
        assert_eq!(now, exported);
    }
}

#[test]
fn a_state_larger_than_the_limit_is_refused_before_it_is_read() {
    let mut o = options();
    o.max_state_bytes = 1024;
    let server = start(o);
    let (status, _, body) = fetch(
        server.addr,
        "POST",
        "/_emulator/state",
        &[OCTETS],
        &vec![b'x'; 4096],
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        error_code(status, &body),
        (413, "RequestBodyTooLarge".into())
    );
}

#[test]
fn a_state_imported_on_a_manual_clock_moves_it_and_a_refused_one_does_not() {
    let mut later = options();
    later.now = Some("2025-01-01T00:00:00Z".parse().unwrap());
    let source = start(later);
    create(&source, "cn-hangzhou", "a");
    let (_, _, exported) = fetch(source.addr, "GET", "/_emulator/state", &[], b"");
    let server = start(options());
    let (_, clock) = get(&server, "/_emulator/clock");
    assert_eq!(clock["Now"], "2024-05-01T08:00:00Z");
    let mut broken = exported.clone();
    broken[60] ^= 1;
    fetch(server.addr, "POST", "/_emulator/state", &[OCTETS], &broken);
    assert_eq!(
        get(&server, "/_emulator/clock").1["Now"],
        "2024-05-01T08:00:00Z"
    );
    fetch(
        server.addr,
        "POST",
        "/_emulator/state",
        &[OCTETS],
        &exported,
    );
    assert_eq!(
        get(&server, "/_emulator/clock").1["Now"],
        "2025-01-01T00:00:00Z"
    );
}

#[test]
fn the_dashboard_shows_the_caches_escaped_and_takes_the_token_in_the_query() {
    let mut o = options();
    o.control_token = Some("tok".into());
    let server = start(o);
    let id = create(&server, "cn-hangzhou", "web");
    // Ready first: an update conflicts with a create in progress.
    http(
        server.addr,
        "POST",
        "/_emulator/clock",
        &[
            ("content-type", "application/json"),
            ("x-eci-emulator-token", "tok"),
        ],
        r#"{"Advance": 3600}"#,
    );
    let (status, body) = api(
        &server,
        &[
            ("Action", "UpdateImageCache"),
            ("RegionId", "cn-hangzhou"),
            ("ImageCacheId", &id),
            ("Tag.1.Key", "team"),
            ("Tag.1.Value", "<script>alert(1)</script>"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let (status, head, page) = fetch(server.addr, "GET", "/_emulator/?token=tok", &[], b"");
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/html; charset=utf-8")
    );
    let page = String::from_utf8(page).unwrap();
    assert!(
        page.contains(&format!("<td class=nw><code>{id}</code></td>")),
        "{page}"
    );
    assert!(page.contains("account default · 1 cache"));
    assert!(page.contains("<td>web</td>"));
    assert!(page.contains("<code>nginx:1.25</code>"));
    assert!(page.contains("team=&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script>"));
    assert!(page.contains("1 cache in 1 region"));
    assert!(page.contains("2024-05-01T09:00:00Z"));
    // The update runs: Updating, its progress drawn as a bar.
    assert!(
        page.contains("<span class=\"s Updating\">Updating</span>"),
        "{page}"
    );
    assert!(page.contains("<span class=bar><span style=\"width:"));
    assert!(page.contains("<td>CreateImageCache</td>"));
    // No external asset: nothing is loaded from anywhere.
    for fetched in ["src=", "href=", "url(", "@import"] {
        assert!(!page.contains(fetched), "{fetched}");
    }
    let (status, _, _) = fetch(
        server.addr,
        "GET",
        "/_emulator/",
        &[("x-eci-emulator-token", "tok")],
        b"",
    );
    assert_eq!(status, 200);
    let (status, _, _) = fetch(server.addr, "GET", "/_emulator/?token=wrong", &[], b"");
    assert_eq!(status, 403);
    // Percent-encoded as a browser sends it.
    let mut o = options();
    o.control_token = Some("a b&c".into());
    let other = start(o);
    let (status, _, _) = fetch(
        other.addr,
        "GET",
        "/_emulator/?refresh=1&token=a%20b%26c",
        &[],
        b"",
    );
    assert_eq!(status, 200);
}

#[test]
fn every_inspection_endpoint_answers_an_empty_emulator() {
    let server = start(options());
    for path in [
        "/_emulator/",
        "/_emulator/metrics",
        "/_emulator/requests",
        "/_emulator/state",
    ] {
        let (status, _, _) = fetch(server.addr, "GET", path, &[], b"");
        assert_eq!(status, 200, "{path}");
    }
    let (_, _, page) = fetch(server.addr, "GET", "/_emulator/", &[], b"");
    assert!(
        String::from_utf8(page)
            .unwrap()
            .contains("No image caches yet.")
    );
    // Only GET (and POST for the state).
    for (method, path) in [
        ("POST", "/_emulator/health"),
        ("POST", "/_emulator/metrics"),
        ("DELETE", "/_emulator/state"),
    ] {
        let (status, _, _) = fetch(
            server.addr,
            method,
            path,
            &[("content-type", "application/json")],
            b"{}",
        );
        assert_eq!(status, 405, "{method} {path}");
    }
}

#[test]
fn the_dashboard_stays_small_however_the_caches_are_spread() {
    let mut o = options();
    o.request_history = 0;
    let server = start(o);
    for n in 0..1010 {
        create(&server, &format!("cn-r{n:04}"), "c");
    }
    let (status, _, page) = fetch(server.addr, "GET", "/_emulator/", &[], b"");
    assert_eq!(status, 200);
    let page = String::from_utf8(page).unwrap();
    assert_eq!(page.matches("<tr class=cache>").count(), 1000);
    assert!(
        page.contains("and 10 more regions with 10 caches"),
        "{}",
        &page[page.len() - 500..]
    );
    assert!(page.contains("1010 caches in 1010 regions"));
}

#[test]
fn a_browser_on_another_site_is_refused_and_the_refusal_is_kept() {
    let server = start(options());
    let target = format!(
        "/?{}",
        form(&[
            ("Action", "CreateImageCache"),
            ("RegionId", "cn-hangzhou"),
            ("ImageCacheName", "x"),
            ("Image.1", "nginx")
        ])
    );
    for headers in [
        [("origin", "http://evil.example")],
        [("origin", "null")],
        [("sec-fetch-site", "cross-site")],
        [("sec-fetch-site", "same-site")],
    ] {
        let (status, body) = http(server.addr, "GET", &target, &headers, "");
        assert_eq!(
            error_code(status, &body),
            (403, "Forbidden.CrossSite".into()),
            "{headers:?}"
        );
    }
    let (_, body) = get(&server, "/_emulator/health");
    assert_eq!(body["Caches"], 0, "nothing was created");
    // The page itself, and a same-origin request, are answered.
    let own = format!("http://{}", server.addr);
    let (status, _) = http(
        server.addr,
        "GET",
        &target,
        &[("origin", &own), ("sec-fetch-site", "same-origin")],
        "",
    );
    assert_eq!(status, 200);
    let (status, _, _) = fetch(
        server.addr,
        "GET",
        "/_emulator/",
        &[("sec-fetch-site", "none")],
        b"",
    );
    assert_eq!(status, 200);
    // Refusals before the handler are logged and kept like any call.
    let (_, history) = get(&server, "/_emulator/requests?limit=10");
    let codes: Vec<&str> = history["Requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "",
            "Forbidden.CrossSite",
            "Forbidden.CrossSite",
            "Forbidden.CrossSite",
            "Forbidden.CrossSite"
        ]
    );
}

#[test]
fn a_state_import_is_checked_before_its_body_is_read_and_runs_alone() {
    let server = start(options());
    // Announced as a gigabyte, never sent: refused at once for its type…
    let mut stream = TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "POST /_emulator/state HTTP/1.1\r\nhost: {}\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\nhalf",
        server.addr
    )
    .unwrap();
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 415");
    // …and one whose body is still arriving holds the only import slot.
    let mut first = TcpStream::connect(server.addr).unwrap();
    write!(
        first,
        "POST /_emulator/state HTTP/1.1\r\nhost: {}\r\ncontent-type: application/octet-stream\r\ncontent-length: 100\r\n\r\nhalf",
        server.addr
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (status, _, body) = fetch(
        server.addr,
        "POST",
        "/_emulator/state",
        &[OCTETS],
        b"ECIIMCST",
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        error_code(status, &body),
        (409, "Conflict.StateImport".into())
    );
    drop(first);
}
