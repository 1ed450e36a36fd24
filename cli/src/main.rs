//! `eci-imagecache`: the command line of the eci-imagecache library.

mod generate;
mod matching;
mod reference;
mod run;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The query-and-matching engine behind Alibaba Cloud ECI image caches.
#[derive(Parser)]
#[command(name = "eci-imagecache", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Normalise image references: one JSON object per line, for each
    /// argument or else each line of standard input.
    Ref(reference::RefArgs),
    /// Generate the seeded benchmark workload: N caches as one JSON document
    /// in the DescribeImageCaches response shape.
    Gen(generate::GenArgs),
    /// Answer API calls: each line of standard input is one call's flat
    /// parameters as a JSON object with `Action` (or `{"AdvanceClock":
    /// SECONDS}`); each answer is one line `{"HttpStatus", "Body"}`.
    Run(run::RunArgs),
    /// Which image cache ECI would use for a Pod manifest (JSON or YAML),
    /// against a state or imported caches; --explain ranks every candidate
    /// and says why each lost. Records nothing.
    Match(matching::MatchArgs),
    /// Serve the ECI image-cache API over HTTP (an emulator any ECI client
    /// can point at), with emulator control on /_emulator/….
    Serve(serve::ServeArgs),
}

/// An `ECI_IMAGECACHE_*` variable set to nothing counts as unset, as a
/// CI template's `${VAR}` with `VAR` undefined gives one: not an error, and
/// never an empty control token.
fn forget_empty_settings() {
    let empty: Vec<std::ffi::OsString> = std::env::vars_os()
        .filter(|(name, value)| {
            name.to_str()
                .is_some_and(|n| n.starts_with("ECI_IMAGECACHE_"))
                && value.to_str().is_some_and(|v| v.trim().is_empty())
        })
        .map(|(name, _)| name)
        .collect();
    for name in empty {
        // SAFETY: the first thing main does, before any other thread
        // exists to read the environment at the same time.
        unsafe { std::env::remove_var(name) };
    }
}

fn main() -> ExitCode {
    forget_empty_settings();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ref(args) => reference::run(&args),
        Command::Gen(args) => generate::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Match(args) => matching::run(&args),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`… | head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eci-imagecache: {e}");
            ExitCode::FAILURE
        }
    }
}
