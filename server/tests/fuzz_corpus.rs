//! Replays the `signature_verify` fuzz corpus through the same check the
//! fuzz target runs.

#[path = "../../fuzz/src/signature.rs"]
mod signature;

#[test]
fn signature_verify_corpus() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut replayed = 0;
    for dir in [
        root.join("corpus/signature_verify"),
        root.join("regressions/signature_verify"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| signature::check_signature_verify(&data));
            assert!(outcome.is_ok(), "{} fails its fuzz checks", path.display());
            replayed += 1;
        }
    }
    // The 400 smallest inputs of the minimised corpus of the first run (4.2 M executions).
    assert!(replayed >= 350, "corpus missing: {replayed} inputs");
}
