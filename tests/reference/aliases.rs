//! Table tests for the registry alias rules of `shared/spec/references.md`.

use crate::common;

use eci_imagecache::reference::RegistryAliases;

use common::reference as parse;

fn same_repo(rules: &RegistryAliases, a: &str, b: &str) -> bool {
    rules.repo_key(&parse(a)) == rules.repo_key(&parse(b))
}

const D: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f";

/// (a, b, same registry by default, same registry in strict mode)
const PAIRS: &[(&str, &str, bool, bool)] = &[
    // ACR personal: registry / registry-vpc / registry-internal fold.
    (
        "registry.cn-hangzhou.aliyuncs.com/ns/app",
        "registry-vpc.cn-hangzhou.aliyuncs.com/ns/app",
        true,
        false,
    ),
    (
        "registry.cn-hangzhou.aliyuncs.com/ns/app",
        "registry-internal.cn-hangzhou.aliyuncs.com/ns/app",
        true,
        false,
    ),
    (
        "registry-vpc.cn-hangzhou.aliyuncs.com/ns/app",
        "registry-internal.cn-hangzhou.aliyuncs.com/ns/app",
        true,
        false,
    ),
    // Letter case of the host never matters; the port is kept and compared.
    (
        "REGISTRY.CN-HANGZHOU.ALIYUNCS.COM/ns/app",
        "registry.cn-hangzhou.aliyuncs.com/ns/app",
        true,
        true,
    ),
    (
        "Registry-VPC.cn-hangzhou.aliyuncs.com/ns/app",
        "registry.cn-hangzhou.aliyuncs.com/ns/app",
        true,
        false,
    ),
    (
        "registry-vpc.cn-hangzhou.aliyuncs.com:5000/ns/app",
        "registry.cn-hangzhou.aliyuncs.com:5000/ns/app",
        true,
        false,
    ),
    (
        "registry.cn-hangzhou.aliyuncs.com:443/ns/app",
        "registry.cn-hangzhou.aliyuncs.com/ns/app",
        false,
        false,
    ),
    // ACR personal international: folds within itself, kept apart from personal.
    (
        "registry-intl.ap-southeast-1.aliyuncs.com/ns/app",
        "registry-intl-vpc.ap-southeast-1.aliyuncs.com/ns/app",
        true,
        false,
    ),
    (
        "registry-intl.cn-hangzhou.aliyuncs.com/ns/app",
        "registry.cn-hangzhou.aliyuncs.com/ns/app",
        false,
        false,
    ),
    (
        "registry-intl-vpc.cn-hangzhou.aliyuncs.com/ns/app",
        "registry-vpc.cn-hangzhou.aliyuncs.com/ns/app",
        false,
        false,
    ),
    // ACR personal (new): crpi-<id>[-vpc].
    (
        "crpi-abc123.cn-hangzhou.personal.cr.aliyuncs.com/ns/app",
        "crpi-abc123-vpc.cn-hangzhou.personal.cr.aliyuncs.com/ns/app",
        true,
        false,
    ),
    (
        "crpi-abc123.cn-hangzhou.personal.cr.aliyuncs.com/ns/app",
        "crpi-def456.cn-hangzhou.personal.cr.aliyuncs.com/ns/app",
        false,
        false,
    ),
    (
        "crpi-abc123-vpc.cn-hangzhou.personal.cr.aliyuncs.com/ns/app",
        "crpi-abc123-vpc.cn-shanghai.personal.cr.aliyuncs.com/ns/app",
        false,
        false,
    ),
    (
        "crpi-abc123.cn-hangzhou.personal.cr.aliyuncs.com/ns/app",
        "registry.cn-hangzhou.aliyuncs.com/ns/app",
        false,
        false,
    ),
    // ACR enterprise: <instance>-registry[-vpc].
    (
        "myinst-registry.cn-hangzhou.cr.aliyuncs.com/ns/app",
        "myinst-registry-vpc.cn-hangzhou.cr.aliyuncs.com/ns/app",
        true,
        false,
    ),
    (
        "inst1-registry.cn-hangzhou.cr.aliyuncs.com/ns/app",
        "inst2-registry.cn-hangzhou.cr.aliyuncs.com/ns/app",
        false,
        false,
    ),
    (
        "inst1-registry-vpc.cn-hangzhou.cr.aliyuncs.com/ns/app",
        "inst2-registry-vpc.cn-hangzhou.cr.aliyuncs.com/ns/app",
        false,
        false,
    ),
    (
        "myinst-registry.cn-hangzhou.cr.aliyuncs.com/ns/app",
        "myinst-registry.cn-shanghai.cr.aliyuncs.com/ns/app",
        false,
        false,
    ),
    (
        "myinst-registry-vpc.cn-hangzhou.cr.aliyuncs.com/ns/app",
        "registry-vpc.cn-hangzhou.aliyuncs.com/ns/app",
        false,
        false,
    ),
    // Never across regions.
    (
        "registry.cn-hangzhou.aliyuncs.com/ns/app",
        "registry.cn-shanghai.aliyuncs.com/ns/app",
        false,
        false,
    ),
    (
        "registry-vpc.cn-hangzhou.aliyuncs.com/ns/app",
        "registry-vpc.cn-beijing.aliyuncs.com/ns/app",
        false,
        false,
    ),
    (
        "registry-vpc.cn-hangzhou.aliyuncs.com/ns/app",
        "registry.cn-beijing.aliyuncs.com/ns/app",
        false,
        false,
    ),
    // API hosts are ordinary hosts.
    (
        "cr.cn-hangzhou.aliyuncs.com/ns/app",
        "registry.cn-hangzhou.aliyuncs.com/ns/app",
        false,
        false,
    ),
    (
        "cr-vpc.cn-hangzhou.aliyuncs.com/ns/app",
        "cr.cn-hangzhou.aliyuncs.com/ns/app",
        false,
        false,
    ),
    (
        "cr-vpc.cn-hangzhou.aliyuncs.com/ns/app",
        "registry-vpc.cn-hangzhou.aliyuncs.com/ns/app",
        false,
        false,
    ),
    // Look-alikes that are not Alibaba Cloud hosts.
    (
        "registry-vpc.cn-hangzhou.aliyuncs.com.example.com/ns/app",
        "registry.cn-hangzhou.aliyuncs.com.example.com/ns/app",
        false,
        false,
    ),
    (
        "registry-vpc.aliyuncs.com/ns/app",
        "registry.aliyuncs.com/ns/app",
        false,
        false,
    ),
    (
        "x-registry-vpc.cn-hangzhou.cr.aliyuncs.com.cn/ns/app",
        "x-registry.cn-hangzhou.cr.aliyuncs.com.cn/ns/app",
        false,
        false,
    ),
    // Docker Hub.
    ("nginx", "docker.io/library/nginx", true, true),
    ("nginx", "index.docker.io/library/nginx", true, true),
    ("nginx", "index.docker.io/nginx", true, true),
    ("nginx", "Docker.io/nginx", true, true),
    ("nginx", "INDEX.DOCKER.IO/library/nginx", true, false),
    ("nginx", "registry-1.docker.io/library/nginx", false, false),
    ("nginx", "docker.io:443/library/nginx", false, false),
    (
        "nginx",
        "registry.cn-hangzhou.aliyuncs.com/library/nginx",
        false,
        false,
    ),
    (
        "library/nginx",
        "myinst-registry.cn-hangzhou.cr.aliyuncs.com/library/nginx",
        false,
        false,
    ),
    // Other hosts: lower-cased, port kept.
    ("Example.COM/app", "example.com/app", true, true),
    ("example.com:5000/app", "example.com/app", false, false),
    (
        "[2001:DB8::1]:5000/app",
        "[2001:db8::1]:5000/app",
        true,
        true,
    ),
    ("localhost/app", "localhost:5000/app", false, false),
];

#[test]
fn alias_table() {
    let default = RegistryAliases::default();
    let strict = RegistryAliases::strict();
    let mut failures = Vec::new();
    for &(a, b, want_default, want_strict) in PAIRS {
        for (rules, want, mode) in [
            (&default, want_default, "default"),
            (&strict, want_strict, "strict"),
        ] {
            if same_repo(rules, a, b) != want {
                failures.push(format!(
                    "{mode}: {a} ~ {b}: want same={want}, keys {} / {}",
                    rules.repo_key(&parse(a)),
                    rules.repo_key(&parse(b))
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn registry_1_docker_io_is_opt_in() {
    let opted = RegistryAliases::default().with_docker_hub_registry_1(true);
    assert!(opted.docker_hub_registry_1());
    assert!(same_repo(
        &opted,
        "nginx",
        "registry-1.docker.io/library/nginx"
    ));
    assert!(same_repo(&opted, "nginx", "registry-1.docker.io/nginx"));
    assert!(!same_repo(
        &RegistryAliases::default(),
        "nginx",
        "registry-1.docker.io/library/nginx"
    ));
    // Strict mode ignores the opt-in.
    let mut strict = opted.clone();
    strict.set_strict(true);
    assert!(!same_repo(
        &strict,
        "nginx",
        "registry-1.docker.io/library/nginx"
    ));
}

#[test]
fn embedder_aliases() {
    // As `AcrRegistryInfo.1.Domain.1 = images.example.com` for instance `myinst`.
    let rules = RegistryAliases::default().with_alias(
        "Images.Example.com",
        "myinst-registry-vpc.cn-hangzhou.cr.aliyuncs.com",
    );
    let custom = "images.example.com/ns/app:v1";
    assert!(same_repo(
        &rules,
        custom,
        "myinst-registry.cn-hangzhou.cr.aliyuncs.com/ns/app"
    ));
    assert!(same_repo(
        &rules,
        custom,
        "myinst-registry-vpc.cn-hangzhou.cr.aliyuncs.com/ns/app"
    ));
    assert!(!same_repo(
        &rules,
        custom,
        "other-registry.cn-hangzhou.cr.aliyuncs.com/ns/app"
    ));
    assert!(!same_repo(
        &rules,
        custom,
        "myinst-registry.cn-shanghai.cr.aliyuncs.com/ns/app"
    ));
    assert_eq!(
        rules.repo_key(&parse(custom)).as_str(),
        "myinst-registry.cn-hangzhou.cr.aliyuncs.com/ns/app"
    );
    // The alias is an explicit setting, so it holds in strict mode too: the
    // alias is the same registry as the host it names, written as it is.
    let mut strict = rules.clone();
    strict.set_strict(true);
    assert!(same_repo(
        &strict,
        custom,
        "myinst-registry-vpc.cn-hangzhou.cr.aliyuncs.com/ns/app"
    ));
    assert!(!same_repo(
        &strict,
        custom,
        "myinst-registry.cn-hangzhou.cr.aliyuncs.com/ns/app"
    ));
    // An alias to Docker Hub gets Docker's `library/` rule.
    let hub = RegistryAliases::default().with_alias("mirror.local:5000", "docker.io");
    assert!(same_repo(&hub, "mirror.local:5000/nginx", "nginx"));
    // Aliases are an equivalence: chains and cycles join one class, keyed by
    // the `same_as` given last.
    let chain = RegistryAliases::default()
        .with_alias("a.example", "b.example")
        .with_alias("b.example", "c.example");
    assert!(same_repo(&chain, "a.example/x", "c.example/x"));
    assert!(same_repo(&chain, "a.example/x", "b.example/x"));
    assert!(!same_repo(&chain, "a.example/x", "d.example/x"));
    assert_eq!(
        chain.repo_key(&parse("a.example/x")).as_str(),
        "c.example/x"
    );
    let cycle = chain.clone().with_alias("c.example", "a.example");
    assert!(same_repo(&cycle, "a.example/x", "c.example/x"));
    assert!(same_repo(&cycle, "b.example/x", "c.example/x"));
    // Any endpoint variant named in an alias stands for all of them.
    let vpc = RegistryAliases::default().with_alias(
        "images.example.com",
        "myinst-registry-vpc.cn-hangzhou.cr.aliyuncs.com",
    );
    assert!(same_repo(
        &vpc,
        "images.example.com/ns/app",
        "myinst-registry.cn-hangzhou.cr.aliyuncs.com/ns/app"
    ));
    let reversed = RegistryAliases::default().with_alias(
        "myinst-registry.cn-hangzhou.cr.aliyuncs.com",
        "images.example.com",
    );
    assert!(same_repo(
        &reversed,
        "images.example.com/ns/app",
        "myinst-registry-vpc.cn-hangzhou.cr.aliyuncs.com/ns/app"
    ));
}

/// (input, repo key, exact key) under the default rules.
const KEYS: &[(&str, &str, &str)] = &[
    (
        "nginx",
        "docker.io/library/nginx",
        "docker.io/library/nginx:latest",
    ),
    (
        "nginx:latest",
        "docker.io/library/nginx",
        "docker.io/library/nginx:latest",
    ),
    (
        "nginx:1.25",
        "docker.io/library/nginx",
        "docker.io/library/nginx:1.25",
    ),
    (
        "registry-vpc.cn-hangzhou.aliyuncs.com/ns/app:V1",
        "registry.cn-hangzhou.aliyuncs.com/ns/app",
        "registry.cn-hangzhou.aliyuncs.com/ns/app:V1",
    ),
    (
        "crpi-x1-vpc.cn-hangzhou.personal.cr.aliyuncs.com/ns/app",
        "crpi-x1.cn-hangzhou.personal.cr.aliyuncs.com/ns/app",
        "crpi-x1.cn-hangzhou.personal.cr.aliyuncs.com/ns/app:latest",
    ),
    (
        "LocalHost:5000/app:v2",
        "localhost:5000/app",
        "localhost:5000/app:v2",
    ),
];

#[test]
fn key_strings() {
    let rules = RegistryAliases::default();
    for &(input, repo, exact) in KEYS {
        let r = parse(input);
        assert_eq!(rules.repo_key(&r).as_str(), repo, "{input}");
        let key = rules.exact_key(&r);
        assert_eq!(key.as_str(), exact, "{input}");
        assert_eq!(key.repo(), repo, "{input}");
    }
}

#[test]
fn digest_wins_over_tag_and_never_equals_a_tag() {
    let rules = RegistryAliases::default();
    let pinned = parse(&format!("nginx:1.25@sha256:{D}"));
    let digest_only = parse(&format!("docker.io/library/nginx@sha256:{D}"));
    let tagged = parse("nginx:1.25");
    assert_eq!(rules.exact_key(&pinned), rules.exact_key(&digest_only));
    assert_eq!(
        rules.exact_key(&pinned).as_str(),
        format!("docker.io/library/nginx@sha256:{D}")
    );
    assert_ne!(rules.exact_key(&pinned), rules.exact_key(&tagged));
    assert_eq!(rules.repo_key(&pinned), rules.repo_key(&tagged));
    // A tag that spells a digest's text is still a tag.
    let tag_like = parse("nginx:sha256");
    assert_ne!(
        rules.exact_key(&tag_like).as_str(),
        rules.exact_key(&digest_only).as_str()
    );
}

#[test]
fn write_exact_key_reuses_the_buffer() {
    let rules = RegistryAliases::default();
    let mut buf = String::with_capacity(256);
    let ptr = buf.as_ptr();
    for &(input, repo, exact) in KEYS {
        let repo_len = rules.write_exact_key(&parse(input), &mut buf);
        assert_eq!(&buf, exact);
        assert_eq!(&buf[..repo_len], repo);
    }
    assert_eq!(buf.as_ptr(), ptr, "no reallocation");
}

#[test]
fn registry_keys() {
    let rules = RegistryAliases::default();
    for (host, key) in [
        (
            "registry-internal.cn-beijing.aliyuncs.com",
            "registry.cn-beijing.aliyuncs.com",
        ),
        (
            "registry-intl-vpc.eu-central-1.aliyuncs.com",
            "registry-intl.eu-central-1.aliyuncs.com",
        ),
        (
            "INST-registry-vpc.cn-hangzhou.cr.aliyuncs.com",
            "inst-registry.cn-hangzhou.cr.aliyuncs.com",
        ),
        (
            "crpi-a-vpc.cn-hangzhou.personal.cr.aliyuncs.com",
            "crpi-a.cn-hangzhou.personal.cr.aliyuncs.com",
        ),
        (
            "crpi--vpc.cn-hangzhou.personal.cr.aliyuncs.com",
            "crpi--vpc.cn-hangzhou.personal.cr.aliyuncs.com",
        ),
        (
            "-registry-vpc.cn-hangzhou.cr.aliyuncs.com",
            "-registry-vpc.cn-hangzhou.cr.aliyuncs.com",
        ),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "registry-1.docker.io"),
        ("[::1]:5000", "[::1]:5000"),
        ("", ""),
    ] {
        assert_eq!(rules.registry_key(host).as_str(), key, "{host:?}");
    }
}
