//! `serve --state`: one writer per state, restarts under other settings
//! restore exactly what was acknowledged, ids never change across
//! restarts, and a consumed FailNext fault stays consumed (behaviour.md
//! section 9).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Server, TempDir, api, control, describe_by_id, diff_caches};
use serde_json::{Value, json};

fn create(server: &Server, name: &str, images: &[&str]) -> String {
    let keys: Vec<String> = (1..=images.len()).map(|i| format!("Image.{i}")).collect();
    let mut params = vec![("RegionId", common::REGION), ("ImageCacheName", name)];
    for (k, v) in keys.iter().zip(images) {
        params.push((k, v));
    }
    match api(server.addr, "CreateImageCache", &params) {
        Some((200, v)) => v["ImageCacheId"].as_str().unwrap().to_owned(),
        other => panic!("create {name}: {other:?}"),
    }
}

fn advance(server: &Server, seconds: i64) {
    match control(
        server.addr,
        "/_emulator/clock",
        &json!({"Advance": seconds}),
    ) {
        Some((200, _)) => {}
        other => panic!("advance {seconds}: {other:?}"),
    }
}

fn describe(server: &Server) -> BTreeMap<String, String> {
    describe_by_id(server.addr).unwrap_or_else(|e| panic!("describe: {e}"))
}

fn assert_same(what: &str, before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) {
    let diffs = diff_caches(before, after);
    assert!(
        diffs.is_empty(),
        "{what}: {} of {} caches differ:\n{}",
        diffs.len(),
        before.len(),
        diffs.iter().take(8).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// (a) A second `serve` on the same state exits non-zero within 10 s,
/// naming the state file, and the first keeps serving (and its state is
/// intact after a kill and restart).
#[test]
fn second_server_on_the_same_state_refuses_to_start() {
    let dir = TempDir::new("two-writers");
    let state = dir.join("state");
    let mut first = Server::start(&state, &["--seed", "1"], &dir.join("first.log"));
    let a = create(&first, "first-a", &["nginx:1.25"]);

    let port = common::free_port();
    let mut second = Server::spawn(
        common::bin(),
        &common::serve_args(port, &state, &["--seed", "2"]),
        port,
        dir.join("second.log"),
    );
    let status = second.wait_exit(Duration::from_secs(10));
    let stderr = second.stderr_text();
    if status.is_none() {
        let serving = common::get(second.addr, "/_emulator/clock").is_some();
        second.kill9();
        panic!(
            "a second server on {} still runs after 10 s (answering on its port: {serving}); stderr: {stderr}",
            state.display()
        );
    }
    let status = status.unwrap();
    assert!(!status.success(), "the second server exited with {status}");
    assert!(
        stderr.contains(state.to_str().unwrap()),
        "the second server's message does not name {}: {stderr}",
        state.display()
    );

    // The first one still serves, reads and writes.
    let b = create(&first, "first-b", &["busybox"]);
    let before = describe(&first);
    assert_eq!(before.len(), 2, "{before:?}");
    first.kill9();
    let again = Server::start(&state, &["--seed", "1"], &dir.join("again.log"));
    let after = describe(&again);
    assert!(
        after.contains_key(&a) && after.contains_key(&b),
        "{after:?}"
    );
    assert_same("after the refused second server", &before, &after);
}

/// 60 caches under `--quota 60 --creating 1000`, some Preparing, some
/// Creating; stopped by `stop`, restarted with the default quota (50),
/// other durations and `--strict-references`: every cache's Describe
/// JSON is identical.
fn restart_under_other_settings(stop: &str) {
    let dir = TempDir::new("settings");
    let state = dir.join("state");
    let mut server = Server::start(
        &state,
        &["--seed", "7", "--quota", "60", "--creating", "1000"],
        &dir.join("first.log"),
    );
    for i in 0..60 {
        let a = format!("registry-vpc.cn-hangzhou.aliyuncs.com/team/app{i}:v1");
        let b = format!("registry.cn-hangzhou.aliyuncs.com/team/lib{i}:v2");
        let images: Vec<&str> = if i % 3 == 0 {
            vec![&a, &b, "nginx:1.25"]
        } else {
            vec![&a]
        };
        create(&server, &format!("cache-{i:02}"), &images);
        if i == 29 {
            advance(&server, 20); // the first 30 are Creating, the rest Preparing
        }
    }
    advance(&server, 5);
    let before = describe(&server);
    assert_eq!(before.len(), 60);
    let clock = common::clock_now(server.addr).unwrap();
    match stop {
        "SIGTERM" => {
            let status = server.term().expect("exits after SIGTERM");
            assert!(status.success(), "SIGTERM: exit {status}");
        }
        _ => server.kill9(),
    }
    let again = Server::try_start(
        &state,
        &[
            "--preparing",
            "3",
            "--creating",
            "7",
            "--updating",
            "11",
            "--strict-references",
        ],
        &dir.join("again.log"),
    )
    .unwrap_or_else(|e| panic!("restart after {stop}: {e}"));
    assert_eq!(
        common::clock_now(again.addr).unwrap(),
        clock,
        "the clock after {stop} and a restart"
    );
    let after = describe(&again);
    assert_same(
        &format!("{stop}, restart with the default quota, other durations, strict references"),
        &before,
        &after,
    );
}

#[test]
fn sigterm_then_restart_under_other_settings_restores_every_cache() {
    restart_under_other_settings("SIGTERM");
}

#[test]
fn sigkill_then_restart_under_other_settings_restores_every_cache() {
    restart_under_other_settings("SIGKILL");
}

/// Creates, lets the lifecycle move (Ready: SnapshotId drawn; an update
/// half done), and returns the server.
fn lifecycle(dir: &TempDir, describe_between: bool) -> (Server, Option<BTreeMap<String, String>>) {
    let state = dir.join("state");
    let server = Server::start(&state, &["--seed", "11"], &dir.join("first.log"));
    let ids: Vec<String> = (0..5)
        .map(|i| create(&server, &format!("life-{i}"), &[&format!("nginx:1.{i}")]))
        .collect();
    advance(&server, 20); // Creating
    create(&server, "life-late", &["redis:7"]);
    advance(&server, 600); // all Ready
    match api(
        server.addr,
        "UpdateImageCache",
        &[
            ("RegionId", common::REGION),
            ("ImageCacheId", &ids[0]),
            ("Image.1", "nginx:1.99"),
        ],
    ) {
        Some((200, _)) => {}
        other => panic!("update: {other:?}"),
    }
    advance(&server, 30); // the update half done
    let seen = describe_between.then(|| describe(&server));
    (server, seen)
}

fn has_snapshot_ids(caches: &BTreeMap<String, String>) {
    let with = caches
        .values()
        .filter(|c| {
            serde_json::from_str::<Value>(c).unwrap()["SnapshotId"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        })
        .count();
    assert!(
        with >= 5,
        "only {with} caches have a SnapshotId: {caches:?}"
    );
}

/// (c) Describe, SIGKILL, restart, describe: identical, SnapshotIds and
/// event names included.
#[test]
fn ids_and_snapshots_survive_a_kill_after_the_lifecycle_moved() {
    let dir = TempDir::new("ids");
    let (mut server, seen) = lifecycle(&dir, true);
    let before = seen.unwrap();
    has_snapshot_ids(&before);
    server.kill9();
    let again = Server::start(
        &dir.join("state"),
        &["--seed", "11"],
        &dir.join("again.log"),
    );
    let after = describe(&again);
    assert_same("describe, SIGKILL, restart", &before, &after);
}

/// (c) The same script twice (same seed): killed before any Describe, or
/// described first. After the restart both are identical: ids do not
/// depend on when the lifecycle's ticks ran.
#[test]
fn ids_do_not_depend_on_when_the_lifecycle_ticked() {
    let run = |describe_between: bool| {
        let dir = TempDir::new("ticks");
        let (mut server, _) = lifecycle(&dir, describe_between);
        server.kill9();
        let again = Server::start(
            &dir.join("state"),
            &["--seed", "11"],
            &dir.join("again.log"),
        );
        describe(&again)
    };
    let undescribed = run(false);
    let described = run(true);
    has_snapshot_ids(&described);
    assert_same(
        "killed before any Describe (before) vs described first (after)",
        &undescribed,
        &described,
    );
}

fn status_of(caches: &BTreeMap<String, String>, id: &str) -> Value {
    serde_json::from_str(
        caches
            .get(id)
            .unwrap_or_else(|| panic!("{id} missing: {caches:?}")),
    )
    .unwrap()
}

fn assert_failed_with_boom(cache: &Value) {
    assert_eq!(cache["Status"], "Failed", "{cache}");
    assert!(
        cache["Events"].as_array().is_some_and(|e| e
            .iter()
            .any(|e| e["Message"].as_str().is_some_and(|m| m.contains("boom")))),
        "no event with the reason: {cache}"
    );
}

/// (d) A FailNext fault consumed by a create: after a kill and a restart
/// the cache is still Failed with the reason, and the next create (which
/// did not consume it) is not.
#[test]
fn a_consumed_fail_next_fault_survives_a_kill() {
    for kill_before_failure_shows in [false, true] {
        let dir = TempDir::new("failnext");
        let state = dir.join("state");
        let mut server = Server::start(&state, &["--seed", "5"], &dir.join("first.log"));
        match control(
            server.addr,
            "/_emulator/faults",
            &json!({"FailNext": "CreateImageCache", "Reason": "boom"}),
        ) {
            Some((200, _)) => {}
            other => panic!("faults: {other:?}"),
        }
        let failed = create(&server, "doomed", &["nginx:1.25"]);
        let fine = create(&server, "fine", &["busybox"]);
        let before = if kill_before_failure_shows {
            None
        } else {
            advance(&server, 600);
            let before = describe(&server);
            assert_failed_with_boom(&status_of(&before, &failed));
            Some(before)
        };
        server.kill9();
        let again = Server::start(&state, &["--seed", "5"], &dir.join("again.log"));
        if kill_before_failure_shows {
            advance(&again, 600);
        }
        let after = describe(&again);
        assert_failed_with_boom(&status_of(&after, &failed));
        assert_eq!(status_of(&after, &fine)["Status"], "Ready", "{after:?}");
        if let Some(before) = before {
            assert_same("FailNext, SIGKILL, restart", &before, &after);
        }
    }
}

#[test]
fn the_state_file_is_not_left_locked_after_a_kill() {
    // A killed server's lock must not keep the next one out (the refusal
    // of test (a) is for a live writer only).
    let dir = TempDir::new("stale-lock");
    let state = dir.join("state");
    let mut server = Server::start(&state, &[], &dir.join("first.log"));
    create(&server, "before-kill", &["nginx"]);
    server.kill9();
    let start = Instant::now();
    let again = Server::try_start(&state, &[], &dir.join("again.log"))
        .unwrap_or_else(|e| panic!("restart after a kill refused: {e}"));
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(describe(&again).len(), 1);
}
