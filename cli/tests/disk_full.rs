//! `serve --state` on a full disk: a write that cannot be made durable is
//! an error answer and leaves memory and disk as before; once space is
//! back, writes succeed; after a SIGKILL and a restart every acknowledged
//! change is there and no failed one (behaviour.md section 9).
//!
//! Needs root (a 4 MiB tmpfs is mounted); skips with a message otherwise.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Change, Model, Server, TempDir};

/// Unmounts on drop, failure or not.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount_tmpfs(dir: &Path) -> Result<Mount, String> {
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|e| format!("mount: {e}"))?;
    if out.status.success() {
        Ok(Mount(dir.to_owned()))
    } else {
        Err(format!(
            "mount -t tmpfs refused: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Writes `path` until ENOSPC, in smaller and smaller pieces.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let mut written = 0u64;
    for size in [1 << 16, 4096, 512, 64, 1] {
        let chunk = vec![b'x'; size];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
    }
    let _ = f.sync_all();
    written
}

/// Sends `change`: Ok(true) acknowledged (model updated), Ok(false) an
/// error answer, Err for anything else.
fn send(server: &Server, model: &mut Model, change: &Change) -> Result<bool, String> {
    match change.send(server.addr, model) {
        Some((200, answer)) => model.ack(change, &answer).map(|()| true),
        Some((500..=599, _)) => Ok(false),
        Some((status, answer)) => Err(format!("{change:?}: {status} {answer}")),
        None => Err(format!("{change:?}: no answer")),
    }
}

fn compare(what: &str, server: &Server, model: &Model, problems: &mut Vec<String>) {
    match common::describe_all(server.addr, 10) {
        Ok(all) => problems.extend(model.diff(&all).into_iter().map(|d| format!("{what}: {d}"))),
        Err(e) => problems.push(format!("{what}: Describe: {e}")),
    }
}

#[test]
fn a_full_disk_fails_writes_cleanly_and_loses_nothing_acknowledged() {
    let dir = TempDir::new("disk-full");
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let _mount = match mount_tmpfs(&mnt) {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED disk_full: {why}");
            return;
        }
    };
    let state = mnt.join("state");
    let extra = ["--instant", "--quota", "1000"];
    let mut server = Server::start(&state, &extra, &dir.join("first.log"));
    let mut model = Model::new(common::t0());
    let mut problems: Vec<String> = Vec::new();

    for i in 0..8 {
        let c = Change::create(&format!("before-{i}"), &[&format!("nginx:1.{i}")], None);
        assert_eq!(send(&server, &mut model, &c), Ok(true), "create before-{i}");
    }
    let filler = mnt.join("filler");
    let filled = fill(&filler);
    eprintln!("disk full after {filled} filler bytes");

    // Writes until they fail (a store with space set aside may still
    // succeed for a while: then those must be durable).
    let mut failed: Vec<Change> = Vec::new();
    let mut failed_kinds = std::collections::HashSet::new();
    let mut acked_while_full = 0;
    let mut first_failed_create: Option<(String, String)> = None;
    for n in 0..400 {
        let live: Vec<String> = model.caches.keys().cloned().collect();
        let change = match n % 4 {
            0 => Change::create(
                &format!("full-{n}"),
                &["busybox:1.36", "alpine:3.19"],
                Some(&format!("tok-full-{n}")),
            ),
            1 if !live.is_empty() => {
                Change::update(&live[n % live.len()], &[&format!("redis:7.{n}")])
            }
            2 if live.len() > 2 => Change::delete(&live[n % live.len()]),
            _ => Change::Advance(7),
        };
        let clock_before = common::clock_now(server.addr);
        match send(&server, &mut model, &change) {
            Ok(true) => acked_while_full += 1,
            Ok(false) => {
                failed_kinds.insert(std::mem::discriminant(&change));
                if let (Change::Create { name, token, .. }, None) = (&change, &first_failed_create)
                {
                    first_failed_create = Some((name.clone(), token.clone().unwrap()));
                }
                if matches!(change, Change::Advance(_)) {
                    let after = common::clock_now(server.addr);
                    if after != clock_before {
                        problems.push(format!(
                            "a failed clock advance moved the clock: {clock_before:?} -> {after:?}"
                        ));
                    }
                }
                failed.push(change);
            }
            Err(e) => problems.push(format!("while full: {e}")),
        }
        if failed_kinds.len() >= 4 && failed.len() >= 8 {
            break;
        }
    }
    eprintln!(
        "while full: {acked_while_full} acknowledged, {} failed ({} kinds)",
        failed.len(),
        failed_kinds.len()
    );
    assert!(
        !failed.is_empty(),
        "400 writes on a full disk and none failed"
    );

    // Nothing of a failed call shows: memory is not ahead of disk.
    compare("after the failures", &server, &model, &mut problems);
    match common::clock_now(server.addr) {
        Ok(now) if now != model.clock => problems.push(format!(
            "the clock is {now} after the failures, acknowledged {}",
            model.clock
        )),
        Ok(_) => {}
        Err(e) => problems.push(e),
    }

    // Space back: writes succeed again.
    std::fs::remove_file(&filler).unwrap();
    let advance = Change::Advance(100);
    if send(&server, &mut model, &advance) != Ok(true) {
        problems.push("the clock cannot move after space came back".into());
    }
    if let Some((name, token)) = &first_failed_create {
        // Same name, images and token as the failed create: it must create
        // now (no replay of an answer never given).
        let retry = Change::create(name, &["busybox:1.36", "alpine:3.19"], Some(token));
        match retry.send(server.addr, &model) {
            Some((200, answer)) => {
                let id = answer["ImageCacheId"].as_str().unwrap_or("?").to_owned();
                if let Err(e) = model.ack(&retry, &answer) {
                    problems.push(e);
                }
                let all = common::describe_all(server.addr, 10).unwrap_or_default();
                let cache = all.iter().find(|c| c["ImageCacheId"] == id.as_str());
                let created = cache
                    .and_then(|c| c["CreationTime"].as_str())
                    .map(common::parse_time);
                if created != Some(model.clock) {
                    problems.push(format!(
                        "the retried ClientToken {token} answered {id} created at {created:?}, not now ({}): a replay of the failed create",
                        model.clock
                    ));
                }
            }
            other => problems.push(format!("retry of the failed create {name}: {other:?}")),
        }
    }
    let live: Vec<String> = model.caches.keys().cloned().collect();
    let after_space = [
        Change::create("after-space", &["postgres:16"], None),
        Change::update(&live[0], &["mysql:8"]),
        Change::delete(&live[1]),
    ];
    for c in &after_space {
        match send(&server, &mut model, c) {
            Ok(true) => {}
            other => problems.push(format!("with space back {c:?}: {other:?}")),
        }
    }
    compare("with space back", &server, &model, &mut problems);

    // SIGKILL, restart: every acknowledged change, no failed one.
    server.kill9();
    match Server::try_start(&state, &extra, &dir.join("again.log")) {
        Err(e) => problems.push(format!("the restart was refused: {e}")),
        Ok(mut again) => {
            compare("after SIGKILL and restart", &again, &model, &mut problems);
            match common::clock_now(again.addr) {
                Ok(now) if now < model.clock => problems.push(format!(
                    "the clock is {now} after the restart, acknowledged {}",
                    model.clock
                )),
                Ok(_) => {}
                Err(e) => problems.push(e),
            }
            again.kill9();
        }
    }
    let failed_names: Vec<String> = failed
        .iter()
        .map(|c| match c {
            Change::Create { name, .. } => format!("create {name}"),
            Change::Update { name, .. } => format!("update {name}"),
            Change::Delete { name } => format!("delete {name}"),
            Change::Advance(s) => format!("advance {s}"),
            Change::Reset => "reset".into(),
        })
        .collect();
    assert!(
        problems.is_empty(),
        "{} problems (failed calls: {}):\n{}",
        problems.len(),
        failed_names.join(", "),
        problems.join("\n")
    );
}
