//! Replays the `signature_verify` fuzz corpus through the same check the
//! fuzz target runs.

#[path = "../../fuzz/src/replay.rs"]
mod replay;
#[path = "../../fuzz/src/signature_verify.rs"]
mod signature_verify;

#[test]
fn signature_verify_corpus() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let replayed = replay::replay(
        &fuzz,
        &["corpus/signature_verify", "regressions/signature_verify"],
        signature_verify::check_signature_verify,
    );
    // The 400 smallest inputs of the minimised corpus of the first run (4.2 M executions).
    assert!(replayed >= 350, "corpus missing: {replayed} inputs");
}
