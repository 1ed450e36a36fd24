//! The official Alibaba Cloud Python SDKs against `eci-imagecache serve`
//! (`tests/sdk/test_sdk.py`): V3, V2, a wrong secret, the legacy SDK,
//! paging past the 20-a-page cap, unknown parameters (ignored, or
//! rejected under `--strict-params`), and the request history and metrics
//! of an SDK scenario (read with the Prometheus project's parser). The
//! virtual environment is made from PyPI by `tests/sdk/setup.sh` on first
//! use (`target/sdk-venv`).

use std::path::Path;
use std::process::Command;

#[test]
fn official_python_sdks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let venv = root.join("target").join("sdk-venv");
    let setup = Command::new("bash")
        .arg(root.join("tests/sdk/setup.sh"))
        .arg(&venv)
        .status()
        .expect("bash runs");
    assert!(
        setup.success(),
        "tests/sdk/setup.sh failed: python3 with venv and PyPI access are needed"
    );
    let out = Command::new(venv.join("bin/python"))
        .arg(root.join("tests/sdk/test_sdk.py"))
        .env("ECI_BIN", env!("CARGO_BIN_EXE_eci-imagecache"))
        .output()
        .expect("the venv's python runs");
    let report = String::from_utf8_lossy(&out.stderr);
    eprintln!("{report}");
    assert!(out.status.success(), "the SDK suite failed:\n{report}");
    assert!(
        report.contains("Ran 8 tests") && report.contains("\nOK"),
        "{report}"
    );
}
