//! Table tests for parsing and normalisation: accepted forms with every
//! field, and rejected forms with the error kind and byte offset.

use eci_imagecache::reference::{ErrorKind, Reference, Version};

const H64: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

/// (input, canonical, registry, repository, tag as written, digest)
type Accepted = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

const ACCEPTED: &[Accepted] = &[
    (
        "nginx",
        "docker.io/library/nginx:latest",
        "docker.io",
        "library/nginx",
        None,
        None,
    ),
    (
        "nginx:latest",
        "docker.io/library/nginx:latest",
        "docker.io",
        "library/nginx",
        Some("latest"),
        None,
    ),
    (
        "nginx:1.25-alpine",
        "docker.io/library/nginx:1.25-alpine",
        "docker.io",
        "library/nginx",
        Some("1.25-alpine"),
        None,
    ),
    (
        "org/app:v3",
        "docker.io/org/app:v3",
        "docker.io",
        "org/app",
        Some("v3"),
        None,
    ),
    (
        "docker.io/nginx",
        "docker.io/library/nginx:latest",
        "docker.io",
        "library/nginx",
        None,
        None,
    ),
    (
        "index.docker.io/org/app",
        "docker.io/org/app:latest",
        "docker.io",
        "org/app",
        None,
        None,
    ),
    (
        "localhost/app",
        "localhost/app:latest",
        "localhost",
        "app",
        None,
        None,
    ),
    (
        "localhost:5000",
        "docker.io/library/localhost:5000",
        "docker.io",
        "library/localhost",
        Some("5000"),
        None,
    ),
    (
        "example.com",
        "docker.io/library/example.com:latest",
        "docker.io",
        "library/example.com",
        None,
        None,
    ),
    (
        "Registry.Example.com:443/a/b/c:TAG_1",
        "Registry.Example.com:443/a/b/c:TAG_1",
        "Registry.Example.com:443",
        "a/b/c",
        Some("TAG_1"),
        None,
    ),
    (
        "[::1]:5000/app",
        "[::1]:5000/app:latest",
        "[::1]:5000",
        "app",
        None,
        None,
    ),
    (
        "[2001:DB8::1]/app",
        "[2001:DB8::1]/app:latest",
        "[2001:DB8::1]",
        "app",
        None,
        None,
    ),
    (
        "a__b/c---d/e.f_g:_",
        "docker.io/a__b/c---d/e.f_g:_",
        "docker.io",
        "a__b/c---d/e.f_g",
        Some("_"),
        None,
    ),
];

#[test]
fn accepted_forms() {
    for &(input, canonical, registry, repository, tag, digest) in ACCEPTED {
        let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(r.as_str(), canonical, "{input:?}");
        assert_eq!(r.to_string(), canonical, "{input:?}");
        assert_eq!(r.registry(), registry, "{input:?}");
        assert_eq!(r.repository(), repository, "{input:?}");
        assert_eq!(r.name(), format!("{registry}/{repository}"), "{input:?}");
        assert_eq!(r.tag(), tag, "{input:?}");
        assert_eq!(r.digest(), digest, "{input:?}");
        assert_eq!(
            r.is_name_only(),
            tag.is_none() && digest.is_none(),
            "{input:?}"
        );
    }
}

#[test]
fn digests() {
    for (algorithm, len) in [("sha256", 64), ("sha384", 96), ("sha512", 128)] {
        let hex = "0123456789abcdef".repeat(8)[..len].to_owned();
        let digest = format!("{algorithm}:{hex}");
        let r = Reference::parse(&format!("app@{digest}")).unwrap();
        assert_eq!(r.digest(), Some(digest.as_str()));
        assert_eq!(r.tag(), None);
        assert_eq!(r.version(), Version::Digest(&digest));
        assert_eq!(r.as_str(), format!("docker.io/library/app@{digest}"));
        assert!(!r.is_name_only());
        let both = Reference::parse(&format!("app:v1@{digest}")).unwrap();
        assert_eq!(both.tag(), Some("v1"));
        assert_eq!(both.version(), Version::Digest(&digest));
        assert_eq!(both.as_str(), format!("docker.io/library/app:v1@{digest}"));
    }
    let r = Reference::parse("app:v2").unwrap();
    assert_eq!(r.version(), Version::Tag("v2"));
    assert_eq!(
        Reference::parse("app").unwrap().version(),
        Version::Tag("latest")
    );
}

/// (input, error kind, byte offset)
const REJECTED: &[(&str, ErrorKind, usize)] = &[
    ("", ErrorKind::Empty, 0),
    ("nginx:1.0ä", ErrorKind::NonAscii, 9),
    ("ünicode/app", ErrorKind::NonAscii, 0),
    (H64, ErrorKind::HexIdentifier, 0),
    ("my_registry.com/app", ErrorKind::InvalidRegistryHost, 2),
    ("-bad.com/app", ErrorKind::InvalidRegistryHost, 0),
    ("bad-.com/app", ErrorKind::InvalidRegistryHost, 3),
    ("bad..com/app", ErrorKind::InvalidRegistryHost, 4),
    ("[]:5000/app", ErrorKind::InvalidRegistryHost, 1),
    ("[fe80::1%eth0]:5000/app", ErrorKind::InvalidRegistryHost, 8),
    ("[::1]5000/app", ErrorKind::InvalidRegistryHost, 5),
    ("fc00::1:5000/app", ErrorKind::InvalidRegistryPort, 5),
    ("example.com:/app", ErrorKind::InvalidRegistryPort, 12),
    ("example.com:http/app", ErrorKind::InvalidRegistryPort, 12),
    (":tag", ErrorKind::EmptyPathComponent, 0),
    ("a//b", ErrorKind::EmptyPathComponent, 2),
    ("docker/", ErrorKind::EmptyPathComponent, 7),
    ("example.com/", ErrorKind::EmptyPathComponent, 12),
    ("Nginx", ErrorKind::UppercaseInPath, 0),
    ("docker.io/library/Nginx", ErrorKind::UppercaseInPath, 18),
    ("org/apP", ErrorKind::UppercaseInPath, 6),
    ("a.B", ErrorKind::UppercaseInPath, 2),
    ("a$b", ErrorKind::InvalidPathCharacter, 1),
    ("a/b~c", ErrorKind::InvalidPathCharacter, 3),
    ("_a", ErrorKind::MisplacedSeparator, 0),
    ("a_", ErrorKind::MisplacedSeparator, 1),
    ("a..b", ErrorKind::MisplacedSeparator, 2),
    ("a___b", ErrorKind::MisplacedSeparator, 3),
    ("a-.b", ErrorKind::MisplacedSeparator, 2),
    ("a-/b", ErrorKind::MisplacedSeparator, 1),
    ("nginx:", ErrorKind::EmptyTag, 6),
    ("nginx:@sha256:00", ErrorKind::EmptyTag, 6),
    ("nginx:.x", ErrorKind::InvalidTagCharacter, 6),
    ("nginx:-x", ErrorKind::InvalidTagCharacter, 6),
    ("nginx:a:b", ErrorKind::InvalidTagCharacter, 7),
    ("org/nginx:a/b", ErrorKind::InvalidTagCharacter, 11),
    // `nginx:a` before a `/` is a registry with a port, as in Docker.
    ("nginx:a/b", ErrorKind::InvalidRegistryPort, 6),
    ("nginx@", ErrorKind::MissingDigestSeparator, 6),
    ("nginx@sha256", ErrorKind::MissingDigestSeparator, 12),
    (
        "nginx@md5:0123456789abcdef0123456789abcdef",
        ErrorKind::UnsupportedDigestAlgorithm,
        6,
    ),
    (
        "nginx@SHA256:0000",
        ErrorKind::UnsupportedDigestAlgorithm,
        6,
    ),
    ("nginx@sha256:ABCD", ErrorKind::InvalidDigestCharacter, 13),
    ("nginx@sha256:abcd", ErrorKind::InvalidDigestLength, 13),
    ("nginx@sha256:abcd@x", ErrorKind::InvalidDigestCharacter, 17),
];

#[test]
fn rejected_forms() {
    for &(input, kind, offset) in REJECTED {
        match Reference::parse(input) {
            Ok(r) => panic!("{input:?} accepted as {r}"),
            Err(e) => {
                assert_eq!((e.kind(), e.offset()), (kind, offset), "{input:?}: {e}");
                assert!(offset <= input.len());
            }
        }
    }
}

#[test]
fn length_limits() {
    // 255 characters of path, counted with Docker Hub's `library/`.
    let name = "a".repeat(255 - "library/".len());
    assert!(Reference::parse(&name).is_ok());
    let err = Reference::parse(&format!("{name}a")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PathTooLong);
    let path = "b".repeat(255);
    assert!(Reference::parse(&format!("example.com/{path}")).is_ok());
    assert_eq!(
        Reference::parse(&format!("example.com/{path}b"))
            .unwrap_err()
            .kind(),
        ErrorKind::PathTooLong
    );
    // The registry does not count.
    let host = format!("{}.com", "h".repeat(300));
    assert!(Reference::parse(&format!("{host}/{path}")).is_ok());
    // Tags: 128 characters.
    let tag = "t".repeat(128);
    assert_eq!(
        Reference::parse(&format!("app:{tag}")).unwrap().tag(),
        Some(tag.as_str())
    );
    let err = Reference::parse(&format!("app:{tag}t")).unwrap_err();
    assert_eq!((err.kind(), err.offset()), (ErrorKind::TagTooLong, 4 + 128));
}

#[test]
fn error_messages() {
    let cases = [
        ("", "image reference is empty (at byte 0)"),
        (
            "a$b",
            "invalid character in repository path: found '$' at byte 1",
        ),
        (
            "nginx:1.0ä",
            "image reference must be ASCII: found 'ä' at byte 9",
        ),
        (
            "nginx@sha256:abcd",
            "digest has the wrong length for its algorithm (at byte 13)",
        ),
        (
            "my_registry.com/app",
            "invalid registry host: found '_' at byte 2",
        ),
    ];
    for (input, message) in cases {
        assert_eq!(Reference::parse(input).unwrap_err().to_string(), message);
    }
}

#[test]
fn equality_follows_the_canonical_form() {
    let plain = Reference::parse("nginx").unwrap();
    let latest = Reference::parse("docker.io/library/nginx:latest").unwrap();
    assert_eq!(plain, latest);
    assert_eq!(plain.tag(), None);
    assert_eq!(latest.tag(), Some("latest"));
    assert_ne!(plain, Reference::parse("nginx:1").unwrap());
    // The registry's letter case is kept, so these are different references
    // (their registry keys are equal: see tests/reference/aliases.rs).
    assert_ne!(
        Reference::parse("Example.com/a").unwrap(),
        Reference::parse("example.com/a").unwrap()
    );
    let mut sorted = [latest.clone(), Reference::parse("alpine").unwrap()];
    sorted.sort();
    assert_eq!(sorted[0].repository(), "library/alpine");
}

#[test]
fn normalized_keeps_a_missing_tag() {
    for (input, normalized) in [
        ("nginx".to_owned(), "docker.io/library/nginx".to_owned()),
        (
            "nginx:latest".to_owned(),
            "docker.io/library/nginx:latest".to_owned(),
        ),
        (
            format!("index.docker.io/nginx@sha256:{H64}"),
            format!("docker.io/library/nginx@sha256:{H64}"),
        ),
    ] {
        let r = Reference::parse(&input).unwrap();
        assert_eq!(r.normalized(), normalized);
        let again = Reference::parse(r.normalized()).unwrap();
        assert_eq!(again.tag(), r.tag());
        assert_eq!(again.normalized(), normalized);
    }
}

#[test]
fn serde_is_the_normalized_string() {
    let refs: Vec<Reference> = serde_json::from_str(r#"["nginx","org/app:v1"]"#).unwrap();
    assert_eq!(refs[0].tag(), None);
    assert_eq!(
        serde_json::to_string(&refs).unwrap(),
        r#"["docker.io/library/nginx","docker.io/org/app:v1"]"#
    );
    let back: Vec<Reference> =
        serde_json::from_str(&serde_json::to_string(&refs).unwrap()).unwrap();
    assert_eq!(back, refs);
    assert_eq!(back[0].tag(), None);
    let err = serde_json::from_str::<Reference>(r#""Nginx""#).unwrap_err();
    assert!(
        err.to_string()
            .contains("repository path must be lower case"),
        "{err}"
    );
    assert!(serde_json::from_str::<Reference>("42").is_err());
}

#[test]
fn debug_shows_the_parts() {
    let r = Reference::parse("localhost:5000/app:v1").unwrap();
    assert_eq!(
        format!("{r:?}"),
        r#"Reference { registry: "localhost:5000", repository: "app", tag: Some("v1"), digest: None }"#
    );
}
