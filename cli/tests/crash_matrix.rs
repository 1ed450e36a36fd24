//! `serve --state`: SIGKILL at every write-path syscall of a scripted
//! stream of changes, restart on the same state, and check the state
//! against a model of what was acknowledged (behaviour.md section 9).
//!
//! The kill comes from strace's syscall injection:
//! `strace -f -qq -o /dev/null -e trace=SYSCALL -e inject=SYSCALL:signal=SIGKILL:when=K`
//! (`-e trace=none` would switch the injection off: strace injects only
//! into traced syscalls). strace counts invocations per syscall and per
//! thread, so "K" is the K-th call on whichever thread reaches it first;
//! the startup's calls (on the main thread) would hide the first calls of
//! the request threads. Each syscall is therefore run in two modes:
//! `launch` (strace starts the server: startup and stream) and `attach`
//! (`strace -p PID` once the server is ready: the stream only). For each
//! mode and syscall K runs 1, 2, 3, … until a run completes the whole
//! stream without being killed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Change, Model, Server, TempDir};

const SYSCALLS: &[&str] = &[
    "pwrite64",
    "write",
    "fdatasync",
    "fsync",
    "rename",
    "ftruncate",
    "unlink",
];

/// Default durations (10 s preparing, 120 s creating, 60 s updating), no
/// seed: ids come from the saved generator alone, so a store that rebuilt
/// them by re-running requests would show it.
const EXTRA: &[&str] = &["--quota", "1000"];

fn script() -> Vec<Change> {
    use Change::*;
    let c = Change::create;
    let u = Change::update;
    let d = Change::delete;
    vec![
        c("cache-a", &["nginx:1.25"], Some("tok-a")),
        c("cache-b", &["busybox"], None),
        c("cache-c", &["redis:7", "memcached:1.6"], Some("tok-c")),
        c("cache-a", &["nginx:1.25"], Some("tok-a")), // replay
        Advance(600),
        u("cache-a", &["nginx:1.26"]),
        c("cache-d", &["alpine:3.19"], None),
        d("cache-b"),
        c(
            "cache-e",
            &["registry-vpc.cn-hangzhou.aliyuncs.com/team/app:v1"],
            Some("tok-e"),
        ),
        Advance(300),
        u("cache-c", &["redis:7.2"]),
        c("cache-c", &["redis:7", "memcached:1.6"], Some("tok-c")), // replay
        d("cache-d"),
        c("cache-f", &["postgres:16"], None),
        Advance(600),
        u("cache-e", &["python:3.12", "python:3.11"]),
        c("cache-g", &["mysql:8"], None),
        d("cache-a"),
        Advance(60),
        Reset,
        c("cache-h", &["node:20"], Some("tok-h")),
        c("cache-i", &["golang:1.22"], None),
        c("cache-h", &["node:20"], Some("tok-h")), // replay
        Advance(600),
        u("cache-h", &["node:22"]),
        c("cache-j", &["rust:1.80"], None),
        d("cache-i"),
        Advance(600),
        c("cache-k", &["ubuntu:24.04"], Some("tok-k")),
        u("cache-j", &["rust:1.81"]),
        d("cache-h"),
        Advance(600),
        c("cache-k", &["ubuntu:24.04"], Some("tok-k")), // replay
        c("cache-l", &["debian:12"], None),
        d("cache-k"),
        Advance(30),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Launch,
    Attach,
}

struct Outcome {
    killed: bool,
    acked: usize,
    violations: Vec<String>,
}

fn strace_filter(syscall: &str, k: u32) -> Vec<String> {
    vec![
        "-f".into(),
        "-qq".into(),
        "-o".into(),
        "/dev/null".into(),
        "-e".into(),
        format!("trace={syscall}"),
        "-e".into(),
        format!("inject={syscall}:signal=SIGKILL:when={k}"),
    ]
}

/// The server pid under a launching strace: the child of strace running
/// `serve --listen 127.0.0.1:PORT` (strace also forks short-lived probes).
fn traced_child(strace: &mut Server, port: u16) -> Option<u32> {
    let strace_pid = strace.child.id();
    let listen = format!("127.0.0.1:{port}");
    let bin = std::fs::canonicalize(common::bin()).unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) && !strace.exited() {
        let children =
            std::fs::read_to_string(format!("/proc/{strace_pid}/task/{strace_pid}/children"))
                .unwrap_or_default();
        for pid in children.split_whitespace() {
            // The tracee once it has exec'ed the binary (before, and in
            // strace's probes, it is strace with strace's arguments).
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            if exe == bin && args.contains(&listen.as_bytes()) {
                return pid.parse().ok();
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

/// Every thread of `pid` is traced by `tracer`.
fn all_traced(pid: u32, tracer: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|t| {
        std::fs::read_to_string(t.path().join("status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("TracerPid:").map(|v| v.trim().to_owned()))
            })
            .is_some_and(|v| v == tracer.to_string())
    })
}

fn run_once(mode: Mode, syscall: &str, k: u32) -> Outcome {
    let dir = TempDir::new("crash");
    let state = dir.join("state");
    let log = dir.join("server.log");
    let port = common::free_port();
    let args = common::serve_args(port, &state, EXTRA);
    let mut violations = Vec::new();
    let here = format!("[{mode:?} {syscall} K={k}]");

    // The server, and the tracer that will kill it.
    let (mut server, mut tracer) = match mode {
        Mode::Launch => {
            let mut a = strace_filter(syscall, k);
            a.push("--".into());
            a.push(common::bin().into());
            a.extend(args.iter().cloned());
            let mut s = Server::spawn("strace", &a, port, log.clone());
            match traced_child(&mut s, port) {
                Some(pid) => s.pid = pid,
                None => {
                    // Killed before it exec'ed? Then nothing ran. Never
                    // leave a tracee behind: kill whatever strace forked.
                    let id = s.child.id();
                    let children =
                        std::fs::read_to_string(format!("/proc/{id}/task/{id}/children"))
                            .unwrap_or_default();
                    for pid in children.split_whitespace().filter_map(|p| p.parse().ok()) {
                        common::signal(pid, common::SIGKILL);
                    }
                    let _ = s.wait_exit(Duration::from_secs(5));
                }
            }
            (s, None)
        }
        Mode::Attach => {
            let s = Server::start(&state, EXTRA, &log);
            let mut a = strace_filter(syscall, k);
            a.push("-p".into());
            a.push(s.pid.to_string());
            let t = Server::spawn("strace", &a, port, dir.join("strace.log"));
            let start = Instant::now();
            while !all_traced(s.pid, t.pid) {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "{here} strace did not attach"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
            (s, Some(t))
        }
    };

    let mut model = Model::new(common::t0());
    let mut in_flight: Option<Change> = None;
    let mut killed = true;
    if server.wait_ready(Duration::from_secs(20)) {
        killed = false;
        for (n, step) in script().iter().enumerate() {
            match step.send(server.addr, &model) {
                Some((200, answer)) => {
                    if let Err(e) = model.ack(step, &answer) {
                        violations.push(format!("{here} step {n}: {e}"));
                    }
                }
                Some((status, answer)) => {
                    violations.push(format!("{here} step {n} {step:?}: {status} {answer}"));
                }
                None => {
                    let start = Instant::now();
                    while !server.server_gone() && start.elapsed() < Duration::from_secs(5) {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    if !server.server_gone() {
                        violations.push(format!(
                            "{here} step {n} {step:?}: the connection broke but the server lives"
                        ));
                    }
                    in_flight = Some(step.clone());
                    killed = true;
                    break;
                }
            }
        }
    } else if !server.server_gone() {
        violations.push(format!("{here} the server neither started nor died"));
    }
    server.kill9();
    if let Some(t) = &mut tracer {
        let _ = t.wait_exit(Duration::from_secs(10));
    }
    drop(tracer);

    // Restart without strace, same state and settings.
    let log2 = dir.join("restart.log");
    match Server::try_start(&state, EXTRA, &log2) {
        Err(e) => violations.push(format!("{here} the restart failed: {e}")),
        Ok(mut again) => {
            check(
                &here,
                &mut again,
                &model,
                in_flight.as_ref(),
                &mut violations,
            );
            again.kill9();
        }
    }
    if !violations.is_empty() {
        keep_evidence(&here, dir.path());
    }
    Outcome {
        killed,
        acked: model.acked,
        violations,
    }
}

fn check(
    here: &str,
    server: &mut Server,
    model: &Model,
    in_flight: Option<&Change>,
    violations: &mut Vec<String>,
) {
    match common::describe_all(server.addr, 5) {
        Err(e) => violations.push(format!("{here} describe after restart: {e}")),
        Ok(all) => {
            for d in model.check(in_flight, &all) {
                violations.push(format!("{here} {d}"));
            }
        }
    }
    match common::clock_now(server.addr) {
        Err(e) => violations.push(format!("{here} {e}")),
        Ok(now) if now < model.clock => violations.push(format!(
            "{here} clock {now} after the restart, acknowledged {}",
            model.clock
        )),
        Ok(_) => {}
    }
    // Nothing applied twice: a remembered ClientToken still answers the
    // acknowledged id and creates nothing.
    if matches!(in_flight, Some(Change::Reset)) {
        return;
    }
    let touched = |name: &str| match in_flight {
        Some(Change::Update { name: n, .. } | Change::Delete { name: n }) => n == name,
        _ => false,
    };
    let replay = model
        .tokens
        .iter()
        .find(|(_, (name, _, id))| model.id_of(name) == Some(id.as_str()) && !touched(name));
    if let Some((token, (name, images, id))) = replay {
        let step = Change::Create {
            name: name.clone(),
            images: images.clone(),
            token: Some(token.clone()),
        };
        let before = common::describe_all(server.addr, 50).map(|a| a.len());
        match step.send(server.addr, model) {
            Some((200, answer)) if answer["ImageCacheId"].as_str() == Some(id) => {}
            other => violations.push(format!(
                "{here} ClientToken {token} after the restart: {other:?}, acknowledged {id}"
            )),
        }
        let after = common::describe_all(server.addr, 50).map(|a| a.len());
        if before != after {
            violations.push(format!(
                "{here} the ClientToken {token} replay changed the count: {before:?} -> {after:?}"
            ));
        }
    }
}

/// Copies a failing run's state aside for a look.
fn keep_evidence(here: &str, dir: &Path) {
    let name: String = here
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let to = std::env::temp_dir().join(format!("eci-crash-evidence/{name}"));
    let _ = std::fs::create_dir_all(&to);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let _ = std::fs::copy(e.path(), to.join(e.file_name()));
        }
    }
}

/// Why the matrix cannot run here, if it cannot.
fn unavailable() -> Option<String> {
    match Command::new("strace").arg("-V").output() {
        Err(e) => return Some(format!("strace is not installed ({e})")),
        Ok(o) if !o.status.success() => return Some("strace -V failed".into()),
        Ok(_) => {}
    }
    match Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=getpid", "true"])
        .output()
    {
        Err(e) => Some(format!("strace cannot run: {e}")),
        Ok(o) if !o.status.success() => Some(format!(
            "ptrace is not permitted: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Ok(_) => None,
    }
}

#[test]
fn sigkill_at_every_write_syscall_loses_nothing_acknowledged() {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED crash_matrix: {why}");
        return;
    }
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join("eci-crash-evidence"));
    let only: Option<String> = std::env::var("CRASH_MATRIX_SYSCALLS").ok();
    let mut points: BTreeMap<String, u32> = BTreeMap::new();
    let mut acked = 0;
    let mut violations = Vec::new();
    let mut runs = 0;
    let verbose = std::env::var_os("CRASH_MATRIX_VERBOSE").is_some();
    for mode in [Mode::Launch, Mode::Attach] {
        for &syscall in SYSCALLS {
            if only
                .as_ref()
                .is_some_and(|o| !o.split(',').any(|s| s == syscall))
            {
                continue;
            }
            let key = format!("{mode:?} {syscall}");
            let mut k: u32 = std::env::var("CRASH_MATRIX_FIRST_K")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            loop {
                let t = Instant::now();
                let outcome = run_once(mode, syscall, k);
                if verbose {
                    eprintln!(
                        "{key} K={k}: killed {} acked {} {:?} {:?}",
                        outcome.killed,
                        outcome.acked,
                        t.elapsed(),
                        outcome.violations
                    );
                }
                runs += 1;
                acked += outcome.acked;
                violations.extend(outcome.violations);
                if !outcome.killed {
                    break;
                }
                *points.entry(key.clone()).or_default() += 1;
                k += 1;
                assert!(k < 2000, "{key}: still killed at K={k}");
            }
            points.entry(key).or_default();
        }
    }
    let total: u32 = points.values().sum();
    eprintln!("crash matrix: kill points per mode and syscall:");
    for (key, n) in &points {
        eprintln!("  {key:<20} {n}");
    }
    let per_syscall: Vec<String> = SYSCALLS
        .iter()
        .map(|sc| {
            let n: u32 = points
                .iter()
                .filter(|(k, _)| k.ends_with(&format!(" {sc}")))
                .map(|(_, n)| n)
                .sum();
            format!("{sc} {n}")
        })
        .collect();
    eprintln!(
        "crash matrix: kill points per syscall: {}",
        per_syscall.join(", ")
    );
    eprintln!(
        "crash matrix: {total} kill points, {runs} runs, {acked} acknowledged changes checked, {} violations, {:.1} s",
        violations.len(),
        started.elapsed().as_secs_f64()
    );
    if !violations.is_empty() {
        let shown: Vec<&String> = violations.iter().take(40).collect();
        panic!(
            "{} violations (states of failing runs copied under {}/eci-crash-evidence):\n{}",
            violations.len(),
            std::env::temp_dir().display(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
