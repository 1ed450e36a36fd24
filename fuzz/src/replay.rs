//! Replaying committed fuzz inputs through a target's check.

use std::path::Path;

/// Runs `check` on every file in each of `folders` (paths under `fuzz`, the
/// fuzz crate's folder, such as `corpus/state_load`) and returns how many
/// inputs ran.
///
/// # Panics
///
/// When a named folder is missing or unreadable (the message names it: a
/// corpus that went missing must not pass as an empty one), or when an
/// input fails the check (the message names the input's file).
pub fn replay(fuzz: &Path, folders: &[&str], check: fn(&[u8])) -> usize {
    let mut replayed = 0;
    for folder in folders {
        let dir = fuzz.join(folder);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read the fuzz folder {}: {e}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path();
            let data = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{} fails its fuzz checks", path.display());
            replayed += 1;
        }
    }
    replayed
}
