//! `reference_parse`: image references and registry keys.

use eci_imagecache::reference::{Reference, RegistryAliases};

/// Any bytes: parsing never panics; an accepted reference round-trips
/// through its canonical and normalised forms and has consistent keys; a
/// rejected one has an error pointing inside the input.
pub fn check_reference(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match Reference::parse(input) {
        Ok(r) => {
            let again = Reference::parse(r.as_str()).expect("canonical form parses");
            assert_eq!(again, r);
            assert_eq!(again.as_str(), r.as_str());
            assert_eq!(again.digest(), r.digest());
            let normalized = Reference::parse(r.normalized()).expect("normalised form parses");
            assert_eq!(normalized.normalized(), r.normalized());
            assert_eq!(normalized.tag(), r.tag());
            assert_eq!(format!("{}/{}", r.registry(), r.repository()), r.name());
            for rules in [RegistryAliases::default(), RegistryAliases::strict()] {
                let exact = rules.exact_key(&r);
                assert_eq!(exact.repo(), rules.repo_key(&r).as_str());
                assert_eq!(rules.exact_key(&again), exact);
            }
        }
        Err(e) => {
            assert!(e.offset() <= input.len(), "{input:?}: {e}");
            assert!(!e.to_string().is_empty());
        }
    }
    // Registry keys and aliases take any text without panicking.
    let (host, same_as) = input.split_once('\n').unwrap_or((input, "docker.io"));
    let rules = RegistryAliases::default().with_alias(host, same_as);
    assert_eq!(rules.registry_key(host), rules.registry_key(same_as));
    let _ = RegistryAliases::strict().registry_key(input);
}
