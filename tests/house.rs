//! Rules of the house that a test can hold: proptest's saved failure cases
//! sit where proptest reads them.

use std::path::Path;

/// Every test file with property tests, in `tests/` or a folder of it,
/// saves their failures beside itself as `<file>.regressions`
/// (`FileFailurePersistence::WithSource`), and every such file belongs to
/// a test file beside it: a file proptest never reads replays nothing.
#[test]
fn proptest_regression_files_are_where_proptest_reads_them() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut checked = 0;
    let mut folders = vec![tests];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            checked += check(&folder, &path);
        }
    }
    assert!(checked >= 4, "only {checked} regression files found");
}

/// Checks one file of `folder`: 1 for a regression file that belongs to a
/// test file reading it, else 0.
#[track_caller]
fn check(folder: &Path, path: &Path) -> usize {
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        !name.ends_with(".proptest-regressions"),
        "{name}: proptest reads `<test>.regressions` here (WithSource(\"regressions\"))"
    );
    if let Some(stem) = name.strip_suffix(".regressions") {
        let source = folder.join(format!("{stem}.rs"));
        let text = std::fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("{} belongs to no test file ({e})", path.display()));
        assert!(
            text.contains("WithSource(\"regressions\")"),
            "{} does not read {name}",
            source.display()
        );
        return 1;
    }
    if name.ends_with(".rs") && name != "house.rs" {
        let text = std::fs::read_to_string(path).unwrap();
        if text.contains("proptest!") || text.contains("TestRunner::new") {
            assert!(
                text.contains("WithSource(\"regressions\")"),
                "{} has property tests whose failures would be saved elsewhere",
                path.display()
            );
        }
    }
    0
}
