//! `eci-imagecache ref`, driven as a user would drive it.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eci-imagecache"))
}

fn run(args: &[&str], stdin: &[u8]) -> (String, bool) {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Feed stdin from another thread, so a child that answers while it
    // reads never blocks on a full stdout pipe.
    let mut pipe = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let feeder = std::thread::spawn(move || pipe.write_all(&stdin));
    let out = child.wait_with_output().unwrap();
    // With arguments the command never reads stdin and may exit first.
    if let Err(e) = feeder.join().unwrap() {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    (String::from_utf8(out.stdout).unwrap(), out.status.success())
}

#[test]
fn nginx_from_stdin() {
    let (out, ok) = run(&["ref"], b"nginx\n");
    assert!(ok);
    assert_eq!(
        out,
        concat!(
            r#"{"input":"nginx","ok":true,"registry":"docker.io","repository":"library/nginx","#,
            r#""tag":null,"digest":null,"canonical":"docker.io/library/nginx:latest","#,
            r#""repo_key":"docker.io/library/nginx","exact_key":"docker.io/library/nginx:latest","error":null}"#,
            "\n"
        )
    );
}

#[test]
fn arguments_folding_and_strict() {
    let input = "registry-vpc.cn-hangzhou.aliyuncs.com/ns/app:v1@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    let (out, ok) = run(&["ref", input], b"ignored\n");
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(v["registry"], "registry-vpc.cn-hangzhou.aliyuncs.com");
    assert_eq!(v["tag"], "v1");
    assert_eq!(
        v["digest"],
        "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    );
    assert_eq!(v["repo_key"], "registry.cn-hangzhou.aliyuncs.com/ns/app");
    assert_eq!(
        v["exact_key"],
        "registry.cn-hangzhou.aliyuncs.com/ns/app@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    );
    assert_eq!(out.lines().count(), 1, "arguments win over stdin");

    let (out, _) = run(&["ref", "--strict", input], b"");
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(
        v["repo_key"],
        "registry-vpc.cn-hangzhou.aliyuncs.com/ns/app"
    );
}

#[test]
fn aliases_and_registry_1() {
    let (out, _) = run(
        &[
            "ref",
            "--alias",
            "Images.Example.com=myinst-registry-vpc.cn-hangzhou.cr.aliyuncs.com",
            "images.example.com/a/b",
        ],
        b"",
    );
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(
        v["repo_key"],
        "myinst-registry.cn-hangzhou.cr.aliyuncs.com/a/b"
    );

    let (out, _) = run(
        &[
            "ref",
            "--docker-hub-registry-1",
            "registry-1.docker.io/library/nginx",
        ],
        b"",
    );
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(v["repo_key"], "docker.io/library/nginx");

    let status = bin()
        .args(["ref", "--alias", "no-equals-sign"])
        .output()
        .unwrap()
        .status;
    assert!(!status.success(), "a malformed option is a usage error");
}

#[test]
fn bad_lines_are_reported_and_the_run_goes_on() {
    let (out, ok) = run(
        &["ref"],
        b"Bad/Ref\n\nalpine:3\r\n\xff\nlast-line-without-newline",
    );
    assert!(ok, "bad references do not fail the process");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["ok"], false);
    assert_eq!(lines[0]["input"], "Bad/Ref");
    assert_eq!(
        lines[0]["error"],
        "repository path must be lower case: found 'R' at byte 4"
    );
    assert_eq!(lines[0]["canonical"], serde_json::Value::Null);
    assert_eq!(lines[1]["error"], "image reference is empty (at byte 0)");
    assert_eq!(lines[2]["input"], "alpine:3", "CRLF line ends are stripped");
    assert_eq!(lines[2]["canonical"], "docker.io/library/alpine:3");
    assert_eq!(lines[3]["ok"], false);
    assert_eq!(lines[3]["error"], "line is not valid UTF-8 (at byte 0)");
    assert_eq!(
        lines[4]["canonical"],
        "docker.io/library/last-line-without-newline:latest"
    );
    for line in &lines {
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = vec![
            "input",
            "ok",
            "registry",
            "repository",
            "tag",
            "digest",
            "canonical",
            "repo_key",
            "exact_key",
            "error",
        ];
        want.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, want);
    }
}

/// Each answer comes out before the next line goes in: the command streams
/// instead of reading all of standard input first.
#[test]
fn streams_line_by_line() {
    let mut child = bin()
        .arg("ref")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for name in ["one", "two", "three"] {
        writeln!(stdin, "{name}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["input"], name);
    }
    drop(stdin);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert!(child.wait().unwrap().success());
}

#[test]
fn many_lines() {
    let input: String = (0..100_000)
        .map(|i| format!("team{}/app:v{i}\n", i % 97))
        .collect();
    let (out, ok) = run(&["ref"], input.as_bytes());
    assert!(ok);
    assert_eq!(out.lines().count(), 100_000);
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(last["exact_key"], "docker.io/team89/app:v99999");
}

#[test]
fn gen_streams_a_describe_response() {
    let out = bin()
        .args(["gen", "--caches", "300", "--seed", "5"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["TotalCount"], 300);
    assert_eq!(body["RequestId"], "gen-5");
    let caches = body["ImageCaches"].as_array().unwrap();
    assert_eq!(caches.len(), 300);
    assert!(
        caches[0]["ImageCacheId"]
            .as_str()
            .unwrap()
            .starts_with("imc-")
    );
    assert!(caches[0]["ImageCacheSize"].is_u64());
    assert!(
        caches[0]["Images"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i.is_string())
    );
    let again = bin()
        .args(["gen", "--caches", "300", "--seed", "5"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, again.stdout, "same seed, same document");
    let other = bin()
        .args(["gen", "--caches", "300", "--seed", "6"])
        .output()
        .unwrap();
    assert_ne!(out.stdout, other.stdout);
}
