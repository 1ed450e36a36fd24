//! Replays the committed fuzz corpora and crash regressions through the same
//! checks the fuzz targets run, so every `cargo test` covers them without
//! cargo-fuzz.

#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::path::Path;

/// The target's committed corpus and crash regressions through its check.
/// Both folders must be there: every target has a regressions folder (an
/// empty input where no crash was ever found).
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let folders = [format!("corpus/{target}"), format!("regressions/{target}")];
    checks::replay(&fuzz, &folders.each_ref().map(String::as_str), check)
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
fn json_wire_corpus() {
    // The seeds (the seed page's response, requests good and bad) and the
    // 400 smallest inputs of the minimised corpus of the first run (25 M
    // executions in 300 s, 3 957 inputs): 404 inputs.
    assert!(replay("json_wire", checks::check_json_wire) >= 380);
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

#[test]
#[should_panic(expected = "fuzz/corpus/no_such_target")]
fn a_missing_corpus_folder_fails_the_replay_and_is_named() {
    replay("no_such_target", |_| {});
}
