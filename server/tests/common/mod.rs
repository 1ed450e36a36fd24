//! What the server's integration tests share: a server on a loopback port
//! and a plain HTTP/1.1 client.

#![allow(dead_code)] // each test file uses its own part

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use eci_imagecache::engine::Durations;
use eci_imagecache_server::app::App;
use eci_imagecache_server::faults::Faults;
use eci_imagecache_server::serve::{Limits, Options, access, build, serve_site};
use eci_imagecache_server::site::Site;
use serde_json::Value;

pub struct Server {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    _runtime: tokio::runtime::Runtime,
}

pub fn options() -> Options {
    Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        state: None,
        import: None,
        seed: Some(1),
        now: Some("2024-05-01T08:00:00Z".parse().unwrap()),
        durations: Durations::default(),
        quota: Some(3),
        strict_references: false,
        page_cap: 20,
        strict_params: false,
        access_keys: Vec::new(),
        freshness: true,
        control_token: None,
        limits: Limits::default(),
        log_format: Default::default(),
        request_history: eci_imagecache_server::history::DEFAULT_HISTORY,
        max_state_bytes: eci_imagecache_server::serve::DEFAULT_MAX_STATE_BYTES,
    }
}

pub fn start(options: Options) -> Server {
    let (app, _) = build(&options, Faults::default()).unwrap();
    let loading = start_loading(&options);
    loading.site.ready(app.clone());
    Server {
        addr: loading.addr,
        app,
        _runtime: loading._runtime,
    }
}

/// A server still loading its state: it answers "loading" until
/// `site.ready(app)`.
pub struct Loading {
    pub addr: SocketAddr,
    pub site: Arc<Site>,
    _runtime: tokio::runtime::Runtime,
}

pub fn start_loading(options: &Options) -> Loading {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let site = Site::loading(access(&listener, options).unwrap());
    runtime.spawn(serve_site(
        listener,
        site.clone(),
        options.limits,
        std::future::pending(),
    ));
    Loading {
        addr,
        site,
        _runtime: runtime,
    }
}

/// Parameters form-encoded (`+` for space), as a query string or a form
/// body.
pub fn form(params: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String { form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// One HTTP/1.1 exchange: (status, JSON body).
pub fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("host: {addr}\r\n"));
    }
    for (n, v) in headers {
        request.push_str(&format!("{n}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status: u16 = response[9..12].parse().unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// The raw response text of one exchange of raw bytes (the connection is
/// read to its end).
pub fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

/// (status, JSON body) of a raw response text.
pub fn parse(response: &str) -> (u16, Value) {
    let status: u16 = response[9..12].parse().unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// An error body: exactly RequestId, Code, Message; returns the code.
pub fn error_code(status: u16, body: &Value) -> (u16, String) {
    let o = body.as_object().unwrap_or_else(|| panic!("{body}"));
    assert!(
        o["RequestId"].is_string() && o["Message"].is_string(),
        "{body}"
    );
    assert_eq!(o.len(), 3, "{body}");
    (status, o["Code"].as_str().unwrap().to_owned())
}

/// One SDK-signed request of `tests/data/sdk-wire-captures.txt`.
#[derive(Clone, Debug)]
pub struct Capture {
    pub title: String,
    pub method: String,
    pub target: String,
    /// Without Content-Length and Connection.
    pub headers: Vec<(String, String)>,
}

impl Capture {
    pub fn is_v3(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("authorization"))
    }

    /// The headers with `name` set to `value` (replaced or added).
    pub fn with_header(&self, name: &str, value: &str) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case(name))
            .cloned()
            .collect();
        headers.push((name.to_owned(), value.to_owned()));
        headers
    }
}

pub fn captures() -> Vec<Capture> {
    let text = include_str!("../../../tests/data/sdk-wire-captures.txt");
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
                if name.eq_ignore_ascii_case("content-length")
                    || name.eq_ignore_ascii_case("connection")
                {
                    continue;
                }
                out.last_mut()
                    .unwrap()
                    .headers
                    .push((name.to_owned(), value.to_owned()));
            }
        }
    }
    out
}

/// `http` with owned headers.
pub fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u16, Value) {
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    http(addr, method, target, &h, body)
}

pub const AK: &str = "AKIDEXAMPLE";
pub const SECRET: &str = "SECRETEXAMPLE";

const RFC3986: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn pct(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, RFC3986).to_string()
}

static NONCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A nonce no other request of this test process uses.
pub fn nonce() -> String {
    let n = NONCES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{:016x}{:016x}", std::process::id(), n)
}

/// The wall clock `offset` seconds from now, as the SDKs write it.
pub fn timestamp(offset: i64) -> String {
    let t = jiff::Timestamp::now().as_second() + offset;
    jiff::Timestamp::from_second(t)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// V2 (HMAC-SHA1) signature of `params` (query and form body together)
/// for `method`: the query string (or body) with `Signature` appended.
pub fn sign_v2(method: &str, params: &[(String, String)], secret: &str) -> String {
    use base64::Engine as _;
    use hmac::Mac;
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let joined = sorted
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&");
    let to_sign = format!("{method}&%2F&{}", pct(&joined));
    let mut mac =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let mut all: Vec<(String, String)> = params.to_vec();
    all.push(("Signature".into(), signature));
    all.iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The V2 common parameters with a fresh time and nonce, then `params`.
pub fn v2_params(action: &str, params: &[(&str, &str)], time: &str) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = vec![
        ("Action".into(), action.into()),
        ("Format".into(), "JSON".into()),
        ("Version".into(), "2018-08-08".into()),
        ("AccessKeyId".into(), AK.into()),
        ("SignatureMethod".into(), "HMAC-SHA1".into()),
        ("SignatureVersion".into(), "1.0".into()),
        ("SignatureNonce".into(), nonce()),
        ("Timestamp".into(), time.into()),
    ];
    all.extend(params.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all
}

/// V3 (ACS3-HMAC-SHA256): the headers to send for `method /?query` with
/// `body`; `signed` are the extra headers to sign besides host, the
/// x-acs-* ones given and the SDK's own; `unsigned` are sent but not
/// signed.
pub fn sign_v3(
    addr: SocketAddr,
    method: &str,
    query: &str,
    signed: &[(&str, &str)],
    unsigned: &[(&str, &str)],
    body: &[u8],
) -> Vec<(String, String)> {
    use hmac::Mac;
    use sha2::Digest;
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let payload = hex(&sha2::Sha256::digest(body));
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), addr.to_string()),
        ("x-acs-date".into(), timestamp(0)),
        ("x-acs-signature-nonce".into(), nonce()),
        ("x-acs-content-sha256".into(), payload.clone()),
        ("x-acs-version".into(), "2018-08-08".into()),
    ];
    for (n, v) in signed {
        headers.retain(|(h, _)| !h.eq_ignore_ascii_case(n));
        headers.push((n.to_ascii_lowercase(), v.to_string()));
    }
    headers.sort();
    let mut params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.sort();
    let canonical_query = params
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&");
    let block: String = headers
        .iter()
        .map(|(n, v)| format!("{n}:{}\n", v.trim()))
        .collect();
    let names = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical = format!("{method}\n/\n{canonical_query}\n{block}\n{names}\n{payload}");
    let to_sign = format!(
        "ACS3-HMAC-SHA256\n{}",
        hex(&sha2::Sha256::digest(canonical.as_bytes()))
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    let signature = hex(&mac.finalize().into_bytes());
    headers.push((
        "Authorization".into(),
        format!("ACS3-HMAC-SHA256 Credential={AK},SignedHeaders={names},Signature={signature}"),
    ));
    for (n, v) in unsigned {
        headers.push((n.to_string(), v.to_string()));
    }
    headers
}

/// Options with the example key (freshness on).
pub fn signed_options() -> Options {
    let mut o = options();
    o.access_keys = vec![(AK.into(), SECRET.into())];
    o
}
