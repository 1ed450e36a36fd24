//! `oci-spec` is our differential-testing oracle, but it disagrees with
//! Docker on some inputs. This test pins exactly which conformance rows, so
//! the property tests' exclusions stay honest and a change in either parser
//! shows up here.

use std::collections::BTreeMap;
use std::str::FromStr;

use eci_imagecache::reference::Reference;

/// What oci-spec says about one input, in the vectors' terms: `None` for
/// rejected, else (registry, repository, tag, digest) with oci-spec's
/// implicit `latest` taken back out where Docker would print none.
fn oci_answer(input: &str) -> Option<(String, String, String, String)> {
    let r = oci_spec::distribution::Reference::from_str(input).ok()?;
    let written_tag = r
        .tag()
        .filter(|t| *t != "latest" || input.contains(":latest"));
    Some((
        r.registry().to_owned(),
        r.repository().to_owned(),
        written_tag.unwrap_or("").to_owned(),
        r.digest().unwrap_or("").to_owned(),
    ))
}

fn our_answer(input: &str) -> Option<(String, String, String, String)> {
    let r = Reference::parse(input).ok()?;
    Some((
        r.registry().to_owned(),
        r.repository().to_owned(),
        r.tag().unwrap_or("").to_owned(),
        r.digest().unwrap_or("").to_owned(),
    ))
}

#[test]
fn oci_spec_disagrees_exactly_on_the_listed_rows() {
    let listed: BTreeMap<&str, &str> = include_str!("../data/oci-spec-differences.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split_once('\t').expect("input<TAB>why"))
        .collect();
    let mut found = BTreeMap::new();
    let vectors = include_str!("../data/reference-vectors.tsv");
    for line in vectors.lines().skip(1) {
        let input = line.split('\t').next().unwrap();
        if oci_answer(input) != our_answer(input) {
            found.insert(
                input,
                format!("{:?} vs ours {:?}", oci_answer(input), our_answer(input)),
            );
        }
    }
    let missing: Vec<_> = found
        .iter()
        .filter(|(k, _)| !listed.contains_key(*k))
        .collect();
    let stale: Vec<_> = listed.keys().filter(|k| !found.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "not listed: {missing:#?}\nlisted but agreeing: {stale:#?}"
    );
    assert_eq!(found.len(), 25, "about 9 % of the 271 vectors");
}
