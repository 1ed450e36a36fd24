//! The emulator's `MatchPod` action: a Pod manifest (YAML or JSON, form
//! body) in, the decision out, nothing recorded; and `AutoMatch`'s body with
//! the group's hit event and a cache auto-created beside a partial hit.

mod common;

use common::{Server, form, http, options, start};
use eci_imagecache::engine::Durations;
use serde_json::{Value, json};

/// POST with the parameters in a form body (a manifest is too long for a
/// query string).
fn call(s: &Server, action: &str, params: &[(&str, &str)]) -> (u16, Value) {
    http(
        s.addr,
        "POST",
        "/",
        &[
            ("x-acs-action", action),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &form(params),
    )
}

const POD: &str = "\
kind: Pod
metadata:
  name: shop
spec:
  containers:
  - name: web
    image: nginx:2
";

#[test]
fn match_pod_decides_without_recording() {
    let mut o = options();
    o.durations = Durations::instant();
    let s = start(o);
    let r = ("RegionId", "cn-hangzhou");
    let (status, created) = call(
        &s,
        "CreateImageCache",
        &[r, ("ImageCacheName", "web"), ("Image.1", "nginx:1")],
    );
    assert_eq!(status, 200, "{created}");
    let id = created["ImageCacheId"].as_str().unwrap().to_owned();
    let (_, before) = call(&s, "DescribeImageCaches", &[r]);

    let (status, body) = call(&s, "MatchPod", &[r, ("Pod", POD), ("Explain", "true")]);
    assert_eq!(status, 200, "{body}");
    let mut body = body;
    assert!(body["RequestId"].as_str().unwrap().len() == 36);
    body.as_object_mut().unwrap().remove("RequestId");
    assert_eq!(
        body,
        json!({
            "Kind": "Pod", "Name": "shop", "RegionId": "cn-hangzhou",
            "Images": ["docker.io/library/nginx:2"], "DistinctImages": 1, "TemporaryStorageSize": 30,
            "UsesImageCache": true, "Decision": "Hit", "ImageCacheId": id,
            "ExactMatchCount": 0, "PartialMatchCount": 1, "Score": 50,
            "CompleteMatch": false, "WouldAutoCreate": true,
            "CandidateCount": 1, "ExcludedCount": 0,
            "Candidates": [{"ImageCacheId": id, "ExactMatchCount": 0, "PartialMatchCount": 1,
                            "SizeDistance": 10, "CreationTime": "2024-05-01T08:00:00Z", "Score": 50}],
            "Excluded": [],
        })
    );
    // Nothing recorded: the same caches, no LastMatchedTime, nothing created.
    let (_, after) = call(&s, "DescribeImageCaches", &[r]);
    assert_eq!(after["ImageCaches"], before["ImageCaches"]);

    // The recording AutoMatch of the same group: the hit, the group's
    // event, and a cache for the whole group beside the partial hit.
    let (status, hit) = call(
        &s,
        "AutoMatch",
        &[
            r,
            ("Image.1", "nginx:2"),
            ("AutoCreate", "true"),
            ("ContainerGroupId", "eci-shop"),
        ],
    );
    assert_eq!(status, 200, "{hit}");
    assert_eq!(
        (
            &hit["Matched"],
            &hit["ImageCacheId"],
            &hit["PartialMatchCount"]
        ),
        (&json!(true), &json!(id), &json!(1))
    );
    let event = &hit["Event"];
    assert_eq!(
        (
            &event["Type"],
            &event["Reason"],
            &event["Message"],
            &event["Count"]
        ),
        (
            &json!("Normal"),
            &json!("SuccessfulHitImageCache"),
            &json!(format!("Successfully hit image cache {id}.")),
            &json!(1)
        )
    );
    assert!(event["Name"].as_str().unwrap().starts_with("eci-shop."));
    let auto = hit["AutoCreatedImageCacheId"].as_str().unwrap();
    let (_, page) = call(&s, "DescribeImageCaches", &[r, ("ImageCacheId", auto)]);
    assert_eq!(
        page["ImageCaches"][0]["ImageCacheName"],
        "auto-create-for-eci-shop"
    );
    // The cache's own events have no hit event.
    let (_, page) = call(&s, "DescribeImageCaches", &[r, ("ImageCacheId", &id)]);
    let reasons: Vec<&str> = page["ImageCaches"][0]["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Reason"].as_str().unwrap())
        .collect();
    assert!(!reasons.contains(&"SuccessfulHitImageCache"), "{reasons:?}");
    assert_eq!(
        page["ImageCaches"][0]["LastMatchedTime"],
        "2024-05-01T08:00:00Z"
    );
}

#[test]
fn match_pod_refuses_bad_input_clearly() {
    let s = start(options());
    let r = ("RegionId", "cn-hangzhou");
    // (parameters, status, code, a part of the message)
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str, &'a str);
    let cases: &[Case] = &[
        (&[r], 400, "MissingParameter", "\"Pod\""),
        (&[("Pod", POD)], 400, "MissingParameter", "\"RegionId\""),
        (
            &[r, ("Pod", "kind: Pod\nspec:\n  containers: []\n")],
            400,
            "InvalidParameter",
            "image",
        ),
        (
            &[
                r,
                (
                    "Pod",
                    "kind: Pod\nmetadata:\n  annotations:\n    k8s.aliyun.com/eci-extra-ephemeral-storage: \"-5Gi\"\nspec:\n  containers:\n  - image: nginx\n",
                ),
            ],
            400,
            "InvalidParameter",
            "eci-extra-ephemeral-storage",
        ),
        (
            &[r, ("Pod", POD), ("Explain", "maybe")],
            400,
            "InvalidParameter",
            "Explain",
        ),
        (
            &[
                r,
                (
                    "Pod",
                    "kind: Pod\nmetadata:\n  annotations:\n    k8s.aliyun.com/eci-imc-id: imc-none\nspec:\n  containers:\n  - image: nginx\n",
                ),
            ],
            404,
            "ImageCacheNotFound",
            "imc-none",
        ),
    ];
    for (params, status, code, needle) in cases {
        let (got, body) = call(&s, "MatchPod", params);
        assert_eq!(
            (got, body["Code"].as_str().unwrap_or_default()),
            (*status, *code),
            "{params:?}: {body}"
        );
        assert!(
            body["Message"].as_str().unwrap().contains(needle),
            "{params:?}: {body}"
        );
    }
}
