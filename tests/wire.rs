//! The wire layer: JSON bodies with the API's exact keys and types, and the
//! decoder for the flat RPC parameters the official SDKs send.

use eci_imagecache::record::{EliminationStrategy, Event, EventKind, ImageCache, Tag};
use eci_imagecache::wire::json::{
    DescribeImageCachesRequestJson, DescribeImageCachesResponse, ErrorBody, ImageCacheJson,
};
use eci_imagecache::wire::rpc::{UnknownParams, decode_describe, decode_describe_with};
use eci_imagecache::{ApiError, ErrorCode};
use serde_json::{Value, json};

/// The kind of JSON value at every path, with the value's keys.
fn shape(v: &Value, path: &str, out: &mut Vec<String>) {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    out.push(format!("{path}: {kind}"));
    match v {
        Value::Array(items) => items
            .iter()
            .for_each(|i| shape(i, &format!("{path}[]"), out)),
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| shape(v, &format!("{path}.{k}"), out)),
        _ => {}
    }
}

fn shapes(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    shape(v, "", &mut out);
    out.sort();
    out
}

#[test]
fn the_seed_example_round_trips_with_the_same_keys_and_types() {
    let text = include_str!("data/describe-seed-response.json");
    let seed: Value = serde_json::from_str(text).unwrap();
    let typed: DescribeImageCachesResponse = serde_json::from_str(text).unwrap();
    let back: Value = serde_json::to_value(&typed).unwrap();
    assert_eq!(shapes(&back), shapes(&seed));
    assert_eq!(back, seed, "values too");
    assert_eq!(typed.total_count, 15);
    assert_eq!(typed.image_caches[0].events[0].kind, "Normal");
}

fn sample_cache() -> ImageCache {
    let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    let mut c = ImageCache::new(
        "imc-bp195erqe9o2pb09abcd",
        "imagetest",
        "cn-beijing",
        t("2021-02-09T02:24:07.5Z"),
    )
    .with_images(["registry-vpc.cn-hangzhou.aliyuncs.com/eci_open/nginx:1.15.10-perl"])
    .unwrap();
    c.size_gib = 20;
    c.progress = 100;
    c.status = eci_imagecache::record::CacheStatus::Ready;
    c.set_snapshot_id(Some("s-2zec5oj8e1yhxijtabcd"));
    c.elimination_strategy = EliminationStrategy::Lru;
    c.set_tags(&[Tag::new("imc", "test")]);
    c.events = vec![Event {
        kind: EventKind::Normal,
        reason: "Started".into(),
        message: "Successfully check image cache resource.".into(),
        name: "imagetest.1661f31f851a0000".into(),
        count: 1,
        first_timestamp: t("2021-02-09T02:24:48Z"),
        last_timestamp: t("2021-02-09T02:24:48Z"),
    }];
    c
}

#[test]
fn a_record_serialises_with_exact_keys_types_and_omissions() {
    let json = serde_json::to_value(ImageCacheJson::from(&sample_cache())).unwrap();
    assert_eq!(
        json,
        json!({
            "ImageCacheId": "imc-bp195erqe9o2pb09abcd",
            "ImageCacheName": "imagetest",
            "RegionId": "cn-beijing",
            "Images": ["registry-vpc.cn-hangzhou.aliyuncs.com/eci_open/nginx:1.15.10-perl"],
            "ImageCacheSize": 20,
            "Status": "Ready",
            "Progress": "100%",
            "CreationTime": "2021-02-09T02:24:07Z",
            "SnapshotId": "s-2zec5oj8e1yhxijtabcd",
            "EliminationStrategy": "LRU",
            "Tags": [{"Key": "imc", "Value": "test"}],
            "Events": [{
                "Type": "Normal",
                "Reason": "Started",
                "Message": "Successfully check image cache resource.",
                "Name": "imagetest.1661f31f851a0000",
                "Count": 1,
                "FirstTimestamp": "2021-02-09T02:24:48Z",
                "LastTimestamp": "2021-02-09T02:24:48Z"
            }]
        })
    );
}

#[test]
fn error_bodies() {
    let body = ErrorBody::new("req-1", &ApiError::missing("RegionId"));
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        json!({"RequestId": "req-1", "Code": "MissingParameter", "Message": "The input parameter \"RegionId\" that is mandatory for processing this request is not supplied."})
    );
}

/// The decoded parameters of each `DescribeImageCaches` capture.
fn captured_describe_requests() -> Vec<Vec<(String, String)>> {
    let text = include_str!("data/sdk-wire-captures.txt");
    let mut out = Vec::new();
    for section in text
        .split("\n### ")
        .filter(|s| s.starts_with("DescribeImageCaches"))
    {
        let Some(params) = section
            .split("-- query parameters (decoded, wire order):\n")
            .nth(1)
        else {
            continue;
        };
        let pairs = params
            .lines()
            .take_while(|l| l.starts_with("   "))
            .map(|l| {
                let (k, v) = l.trim().split_once(" = ").unwrap();
                (k.to_owned(), v.trim_matches('\'').to_owned())
            })
            .collect();
        out.push(pairs);
    }
    out
}

#[test]
fn decodes_what_the_official_sdks_send() {
    let captures = captured_describe_requests();
    assert_eq!(captures.len(), 5, "two V3, two V2 and one legacy capture");
    for params in &captures {
        let r = decode_describe(params.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(r.region_id, "cn-hangzhou");
        if r.match_images.is_empty() {
            assert_eq!(r.image_cache_id.as_deref(), Some("imc-1,imc-2"));
            assert_eq!(r.image_cache_name.as_deref(), Some("demo-cache"));
            assert_eq!(r.snapshot_id.as_deref(), Some("s-demo"));
            assert_eq!(r.resource_group_id.as_deref(), Some("rg-demo"));
            assert_eq!(
                r.image.as_ref().unwrap().as_str(),
                "docker.io/library/nginx:latest"
            );
            assert!(r.image.as_ref().unwrap().is_name_only());
        } else {
            let images: Vec<&str> = r.match_images.iter().map(|m| m.as_str()).collect();
            assert_eq!(
                images,
                [
                    "registry-vpc.cn-hangzhou.aliyuncs.com/eci_open/nginx:1.15.10-perl",
                    "docker.io/library/busybox@sha256:3fbc632167424a6d997e74f52b878d7cc478225cffac6bc977eedfe51c7f4e79"
                ]
            );
            assert!(r.image_full_match);
            let sent = |name: &str| params.iter().any(|(k, _)| k == name);
            assert_eq!(
                r.image_match_count_request,
                sent("ImageMatchCountRequest").then_some(1)
            );
            assert_eq!(r.limit, Some(2));
            assert_eq!(r.next_token.as_deref(), Some("AAAAAdDWBF2+/="));
            let tag_keys = params.iter().filter(|(k, _)| k.ends_with(".Key")).count();
            assert_eq!(r.tags.len(), tag_keys);
            assert_eq!(r.tags.last().unwrap().value.as_deref(), Some("a b/c"));
        }
    }
}

fn decode(params: &[(&str, &str)]) -> Result<eci_imagecache::describe::DescribeRequest, ApiError> {
    decode_describe(params.iter().copied())
}

#[test]
fn sparse_indices_booleans_and_ignored_parameters() {
    let r = decode(&[
        ("RegionId", "cn-hangzhou"),
        ("MatchImage.10", "c"),
        ("MatchImage.2", "b"),
        ("MatchImage.7", "a"),
        ("Tag.5.Value", "v"),
        ("Tag.5.Key", "k"),
        ("Tag.3.Key", "only-key"),
        ("ImageFullMatch", "TRUE"),
        ("OwnerId", "1"),
        ("ResourceOwnerAccount", "x"),
        ("OwnerSomethingNew", "y"),
        ("NextToken", ""),
        ("ImageCacheName", ""),
    ])
    .unwrap();
    let images: Vec<&str> = r.match_images.iter().map(|m| m.repository()).collect();
    assert_eq!(
        images,
        ["library/b", "library/a", "library/c"],
        "ordered by index"
    );
    assert_eq!(r.tags[0].key, "only-key");
    assert_eq!(r.tags[0].value, None);
    assert_eq!(
        (r.tags[1].key.as_str(), r.tags[1].value.as_deref()),
        ("k", Some("v"))
    );
    assert!(r.image_full_match);
    assert_eq!(r.next_token, None, "empty NextToken is none");
    assert_eq!(r.image_cache_name, None);
    for (text, want) in [
        ("true", true),
        ("True", true),
        ("tRuE", true),
        ("false", false),
        ("False", false),
        ("FALSE", false),
    ] {
        let r = decode(&[("RegionId", "r"), ("ImageFullMatch", text)]).unwrap();
        assert_eq!(r.image_full_match, want, "{text}");
    }
}

#[test]
fn decoder_errors_name_the_parameter_and_the_reason() {
    let over_images: Vec<(String, String)> = (1..=101)
        .map(|i| (format!("MatchImage.{i}"), format!("app{i}")))
        .collect();
    let mut over = vec![("RegionId".to_owned(), "r".to_owned())];
    over.extend(over_images);
    let e = decode_describe(over.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap_err();
    assert_eq!(
        e.message(),
        "The specified parameter \"MatchImage\" is not valid: at most 100 images."
    );
    let over_tags: Vec<(String, String)> = (1..=21)
        .map(|i| (format!("Tag.{i}.Key"), format!("k{i}")))
        .chain([("RegionId".to_owned(), "r".to_owned())])
        .collect();
    let e = decode_describe(over_tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap_err();
    assert_eq!(
        e.message(),
        "The specified parameter \"Tag\" is not valid: at most 20 tags."
    );

    type Case<'a> = (&'a [(&'a str, &'a str)], ErrorCode, &'a str);
    let cases: &[Case] = &[
        (
            &[("MatchImage.1", "nginx")],
            ErrorCode::MissingParameter,
            "The input parameter \"RegionId\" that is mandatory for processing this request is not supplied.",
        ),
        (
            &[("RegionId", "")],
            ErrorCode::MissingParameter,
            "The input parameter \"RegionId\" that is mandatory for processing this request is not supplied.",
        ),
        (
            &[("RegionId", "r"), ("ImageFullMatch", "yes")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"ImageFullMatch\" is not valid: expected true or false, got \"yes\".",
        ),
        (
            &[("RegionId", "r"), ("Limit", "0")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"Limit\" is not valid: must be at least 1.",
        ),
        (
            &[("RegionId", "r"), ("Limit", "-1")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"Limit\" is not valid: expected an integer, got \"-1\".",
        ),
        (
            &[("RegionId", "r"), ("Limit", "+5")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"Limit\" is not valid: expected an integer, got \"+5\".",
        ),
        (
            &[("RegionId", "r"), ("Limit", "")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"Limit\" is not valid: expected an integer, got \"\".",
        ),
        (
            &[("RegionId", "r"), ("ImageFullMatch", "")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"ImageFullMatch\" is not valid: expected true or false, got \"\".",
        ),
        (
            &[("RegionId", "r"), ("MatchImage.1.", "nginx")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"MatchImage.1.\" is not valid: list indices are 1-based decimal numbers without leading zeros.",
        ),
        (
            &[("RegionId", "r"), ("MatchImage..1", "nginx")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"MatchImage..1\" is not valid: list indices are 1-based decimal numbers without leading zeros.",
        ),
        (
            &[("RegionId", "r"), ("MatchImage.1.2", "nginx")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"MatchImage.1.2\" is not valid: list indices are 1-based decimal numbers without leading zeros.",
        ),
        (
            &[("RegionId", "r"), ("ImageMatchCountRequest", "0")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"ImageMatchCountRequest\" is not valid: must be at least 1.",
        ),
        (
            &[("RegionId", "r"), ("MatchImage.0", "nginx")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"MatchImage.0\" is not valid: list indices are 1-based decimal numbers without leading zeros.",
        ),
        (
            &[
                ("RegionId", "r"),
                ("MatchImage.1", "nginx"),
                ("MatchImage.01", "busybox"),
            ],
            ErrorCode::InvalidParameter,
            "The specified parameter \"MatchImage.01\" is not valid: list indices are 1-based decimal numbers without leading zeros.",
        ),
        (
            &[("RegionId", "r"), ("Tag.01.Key", "k")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"Tag.01.Key\" is not valid: list indices are 1-based decimal numbers without leading zeros.",
        ),
        (
            &[("RegionId", "r"), ("MatchImage.x", "nginx")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"MatchImage.x\" is not valid: list indices are 1-based decimal numbers without leading zeros.",
        ),
        (
            &[("RegionId", "r"), ("MatchImage.2", "Nginx")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"MatchImage.2\" is not valid: repository path must be lower case: found 'N' at byte 0.",
        ),
        (
            &[("RegionId", "r"), ("Image", "a//b")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"Image\" is not valid: repository path component is empty (at byte 2).",
        ),
        (
            &[("RegionId", "r"), ("Tag.3.Value", "v")],
            ErrorCode::MissingParameter,
            "The input parameter \"Tag.3.Key\" that is mandatory for processing this request is not supplied.",
        ),
        (
            &[("RegionId", "r"), ("Tag.1.Key", "k"), ("Tag.1.Colour", "v")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"Tag.1.Colour\" is not valid: unknown parameter for DescribeImageCaches.",
        ),
        (
            &[("RegionId", "r"), ("Tag.1", "v")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"Tag.1\" is not valid: expected Tag.N.<field>.",
        ),
        (
            &[("RegionId", "r"), ("Colour", "v")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"Colour\" is not valid: unknown parameter for DescribeImageCaches.",
        ),
        (
            &[("RegionId", "r"), ("Limit", "2"), ("Limit", "3")],
            ErrorCode::InvalidParameter,
            "The specified parameter \"Limit\" is not valid: given more than once.",
        ),
    ];
    for (params, code, message) in cases {
        // Strict, so that unknown parameters are errors too.
        let e =
            decode_describe_with(params.iter().copied(), &mut UnknownParams::reject()).unwrap_err();
        assert_eq!(
            (e.code(), e.http_status(), e.message()),
            (*code, 400, *message),
            "{params:?}"
        );
    }
}

#[test]
fn unknown_parameters_are_ignored_and_named_or_rejected_when_strict() {
    use eci_imagecache::wire::rpc::{decode_create_with, decode_delete_with, decode_update_with};
    // What the official Go SDK sends on Create and Delete, a bearer-token
    // credential, and invented names, top-level and inside a list.
    let create = [
        ("RegionId", "cn-hangzhou"),
        ("ImageCacheName", "web"),
        ("Image.1", "nginx"),
        ("VkClientVersion", "1.0.0"),
        ("BearerToken", "secret"),
        ("Colour", "blue"),
        ("Tag.1.Key", "env"),
        ("Tag.1.Colour", "v"),
        ("ImageRegistryCredential.1.Server", "r.example.com"),
        ("ImageRegistryCredential.1.Token", "t"),
        ("AcrRegistryInfo.1.InstanceId", "cri-1"),
        ("AcrRegistryInfo.1.Zone", "z"),
    ];
    let mut unknown = UnknownParams::ignore();
    let request = decode_create_with(create, &mut unknown).unwrap();
    assert_eq!(request.tags[0].key(), "env");
    assert_eq!(
        unknown.names(),
        [
            "AcrRegistryInfo.1.Zone",
            "Colour",
            "ImageRegistryCredential.1.Token",
            "Tag.1.Colour",
            "VkClientVersion",
        ],
        "names only, sorted; BearerToken is a common parameter, never named"
    );
    let e = decode_create_with(create, &mut UnknownParams::reject()).unwrap_err();
    assert_eq!(
        e.message(),
        "The specified parameter \"AcrRegistryInfo.1.Zone\" is not valid: unknown parameter for CreateImageCache."
    );
    let delete = [
        ("RegionId", "cn-hangzhou"),
        ("ImageCacheId", "imc-1"),
        ("VkClientVersion", "1.0.0"),
    ];
    let mut unknown = UnknownParams::ignore();
    decode_delete_with(delete, &mut unknown).unwrap();
    assert_eq!(unknown.names(), ["VkClientVersion"]);
    assert_eq!(
        decode_delete_with(delete, &mut UnknownParams::reject())
            .unwrap_err()
            .message(),
        "The specified parameter \"VkClientVersion\" is not valid: unknown parameter for DeleteImageCache."
    );
    let update = [
        ("RegionId", "cn-hangzhou"),
        ("ImageCacheId", "imc-1"),
        ("OsType", "Linux"),
    ];
    let mut unknown = UnknownParams::ignore();
    decode_update_with(update, &mut unknown).unwrap();
    assert_eq!(
        unknown.names(),
        ["OsType"],
        "OsType is a Create parameter only"
    );
    // A known parameter with a bad value is an error either way.
    let bad = [("RegionId", "r"), ("Limit", "x"), ("Colour", "blue")];
    for mut unknown in [UnknownParams::ignore(), UnknownParams::reject()] {
        assert_eq!(
            decode_describe_with(bad, &mut unknown)
                .unwrap_err()
                .message(),
            "The specified parameter \"Limit\" is not valid: expected an integer, got \"x\"."
        );
    }
    // Malformed indices stay errors: they are known lists written wrong.
    assert_eq!(
        decode_describe([("RegionId", "r"), ("MatchImage.01", "nginx")])
            .unwrap_err()
            .code(),
        ErrorCode::InvalidParameter
    );
}

#[test]
fn json_requests() {
    let j: DescribeImageCachesRequestJson = serde_json::from_value(json!({
        "RegionId": "cn-hangzhou",
        "MatchImage": ["nginx", "redis:7"],
        "Tag": [{"Key": "env"}, {"Key": "team", "Value": "a"}],
        "ImageFullMatch": true,
        "Limit": 5
    }))
    .unwrap();
    let r = eci_imagecache::describe::DescribeRequest::try_from(j.clone()).unwrap();
    assert_eq!(r.match_images.len(), 2);
    assert_eq!(r.tags[0].value, None);
    assert_eq!(r.limit, Some(5));
    assert_eq!(
        serde_json::to_value(&j).unwrap(),
        json!({"RegionId": "cn-hangzhou", "MatchImage": ["nginx", "redis:7"], "Tag": [{"Key": "env"}, {"Key": "team", "Value": "a"}], "ImageFullMatch": true, "Limit": 5})
    );
    assert!(
        serde_json::from_value::<DescribeImageCachesRequestJson>(
            json!({"RegionId": "r", "Limit": "5"})
        )
        .is_err(),
        "integers are numbers"
    );
    assert!(
        serde_json::from_value::<DescribeImageCachesRequestJson>(
            json!({"RegionId": "r", "Colour": 1})
        )
        .is_err()
    );
    let bad: DescribeImageCachesRequestJson =
        serde_json::from_value(json!({"RegionId": "r", "MatchImage": ["ok", "Bad"]})).unwrap();
    assert_eq!(
        eci_imagecache::describe::DescribeRequest::try_from(bad)
            .unwrap_err()
            .message(),
        "The specified parameter \"MatchImage.2\" is not valid: repository path must be lower case: found 'B' at byte 0."
    );
}
