//! What the `serve --state` black-box tests share: the real binary on a
//! free loopback port, a raw HTTP/1.1 client, Describe with paging, and a
//! model of the state the acknowledged calls promise.

#![allow(dead_code)] // each test file uses its own part

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The manual clock's start in every test.
pub const T0: &str = "2024-05-01T08:00:00Z";
pub const REGION: &str = "cn-hangzhou";

pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_eci-imagecache")
}

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

/// Sends `sig` to `pid` (no error if it is gone).
pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) has no memory effects.
    unsafe {
        kill(pid as i32, sig);
    }
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("eci-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the server on `addr` has loaded its state: its health
/// endpoint answers 200 (at most 20 s). The socket accepts connections
/// before that, answering 503 while it loads.
pub fn wait_listening(addr: SocketAddr) {
    let start = Instant::now();
    while !matches!(get(addr, "/_emulator/health"), Some((200, _))) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `serve --listen 127.0.0.1:PORT --state STATE --now T0` and `extra`.
pub fn serve_args(port: u16, state: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "serve".into(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--state".into(),
        state.to_str().unwrap().into(),
        "--now".into(),
        T0.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// A running `eci-imagecache serve` (possibly under a tracer: then `child`
/// is the tracer and `pid` the server). Killed on drop.
pub struct Server {
    pub child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    pub stderr: PathBuf,
}

impl Server {
    /// Spawns `program args` with stderr to `stderr`, not waiting.
    pub fn spawn(program: &str, args: &[String], port: u16, stderr: PathBuf) -> Server {
        let err = std::fs::File::create(&stderr).unwrap();
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        let pid = child.id();
        Server {
            child,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            stderr,
        }
    }

    /// The binary on `state` (fresh port, stderr beside nothing: in `log`).
    pub fn start(state: &Path, extra: &[&str], log: &Path) -> Server {
        let port = free_port();
        let mut s = Server::spawn(bin(), &serve_args(port, state, extra), port, log.into());
        if !s.wait_ready(Duration::from_secs(20)) {
            panic!(
                "server on {} did not become ready: {}",
                state.display(),
                s.stderr_text()
            );
        }
        s
    }

    /// Starts the binary, Ok when ready, Err(stderr) if it exits or hangs.
    pub fn try_start(state: &Path, extra: &[&str], log: &Path) -> Result<Server, String> {
        let port = free_port();
        let mut s = Server::spawn(bin(), &serve_args(port, state, extra), port, log.into());
        if s.wait_ready(Duration::from_secs(20)) {
            Ok(s)
        } else {
            let status = s.child.try_wait().ok().flatten();
            Err(format!("exit {status:?}: {}", s.stderr_text()))
        }
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Has the child (tracer or server) exited?
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Is the server process itself gone (reaped or a zombie)?
    pub fn server_gone(&mut self) -> bool {
        if self.pid == self.child.id() {
            return self.exited();
        }
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
        }
    }

    /// Polls connect + `GET /_emulator/clock` until it answers 200 (the
    /// state is loaded); false if the process exits first or `timeout`
    /// passes.
    pub fn wait_ready(&mut self, timeout: Duration) -> bool {
        let start = Instant::now();
        loop {
            if self.exited() || (self.pid != self.child.id() && self.server_gone()) {
                return false;
            }
            if let Some((200, _)) = get(self.addr, "/_emulator/clock") {
                return true;
            }
            if start.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(3));
        }
    }

    /// Waits for the child to exit, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGKILL the server and wait for the child.
    pub fn kill9(&mut self) {
        signal(self.pid, SIGKILL);
        if self.pid != self.child.id() && self.wait_exit(Duration::from_secs(10)).is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    /// SIGTERM (graceful) and wait, up to 20 s.
    pub fn term(&mut self) -> Option<ExitStatus> {
        signal(self.pid, SIGTERM);
        self.wait_exit(Duration::from_secs(20))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            signal(self.pid, SIGKILL);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP/1.1 exchange (`connection: close`): (status, body), or `None`
/// when the connection could not be made or broke before a whole answer.
pub fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    s.write_all(&bytes).ok()?;
    let mut response = Vec::new();
    s.read_to_end(&mut response).ok()?;
    let response = String::from_utf8(response).ok()?;
    let status: u16 = response.get(9..12)?.parse().ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    // A whole answer only: the body must be as long as announced.
    let length = head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    });
    if let Some(length) = length
        && body.len() != length
    {
        return None;
    }
    Some((status, body.to_owned()))
}

pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    http(addr, "GET", path, &[], b"")
}

/// Percent-encoding for query values.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An API call: `POST /?params` with `x-acs-action`; (status, JSON).
pub fn api(addr: SocketAddr, action: &str, params: &[(&str, &str)]) -> Option<(u16, Value)> {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    let (status, body) = http(
        addr,
        "POST",
        &format!("/?{}", query.join("&")),
        &[("x-acs-action", action)],
        b"",
    )?;
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    Some((status, value))
}

/// A control call: `POST path` with a JSON body.
pub fn control(addr: SocketAddr, path: &str, body: &Value) -> Option<(u16, Value)> {
    let (status, text) = http(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )?;
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Some((status, value))
}

pub fn parse_time(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("time {s:?}: {e}"))
        .as_second()
}

pub fn t0() -> i64 {
    parse_time(T0)
}

/// The server's clock, seconds.
pub fn clock_now(addr: SocketAddr) -> Result<i64, String> {
    match get(addr, "/_emulator/clock") {
        Some((200, body)) => {
            let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
            v["Now"]
                .as_str()
                .map(parse_time)
                .ok_or_else(|| format!("no Now in {body}"))
        }
        other => Err(format!("GET /_emulator/clock: {other:?}")),
    }
}

/// Every cache of `REGION`, page by page (`Limit`, `NextToken`), in the
/// order the pages give them.
pub fn describe_all(addr: SocketAddr, limit: usize) -> Result<Vec<Value>, String> {
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    let limit = limit.to_string();
    for _ in 0..10_000 {
        let mut params = vec![("RegionId", REGION), ("Limit", limit.as_str())];
        if let Some(t) = &token {
            params.push(("NextToken", t.as_str()));
        }
        let (status, page) =
            api(addr, "DescribeImageCaches", &params).ok_or("DescribeImageCaches: no answer")?;
        if status != 200 {
            return Err(format!("DescribeImageCaches: {status} {page}"));
        }
        let caches = page["ImageCaches"]
            .as_array()
            .ok_or_else(|| format!("no ImageCaches in {page}"))?;
        all.extend(caches.iter().cloned());
        let total = page["TotalCount"].as_u64().unwrap_or(u64::MAX);
        match page["NextToken"].as_str() {
            Some(t) if !t.is_empty() && !caches.is_empty() => token = Some(t.to_owned()),
            _ => {
                if total != all.len() as u64 {
                    return Err(format!(
                        "TotalCount {total} but the pages held {} caches",
                        all.len()
                    ));
                }
                return Ok(all);
            }
        }
    }
    Err("DescribeImageCaches: more than 10000 pages".into())
}

/// `describe_all` keyed by ImageCacheId, each cache's JSON as text.
pub fn describe_by_id(addr: SocketAddr) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for c in describe_all(addr, 7)? {
        let id = c["ImageCacheId"].as_str().unwrap_or("").to_owned();
        if out.insert(id.clone(), c.to_string()).is_some() {
            return Err(format!("{id} listed twice"));
        }
    }
    Ok(out)
}

/// The differences between two `describe_by_id` answers, for messages.
pub fn diff_caches(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (id, b) in before {
        match after.get(id) {
            None => out.push(format!(
                "{id} missing after the restart (was {})",
                clip(b, 160)
            )),
            Some(a) if a != b => out.push(format!("{id} changed: {}", first_difference(b, a))),
            _ => {}
        }
    }
    for (id, a) in after {
        if !before.contains_key(id) {
            out.push(format!("{id} appeared after the restart: {}", clip(a, 160)));
        }
    }
    out
}

fn clip(s: &str, n: usize) -> String {
    let c: String = s.chars().take(n).collect();
    if c.len() < s.len() {
        format!("{c}…")
    } else {
        c
    }
}

/// Where two texts first differ, with some context on each side.
pub fn first_difference(before: &str, after: &str) -> String {
    let at = before
        .char_indices()
        .zip(after.chars())
        .find(|((_, a), b)| a != b)
        .map(|((i, _), _)| i)
        .unwrap_or(before.len().min(after.len()));
    let from = before[..at]
        .char_indices()
        .rev()
        .nth(60)
        .map_or(0, |(i, _)| i);
    format!(
        "at byte {at}: before …{}… after …{}…",
        clip(&before[from..], 140),
        clip(&after[from.min(after.len())..], 140)
    )
}

/// One change in a scripted stream.
#[derive(Clone, Debug)]
pub enum Change {
    Create {
        name: String,
        images: Vec<String>,
        token: Option<String>,
    },
    Update {
        name: String,
        images: Vec<String>,
    },
    Delete {
        name: String,
    },
    Advance(i64),
    Reset,
}

impl Change {
    pub fn create(name: &str, images: &[&str], token: Option<&str>) -> Change {
        Change::Create {
            name: name.into(),
            images: images.iter().map(|s| s.to_string()).collect(),
            token: token.map(Into::into),
        }
    }

    pub fn update(name: &str, images: &[&str]) -> Change {
        Change::Update {
            name: name.into(),
            images: images.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn delete(name: &str) -> Change {
        Change::Delete { name: name.into() }
    }

    /// Sends it; `None` when no whole answer came back.
    pub fn send(&self, addr: SocketAddr, model: &Model) -> Option<(u16, Value)> {
        match self {
            Change::Create {
                name,
                images,
                token,
            } => {
                let keys: Vec<String> = (1..=images.len()).map(|i| format!("Image.{i}")).collect();
                let mut params = vec![("RegionId", REGION), ("ImageCacheName", name.as_str())];
                for (k, v) in keys.iter().zip(images) {
                    params.push((k, v));
                }
                if let Some(t) = token {
                    params.push(("ClientToken", t));
                }
                api(addr, "CreateImageCache", &params)
            }
            Change::Update { name, images } => {
                let id = model.id_of(name).unwrap_or("imc-unknown");
                let keys: Vec<String> = (1..=images.len()).map(|i| format!("Image.{i}")).collect();
                let mut params = vec![("RegionId", REGION), ("ImageCacheId", id)];
                for (k, v) in keys.iter().zip(images) {
                    params.push((k, v));
                }
                api(addr, "UpdateImageCache", &params)
            }
            Change::Delete { name } => {
                let id = model.id_of(name).unwrap_or("imc-unknown");
                api(
                    addr,
                    "DeleteImageCache",
                    &[("RegionId", REGION), ("ImageCacheId", id)],
                )
            }
            Change::Advance(s) => control(addr, "/_emulator/clock", &json!({"Advance": s})),
            Change::Reset => control(addr, "/_emulator/reset", &json!({})),
        }
    }
}

/// A cache the model expects: its id (`None`: any, for the one create in
/// flight) and images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Want {
    pub id: Option<String>,
    pub images: Vec<String>,
}

/// What the acknowledged changes promise.
#[derive(Clone, Debug)]
pub struct Model {
    /// By name (names are unique in the scripts).
    pub caches: BTreeMap<String, Want>,
    /// ClientToken -> (name, images, id) of the create that used it.
    pub tokens: BTreeMap<String, (String, Vec<String>, String)>,
    /// The clock's time after the last acknowledged clock change.
    pub clock: i64,
    /// Acknowledged changes.
    pub acked: usize,
    /// Every id an acknowledgement gave.
    pub ids: Vec<String>,
}

impl Model {
    pub fn new(clock: i64) -> Model {
        Model {
            caches: BTreeMap::new(),
            tokens: BTreeMap::new(),
            clock,
            acked: 0,
            ids: Vec::new(),
        }
    }

    pub fn id_of(&self, name: &str) -> Option<&str> {
        self.caches.get(name).and_then(|w| w.id.as_deref())
    }

    /// Records `change` as acknowledged with `answer`; Err when the answer
    /// itself breaks a promise (a replay with another id).
    pub fn ack(&mut self, change: &Change, answer: &Value) -> Result<(), String> {
        self.acked += 1;
        match change {
            Change::Create {
                name,
                images,
                token,
            } => {
                let id = answer["ImageCacheId"]
                    .as_str()
                    .ok_or_else(|| format!("create {name}: no ImageCacheId in {answer}"))?
                    .to_owned();
                if let Some(t) = token
                    && let Some((_, _, first)) = self.tokens.get(t)
                {
                    if *first != id {
                        return Err(format!(
                            "ClientToken {t} replay answered {id}, the first create {first}"
                        ));
                    }
                    return Ok(());
                }
                if let Some(t) = token {
                    self.tokens
                        .insert(t.clone(), (name.clone(), images.clone(), id.clone()));
                }
                self.ids.push(id.clone());
                self.caches.insert(
                    name.clone(),
                    Want {
                        id: Some(id),
                        images: images.clone(),
                    },
                );
            }
            Change::Update { name, images } => {
                if let Some(w) = self.caches.get_mut(name) {
                    w.images = images.clone();
                }
            }
            Change::Delete { name } => {
                self.caches.remove(name);
            }
            Change::Advance(_) => {
                let now = answer["Now"]
                    .as_str()
                    .ok_or_else(|| format!("clock: no Now in {answer}"))?;
                self.clock = parse_time(now);
            }
            Change::Reset => {
                self.caches.clear();
                self.tokens.clear();
            }
        }
        Ok(())
    }

    /// The model had the change in flight happened (a create's id unknown).
    pub fn after(&self, change: &Change) -> Model {
        let mut m = self.clone();
        match change {
            Change::Create {
                name,
                images,
                token,
            } => {
                if token.as_ref().is_none_or(|t| !m.tokens.contains_key(t)) {
                    m.caches.insert(
                        name.clone(),
                        Want {
                            id: None,
                            images: images.clone(),
                        },
                    );
                }
            }
            Change::Advance(s) => m.clock += s,
            other => {
                let _ = m.ack(other, &json!({}));
            }
        }
        m
    }

    /// How `actual` (a Describe of everything) differs from this model.
    pub fn diff(&self, actual: &[Value]) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen: BTreeMap<String, Want> = BTreeMap::new();
        let mut ids = std::collections::BTreeSet::new();
        for c in actual {
            let name = c["ImageCacheName"].as_str().unwrap_or("?").to_owned();
            let id = c["ImageCacheId"].as_str().unwrap_or("?").to_owned();
            if !ids.insert(id.clone()) {
                out.push(format!("id {id} listed twice"));
            }
            let images: Vec<String> = c["Images"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|i| i.as_str().unwrap_or("?").to_owned())
                        .collect()
                })
                .unwrap_or_default();
            if seen
                .insert(
                    name.clone(),
                    Want {
                        id: Some(id),
                        images,
                    },
                )
                .is_some()
            {
                out.push(format!("name {name} present twice (applied twice?)"));
            }
        }
        for (name, want) in &self.caches {
            match seen.get(name) {
                None => out.push(format!("acknowledged {name} ({:?}) missing", want.id)),
                Some(got) => {
                    if let Some(id) = &want.id
                        && got.id.as_ref() != Some(id)
                    {
                        out.push(format!(
                            "{name}: id {} but the acknowledgement said {id}",
                            got.id.as_deref().unwrap_or("?")
                        ));
                    }
                    if got.images != want.images {
                        out.push(format!(
                            "{name}: images {:?}, acknowledged {:?}",
                            got.images, want.images
                        ));
                    }
                }
            }
        }
        for (name, got) in &seen {
            if !self.caches.contains_key(name) {
                out.push(format!(
                    "{name} ({}) present but not acknowledged (or deleted/reset)",
                    got.id.as_deref().unwrap_or("?")
                ));
            }
        }
        out
    }

    /// Checks `actual` against this model, or against it with `in_flight`
    /// applied; the differences from the closer one.
    pub fn check(&self, in_flight: Option<&Change>, actual: &[Value]) -> Vec<String> {
        let before = self.diff(actual);
        let Some(change) = in_flight else {
            return before;
        };
        if before.is_empty() {
            return before;
        }
        let after = self.after(change).diff(actual);
        if after.is_empty() {
            return after;
        }
        let mut out: Vec<String> = before
            .into_iter()
            .map(|d| format!("{d} [as if the in-flight {change:?} did not happen]"))
            .collect();
        out.extend(
            after
                .into_iter()
                .map(|d| format!("{d} [as if the in-flight {change:?} happened]")),
        );
        out
    }
}
