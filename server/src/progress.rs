//! Progress of long start-up work (loading a state, reading and importing
//! a large file) on standard error, by `indicatif`: drawn only when
//! standard error is a terminal, so logs, pipes and CI stay quiet.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether progress is drawn: standard error is a terminal.
pub fn shown() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr())
}

fn target() -> ProgressDrawTarget {
    if shown() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A spinner saying what runs, with the time it has taken; cleared when
/// dropped.
pub fn spinner(message: String) -> Cleared {
    let bar = ProgressBar::with_draw_target(None, target());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    Cleared(bar)
}

/// A bar counting `total` items.
pub fn counter(total: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), target());
    bar.set_style(
        ProgressStyle::with_template("{msg} {wide_bar} {human_pos}/{human_len} ({eta})")
            .expect("a valid template"),
    );
    bar.set_message(message);
    bar
}

/// Reads a whole file, with a bar of the bytes read.
///
/// # Errors
///
/// Opening or reading fails.
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    // A FIFO or a device says 0: the bar then counts without a length.
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::with_draw_target((length > 0).then_some(length), target());
    bar.set_style(
        ProgressStyle::with_template(
            "reading {msg} {wide_bar} {binary_bytes}/{binary_total_bytes}",
        )
        .expect("a valid template"),
    );
    bar.set_message(path.display().to_string());
    let mut bytes = Vec::with_capacity(length as usize);
    bar.wrap_read(file).read_to_end(&mut bytes)?;
    bar.finish_and_clear();
    Ok(bytes)
}

/// A progress bar cleared from the terminal when dropped.
#[derive(Debug)]
pub struct Cleared(ProgressBar);

impl Drop for Cleared {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
