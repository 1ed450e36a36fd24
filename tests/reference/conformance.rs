//! Every row of `tests/data/reference-vectors.tsv` (Docker's
//! `distribution/reference` answers, copied from `shared/conformance/`) must
//! agree with our parser, except the rows of
//! `tests/data/reference-known-differences.tsv`, each with its reason.

use std::collections::BTreeMap;

use eci_imagecache::reference::Reference;

struct Vector<'a> {
    line: usize,
    input: &'a str,
    expect_ok: bool,
    registry: &'a str,
    repository: &'a str,
    tag: &'a str,
    digest: &'a str,
}

#[track_caller]
fn vectors(text: &str) -> Vec<Vector<'_>> {
    text.lines()
        .enumerate()
        .skip(1) // header
        .map(|(i, line)| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 7, "line {}: {line:?}", i + 1);
            assert!(f[1] == "ok" || f[1] == "err", "line {}", i + 1);
            Vector {
                line: i + 1,
                input: f[0],
                expect_ok: f[1] == "ok",
                registry: f[2],
                repository: f[3],
                tag: f[4],
                digest: f[5],
            }
        })
        .collect()
}

#[track_caller]
fn known_differences(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (input, reason) = l.split_once('\t').expect("input<TAB>reason");
            assert!(!reason.trim().is_empty(), "{input:?} needs a reason");
            (input, reason)
        })
        .collect()
}

/// What went wrong with one row, or `None` when we agree with Docker.
fn disagreement(v: &Vector) -> Option<String> {
    match (Reference::parse(v.input), v.expect_ok) {
        (Ok(r), true) => {
            let got = (
                r.registry(),
                r.repository(),
                r.tag().unwrap_or(""),
                r.digest().unwrap_or(""),
            );
            let want = (v.registry, v.repository, v.tag, v.digest);
            (got != want).then(|| format!("got {got:?}, want {want:?}"))
        }
        (Ok(r), false) => Some(format!("accepted as {r}, Docker rejects it")),
        (Err(e), true) => Some(format!("rejected ({e}), Docker accepts it")),
        (Err(_), false) => None,
    }
}

#[test]
fn agrees_with_distribution_reference() {
    let vectors_text = include_str!("../data/reference-vectors.tsv");
    let known_text = include_str!("../data/reference-known-differences.tsv");
    let rows = vectors(vectors_text);
    let known = known_differences(known_text);
    assert_eq!(rows.len(), 271);

    let mut failures = Vec::new();
    let mut agreed = 0;
    for v in &rows {
        match (disagreement(v), known.get(v.input)) {
            (None, None) => agreed += 1,
            (Some(why), None) => failures.push(format!("line {} {:?}: {why}", v.line, v.input)),
            (None, Some(_)) => failures.push(format!(
                "line {} {:?} is listed as a known difference but agrees",
                v.line, v.input
            )),
            (Some(_), Some(_)) => {}
        }
    }
    for input in known.keys() {
        assert!(
            rows.iter().any(|v| v.input == *input),
            "known difference {input:?} is not a row of the vectors"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(agreed + known.len(), rows.len());
}

/// Every accepted row round-trips: the canonical form parses to an equal
/// reference, and the normalised form keeps "no tag written".
#[test]
fn accepted_rows_round_trip() {
    for v in vectors(include_str!("../data/reference-vectors.tsv")) {
        let Ok(r) = Reference::parse(v.input) else {
            continue;
        };
        let again = Reference::parse(r.as_str()).unwrap();
        assert_eq!(again, r, "{:?}", v.input);
        assert_eq!(again.as_str(), r.as_str());
        let normalized = Reference::parse(r.normalized()).unwrap();
        assert_eq!(normalized.tag(), r.tag(), "{:?}", v.input);
        assert_eq!(normalized.normalized(), r.normalized());
    }
}
