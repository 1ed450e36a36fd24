//! `eci-imagecache match --pod FILE`: which image cache ECI would use for a
//! Pod (or a workload's pod template), and with `--explain` the ranked
//! candidates and why each lost. Nothing is recorded: the state is read,
//! never written.

use std::io::{self, Write};
use std::path::PathBuf;

use eci_imagecache::api::match_pod_body;
use eci_imagecache::clock::ManualClock;
use eci_imagecache::engine::{DEFAULT_ACCOUNT, Engine};
use eci_imagecache::reference::RegistryAliases;
use eci_imagecache::store::Store;
use serde_json::Value;

#[derive(clap::Args)]
pub struct MatchArgs {
    /// The Pod manifest (or a Deployment, StatefulSet, DaemonSet,
    /// ReplicaSet, Job or CronJob), JSON or YAML; `-` for standard input.
    #[arg(long, value_name = "FILE")]
    pod: PathBuf,
    /// The state to match against (a `serve --state` / `run --state` file;
    /// read only, and not while a server holds it).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Caches to match against (the JSON `eci-imagecache gen` prints),
    /// instead of or beside --state.
    #[arg(long, value_name = "FILE")]
    import: Option<PathBuf>,
    /// The region of the pod (default: the only region the caches are in).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// The time to match at (RFC 3339), for caches whose expiry or
    /// lifecycle depends on it; default: the state's manual clock, else now.
    #[arg(long, value_name = "RFC3339")]
    now: Option<jiff::Timestamp>,
    /// Do not fold registry endpoint variants.
    #[arg(long)]
    strict_references: bool,
    /// Also print every candidate, ranked, with why it lost, and the caches
    /// that match an image but are not candidates, with why.
    #[arg(long)]
    explain: bool,
    /// Print the decision as one JSON object (the emulator's `MatchPod`
    /// body) instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &MatchArgs) -> io::Result<()> {
    let text = if args.pod.as_os_str() == "-" {
        io::read_to_string(io::stdin())?
    } else {
        std::fs::read_to_string(&args.pod)
            .map_err(|e| io::Error::other(format!("--pod {}: {e}", args.pod.display())))?
    };
    let mut engine = engine(args).map_err(io::Error::other)?;
    engine.tick();
    let region = match &args.region {
        Some(region) => region.clone(),
        None => only_region(&engine)?,
    };
    let pod = eci_imagecache::pod::from_manifest(&text, &region)
        .map_err(|e| io::Error::other(format!("--pod {}: {e}", args.pod.display())))?;
    let body = match_pod_body(&engine, DEFAULT_ACCOUNT, &pod, args.explain, "")
        .map_err(|e| io::Error::other(format!("{}: {}", e.code().as_str(), e.message())))?;
    let mut out = io::stdout().lock();
    if args.json {
        let mut body = body;
        if let Some(o) = body.as_object_mut() {
            o.remove("RequestId");
        }
        writeln!(out, "{body}")?;
    } else {
        write_text(&mut out, &body)?;
    }
    out.flush()
}

fn engine(args: &MatchArgs) -> Result<Engine, String> {
    let mut builder = Engine::builder();
    if args.strict_references {
        builder = builder.aliases(RegistryAliases::strict());
    }
    let mut engine = match &args.state {
        Some(path) => {
            let mut store = Store::open_read_only(path).map_err(|e| format!("--state: {e}"))?;
            let saved = store.manual_clock().map_err(|e| format!("--state: {e}"))?;
            if let Some(at) = args.now.or(saved) {
                builder = builder.clock(ManualClock::new(at));
            }
            store.load(builder).map_err(|e| format!("--state: {e}"))?
        }
        None => {
            if let Some(at) = args.now {
                builder = builder.clock(ManualClock::new(at));
            }
            builder.build()
        }
    };
    if let Some(path) = &args.import {
        eci_imagecache_server::serve::import(&mut engine, path)?;
    }
    Ok(engine)
}

fn only_region(engine: &Engine) -> io::Result<String> {
    let mut regions = engine
        .regions()
        .filter(|(account, _)| *account == DEFAULT_ACCOUNT)
        .map(|(_, region)| region.to_owned());
    match (regions.next(), regions.next()) {
        (Some(region), None) => Ok(region),
        (None, _) => Err(io::Error::other(
            "no caches to match against: give --state or --import (and --region)",
        )),
        (Some(_), Some(_)) => Err(io::Error::other(
            "the caches are in several regions: name the pod's with --region",
        )),
    }
}

/// ", the first N shown" when a list was cut.
fn shown(listed: usize, total: u64) -> String {
    if (listed as u64) < total {
        format!(", the first {listed} shown")
    } else {
        String::new()
    }
}

/// The decision as text: the pod, the decision, the ranked candidates and
/// the caches that were not candidates.
fn write_text(out: &mut impl Write, body: &Value) -> io::Result<()> {
    write_pod(out, body)?;
    write_decision(out, body)?;
    write_candidates(out, body)?;
    write_excluded(out, body)
}

/// The string at `key` of `v` ("" when absent).
fn text<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key].as_str().unwrap_or_default()
}

/// The number at `key` of `v` (0 when absent).
fn number(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_default()
}

/// The manifest's own text, control characters escaped, so a manifest
/// cannot write terminal escapes.
fn clean(s: &str) -> String {
    if s.chars().any(char::is_control) {
        s.escape_debug().to_string()
    } else {
        s.to_owned()
    }
}

fn write_pod(out: &mut impl Write, body: &Value) -> io::Result<()> {
    let name = match (body["Name"].as_str(), body["Namespace"].as_str()) {
        (Some(name), Some(ns)) => format!("{}/{}", clean(ns), clean(name)),
        (Some(name), None) => clean(name),
        _ => "(unnamed)".to_owned(),
    };
    let images: Vec<&str> = body["Images"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    writeln!(
        out,
        "{} {name} in {}: {} image{}, temporary storage {} GiB",
        text(body, "Kind"),
        text(body, "RegionId"),
        images.len(),
        if images.len() == 1 { "" } else { "s" },
        number(body, "TemporaryStorageSize")
    )?;
    for image in &images {
        writeln!(out, "  {image}")?;
    }
    Ok(())
}

fn write_decision(out: &mut impl Write, body: &Value) -> io::Result<()> {
    let create = if body["WouldAutoCreate"] == Value::Bool(true) {
        "; a cache for the whole pod would be created beside it (no complete match)"
    } else {
        ""
    };
    match text(body, "Decision") {
        "Hit" => writeln!(
            out,
            "decision: use {} ({} of {} images exactly, {} partially; score {}){create}",
            text(body, "ImageCacheId"),
            number(body, "ExactMatchCount"),
            number(body, "DistinctImages"),
            number(body, "PartialMatchCount"),
            number(body, "Score"),
        ),
        "Miss" => writeln!(out, "decision: no cache fits{create}"),
        _ => writeln!(
            out,
            "decision: no image cache (k8s.aliyun.com/eci-auto-imc is \"false\" and no cache is named)"
        ),
    }
}

fn write_candidates(out: &mut impl Write, body: &Value) -> io::Result<()> {
    let Some(candidates) = body["Candidates"].as_array() else {
        return Ok(());
    };
    writeln!(
        out,
        "candidates, ranked ({}{}):",
        number(body, "CandidateCount"),
        shown(candidates.len(), number(body, "CandidateCount"))
    )?;
    for (i, c) in candidates.iter().enumerate() {
        let why = match c["Behind"].as_str() {
            Some(why) => format!("lost: {why}"),
            None => "chosen".to_owned(),
        };
        writeln!(
            out,
            "  {}. {}  F={} P={} size distance {} GiB, created {}, score {}: {why}",
            i + 1,
            text(c, "ImageCacheId"),
            number(c, "ExactMatchCount"),
            number(c, "PartialMatchCount"),
            number(c, "SizeDistance"),
            text(c, "CreationTime"),
            number(c, "Score"),
        )?;
    }
    Ok(())
}

fn write_excluded(out: &mut impl Write, body: &Value) -> io::Result<()> {
    let Some(excluded) = body["Excluded"].as_array().filter(|x| !x.is_empty()) else {
        return Ok(());
    };
    writeln!(
        out,
        "not candidates ({}{}):",
        number(body, "ExcludedCount"),
        shown(excluded.len(), number(body, "ExcludedCount"))
    )?;
    for x in excluded {
        writeln!(
            out,
            "  {}  F={} P={}: {}",
            text(x, "ImageCacheId"),
            number(x, "ExactMatchCount"),
            number(x, "PartialMatchCount"),
            text(x, "Reason"),
        )?;
    }
    Ok(())
}
