//! Rules of the house that a test can hold: proptest's saved failure cases
//! sit where proptest reads them.

use std::path::Path;

/// Every test file with property tests saves their failures beside itself
/// as `<file>.regressions` (`FileFailurePersistence::WithSource`), and
/// every such file beside a test belongs to one: a file proptest never
/// reads replays nothing.
#[test]
fn proptest_regression_files_are_where_proptest_reads_them() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut checked = 0;
    for entry in std::fs::read_dir(&tests).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            !name.ends_with(".proptest-regressions"),
            "{name}: proptest reads `<test>.regressions` here (WithSource(\"regressions\"))"
        );
        if let Some(stem) = name.strip_suffix(".regressions") {
            let source = tests.join(format!("{stem}.rs"));
            let text = std::fs::read_to_string(&source)
                .unwrap_or_else(|e| panic!("{name} belongs to no test file ({e})"));
            assert!(
                text.contains("WithSource(\"regressions\")"),
                "{} does not read {name}",
                source.display()
            );
            checked += 1;
        } else if name.ends_with(".rs") && name != "house.rs" {
            let text = std::fs::read_to_string(&path).unwrap();
            if text.contains("proptest!") || text.contains("TestRunner::new") {
                assert!(
                    text.contains("WithSource(\"regressions\")"),
                    "{name} has property tests whose failures would be saved elsewhere"
                );
            }
        }
    }
    assert!(checked >= 4, "only {checked} regression files found");
}
