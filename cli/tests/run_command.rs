//! `eci-imagecache run`, driven as a user would drive it: the scripted
//! lifecycle of the README, state files, bad lines.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

fn run(args: &[&str], stdin: &str) -> (Vec<Value>, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eci-imagecache"))
        .arg("run")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_owned();
    let feeder = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    // A run that refuses to start (a corrupt state file) never reads stdin.
    if let Err(e) = feeder.join().unwrap() {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, out.status.success())
}

fn outcome(v: &Value) -> (u64, &str) {
    (
        v["HttpStatus"].as_u64().unwrap(),
        v["Body"]["Code"].as_str().unwrap_or("-"),
    )
}

const SCRIPT: &str = include_str!("../../examples/scripts/lifecycle.jsonl");
const ARGS: &[&str] = &[
    "--now",
    "2024-05-01T08:00:00Z",
    "--seed",
    "1",
    "--quota",
    "2",
];

#[test]
fn the_scripted_lifecycle() {
    let (out, ok) = run(ARGS, SCRIPT);
    assert!(ok);
    assert_eq!(out.len(), SCRIPT.lines().count());
    let outcomes: Vec<(u64, &str)> = out.iter().map(outcome).collect();
    assert_eq!(
        outcomes,
        [
            (200, "-"),                      // create web (ClientToken)
            (200, "-"),                      // the same token again: the same answer
            (200, "-"),                      // create api
            (200, "-"),                      // describe: Preparing
            (200, "-"),                      // advance 70 s
            (200, "-"),                      // describe: Creating 50%
            (200, "-"),                      // advance 60 s
            (200, "-"),                      // MatchImage
            (200, "-"),                      // AutoMatch: a hit
            (200, "-"),                      // update
            (400, "OperationConflict"),      // update while Updating
            (200, "-"),                      // advance
            (400, "NoNeedUpdate"),           // the same update again
            (200, "-"),                      // create third: evicts the LRU cache
            (403, "QuotaExceeded"),          // create fourth
            (200, "-"),                      // delete api (ClientToken)
            (200, "-"),                      // replayed
            (200, "-"),                      // describe
            (400, "MissingParameter"),       // no RegionId
            (404, "InvalidAction.NotFound"), // unknown action
            (400, "InvalidParameter"),       // not JSON
        ]
    );
    assert_eq!(
        out[0]["Body"]["ImageCacheId"],
        out[1]["Body"]["ImageCacheId"]
    );
    let web = &out[3]["Body"]["ImageCaches"][0];
    assert_eq!(
        (web["Status"].as_str(), web["Progress"].as_str()),
        (Some("Preparing"), Some("0%"))
    );
    let web = &out[5]["Body"]["ImageCaches"][0];
    assert_eq!(
        (web["Status"].as_str(), web["Progress"].as_str()),
        (Some("Creating"), Some("50%"))
    );
    assert_eq!(out[7]["Body"]["TotalCount"], 1);
    assert_eq!(out[7]["Body"]["ImageCaches"][0]["Status"], "Ready");
    assert_eq!(out[8]["Body"]["Matched"], true);
    assert_eq!(out[8]["Body"]["ExactMatchCount"], 1);
    // At the end: third (Preparing) only; web was evicted, api deleted.
    let last = &out[17]["Body"];
    assert_eq!(last["TotalCount"], 1);
    assert_eq!(last["ImageCaches"][0]["ImageCacheName"], "third");
    // Seeded: the same output on every run.
    assert_eq!(run(ARGS, SCRIPT).0, out);
}

#[test]
fn state_files_carry_the_engine_over() {
    let dir = std::env::temp_dir().join(format!("eci-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let state = state.to_str().unwrap();
    let create = r#"{"Action":"CreateImageCache","RegionId":"cn-hangzhou","ImageCacheName":"web","Image.1":"nginx","ClientToken":"t1"}"#;
    let (first, ok) = run(
        &[
            "--now",
            "2024-05-01T08:00:00Z",
            "--seed",
            "4",
            "--state",
            state,
        ],
        create,
    );
    assert!(ok);
    // The second run resumes the saved manual clock, ids and tokens.
    let script = format!(
        "{create}\n{}\n{}\n",
        r#"{"AdvanceClock":3600}"#, r#"{"Action":"DescribeImageCaches","RegionId":"cn-hangzhou"}"#
    );
    let (second, ok) = run(&["--state", state], &script);
    assert!(ok);
    assert_eq!(
        second[0]["Body"]["ImageCacheId"],
        first[0]["Body"]["ImageCacheId"]
    );
    assert_eq!(second[1]["Body"]["Now"], "2024-05-01T09:00:00Z");
    assert_eq!(second[2]["Body"]["TotalCount"], 1);
    assert_eq!(second[2]["Body"]["ImageCaches"][0]["Status"], "Ready");
    // A file that is not a state store is refused, and nothing runs.
    std::fs::remove_file(state).unwrap();
    std::fs::write(state, b"ECIIMCST garbage").unwrap();
    let (out, ok) = run(&["--state", state], create);
    assert!(!ok && out.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn clock_lines_need_a_manual_clock() {
    let (out, ok) = run(
        &[],
        "{\"AdvanceClock\":10}\n[1,2]\n{\"Action\":\"DescribeImageCaches\",\"RegionId\":\"cn-hangzhou\",\"Limit\":0}\n",
    );
    assert!(ok);
    let messages: Vec<&str> = out
        .iter()
        .map(|v| v["Body"]["Message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "AdvanceClock needs a manual clock (--now).",
            "Each line must be a JSON object.",
            "The specified parameter \"Limit\" is not valid: must be at least 1.",
        ]
    );
}

#[test]
fn duplicate_keys_and_mixed_clock_lines_are_errors_that_change_nothing() {
    let (out, ok) = run(
        &["--now", "2024-05-01T08:00:00Z", "--seed", "1", "--instant"],
        concat!(
            r#"{"Action":"CreateImageCache","RegionId":"cn-hangzhou","ImageCacheName":"web","Image.1":"nginx","Image.1":"redis"}"#,
            "\n",
            r#"{"Action":"DeleteImageCache","AdvanceClock":60,"RegionId":"cn-hangzhou","ImageCacheId":"imc-1"}"#,
            "\n",
            r#"{"Action":"DescribeImageCaches","RegionId":"cn-hangzhou"}"#,
            "\n"
        ),
    );
    assert!(ok);
    let messages: Vec<&str> = out
        .iter()
        .map(|v| v["Body"]["Message"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        messages[..2],
        [
            "The line is not valid: the key \"Image.1\" is given more than once at line 1 column 113.",
            "A clock line holds only AdvanceClock or SetClock, nothing else.",
        ]
    );
    assert_eq!(out[2]["Body"]["TotalCount"], 0);
}

/// Every line is committed before its answer is written: a reader that
/// stops after the first answer finds that change saved, and the run says
/// standard output was closed.
#[test]
fn a_closed_output_keeps_every_answered_change() {
    let dir = std::env::temp_dir().join(format!("eci-run-head-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.db");
    let state = state.to_str().unwrap();
    let create = |name: &str| {
        format!(
            r#"{{"Action":"CreateImageCache","RegionId":"cn-hangzhou","ImageCacheName":"{name}","Image.1":"nginx"}}"#
        )
    };
    let script: String = (0..3000).map(|i| create(&format!("c{i}")) + "\n").collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_eci-imagecache"))
        .args(["run", "--now", "2024-05-01T08:00:00Z", "--state", state])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(script.as_bytes());
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut first = Vec::new();
    let mut byte = [0u8; 1];
    while std::io::Read::read(&mut stdout, &mut byte).unwrap() == 1 && byte[0] != b'\n' {
        first.push(byte[0]);
    }
    drop(stdout); // as `| head -1` does
    let status = child.wait().unwrap();
    feeder.join().unwrap();
    assert!(
        !status.success(),
        "a run whose output was closed must not exit 0"
    );
    let first: Value = serde_json::from_slice(&first).unwrap();
    let id = first["Body"]["ImageCacheId"].as_str().unwrap().to_owned();
    let (out, ok) = run(
        &["--state", state],
        r#"{"Action":"DescribeImageCaches","RegionId":"cn-hangzhou","ImageCacheName":"c0"}"#,
    );
    assert!(ok);
    assert_eq!(
        out[0]["Body"]["ImageCaches"][0]["ImageCacheId"],
        id.as_str()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `run --state` killed (SIGKILL) while it answers a stream of creates:
/// every create whose answer was read is in the state afterwards, with the
/// id the answer gave, and nothing is there twice (answers written but not
/// yet read may add more).
#[test]
fn a_killed_run_keeps_every_answered_change() {
    use std::io::BufRead;
    let dir = std::env::temp_dir().join(format!("eci-run-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.db");
    let state = state.to_str().unwrap().to_owned();
    let mut child = Command::new(env!("CARGO_BIN_EXE_eci-imagecache"))
        .args([
            "run",
            "--now",
            "2024-05-01T08:00:00Z",
            "--quota",
            "100000",
            "--state",
            &state,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for i in 0..100_000 {
            let line = format!(
                r#"{{"Action":"CreateImageCache","RegionId":"cn-hangzhou","ImageCacheName":"c{i}","Image.1":"nginx"}}"#
            );
            if writeln!(stdin, "{line}").is_err() {
                break;
            }
        }
    });
    let mut answers = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut answered = Vec::new();
    for _ in 0..40 {
        let line: Value = serde_json::from_str(&answers.next().unwrap().unwrap()).unwrap();
        answered.push(line["Body"]["ImageCacheId"].as_str().unwrap().to_owned());
    }
    child.kill().unwrap(); // SIGKILL, mid-stream
    child.wait().unwrap();
    drop(answers);
    feeder.join().unwrap();
    // One page holding everything: an embedder may lift the cap.
    let (out, ok) = run(
        &["--state", &state, "--page-cap", "100000"],
        r#"{"Action":"DescribeImageCaches","RegionId":"cn-hangzhou","Limit":100000}"#,
    );
    assert!(ok);
    let present: Vec<&str> = out[0]["Body"]["ImageCaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["ImageCacheId"].as_str().unwrap())
        .collect();
    for id in &answered {
        assert!(present.contains(&id.as_str()), "answered {id} is gone");
    }
    let unique: std::collections::BTreeSet<&str> = present.iter().copied().collect();
    assert_eq!(unique.len(), present.len(), "a cache twice");
    assert!(present.len() >= answered.len());
    std::fs::remove_dir_all(&dir).unwrap();
}
