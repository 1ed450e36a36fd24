//! `eci-imagecache ref`: normalise references, one JSON object per line.

use std::io::{self, BufRead, BufWriter, Write};

use clap::Args;
use eci_imagecache::reference::{Reference, RegistryAliases};
use serde::Serialize;

#[derive(Args)]
pub struct RefArgs {
    /// References to normalise; with none, every line of standard input.
    references: Vec<String>,
    /// Keep registry endpoint variants apart (no alias folding).
    #[arg(long)]
    strict: bool,
    /// Treat HOST as the same registry as SAME_AS, as
    /// `AcrRegistryInfo.N.Domain` does. Repeatable.
    #[arg(long, value_name = "HOST=SAME_AS", value_parser = parse_alias)]
    alias: Vec<(String, String)>,
    /// Count `registry-1.docker.io` as Docker Hub.
    #[arg(long)]
    docker_hub_registry_1: bool,
}

fn parse_alias(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((host, same_as)) if !host.is_empty() && !same_as.is_empty() => {
            Ok((host.to_owned(), same_as.to_owned()))
        }
        _ => Err(format!("expected HOST=SAME_AS, got {s:?}")),
    }
}

/// One output line. Absent values are `null`.
#[derive(Serialize)]
struct Line<'a> {
    input: &'a str,
    ok: bool,
    registry: Option<&'a str>,
    repository: Option<&'a str>,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
    canonical: Option<&'a str>,
    repo_key: Option<&'a str>,
    exact_key: Option<&'a str>,
    error: Option<String>,
}

impl<'a> Line<'a> {
    fn error(input: &'a str, error: String) -> Self {
        Line {
            input,
            ok: false,
            registry: None,
            repository: None,
            tag: None,
            digest: None,
            canonical: None,
            repo_key: None,
            exact_key: None,
            error: Some(error),
        }
    }
}

/// Normalises references and writes their lines, reusing one key buffer.
struct Normaliser {
    rules: RegistryAliases,
    key: String,
}

impl Normaliser {
    fn write_line(&mut self, input: &str, out: &mut impl Write) -> io::Result<()> {
        match Reference::parse(input) {
            Ok(r) => {
                let repo_len = self.rules.write_exact_key(&r, &mut self.key);
                let line = Line {
                    input,
                    ok: true,
                    registry: Some(r.registry()),
                    repository: Some(r.repository()),
                    tag: r.tag(),
                    digest: r.digest(),
                    canonical: Some(r.as_str()),
                    repo_key: Some(&self.key[..repo_len]),
                    exact_key: Some(&self.key),
                    error: None,
                };
                write_json(&line, out)
            }
            Err(e) => write_json(&Line::error(input, e.to_string()), out),
        }
    }
}

fn write_json(line: &Line, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")
}

pub fn run(args: &RefArgs) -> io::Result<()> {
    let mut rules = if args.strict {
        RegistryAliases::strict()
    } else {
        RegistryAliases::default()
    }
    .with_docker_hub_registry_1(args.docker_hub_registry_1);
    for (host, same_as) in &args.alias {
        rules.add_alias(host, same_as);
    }
    let mut normaliser = Normaliser {
        rules,
        key: String::new(),
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());

    if !args.references.is_empty() {
        for input in &args.references {
            normaliser.write_line(input, &mut out)?;
        }
        return out.flush();
    }

    // Stream standard input: one line in, one line out, never holding more
    // than one line. Output is flushed whenever input would block, so an
    // interactive caller sees each answer at once.
    let stdin = io::stdin();
    let mut input = io::BufReader::with_capacity(64 * 1024, stdin.lock());
    let mut raw = Vec::new();
    loop {
        if input.buffer().is_empty() {
            out.flush()?;
        }
        raw.clear();
        if input.read_until(b'\n', &mut raw)? == 0 {
            break;
        }
        let mut line = raw.as_slice();
        line = line.strip_suffix(b"\n").unwrap_or(line);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        match std::str::from_utf8(line) {
            Ok(text) => normaliser.write_line(text, &mut out)?,
            Err(e) => {
                let text = String::from_utf8_lossy(line);
                let error = format!("line is not valid UTF-8 (at byte {})", e.valid_up_to());
                write_json(&Line::error(&text, error), &mut out)?;
            }
        }
    }
    out.flush()
}
