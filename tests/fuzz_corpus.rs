//! Replays the committed fuzz corpora and crash regressions through the same
//! checks the fuzz targets run, so every `cargo test` covers them without
//! cargo-fuzz.

#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for dir in [
        root.join("corpus").join(target),
        root.join("regressions").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{} fails its fuzz checks", path.display());
            replayed += 1;
        }
    }
    replayed
}

#[test]
fn reference_parse_corpus() {
    let replayed = replay("reference_parse", checks::check_reference);
    // The committed corpus is the minimised result of the fuzz runs (333
    // inputs after the first); far fewer means it went missing.
    assert!(replayed >= 300, "corpus missing: {replayed} inputs");
}

#[test]
fn rpc_describe_corpus() {
    // The minimised corpus of the first fuzz run: 798 inputs.
    assert!(replay("rpc_describe", checks::check_rpc_describe) >= 700);
}

#[test]
fn next_token_corpus() {
    // The minimised corpus of the first fuzz run: 67 inputs.
    assert!(replay("next_token", checks::check_next_token) >= 60);
}

#[test]
fn api_call_corpus() {
    // The 600 smallest inputs of the minimised corpus of the first run (2.2 M executions).
    assert!(replay("api_call", checks::check_api_call) >= 550);
}

#[test]
fn state_load_corpus() {
    // The 400 smallest inputs of the minimised corpus of the first run (17.6 M executions).
    assert!(replay("state_load", checks::check_state_load) >= 350);
}

#[cfg(feature = "pod")]
#[test]
fn pod_manifest_corpus() {
    // Every fifth input by size of the minimised corpus of the first clean
    // run (4.0 M executions, 2409 inputs), and the seeds: 490 inputs.
    assert!(replay("pod_manifest", checks::check_pod_manifest) >= 450);
}
