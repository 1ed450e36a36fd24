//! Property tests for references: round trips, idempotent normalisation,
//! agreement with `oci-spec` on the grammar both accept, no panics on any
//! input, and alias folding against a plain model of the table.

use std::str::FromStr;

use eci_imagecache::reference::{Reference, RegistryAliases};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

/// A reference built from parts, so the expected fields are known.
#[derive(Clone, Debug)]
struct Parts {
    registry: Option<String>,
    path: Vec<String>,
    tag: Option<String>,
    digest: Option<String>,
}

impl Parts {
    fn render(&self) -> String {
        let mut s = String::new();
        if let Some(r) = &self.registry {
            s.push_str(r);
            s.push('/');
        }
        s.push_str(&self.path.join("/"));
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    fn expected_registry(&self) -> &str {
        match self.registry.as_deref() {
            None | Some("index.docker.io") => "docker.io",
            Some(r) => r,
        }
    }

    fn expected_path(&self) -> String {
        let path = self.path.join("/");
        if self.expected_registry() == "docker.io" && self.path.len() == 1 {
            format!("library/{path}")
        } else {
            path
        }
    }
}

fn component() -> impl Strategy<Value = String> {
    let separator = prop_oneof![
        Just(".".to_owned()),
        Just("_".to_owned()),
        Just("__".to_owned()),
        "-{1,3}"
    ];
    (
        "[a-z0-9]{1,6}",
        prop::collection::vec((separator, "[a-z0-9]{1,6}"), 0..3),
    )
        .prop_map(|(first, rest)| {
            rest.into_iter()
                .fold(first, |acc, (sep, alnum)| acc + &sep + &alnum)
        })
}

fn dns_name(upper: bool) -> impl Strategy<Value = String> {
    let label = if upper {
        "[a-zA-Z0-9]([a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?"
    } else {
        "[a-z0-9]([a-z0-9-]{0,5}[a-z0-9])?"
    };
    prop::collection::vec(label, 2..4).prop_map(|labels| labels.join("."))
}

fn port() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[0-9]{1,5}")
}

/// Registries that Docker and oci-spec both parse the same way.
fn common_registry() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some("docker.io".to_owned())),
        1 => Just(Some("index.docker.io".to_owned())),
        1 => port().prop_map(|p| Some(p.map_or("localhost".to_owned(), |p| format!("localhost:{p}")))),
        3 => (dns_name(false), port()).prop_map(|(h, p)| Some(p.map_or(h.clone(), |p| format!("{h}:{p}")))),
    ]
}

/// Every registry form Docker accepts, including the ones oci-spec gets
/// wrong (IPv6 literals, upper-case hosts).
fn any_registry() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => common_registry(),
        1 => (dns_name(true), port()).prop_map(|(h, p)| Some(p.map_or(h.clone(), |p| format!("{h}:{p}")))),
        1 => ("[0-9a-fA-F]{0,4}:[0-9a-fA-F:]{0,16}", port()).prop_map(|(h, p)| Some(p.map_or(format!("[{h}]"), |p| format!("[{h}]:{p}")))),
        1 => "[A-Z][A-Za-z0-9]{0,5}".prop_map(Some),
    ]
}

fn digest() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-f]{64}".prop_map(|h| format!("sha256:{h}")),
        "[0-9a-f]{96}".prop_map(|h| format!("sha384:{h}")),
        "[0-9a-f]{128}".prop_map(|h| format!("sha512:{h}")),
    ]
}

fn parts(registry: impl Strategy<Value = Option<String>>) -> impl Strategy<Value = Parts> {
    (
        registry,
        prop::collection::vec(component(), 1..5),
        prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}"),
        prop::option::of(digest()),
    )
        .prop_map(|(registry, path, tag, digest)| Parts {
            registry,
            path,
            tag,
            digest,
        })
        // Without a registry, a first component with a dot would be read as
        // one (Docker's rule), so the parts would not describe the result.
        .prop_filter("first component would be a registry", |p| {
            p.registry.is_some()
                || p.path.len() == 1
                || !(p.path[0].contains('.') || p.path[0] == "localhost")
        })
        .prop_filter("path over 255", |p| p.expected_path().len() <= 255)
}

/// Inputs near the grammar: the characters references are made of, in any
/// order, so most inputs hit an error path somewhere.
fn near_grammar() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9./:@_\\-\\[\\]]{0,48}"
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn fields_are_the_parts(p in parts(any_registry())) {
        let input = p.render();
        let r = Reference::parse(&input).map_err(|e| TestCaseError::fail(format!("{input:?}: {e}")))?;
        prop_assert_eq!(r.registry(), p.expected_registry());
        prop_assert_eq!(r.repository(), p.expected_path());
        prop_assert_eq!(r.tag(), p.tag.as_deref());
        prop_assert_eq!(r.digest(), p.digest.as_deref());
    }

    #[test]
    fn parse_display_round_trips(p in parts(any_registry())) {
        let r = Reference::parse(&p.render()).unwrap();
        let displayed = r.to_string();
        prop_assert_eq!(displayed.as_str(), r.as_str());
        let again = Reference::parse(&displayed).unwrap();
        prop_assert_eq!(&again, &r);
        prop_assert_eq!(again.as_str(), r.as_str());
        prop_assert_eq!(again.registry(), r.registry());
        prop_assert_eq!(again.repository(), r.repository());
        prop_assert_eq!(again.digest(), r.digest());
        prop_assert_eq!(again.version(), r.version());
    }

    #[test]
    fn normalisation_is_idempotent(p in parts(any_registry())) {
        let r = Reference::parse(&p.render()).unwrap();
        let once = Reference::parse(r.normalized()).unwrap();
        prop_assert_eq!(once.normalized(), r.normalized());
        prop_assert_eq!(once.tag(), r.tag());
        let twice = Reference::parse(once.normalized()).unwrap();
        prop_assert_eq!(twice.normalized(), once.normalized());
        let rules = RegistryAliases::default();
        prop_assert_eq!(rules.exact_key(&once), rules.exact_key(&r));
    }

    /// On the grammar both accept, oci-spec reads the same fields (it adds
    /// `latest` at parse time). Excluded by construction, because oci-spec
    /// disagrees with Docker there: IPv6 hosts, upper-case first components,
    /// non-ASCII tags, bare 64-hex names, upper-case digest hex, `_` in a
    /// registry host.
    #[test]
    fn fields_agree_with_oci_spec(p in parts(common_registry())) {
        let input = p.render();
        let ours = Reference::parse(&input).unwrap();
        let theirs = oci_spec::distribution::Reference::from_str(&input)
            .map_err(|e| TestCaseError::fail(format!("oci-spec rejects {input:?}: {e}")))?;
        prop_assert_eq!(theirs.registry(), ours.registry());
        prop_assert_eq!(theirs.repository(), ours.repository());
        let tag_or_latest = ours.tag().or(ours.digest().is_none().then_some("latest"));
        prop_assert_eq!(theirs.tag(), tag_or_latest);
        prop_assert_eq!(theirs.digest(), ours.digest());
    }

    #[test]
    fn no_panic_and_sound_on_any_string(s in any::<String>()) {
        check_any(&s)?;
    }

    #[test]
    fn no_panic_and_sound_near_the_grammar(s in near_grammar()) {
        check_any(&s)?;
    }

    /// Strict keys only ever split what default keys join.
    #[test]
    fn strict_never_joins_more(a in parts(any_registry()), b in parts(any_registry())) {
        let (a, b) = (Reference::parse(&a.render()).unwrap(), Reference::parse(&b.render()).unwrap());
        let (default, strict) = (RegistryAliases::default(), RegistryAliases::strict());
        if strict.repo_key(&a) == strict.repo_key(&b) {
            prop_assert_eq!(default.repo_key(&a), default.repo_key(&b));
        }
    }
}

fn check_any(s: &str) -> Result<(), TestCaseError> {
    match Reference::parse(s) {
        Ok(r) => {
            let again = Reference::parse(r.as_str())
                .map_err(|e| TestCaseError::fail(format!("{s:?} → {r}: {e}")))?;
            prop_assert_eq!(&again, &r);
            let rules = RegistryAliases::default();
            let exact = rules.exact_key(&r);
            let repo = rules.repo_key(&r);
            prop_assert_eq!(exact.repo(), repo.as_str());
        }
        Err(e) => {
            prop_assert!(
                e.offset() <= s.len(),
                "{:?}: offset {} past the end",
                s,
                e.offset()
            );
            prop_assert!(!e.to_string().is_empty());
        }
    }
    Ok(())
}

/// A registry host in the model: what it is, and how it is spelled.
#[derive(Clone, Debug)]
struct Host {
    kind: u8,
    variant: u8,
    region: &'static str,
    name: &'static str,
    upper: bool,
}

impl Host {
    /// The spelling a user might write.
    fn written(&self) -> String {
        let (r, n) = (self.region, self.name);
        let v = self.variant;
        let host = match self.kind {
            0 => format!(
                "{}.{r}.aliyuncs.com",
                ["registry", "registry-vpc", "registry-internal"][v as usize % 3]
            ),
            1 => format!(
                "{}.{r}.aliyuncs.com",
                ["registry-intl", "registry-intl-vpc"][v as usize % 2]
            ),
            2 => format!(
                "crpi-{n}{}.{r}.personal.cr.aliyuncs.com",
                ["", "-vpc"][v as usize % 2]
            ),
            3 => format!(
                "{n}-registry{}.{r}.cr.aliyuncs.com",
                ["", "-vpc"][v as usize % 2]
            ),
            4 => ["docker.io", "index.docker.io"][v as usize % 2].to_owned(),
            5 => format!("{}.{r}.aliyuncs.com", ["cr", "cr-vpc"][v as usize % 2]),
            _ => format!("{n}.example.com"),
        };
        if self.upper {
            host.to_ascii_uppercase()
        } else {
            host
        }
    }

    /// The registry it is, written plainly: what the default rules must fold
    /// every spelling to.
    fn model_key(&self) -> String {
        let (r, n) = (self.region, self.name);
        match self.kind {
            0 => format!("registry.{r}.aliyuncs.com"),
            1 => format!("registry-intl.{r}.aliyuncs.com"),
            2 => format!("crpi-{n}.{r}.personal.cr.aliyuncs.com"),
            3 => format!("{n}-registry.{r}.cr.aliyuncs.com"),
            4 => "docker.io".to_owned(),
            _ => self.written().to_ascii_lowercase(),
        }
    }
}

fn host() -> impl Strategy<Value = Host> {
    (
        0u8..7,
        0u8..3,
        prop::sample::select(vec!["cn-hangzhou", "cn-shanghai", "ap-southeast-1"]),
        prop::sample::select(vec!["inst1", "inst2", "abc"]),
        any::<bool>(),
    )
        .prop_map(|(kind, variant, region, name, upper)| Host {
            kind,
            variant,
            region,
            name,
            upper,
        })
}

proptest! {
    #![proptest_config(config(4_000))]

    /// Default rules: same key exactly when the model says same registry.
    /// Strict rules: same key exactly when the hosts are spelled alike.
    #[test]
    fn folding_matches_the_model(a in host(), b in host(), path in component()) {
        let ra = Reference::parse(&format!("{}/ns/{path}", a.written())).unwrap();
        let rb = Reference::parse(&format!("{}/ns/{path}", b.written())).unwrap();
        let default = RegistryAliases::default();
        prop_assert_eq!(
            default.repo_key(&ra) == default.repo_key(&rb),
            a.model_key() == b.model_key(),
            "{} / {}", default.repo_key(&ra), default.repo_key(&rb)
        );
        let key = default.registry_key(ra.registry());
        prop_assert_eq!(key.as_str(), a.model_key());
        let strict = RegistryAliases::strict();
        // Docker's parser rewrites `index.docker.io` (lower case only).
        let spelled = |h: &Host| match h.written().as_str() {
            "index.docker.io" => "docker.io".to_owned(),
            s => s.to_ascii_lowercase(),
        };
        prop_assert_eq!(strict.repo_key(&ra) == strict.repo_key(&rb), spelled(&a) == spelled(&b));
    }
}

#[cfg(feature = "oci-spec")]
proptest! {
    #![proptest_config(config(1_000))]

    #[test]
    fn converts_to_oci_spec_and_back(p in parts(common_registry())) {
        let ours = Reference::parse(&p.render()).unwrap();
        let theirs = oci_spec::distribution::Reference::from(&ours);
        prop_assert_eq!(theirs.whole(), ours.as_str());
        let back = Reference::try_from(&theirs).unwrap();
        prop_assert_eq!(back, ours);
    }
}
