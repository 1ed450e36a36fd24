//! `eci-imagecache match --pod FILE`, driven as a scheduler's operator would:
//! a state made by `run --state`, pods in YAML and JSON, the decision, the
//! explanation, the JSON form, bad input, and a state left as it was.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_eci-imagecache");

/// A state with four caches in cn-hangzhou, on a manual clock:
/// web (nginx:1.25, redis:7), nginx-only (nginx:1.25), big (nginx:1.25,
/// 40 GiB), old-redis (redis:6).
fn state(dir: &Path) -> PathBuf {
    let path = dir.join("state.db");
    let lines = [
        r#"{"Action":"CreateImageCache","RegionId":"cn-hangzhou","ImageCacheName":"web","Image.1":"nginx:1.25","Image.2":"redis:7"}"#,
        r#"{"Action":"CreateImageCache","RegionId":"cn-hangzhou","ImageCacheName":"nginx-only","Image.1":"nginx:1.25"}"#,
        r#"{"Action":"CreateImageCache","RegionId":"cn-hangzhou","ImageCacheName":"big","Image.1":"nginx:1.25","ImageCacheSize":"40"}"#,
        r#"{"Action":"CreateImageCache","RegionId":"cn-hangzhou","ImageCacheName":"old-redis","Image.1":"redis:6"}"#,
    ];
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--seed",
            "1",
            "--instant",
            "--now",
            "2024-05-01T08:00:00Z",
        ])
        .arg("--state")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.join("\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    path
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eci-match-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `match` with these arguments: (stdout, stderr, success).
fn matching(args: &[&str], state: &Path, pod: &str) -> (String, String, bool) {
    let dir = state.parent().unwrap();
    let file = dir.join(if pod.trim_start().starts_with('{') {
        "pod.json"
    } else {
        "pod.yaml"
    });
    std::fs::write(&file, pod).unwrap();
    let out = Command::new(BIN)
        .arg("match")
        .arg("--pod")
        .arg(&file)
        .arg("--state")
        .arg(state)
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

/// The state's caches as `run` describes them (every page), for "nothing
/// changed".
fn describe(state: &Path) -> Value {
    let out = Command::new(BIN)
        .args(["run", "--seed", "1"])
        .arg("--state")
        .arg(state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin
                .take()
                .unwrap()
                .write_all(br#"{"Action":"DescribeImageCaches","RegionId":"cn-hangzhou"}"#)?;
            c.wait_with_output()
        })
        .unwrap();
    let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Body"].as_object_mut().unwrap().remove("RequestId");
    v
}

const SHOP: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: shop
  namespace: prod
spec:
  initContainers:
  - name: init
    image: busybox
  containers:
  - name: web
    image: nginx:1.25
  - name: cache
    image: redis:7
";

#[test]
fn the_decision_and_why_each_candidate_lost() {
    let dir = tmp("explain");
    let state = state(&dir);
    let before = describe(&state);
    let (out, err, ok) = matching(&["--explain"], &state, SHOP);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "\
Pod prod/shop in cn-hangzhou: 3 images, temporary storage 30 GiB
  docker.io/library/busybox:latest
  docker.io/library/nginx:1.25
  docker.io/library/redis:7
decision: use imc-mk03qx9szs7wktjcmv35 (2 of 3 images exactly, 0 partially; score 66); a cache for the whole pod would be created beside it (no complete match)
candidates, ranked (3):
  1. imc-mk03qx9szs7wktjcmv35  F=2 P=0 size distance 10 GiB, created 2024-05-01T08:00:00Z, score 66: chosen
  2. imc-gma43s8n8yecuhxa5sak  F=1 P=0 size distance 10 GiB, created 2024-05-01T08:00:00Z, score 33: lost: fewer exact matches (1 < 2)
  3. imc-p94xutj4ghv4hxd31jlu  F=0 P=1 size distance 10 GiB, created 2024-05-01T08:00:00Z, score 8: lost: fewer exact matches (0 < 2)
not candidates (1):
  imc-c46r3ze9jpcjkp4kgunn  F=1 P=0: ImageCacheSize 40 GiB is more than the temporary storage (30 GiB)
"
    );
    // Matching records nothing: no LastMatchedTime, no cache created.
    assert_eq!(describe(&state), before);
    assert!(!before.to_string().contains("LastMatchedTime"));
}

#[test]
fn json_yaml_annotations_and_storage() {
    let dir = tmp("json");
    let state = state(&dir);
    // The same pod as JSON, with 20 GiB of extra storage: the 40 GiB cache
    // now fits and is as close as the others are far (distance 10 vs 30).
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "shop", "annotations": {
            "k8s.aliyun.com/eci-extra-ephemeral-storage": "20Gi",
            "k8s.aliyun.com/imc-perfect-match": "true"
        }},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}
    });
    let (out, err, ok) = matching(&["--json", "--explain"], &state, &pod.to_string());
    assert!(ok, "{err}");
    let body: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            &body["Decision"],
            &body["ImageCacheId"],
            &body["TemporaryStorageSize"],
            &body["CompleteMatch"],
            &body["WouldAutoCreate"],
            &body["Score"]
        ),
        (
            &json!("Hit"),
            &json!("imc-c46r3ze9jpcjkp4kgunn"),
            &json!(50),
            &json!(true),
            &json!(false),
            &json!(100)
        )
    );
    let ranked: Vec<(&str, &str)> = body["Candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["ImageCacheId"].as_str().unwrap(),
                c["Behind"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        ranked,
        [
            ("imc-c46r3ze9jpcjkp4kgunn", "-"),
            // Equal F, P, distance and age: the smaller id first.
            (
                "imc-gma43s8n8yecuhxa5sak",
                "its size is farther from the temporary storage (30 GiB > 10 GiB)"
            ),
            (
                "imc-mk03qx9szs7wktjcmv35",
                "its size is farther from the temporary storage (30 GiB > 10 GiB)"
            ),
        ]
    );
    // Perfect match: old-redis (partial only) is no candidate, and says so
    // only if it matches some image (it does not here).
    assert_eq!(body["Excluded"], json!([]));
    assert!(body.get("RequestId").is_none());

    // eci-auto-imc "false": no image cache at all.
    let off = "kind: Pod\nmetadata:\n  annotations:\n    k8s.aliyun.com/eci-auto-imc: \"false\"\nspec:\n  containers:\n  - image: nginx:1.25\n";
    let (out, _, ok) = matching(&["--json"], &state, off);
    assert!(ok);
    let body: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (&body["Decision"], &body["UsesImageCache"]),
        (&json!("NoImageCache"), &json!(false))
    );
    // A named cache is used as it is, F and P counted.
    let pinned = "kind: Pod\nmetadata:\n  annotations:\n    k8s.aliyun.com/eci-imc-id: imc-p94xutj4ghv4hxd31jlu\nspec:\n  containers:\n  - image: redis:7\n";
    let (out, _, ok) = matching(&["--json"], &state, pinned);
    assert!(ok);
    let body: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (&body["ImageCacheId"], &body["PartialMatchCount"]),
        (&json!("imc-p94xutj4ghv4hxd31jlu"), &json!(1))
    );
    // A miss.
    let (out, _, ok) = matching(
        &[],
        &state,
        "kind: Pod\nspec:\n  containers:\n  - image: mysql:8\n",
    );
    assert!(ok);
    assert!(out.ends_with(
        "decision: no cache fits; a cache for the whole pod would be created beside it (no complete match)\n"
    ));
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tmp("bad");
    let state = state(&dir);
    let cases: &[(&str, &str)] = &[
        (
            "kind: Pod\nmetadata:\n  annotations:\n    k8s.aliyun.com/imc-match-count-request: \"zero\"\nspec:\n  containers:\n  - image: nginx\n",
            "metadata.annotations[\"k8s.aliyun.com/imc-match-count-request\"]: must be a whole number of at least 1, found \"zero\" (line 4, column 45)",
        ),
        (
            "kind: Pod\nmetadata:\n  annotations:\n    k8s.aliyun.com/eci-imc-id: imc-nope\nspec:\n  containers:\n  - image: nginx\n",
            "ImageCacheNotFound: The specified image cache imc-nope does not exist.",
        ),
        ("kind: Service\nspec: {}\n", "Service"),
        (
            "kind: Pod\nspec:\n  containers:\n  - image: Nginx\n",
            "spec.containers[0].image",
        ),
        ("{\"kind\": \"Pod\",", "line 1"),
    ];
    for (pod, needle) in cases {
        let (out, err, ok) = matching(&[], &state, pod);
        assert!(!ok, "{pod:?} was accepted: {out}");
        assert!(out.is_empty());
        assert!(err.starts_with("eci-imagecache: "), "{err}");
        assert!(err.contains(needle), "{pod:?}: {err}");
    }
    // No state file: refused, not created.
    let missing = dir.join("nope.db");
    let (_, err, ok) = matching(&[], &missing, SHOP);
    assert!(!ok);
    assert!(err.contains("No such file"), "{err}");
    assert!(!missing.exists());
    // An empty file and a foreign text file: refused, and left exactly as
    // they were (the state is opened read only, its schema never written).
    for (name, bytes) in [
        ("empty.db", &b""[..]),
        ("notes.txt", &b"not a database\n"[..]),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let (_, err, ok) = matching(&[], &path, SHOP);
        assert!(!ok);
        assert!(err.contains("state store"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
}

/// `match` reads a state only when no process holds it: while a server
/// has it open, it is refused (a second reader never sees half a commit),
/// and the server goes on answering.
#[test]
fn a_state_a_server_holds_is_refused() {
    let dir = tmp("held");
    let state = state(&dir);
    let port = common::free_port();
    let mut server = Command::new(BIN)
        .args(common::serve_args(port, &state, &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_listening(([127, 0, 0, 1], port).into());
    let (out, err, ok) = matching(&[], &state, SHOP);
    assert!(!ok, "{out}");
    assert!(err.contains("in use by another process"), "{err}");
    let (status, _) = common::api(
        ([127, 0, 0, 1], port).into(),
        "DescribeImageCaches",
        &[("RegionId", "cn-hangzhou")],
    )
    .unwrap();
    assert_eq!(status, 200);
    server.kill().unwrap();
    server.wait().unwrap();
    // Free again: read.
    let (_, err, ok) = matching(&[], &state, SHOP);
    assert!(ok, "{err}");
}
