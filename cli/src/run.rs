//! `eci-imagecache run`: answers API calls given as JSON lines.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;

use eci_imagecache::ApiError;
use eci_imagecache::api::{Reply, call};
use eci_imagecache::clock::ManualClock;
use eci_imagecache::engine::{DEFAULT_ACCOUNT, Engine, EngineBuilder};
use eci_imagecache::ids::RequestIds;
use eci_imagecache::reference::RegistryAliases;
use eci_imagecache::store::Store;
use serde_json::{Map, Value, json};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The state store (SQLite; created if missing): every line's change is
    /// committed before its answer is written.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Start a manual clock at this time (RFC 3339); else the system clock.
    /// A --state made on a manual clock resumes it at its saved time.
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    /// Make ids and request ids the same on every run.
    #[arg(long)]
    seed: Option<u64>,
    /// New caches are Ready at once.
    #[arg(long)]
    instant: bool,
    /// Caches per region (default 50).
    #[arg(long)]
    quota: Option<usize>,
    /// Do not fold registry endpoint variants.
    #[arg(long)]
    strict_references: bool,
    /// The most caches a DescribeImageCaches page holds (default 20).
    #[arg(long, value_name = "N", default_value_t = eci_imagecache::limits::DEFAULT_PAGE_SIZE,
          value_parser = clap::value_parser!(u32).range(1..))]
    page_cap: u32,
    /// Reject parameters an action does not know (default: ignored, and
    /// named on standard error).
    #[arg(long)]
    strict_params: bool,
}

pub fn run(args: &RunArgs) -> io::Result<()> {
    let (mut engine, mut store, builder) = build(args).map_err(io::Error::other)?;
    let mut request_ids = match args.seed {
        Some(seed) => RequestIds::seeded(seed),
        None => RequestIds::random(),
    };
    let stdin = io::stdin();
    let mut out = io::BufWriter::new(io::stdout().lock());
    for line in stdin.lock().split(b'\n') {
        let line = line?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut reply = answer(&mut engine, line, &mut request_ids);
        if let Some(store) = &mut store
            && let Err(e) = store.commit(&mut engine)
        {
            // Not durable, so undone: the line gets an error, the engine is
            // what the store holds.
            eprintln!("eci-imagecache run: {e}");
            engine = store.load(builder()).map_err(io::Error::other)?;
            reply = Reply::error(
                reply
                    .body
                    .get("RequestId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                &ApiError::internal(),
            );
        }
        if !reply.ignored_params.is_empty() {
            eprintln!(
                "eci-imagecache run: ignored parameters the action does not know: {:?}",
                reply.ignored_params
            );
        }
        let written = serde_json::to_writer(&mut out, &reply)
            .map_err(io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        if let Err(e) = written {
            // Every change so far is committed; stop reading. Not a quiet
            // success (as for `ref | head`): the lines left were not run.
            return Err(io::Error::other(format!(
                "standard output closed ({e}): the lines after the last answer were not run; every change answered is saved"
            )));
        }
    }
    Ok(())
}

type Builder = Box<dyn Fn() -> EngineBuilder>;

fn build(args: &RunArgs) -> Result<(Engine, Option<Store>, Builder), String> {
    let now = match &args.now {
        Some(now) => Some(
            now.parse::<jiff::Timestamp>()
                .map_err(|e| format!("--now {now:?}: {e}"))?,
        ),
        None => None,
    };
    let mut store = match &args.state {
        Some(path) => Some(Store::open(path).map_err(|e| format!("--state: {e}"))?),
        None => None,
    };
    let saved_clock = match &store {
        Some(store) => store.manual_clock().map_err(|e| format!("--state: {e}"))?,
        None => None,
    };
    // A manual clock when saved or asked for: the saved time is part of the
    // state, so `--now` only starts the clock of a new state.
    let clock = saved_clock.or(now).map(ManualClock::new);
    let (instant, seed, quota, strict) =
        (args.instant, args.seed, args.quota, args.strict_references);
    let (page_cap, strict_params) = (args.page_cap, args.strict_params);
    let builder: Builder = Box::new(move || {
        let mut builder = Engine::builder()
            .instant(instant)
            .page_cap(page_cap)
            .strict_params(strict_params);
        if let Some(seed) = seed {
            builder = builder.seed(seed);
        }
        if let Some(quota) = quota {
            builder = builder.quota(quota);
        }
        if strict {
            builder = builder.aliases(RegistryAliases::strict());
        }
        if let Some(clock) = &clock {
            builder = builder.clock(clock.clone());
        }
        builder
    });
    let mut engine = match &mut store {
        Some(store) => store.load(builder()).map_err(|e| format!("--state: {e}"))?,
        None => builder().build(),
    };
    if let Some(store) = &mut store {
        store
            .commit(&mut engine)
            .map_err(|e| format!("--state: {e}"))?;
    }
    Ok((engine, store, builder))
}

fn answer(engine: &mut Engine, line: &[u8], request_ids: &mut RequestIds) -> Reply {
    let request_id = request_ids.next_id();
    let bad = |request_id: String, reason: &str| {
        Reply::error(
            request_id,
            &ApiError::new(eci_imagecache::ErrorCode::InvalidParameter, reason),
        )
    };
    let object: Map<String, Value> = match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(_)) => match serde_json::from_slice::<Fields>(line) {
            Ok(Fields(o)) => o,
            Err(e) => return bad(request_id, &format!("The line is not valid: {e}.")),
        },
        Ok(_) => return bad(request_id, "Each line must be a JSON object."),
        Err(e) => return bad(request_id, &format!("The line is not valid JSON: {e}.")),
    };
    let clock_keys = ["AdvanceClock", "SetClock"];
    if clock_keys.iter().any(|k| object.contains_key(*k)) && object.len() > 1 {
        return bad(
            request_id,
            "A clock line holds only AdvanceClock or SetClock, nothing else.",
        );
    }
    if let Some(by) = object.get("AdvanceClock") {
        let Some(clock) = manual(engine) else {
            return bad(request_id, "AdvanceClock needs a manual clock (--now).");
        };
        let Some(seconds) = by.as_i64() else {
            return bad(request_id, "AdvanceClock takes a whole number of seconds.");
        };
        clock.advance_secs(seconds);
        return clock_reply(engine, request_id);
    }
    if let Some(at) = object.get("SetClock") {
        let Some(clock) = manual(engine) else {
            return bad(request_id, "SetClock needs a manual clock (--now).");
        };
        match at.as_str().map(str::parse::<jiff::Timestamp>) {
            Some(Ok(t)) => clock.set(t),
            _ => return bad(request_id, "SetClock takes an RFC 3339 time."),
        }
        return clock_reply(engine, request_id);
    }
    let mut params = Vec::with_capacity(object.len());
    let mut action = None;
    for (name, value) in object {
        let text = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return bad(
                    request_id,
                    &format!("Parameter {name:?} must be a string, a number or a boolean."),
                );
            }
        };
        if name == "Action" {
            action = Some(text);
        } else {
            params.push((name, text));
        }
    }
    match action {
        Some(action) => call(engine, DEFAULT_ACCOUNT, &action, params, request_id),
        None => Reply::error(request_id, &ApiError::missing("Action")),
    }
}

/// A JSON object whose keys are all different (serde_json keeps the last
/// of duplicates silently; a call must not lose a parameter that way).
struct Fields(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields, A::Error> {
                let mut out = Map::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    if out.contains_key(&key) {
                        return Err(serde::de::Error::custom(format_args!(
                            "the key {key:?} is given more than once"
                        )));
                    }
                    out.insert(key, value);
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

fn manual(engine: &Engine) -> Option<ManualClock> {
    engine.clock().as_manual().cloned()
}

fn clock_reply(engine: &mut Engine, request_id: String) -> Reply {
    engine.tick();
    Reply::new(
        200,
        json!({
            "RequestId": request_id,
            "Now": eci_imagecache::wire::format_time(engine.now()),
        }),
    )
}
