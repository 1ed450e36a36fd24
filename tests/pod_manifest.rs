//! `pod::from_manifest`: the container group read from Pod and workload
//! manifests, JSON and YAML, with exact values, and every refusal with its
//! kind, field, message and position.

mod common;

use eci_imagecache::ApiError;
use eci_imagecache::limits::MAX_GROUP_IMAGES;
use eci_imagecache::pod::{
    self, Kind, MAX_DEPTH, MAX_MANIFEST_BYTES, PodError, PodErrorKind, PodMatch, annotations,
};

use common::REGION;

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/pods/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[track_caller]
fn ok(text: &str) -> PodMatch {
    pod::from_manifest(text, REGION).unwrap_or_else(|e| panic!("refused: {e}\n{text}"))
}

#[track_caller]
fn refused(text: &str) -> PodError {
    match pod::from_manifest(text, REGION) {
        Ok(m) => panic!("accepted: {m:?}\n{text}"),
        Err(e) => e,
    }
}

/// The error's kind, field, message and (line, column).
#[track_caller]
fn check_error(
    e: &PodError,
    kind: PodErrorKind,
    field: Option<&str>,
    message: &str,
    position: Option<(usize, usize)>,
) {
    assert_eq!(e.kind(), kind, "{e}");
    assert_eq!(e.field(), field, "{e}");
    assert_eq!(e.message(), message, "{e}");
    let at = e.line().zip(e.column());
    assert_eq!(at, position, "{e}");
}

fn images(m: &PodMatch) -> Vec<&str> {
    m.request.images.iter().map(|r| r.as_str()).collect()
}

/// A pod with these annotations and images, in YAML and in JSON.
fn pod_both(annotations: &[(&str, &str)], images: &[&str]) -> [String; 2] {
    let mut yaml = String::from("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n");
    if !annotations.is_empty() {
        yaml.push_str("  annotations:\n");
        for (k, v) in annotations {
            yaml.push_str(&format!("    {k}: {}\n", serde_json::to_string(v).unwrap()));
        }
    }
    yaml.push_str("spec:\n  containers:\n");
    for (i, image) in images.iter().enumerate() {
        let image = serde_json::to_string(image).unwrap();
        yaml.push_str(&format!("  - name: c{i}\n    image: {image}\n"));
    }
    let json = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "annotations": annotations.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
        },
        "spec": {
            "containers": images.iter().enumerate().map(|(i, image)| serde_json::json!({"name": format!("c{i}"), "image": image})).collect::<Vec<_>>(),
        },
    });
    [yaml, serde_json::to_string_pretty(&json).unwrap()]
}

/// The expected match settings: (auto_match, perfect, count, cache id,
/// storage GiB).
type Settings = (bool, bool, Option<u32>, Option<&'static str>, u32);

#[track_caller]
fn check_settings(m: &PodMatch, expected: Settings) {
    let r = &m.request;
    let got = (
        m.auto_match,
        r.perfect_match,
        r.match_count_request,
        r.image_cache_id.as_deref(),
        r.temporary_storage_gib,
    );
    assert_eq!(got, expected);
    assert_eq!(r.auto_create, m.auto_match);
    assert_eq!(r.region_id, REGION);
    assert_eq!(r.container_group_id, None);
    assert!(r.validate().is_ok());
}

// ---------------------------------------------------------------------------
// Real-world shapes

#[test]
fn pod_with_init_containers_and_sidecars() {
    for file in ["pod-sidecars.yaml", "pod-sidecars.json"] {
        let m = ok(&data(file));
        assert_eq!(m.kind, Kind::Pod, "{file}");
        assert_eq!(m.name.as_deref(), Some("checkout-7d9f8b6c5-x2x9q"));
        assert_eq!(m.namespace.as_deref(), Some("shop"));
        assert_eq!(
            images(&m),
            [
                "registry-vpc.cn-hangzhou.aliyuncs.com/shop/migrate:2024.05.1",
                "docker.io/library/busybox:1.36",
                "registry-vpc.cn-hangzhou.aliyuncs.com/shop/checkout@sha256:4bcdf3b1e4f0a5e6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4",
                "docker.io/envoyproxy/envoy:v1.30.1",
                "harbor.internal.example.com:8443/infra/fluent-bit:3.0.4",
            ],
            "{file}"
        );
        check_settings(&m, (true, false, Some(2), None, 50));
        assert!(m.uses_image_cache());
    }
}

#[test]
fn deployment_reads_the_pod_template() {
    for file in ["deployment.yaml", "deployment.json"] {
        let m = ok(&data(file));
        assert_eq!(m.kind, Kind::Deployment, "{file}");
        assert_eq!(m.name.as_deref(), Some("web"));
        assert_eq!(m.namespace.as_deref(), Some("default"));
        assert_eq!(
            images(&m),
            [
                "docker.io/library/nginx:1.25.4",
                "docker.io/nginx/nginx-prometheus-exporter:1.1.0"
            ]
        );
        // The Deployment's own perfect-match annotation is not the pod's.
        check_settings(
            &m,
            (true, false, None, Some("imc-2zebxkiifuyzzlhl0001"), 80),
        );
    }
}

#[test]
fn cronjob_reads_the_job_template() {
    let m = ok(&data("cronjob.yaml"));
    assert_eq!(m.kind, Kind::CronJob);
    assert_eq!(
        (m.name.as_deref(), m.namespace.as_deref()),
        (Some("nightly-report"), Some("analytics"))
    );
    assert_eq!(
        images(&m),
        [
            "docker.io/curlimages/curl:8.7.1",
            "registry.cn-shanghai.aliyuncs.com/analytics/report:v42"
        ]
    );
    // 100 G = 10^11 bytes = 93.13 GiB: 94.
    check_settings(&m, (false, true, None, None, 124));
    assert!(!m.uses_image_cache());
}

#[test]
fn every_workload_kind_reads_its_template() {
    let template = "metadata:\n  annotations:\n    k8s.aliyun.com/imc-perfect-match: \"true\"\nspec:\n  containers:\n  - image: nginx:1.25\n";
    let indent = |text: &str, n: usize| -> String {
        text.lines()
            .map(|l| format!("{}{l}\n", " ".repeat(n)))
            .collect()
    };
    for kind in Kind::ALL {
        let body = match kind {
            Kind::Pod => template.replacen("metadata:\n", "metadata:\n  name: w\n", 1),
            Kind::CronJob => format!(
                "spec:\n  schedule: \"@daily\"\n  jobTemplate:\n    spec:\n      template:\n{}",
                indent(template, 8)
            ),
            Kind::PodTemplate => format!("template:\n{}", indent(template, 2)),
            _ => format!("spec:\n  replicas: 2\n  template:\n{}", indent(template, 4)),
        };
        let yaml = match kind {
            Kind::Pod => format!("kind: Pod\n{body}"),
            _ => format!("kind: {kind}\nmetadata:\n  name: w\n{body}"),
        };
        let m = ok(&yaml);
        assert_eq!(m.kind, kind);
        assert_eq!(m.name.as_deref(), Some("w"), "{kind}");
        assert_eq!(images(&m), ["docker.io/library/nginx:1.25"], "{kind}");
        check_settings(&m, (true, true, None, None, 30));
    }
}

#[test]
fn image_references_are_normalised_and_kept_once() {
    let digest = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "nginx",
                "nginx:latest",
                "docker.io/library/nginx",
                "index.docker.io/library/nginx:latest",
            ],
            &["docker.io/library/nginx:latest"],
        ),
        (
            &[
                "localhost:5000/app:1",
                "[::1]:5000/app:1",
                "registry.example.com:443/a/b/c:2",
            ],
            &[
                "localhost:5000/app:1",
                "[::1]:5000/app:1",
                "registry.example.com:443/a/b/c:2",
            ],
        ),
        (
            &[
                "busybox@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                "busybox:1.36@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            ],
            &[
                "docker.io/library/busybox@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                "docker.io/library/busybox:1.36@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            ],
        ),
        (
            // Endpoint variants are different references (matching folds them).
            &[
                "registry-vpc.cn-hangzhou.aliyuncs.com/t/app:v1",
                "registry.cn-hangzhou.aliyuncs.com/t/app:v1",
            ],
            &[
                "registry-vpc.cn-hangzhou.aliyuncs.com/t/app:v1",
                "registry.cn-hangzhou.aliyuncs.com/t/app:v1",
            ],
        ),
    ];
    assert!(cases[2].1[0].ends_with(digest));
    for (given, expected) in cases {
        for text in pod_both(&[], given) {
            assert_eq!(images(&ok(&text)), *expected, "{text}");
        }
    }
}

#[test]
fn init_containers_come_first() {
    let yaml = "kind: Pod\nspec:\n  containers:\n  - image: app:2\n  - image: sidecar:1\n  initContainers:\n  - image: init:1\n  - image: app:2\n";
    assert_eq!(
        images(&ok(yaml)),
        [
            "docker.io/library/init:1",
            "docker.io/library/app:2",
            "docker.io/library/sidecar:1"
        ]
    );
    let json = r#"{"kind": "Pod", "spec": {"containers": [{"image": "app:2"}], "initContainers": [{"image": "init:1"}]}}"#;
    assert_eq!(
        images(&ok(json)),
        ["docker.io/library/init:1", "docker.io/library/app:2"]
    );
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let m = ok(&data("anchors.yaml"));
    assert_eq!(
        images(&m),
        [
            "registry.example.com/team/app:1.0",
            "registry.example.com/team/worker:1.0",
            "docker.io/library/redis:7.2"
        ]
    );
    check_settings(&m, (true, true, None, None, 40));
    // Keys written in the mapping win over merged ones; a quoted "<<" is an
    // ordinary key.
    let yaml = "base: &b {image: base:1, name: x}\nkind: Pod\nspec:\n  containers:\n  - {<<: *b, image: own:1}\n  - {\"<<\": *b, image: quoted:1}\n";
    assert_eq!(
        images(&ok(yaml)),
        ["docker.io/library/own:1", "docker.io/library/quoted:1"]
    );
}

#[test]
fn empty_documents_are_skipped() {
    for yaml in [
        "---\nkind: Pod\nspec:\n  containers:\n  - image: nginx\n",
        "kind: Pod\nspec:\n  containers:\n  - image: nginx\n---\n",
        "# helm output\n---\n# Source: chart/templates/pod.yaml\nkind: Pod\nspec:\n  containers:\n  - image: nginx\n...\n---\n# nothing\n",
        "\u{feff}kind: Pod\nspec:\n  containers:\n  - image: nginx\n",
        "  \n\t{\"kind\": \"Pod\", \"spec\": {\"containers\": [{\"image\": \"nginx\"}]}}\n",
    ] {
        assert_eq!(
            images(&ok(yaml)),
            ["docker.io/library/nginx:latest"],
            "{yaml:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Annotations

#[test]
fn annotations_valid() {
    let id = "imc-2zebxkiifuyzzlhl0002";
    let cases: &[(&[(&str, &str)], Settings)] = &[
        (&[], (true, false, None, None, 30)),
        (
            &[(annotations::AUTO_IMC, "true")],
            (true, false, None, None, 30),
        ),
        (
            &[(annotations::AUTO_IMC, "false")],
            (false, false, None, None, 30),
        ),
        (
            &[(annotations::IMC_PERFECT_MATCH, "true")],
            (true, true, None, None, 30),
        ),
        (
            &[(annotations::IMC_PERFECT_MATCH, "false")],
            (true, false, None, None, 30),
        ),
        (
            &[(annotations::IMC_MATCH_COUNT_REQUEST, "1")],
            (true, false, Some(1), None, 30),
        ),
        (
            &[(annotations::IMC_MATCH_COUNT_REQUEST, "2")],
            (true, false, Some(2), None, 30),
        ),
        (
            &[(annotations::IMC_MATCH_COUNT_REQUEST, "007")],
            (true, false, Some(7), None, 30),
        ),
        (
            &[(annotations::IMC_MATCH_COUNT_REQUEST, "4294967295")],
            (true, false, Some(u32::MAX), None, 30),
        ),
        // Both kept: auto-match lets perfect match win.
        (
            &[
                (annotations::IMC_PERFECT_MATCH, "true"),
                (annotations::IMC_MATCH_COUNT_REQUEST, "3"),
            ],
            (true, true, Some(3), None, 30),
        ),
        (
            &[(annotations::IMC_ID, id)],
            (true, false, None, Some(id), 30),
        ),
        (
            &[(annotations::IMAGE_SNAPSHOT_ID, id)],
            (true, false, None, Some(id), 30),
        ),
        (
            &[
                (annotations::IMC_ID, id),
                (annotations::IMAGE_SNAPSHOT_ID, id),
            ],
            (true, false, None, Some(id), 30),
        ),
        // A named cache with auto-match off: still a cache to use.
        (
            &[(annotations::AUTO_IMC, "false"), (annotations::IMC_ID, id)],
            (false, false, None, Some(id), 30),
        ),
        // Unknown annotations are ignored, whatever their string value.
        (
            &[
                ("prometheus.io/port", "9102"),
                ("example.com/flag", ""),
                ("k8s.aliyun.com/eci-use-specs", "2-4Gi"),
            ],
            (true, false, None, None, 30),
        ),
    ];
    for (given, expected) in cases {
        for text in pod_both(given, &["nginx:1.25"]) {
            check_settings(&ok(&text), *expected);
        }
    }
}

#[test]
fn extra_storage_units() {
    let cases: &[(&str, u32)] = &[
        ("50Gi", 80),
        ("51200Mi", 80),
        ("52428800Ki", 80),
        ("20G", 49),         // 18.63 GiB
        ("50G", 77),         // 46.57 GiB
        ("21474836480", 50), // bytes
        ("1", 31),           // one byte is still one more GiB
        ("0", 30),
        ("0Gi", 30),
        ("1.5Gi", 32),
        (".5Gi", 31),
        ("1Ti", 1054),
        ("0.5Ti", 542),
        ("1T", 962), // 931.32 GiB
        ("100M", 31),
        ("1e10", 40), // 9.31 GiB
        ("2E1", 31),  // 2 × 10^1 bytes
        ("+10Gi", 40),
        ("32768Gi", 32798), // the bound
    ];
    for (value, storage) in cases {
        for text in pod_both(&[(annotations::EXTRA_EPHEMERAL_STORAGE, value)], &["nginx"]) {
            check_settings(&ok(&text), (true, false, None, None, *storage));
        }
    }
}

#[test]
fn annotations_malformed() {
    let field = |name: &str| format!("metadata.annotations[{name:?}]");
    let long_id = format!("imc-{}", "a".repeat(253));
    let cases: &[(&str, &str, &str)] = &[
        (
            annotations::AUTO_IMC,
            "yes",
            r#"must be "true" or "false", found "yes""#,
        ),
        (
            annotations::AUTO_IMC,
            "True",
            r#"must be "true" or "false", found "True""#,
        ),
        (
            annotations::AUTO_IMC,
            "",
            r#"must be "true" or "false", found """#,
        ),
        (
            annotations::AUTO_IMC,
            "1",
            r#"must be "true" or "false", found "1""#,
        ),
        (
            annotations::IMC_PERFECT_MATCH,
            "TRUE",
            r#"must be "true" or "false", found "TRUE""#,
        ),
        (
            annotations::IMC_PERFECT_MATCH,
            " true",
            r#"must be "true" or "false", found " true""#,
        ),
        (
            annotations::IMC_MATCH_COUNT_REQUEST,
            "0",
            r#"must be at least 1, found "0""#,
        ),
        (
            annotations::IMC_MATCH_COUNT_REQUEST,
            "-1",
            r#"must be a whole number of at least 1, found "-1""#,
        ),
        (
            annotations::IMC_MATCH_COUNT_REQUEST,
            "+2",
            r#"must be a whole number of at least 1, found "+2""#,
        ),
        (
            annotations::IMC_MATCH_COUNT_REQUEST,
            "1.5",
            r#"must be a whole number of at least 1, found "1.5""#,
        ),
        (
            annotations::IMC_MATCH_COUNT_REQUEST,
            "two",
            r#"must be a whole number of at least 1, found "two""#,
        ),
        (
            annotations::IMC_MATCH_COUNT_REQUEST,
            "",
            r#"must be a whole number of at least 1, found """#,
        ),
        (
            annotations::IMC_MATCH_COUNT_REQUEST,
            "4294967296",
            r#""4294967296" is too large"#,
        ),
        (
            annotations::IMC_ID,
            "",
            r#"must be an image cache id (1 to 256 characters, no spaces), found """#,
        ),
        (
            annotations::IMC_ID,
            "imc-a b",
            r#"must be an image cache id (1 to 256 characters, no spaces), found "imc-a b""#,
        ),
        (
            annotations::IMAGE_SNAPSHOT_ID,
            "imc-1\n",
            r#"must be an image cache id (1 to 256 characters, no spaces), found "imc-1\n""#,
        ),
        (
            annotations::EXTRA_EPHEMERAL_STORAGE,
            "-1Gi",
            r#""-1Gi" is negative"#,
        ),
        (
            annotations::EXTRA_EPHEMERAL_STORAGE,
            "50GB",
            r#""50GB" is not a Kubernetes quantity (such as "50Gi", "20G" or "51200Mi")"#,
        ),
        (
            annotations::EXTRA_EPHEMERAL_STORAGE,
            "50 Gi",
            r#""50 Gi" is not a Kubernetes quantity (such as "50Gi", "20G" or "51200Mi")"#,
        ),
        (
            annotations::EXTRA_EPHEMERAL_STORAGE,
            "50gi",
            r#""50gi" is not a Kubernetes quantity (such as "50Gi", "20G" or "51200Mi")"#,
        ),
        (
            annotations::EXTRA_EPHEMERAL_STORAGE,
            "",
            r#""" is not a Kubernetes quantity (such as "50Gi", "20G" or "51200Mi")"#,
        ),
        (
            annotations::EXTRA_EPHEMERAL_STORAGE,
            "Gi",
            r#""Gi" is not a Kubernetes quantity (such as "50Gi", "20G" or "51200Mi")"#,
        ),
        (
            annotations::EXTRA_EPHEMERAL_STORAGE,
            "32769Gi",
            r#""32769Gi" is more than 32768 GiB"#,
        ),
        (
            annotations::EXTRA_EPHEMERAL_STORAGE,
            "1Ei",
            r#""1Ei" is more than 32768 GiB"#,
        ),
        (
            annotations::EXTRA_EPHEMERAL_STORAGE,
            "1e400",
            r#""1e400" is more than 32768 GiB"#,
        ),
        (
            annotations::EXTRA_EPHEMERAL_STORAGE,
            "123456789012345678901",
            r#""123456789012345678901" has more than 20 significant digits"#,
        ),
    ];
    for &(name, value, message) in cases {
        let [yaml, json] = pod_both(&[(name, value)], &["nginx"]);
        let e = refused(&yaml);
        // The value's position: line 6, after "    <name>: ".
        let column = 4 + name.len() + 3;
        check_error(
            &e,
            PodErrorKind::InvalidAnnotation,
            Some(&field(name)),
            message,
            Some((6, column)),
        );
        // JSON: no position (serde_json keeps none past its parse).
        check_error(
            &refused(&json),
            PodErrorKind::InvalidAnnotation,
            Some(&field(name)),
            message,
            None,
        );
    }
    let e = refused(&pod_both(&[(annotations::IMC_ID, &long_id)], &["nginx"])[0]);
    assert_eq!(e.kind(), PodErrorKind::InvalidAnnotation);
}

#[test]
fn cache_id_annotations_must_agree() {
    for text in pod_both(
        &[
            (annotations::IMC_ID, "imc-one"),
            (annotations::IMAGE_SNAPSHOT_ID, "imc-two"),
        ],
        &["nginx"],
    ) {
        let e = refused(&text);
        let position = if text.starts_with('{') {
            None
        } else {
            Some((7, 43))
        };
        check_error(
            &e,
            PodErrorKind::ConflictingAnnotations,
            Some(r#"metadata.annotations["k8s.aliyun.com/eci-image-snapshot-id"]"#),
            r#"names the image cache "imc-two", but k8s.aliyun.com/eci-imc-id names "imc-one""#,
            position,
        );
    }
}

#[test]
fn annotation_values_must_be_strings() {
    let cases: &[(&str, &str, &str, (usize, usize))] = &[
        // (YAML line, JSON value, message, YAML position)
        (
            "k8s.aliyun.com/imc-perfect-match: true",
            "true",
            "an annotation value must be a string (quote it), found a boolean",
            (4, 39),
        ),
        (
            "k8s.aliyun.com/eci-auto-imc: yes",
            "false",
            "an annotation value must be a string (quote it), found a boolean",
            (4, 34),
        ),
        (
            "k8s.aliyun.com/imc-match-count-request: 2",
            "2",
            "an annotation value must be a string (quote it), found a number",
            (4, 45),
        ),
        (
            "prometheus.io/port: 9102",
            "9102",
            "an annotation value must be a string (quote it), found a number",
            (4, 25),
        ),
        (
            "k8s.aliyun.com/eci-imc-id: [imc-1]",
            "[\"imc-1\"]",
            "an annotation value must be a string, found a sequence",
            (4, 32),
        ),
        (
            "k8s.aliyun.com/eci-imc-id: {id: imc-1}",
            "{\"id\": \"imc-1\"}",
            "an annotation value must be a string, found a mapping",
            (4, 32),
        ),
    ];
    for &(line, json_value, message, position) in cases {
        let (key, _) = line.split_once(": ").unwrap();
        let field = format!("metadata.annotations[{key:?}]");
        let yaml = format!(
            "kind: Pod\nmetadata:\n  annotations:\n    {line}\nspec:\n  containers:\n  - image: nginx\n"
        );
        check_error(
            &refused(&yaml),
            PodErrorKind::WrongType,
            Some(&field),
            message,
            Some(position),
        );
        let json = format!(
            r#"{{"kind": "Pod", "metadata": {{"annotations": {{"{key}": {json_value}}}}}, "spec": {{"containers": [{{"image": "nginx"}}]}}}}"#
        );
        check_error(
            &refused(&json),
            PodErrorKind::WrongType,
            Some(&field),
            message,
            None,
        );
    }
    // Quoted, tagged as a string, or a block scalar: strings.
    for value in [r#""true""#, "'true'", "!!str true", "|-\n      true"] {
        let yaml = format!(
            "kind: Pod\nmetadata:\n  annotations:\n    k8s.aliyun.com/imc-perfect-match: {value}\nspec:\n  containers:\n  - image: nginx\n"
        );
        assert!(ok(&yaml).request.perfect_match, "{value}");
    }
    // Null is the empty string, as Kubernetes reads it: fine for other
    // annotations, not a boolean.
    let yaml = "kind: Pod\nmetadata:\n  annotations:\n    example.com/empty:\n    k8s.aliyun.com/eci-auto-imc: ~\nspec:\n  containers:\n  - image: nginx\n";
    check_error(
        &refused(yaml),
        PodErrorKind::InvalidAnnotation,
        Some(r#"metadata.annotations["k8s.aliyun.com/eci-auto-imc"]"#),
        r#"must be "true" or "false", found """#,
        Some((5, 34)),
    );
    let json = r#"{"kind": "Pod", "metadata": {"annotations": {"example.com/empty": null}}, "spec": {"containers": [{"image": "nginx"}]}}"#;
    assert!(ok(json).auto_match);
}

// ---------------------------------------------------------------------------
// Containers and images

#[test]
fn containers_refused() {
    // (YAML, JSON, kind, field, message, YAML position)
    type Case = (
        &'static str,
        &'static str,
        PodErrorKind,
        &'static str,
        &'static str,
        (usize, usize),
    );
    let cases: &[Case] = &[
        (
            "kind: Pod\nspec:\n  containers:\n  - name: app\n    image: nginx\n  - name: sidecar\n    ports: [{containerPort: 80}]\n",
            r#"{"kind": "Pod", "spec": {"containers": [{"name": "app", "image": "nginx"}, {"name": "sidecar", "ports": [{"containerPort": 80}]}]}}"#,
            PodErrorKind::MissingField,
            "spec.containers[1].image",
            r#"container "sidecar" has no image"#,
            (6, 5),
        ),
        (
            "kind: Pod\nspec:\n  containers:\n  - image: ~\n",
            r#"{"kind": "Pod", "spec": {"containers": [{"image": null}]}}"#,
            PodErrorKind::MissingField,
            "spec.containers[0].image",
            "the container has no image",
            (4, 5),
        ),
        (
            "kind: Pod\nspec:\n  containers:\n  - image: 1.25\n",
            r#"{"kind": "Pod", "spec": {"containers": [{"image": 1.25}]}}"#,
            PodErrorKind::WrongType,
            "spec.containers[0].image",
            "must be a string, found a number",
            (4, 12),
        ),
        (
            "kind: Pod\nspec:\n  initContainers:\n  - name: init\n    image: \"\"\n  containers:\n  - image: nginx\n",
            r#"{"kind": "Pod", "spec": {"initContainers": [{"name": "init", "image": ""}], "containers": [{"image": "nginx"}]}}"#,
            PodErrorKind::InvalidImage,
            "spec.initContainers[0].image",
            r#"container "init": not a valid image reference: image reference is empty (at byte 0)"#,
            (5, 12),
        ),
        (
            "kind: Pod\nspec:\n  containers:\n  - name: web\n    image: registry.example.com/Team/app:1\n",
            r#"{"kind": "Pod", "spec": {"containers": [{"name": "web", "image": "registry.example.com/Team/app:1"}]}}"#,
            PodErrorKind::InvalidImage,
            "spec.containers[0].image",
            r#"container "web": not a valid image reference: repository path must be lower case: found 'T' at byte 21"#,
            (5, 12),
        ),
        (
            "kind: Pod\nspec:\n  containers:\n  - image: nginx:1.25 \n  - image: \"nginx :1.25\"\n",
            r#"{"kind": "Pod", "spec": {"containers": [{"image": "nginx"}, {"image": "nginx :1.25"}]}}"#,
            PodErrorKind::InvalidImage,
            "spec.containers[1].image",
            "the container: not a valid image reference: invalid character in repository path: found ' ' at byte 5",
            (5, 12),
        ),
        (
            "kind: Pod\nspec:\n  containers: []\n",
            r#"{"kind": "Pod", "spec": {"containers": []}}"#,
            PodErrorKind::NoImages,
            "spec.containers",
            "the pod has no container with an image",
            (3, 3),
        ),
        (
            "kind: Pod\nspec:\n  restartPolicy: Never\n",
            r#"{"kind": "Pod", "spec": {"restartPolicy": "Never"}}"#,
            PodErrorKind::NoImages,
            "spec.containers",
            "the pod has no container with an image",
            (3, 3),
        ),
        (
            "kind: Pod\nspec:\n  containers:\n    image: nginx\n",
            r#"{"kind": "Pod", "spec": {"containers": {"image": "nginx"}}}"#,
            PodErrorKind::WrongType,
            "spec.containers",
            "must be a list of containers, found a mapping",
            (4, 5),
        ),
        (
            "kind: Pod\nspec:\n  containers:\n  - nginx\n",
            r#"{"kind": "Pod", "spec": {"containers": ["nginx"]}}"#,
            PodErrorKind::WrongType,
            "spec.containers[0]",
            "must be a container (a mapping), found a string",
            (4, 5),
        ),
        (
            "kind: Pod\nspec:\n  containers:\n  - name: 7\n    image: nginx\n",
            r#"{"kind": "Pod", "spec": {"containers": [{"name": 7, "image": "nginx"}]}}"#,
            PodErrorKind::WrongType,
            "spec.containers[0].name",
            "must be a string, found a number",
            (4, 11),
        ),
    ];
    for &(yaml, json, kind, field, message, position) in cases {
        check_error(&refused(yaml), kind, Some(field), message, Some(position));
        check_error(&refused(json), kind, Some(field), message, None);
    }
}

#[test]
fn image_count_bound() {
    let distinct: Vec<String> = (0..=MAX_GROUP_IMAGES)
        .map(|i| format!("registry.example.com/app{i}:1"))
        .collect();
    let refs: Vec<&str> = distinct.iter().map(String::as_str).collect();
    // MAX_GROUP_IMAGES distinct images, each twice: fine.
    let twice: Vec<&str> = refs[..MAX_GROUP_IMAGES]
        .iter()
        .chain(&refs[..MAX_GROUP_IMAGES])
        .copied()
        .collect();
    for text in pod_both(&[], &twice) {
        assert_eq!(ok(&text).request.images.len(), MAX_GROUP_IMAGES);
    }
    let [yaml, json] = pod_both(&[], &refs);
    let message = format!("more than {MAX_GROUP_IMAGES} distinct images in one pod");
    let field = format!("spec.containers[{MAX_GROUP_IMAGES}].image");
    check_error(
        &refused(&yaml),
        PodErrorKind::TooManyImages,
        Some(&field),
        &message,
        Some((8 + 2 * MAX_GROUP_IMAGES, 12)),
    );
    check_error(
        &refused(&json),
        PodErrorKind::TooManyImages,
        Some(&field),
        &message,
        None,
    );
}

// ---------------------------------------------------------------------------
// The manifest as a whole

#[test]
fn kinds_and_shapes_refused() {
    // (YAML, JSON, kind, field, message, YAML position)
    type Case = (
        &'static str,
        &'static str,
        PodErrorKind,
        Option<&'static str>,
        &'static str,
        Option<(usize, usize)>,
    );
    let cases: &[Case] = &[
        (
            "apiVersion: v1\nkind: Service\nspec:\n  ports: [{port: 80}]\n",
            r#"{"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}]}}"#,
            PodErrorKind::UnknownKind,
            Some("kind"),
            r#""Service" is not a Pod or a workload with a pod template (one of Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate)"#,
            Some((2, 7)),
        ),
        (
            "kind: pod\nspec:\n  containers:\n  - image: nginx\n",
            r#"{"kind": "pod", "spec": {"containers": [{"image": "nginx"}]}}"#,
            PodErrorKind::UnknownKind,
            Some("kind"),
            r#""pod" is not a Pod or a workload with a pod template (one of Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate)"#,
            Some((1, 7)),
        ),
        (
            "apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  spec:\n    containers:\n    - image: nginx\n",
            r#"{"apiVersion": "v1", "kind": "List", "items": [{"kind": "Pod", "spec": {"containers": [{"image": "nginx"}]}}]}"#,
            PodErrorKind::MultipleDocuments,
            Some("kind"),
            "a List holds several objects: give one Pod or workload per manifest",
            Some((2, 7)),
        ),
        (
            "kind: PodList\nitems: []\n",
            r#"{"kind": "PodList", "items": []}"#,
            PodErrorKind::MultipleDocuments,
            Some("kind"),
            "a PodList holds several objects: give one Pod or workload per manifest",
            Some((1, 7)),
        ),
        (
            "apiVersion: v1\nspec:\n  containers:\n  - image: nginx\n",
            r#"{"apiVersion": "v1", "spec": {"containers": [{"image": "nginx"}]}}"#,
            PodErrorKind::MissingField,
            Some("kind"),
            "is missing",
            None,
        ),
        (
            "kind: [Pod]\n",
            r#"{"kind": ["Pod"]}"#,
            PodErrorKind::WrongType,
            Some("kind"),
            "must be a string, found a sequence",
            Some((1, 7)),
        ),
        (
            "kind: Pod\nmetadata:\n  name: web\n",
            r#"{"kind": "Pod", "metadata": {"name": "web"}}"#,
            PodErrorKind::MissingField,
            Some("spec"),
            "is missing",
            Some((1, 1)),
        ),
        (
            "kind: Deployment\nspec:\n  replicas: 2\n",
            r#"{"kind": "Deployment", "spec": {"replicas": 2}}"#,
            PodErrorKind::MissingField,
            Some("spec.template"),
            "is missing",
            Some((3, 3)),
        ),
        (
            "kind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template: []\n",
            r#"{"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": []}}}}"#,
            PodErrorKind::WrongType,
            Some("spec.jobTemplate.spec.template"),
            "must be a mapping, found a sequence",
            Some((5, 17)),
        ),
        (
            "kind: Pod\nmetadata:\n  name: [web]\nspec:\n  containers:\n  - image: nginx\n",
            r#"{"kind": "Pod", "metadata": {"name": ["web"]}, "spec": {"containers": [{"image": "nginx"}]}}"#,
            PodErrorKind::WrongType,
            Some("metadata.name"),
            "must be a string, found a sequence",
            Some((3, 9)),
        ),
        (
            "kind: Pod\nmetadata:\n  annotations: [a, b]\nspec:\n  containers:\n  - image: nginx\n",
            r#"{"kind": "Pod", "metadata": {"annotations": ["a", "b"]}, "spec": {"containers": [{"image": "nginx"}]}}"#,
            PodErrorKind::WrongType,
            Some("metadata.annotations"),
            "must be a mapping, found a sequence",
            Some((3, 16)),
        ),
        (
            "- kind: Pod\n",
            r#"[{"kind": "Pod"}]"#,
            PodErrorKind::WrongType,
            None,
            "the manifest must be a mapping (a Kubernetes object), found a sequence",
            Some((1, 1)),
        ),
        (
            "just text\n",
            r#"{}"#,
            PodErrorKind::WrongType,
            None,
            "the manifest must be a mapping (a Kubernetes object), found a string",
            Some((1, 1)),
        ),
    ];
    for &(yaml, json, kind, field, message, position) in cases {
        check_error(&refused(yaml), kind, field, message, position);
        if json != "{}" {
            // Only a manifest starting with `{` is JSON: `[…]` is YAML.
            let position = if json.starts_with('{') {
                None
            } else {
                position
            };
            check_error(&refused(json), kind, field, message, position);
        }
    }
    check_error(
        &refused(""),
        PodErrorKind::MissingField,
        None,
        "the manifest is empty",
        None,
    );
    check_error(
        &refused("# only a comment\n---\n"),
        PodErrorKind::MissingField,
        None,
        "the manifest is empty",
        None,
    );
    check_error(
        &refused("{}"),
        PodErrorKind::MissingField,
        Some("kind"),
        "is missing",
        None,
    );
}

#[test]
fn one_object_per_manifest() {
    let yaml = "kind: Pod\nspec:\n  containers:\n  - image: nginx\n---\nkind: Pod\nspec:\n  containers:\n  - image: redis\n";
    check_error(
        &refused(yaml),
        PodErrorKind::MultipleDocuments,
        None,
        "a second YAML document: give one Pod or workload per manifest",
        Some((5, 1)),
    );
    // JSON: one value, then only whitespace.
    let json = r#"{"kind": "Pod", "spec": {"containers": [{"image": "nginx"}]}}
{"kind": "Pod"}"#;
    check_error(
        &refused(json),
        PodErrorKind::Syntax,
        None,
        "invalid JSON: trailing characters",
        Some((2, 1)),
    );
}

#[test]
fn syntax_errors_have_positions() {
    let cases: &[(&str, &str, (usize, usize))] = &[
        (
            "kind: Pod\nspec:\n  containers:\n  - image: nginx\n   name: web\n",
            "invalid YAML: while parsing a block mapping, did not find expected key",
            (5, 4),
        ),
        (
            "kind: Pod\nspec:\n  containers: [{image: nginx}\n",
            "invalid YAML: while parsing a flow sequence, expected ',' or ']'",
            (4, 1),
        ),
        (
            "kind: Pod\nmetadata:\n  name: \"web\nspec: {}\n",
            "invalid YAML: invalid indentation in quoted scalar",
            (3, 9),
        ),
        (
            "kind: Pod\nspec:\n\tcontainers: []\n",
            "invalid YAML: tabs disallowed within this context (block indentation)",
            (3, 2),
        ),
        (
            "kind: *nothing\n",
            "invalid YAML: while parsing node, found unknown anchor",
            (1, 7),
        ),
        (
            "{\"kind\": \"Pod\",\n \"spec\": {\"containers\": [}\n}\n",
            "invalid JSON: expected value",
            (2, 26),
        ),
        (
            "{\"kind\": \"Pod\", \"spec\": {\"containers\": [{\"image\": \"nginx\"},]}}",
            "invalid JSON: trailing comma",
            (1, 60),
        ),
        (
            "{\"kind\": \"Pod\"",
            "invalid JSON: EOF while parsing an object",
            (1, 14),
        ),
        ("{kind: Pod}", "invalid JSON: key must be a string", (1, 2)),
        // serde_json's column 0 (at a line break) is column 1 (found by the
        // fuzzer).
        (
            "{\"kind\": \"Pod\", \"metadata\": {\"name\": \"a\n\"}}",
            "invalid JSON: control character (\\u0000-\\u001F) found while parsing a string",
            (2, 1),
        ),
        (
            "{\"kind\": \"Pod\"\n",
            "invalid JSON: EOF while parsing an object",
            (2, 1),
        ),
    ];
    for &(text, message, position) in cases {
        check_error(
            &refused(text),
            PodErrorKind::Syntax,
            None,
            message,
            Some(position),
        );
    }
}

#[test]
fn yaml_error_at_the_end_is_inside_the_text() {
    // The scanner moves to a new line at the end of the stream; without a
    // final line break that line is not in the text, so the error is placed
    // at the end of the last line (found by the fuzzer).
    let path = format!(
        "{}/fuzz/regressions/pod_manifest/yaml-error-at-end-without-newline",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(text.lines().count(), 8);
    let last = text.lines().last().unwrap().chars().count();
    check_error(
        &refused(&text),
        PodErrorKind::Syntax,
        None,
        "invalid YAML: simple key expected",
        Some((8, last + 1)),
    );
    // With the line break, the line after it is in the text.
    let e = refused(&format!("{text}\n"));
    assert_eq!((e.line(), e.column()), (Some(9), Some(1)), "{e}");
}

#[test]
fn duplicate_keys_are_refused() {
    let yaml = "kind: Pod\nspec:\n  containers:\n  - image: nginx\n    image: redis\n";
    check_error(
        &refused(yaml),
        PodErrorKind::DuplicateKey,
        None,
        r#"duplicate key "image" (first at line 4, column 12)"#,
        Some((5, 5)),
    );
    let json = r#"{"kind": "Pod", "spec": {"containers": [{"image": "nginx", "image": "redis"}]}}"#;
    check_error(
        &refused(json),
        PodErrorKind::DuplicateKey,
        None,
        r#"duplicate key "image""#,
        Some((1, 66)),
    );
    // Many keys (the index path).
    let mut yaml =
        String::from("kind: Pod\nspec:\n  containers:\n  - image: nginx\nmetadata:\n  labels:\n");
    for i in 0..50 {
        yaml.push_str(&format!("    k{i}: v\n"));
    }
    yaml.push_str("    k7: again\n");
    check_error(
        &refused(&yaml),
        PodErrorKind::DuplicateKey,
        None,
        r#"duplicate key "k7" (first at line 14, column 9)"#,
        Some((57, 5)),
    );
}

// ---------------------------------------------------------------------------
// Bounds

#[test]
fn alias_bomb_is_refused() {
    let text = data("billion-laughs.yaml");
    let started = std::time::Instant::now();
    check_error(
        &refused(&text),
        PodErrorKind::TooComplex,
        None,
        "the document stands for more than 1000000 nodes once its aliases are expanded",
        // The eighth `*e` of line 7 passes the bound.
        Some((7, 29)),
    );
    // Far from the seconds an expansion would take (a loose bound for slow
    // machines; it takes microseconds).
    assert!(started.elapsed().as_secs() < 5);
    // A recursive alias.
    check_error(
        &refused("a: &a [*a]\n"),
        PodErrorKind::TooComplex,
        None,
        "an alias refers to a node that contains it",
        Some((1, 8)),
    );
    // Merge keys count too: each merge copies the entries.
    let mut yaml = String::from("base: &b {");
    for i in 0..2000 {
        yaml.push_str(&format!("k{i}: v, "));
    }
    yaml.push_str("}\nlist:\n");
    for _ in 0..600 {
        yaml.push_str("- {<<: *b}\n");
    }
    yaml.push_str("kind: Pod\nspec:\n  containers:\n  - image: nginx\n");
    let e = refused(&yaml);
    assert_eq!(e.kind(), PodErrorKind::TooComplex, "{e}");
}

#[test]
fn deep_nesting_is_refused() {
    let deep = MAX_DEPTH + 10;
    let yaml = format!(
        "kind: Pod\nspec: {}{}\n",
        "[".repeat(deep),
        "]".repeat(deep)
    );
    // The document's mapping is the first level: the 100th `[` is the 101st.
    check_error(
        &refused(&yaml),
        PodErrorKind::TooComplex,
        None,
        "nested more than 100 levels deep",
        Some((2, 106)),
    );
    let json = format!(
        r#"{{"kind": "Pod", "spec": {}{}}}"#,
        "[".repeat(deep),
        "]".repeat(deep)
    );
    check_error(
        &refused(&json),
        PodErrorKind::TooComplex,
        None,
        "nested more than 100 levels deep",
        Some((1, 124)),
    );
    // Block nesting too.
    let mut yaml = String::from("kind: Pod\nspec:\n");
    for level in 0..deep {
        yaml.push_str(&format!("{}k:\n", "  ".repeat(level + 1)));
    }
    assert_eq!(refused(&yaml).kind(), PodErrorKind::TooComplex);
    // Within the bound: fine.
    let yaml = format!(
        "kind: Pod\nx: {}{}\nspec:\n  containers:\n  - image: nginx\n",
        "[".repeat(99),
        "]".repeat(99)
    );
    ok(&yaml);
    let json = format!(
        r#"{{"kind": "Pod", "x": {}{}, "spec": {{"containers": [{{"image": "nginx"}}]}}}}"#,
        "[".repeat(99),
        "]".repeat(99)
    );
    ok(&json);
}

#[test]
fn size_cap() {
    let pod = "kind: Pod\nspec:\n  containers:\n  - image: nginx\n";
    let mut at_cap = String::from(pod);
    at_cap.push('#');
    at_cap.push_str(&"x".repeat(MAX_MANIFEST_BYTES - at_cap.len() - 1));
    at_cap.push('\n');
    assert_eq!(at_cap.len(), MAX_MANIFEST_BYTES);
    ok(&at_cap);
    // As many nodes as the cap allows without aliases: under MAX_NODES.
    let prefix = "kind: Pod\nspec:\n  containers:\n  - image: nginx\nx: [";
    let mut dense = String::from(prefix);
    while dense.len() + 3 < MAX_MANIFEST_BYTES {
        dense.push_str("1,");
    }
    dense.push_str("1]\n");
    assert!(dense.len() <= MAX_MANIFEST_BYTES);
    ok(&dense);
    let over = format!("{at_cap} ");
    let message = format!(
        "the manifest has {} bytes, more than the {MAX_MANIFEST_BYTES} read",
        MAX_MANIFEST_BYTES + 1
    );
    check_error(
        &refused(&over),
        PodErrorKind::TooLarge,
        None,
        &message,
        None,
    );
    let json = format!(
        r#"{{"kind": "Pod", "spec": {{"containers": [{{"image": "nginx"}}]}}}}{}"#,
        " ".repeat(MAX_MANIFEST_BYTES)
    );
    check_error(
        &refused(&json),
        PodErrorKind::TooLarge,
        None,
        &format!(
            "the manifest has {} bytes, more than the {MAX_MANIFEST_BYTES} read",
            json.len()
        ),
        None,
    );
    let e = pod::from_manifest_bytes(over.as_bytes(), REGION).unwrap_err();
    check_error(&e, PodErrorKind::TooLarge, None, &message, None);
}

#[test]
fn bytes_must_be_utf8() {
    let e = pod::from_manifest_bytes(b"kind: Pod\nmetadata:\n  name: caf\xc3\xa9-\xff\n", REGION)
        .unwrap_err();
    check_error(
        &e,
        PodErrorKind::Syntax,
        None,
        "not UTF-8 (byte 34)",
        Some((3, 14)),
    );
    let m = pod::from_manifest_bytes(data("cronjob.yaml").as_bytes(), REGION).unwrap();
    assert_eq!(m.kind, Kind::CronJob);
}

#[test]
fn region_is_checked() {
    let e = pod::from_manifest(&data("pod-sidecars.yaml"), "Hangzhou").unwrap_err();
    assert_eq!(e.kind(), PodErrorKind::InvalidRegion);
    assert_eq!(e.field(), Some("RegionId"));
    let e = pod::from_manifest(&data("pod-sidecars.yaml"), "").unwrap_err();
    assert_eq!(e.kind(), PodErrorKind::InvalidRegion);
}

#[test]
fn errors_as_api_errors() {
    let yaml = "kind: Pod\nmetadata:\n  annotations:\n    k8s.aliyun.com/imc-perfect-match: \"yes\"\nspec:\n  containers:\n  - image: nginx\n";
    let e = refused(yaml);
    assert_eq!(
        e.to_string(),
        r#"metadata.annotations["k8s.aliyun.com/imc-perfect-match"]: must be "true" or "false", found "yes" (line 4, column 39)"#
    );
    let api = ApiError::from(e);
    assert_eq!(api.code().as_str(), "InvalidParameter");
    assert_eq!(api.http_status(), 400);
    assert_eq!(
        api.message(),
        r#"The specified parameter "metadata.annotations["k8s.aliyun.com/imc-perfect-match"]" is not valid: must be "true" or "false", found "yes" (line 4, column 39)."#
    );
    let api = ApiError::from(refused("kind: Pod\nspec: [\n"));
    assert_eq!(
        api.message(),
        r#"The specified parameter "Manifest" is not valid: invalid YAML: while parsing a node, did not find expected node content (line 3, column 1)."#
    );
}
