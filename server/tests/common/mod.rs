//! What the server's integration tests share: a server on a loopback port
//! and a plain HTTP/1.1 client.

#![allow(dead_code)] // each test file uses its own part

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use eci_imagecache::engine::Durations;
use eci_imagecache_server::app::App;
use eci_imagecache_server::faults::Faults;
use eci_imagecache_server::serve::{Limits, Options, build, serve_on};
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
        access_keys: Vec::new(),
        freshness: true,
        control_token: None,
        limits: Limits::default(),
    }
}

pub fn start(options: Options) -> Server {
    let (app, _) = build(&options, Faults::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let served = app.clone();
    runtime.spawn(async move {
        serve_on(listener, served, &options, std::future::pending())
            .await
            .unwrap()
    });
    Server {
        addr,
        app,
        _runtime: runtime,
    }
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
