//! Table tests for every rule of `DescribeImageCaches` (behaviour.md
//! section 4), run against every engine: the index and the naive oracle.

use eci_imagecache::cursor::TokenKey;
use eci_imagecache::describe::{DescribePage, DescribeRequest};
use eci_imagecache::index::Index;
use eci_imagecache::oracle::NaiveIndex;
use eci_imagecache::record::{ImageCache, Tag};
use eci_imagecache::reference::RegistryAliases;
use eci_imagecache::{ApiError, ErrorCode};

const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// (id, name, images, tags, minutes after the epoch of the test, snapshot, group)
type Row = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    i64,
    Option<&'static str>,
    Option<&'static str>,
);

fn world() -> Vec<ImageCache> {
    let digest_image: &'static str = Box::leak(format!("nginx@{A}").into_boxed_str());
    let c_images: &'static [&'static str] = Box::leak(vec![digest_image].into_boxed_slice());
    let rows: Vec<Row> = vec![
        (
            "imc-a",
            "web",
            &["nginx:1.25", "redis:7"],
            &[("env", "prod"), ("team", "x")],
            3,
            Some("s-a"),
            Some("rg-1"),
        ),
        (
            "imc-b",
            "web",
            &["nginx:1.24"],
            &[("env", "dev")],
            2,
            None,
            None,
        ),
        (
            "imc-c",
            "api",
            c_images,
            &[("env", "prod")],
            1,
            None,
            Some("rg-2"),
        ),
        (
            "imc-d",
            "db",
            &[
                "registry-vpc.cn-hangzhou.aliyuncs.com/ns/app:v1",
                "docker.io/library/nginx:1.25",
            ],
            &[("env", "")],
            3,
            None,
            None,
        ),
        ("imc-e", "tools", &["busybox"], &[], 0, None, None),
    ];
    rows.into_iter()
        .map(|(id, name, images, tags, minutes, snapshot, group)| {
            let t = jiff::Timestamp::from_second(1_700_000_000 + minutes * 60).unwrap();
            let mut c = ImageCache::new(id, name, "cn-hangzhou", t)
                .with_images(images.iter().copied())
                .unwrap();
            c.set_tags(
                &tags
                    .iter()
                    .map(|(k, v)| Tag::new(*k, *v))
                    .collect::<Vec<_>>(),
            );
            c.set_snapshot_id(snapshot);
            c.set_resource_group_id(group);
            c
        })
        .collect()
}

/// One answer: ids in order, `TotalCount`, whether a `NextToken` came back.
type Answer = Result<(Vec<String>, usize, bool), ApiError>;

trait Engine {
    fn name(&self) -> &'static str;
    fn answer(&self, r: &DescribeRequest) -> Answer;
}

fn answer(page: Result<DescribePage<'_>, ApiError>) -> Answer {
    let p = page?;
    Ok((
        p.image_caches.iter().map(|c| c.id().to_owned()).collect(),
        p.total_count,
        p.next_token.is_some(),
    ))
}

impl Engine for Index {
    fn name(&self) -> &'static str {
        "index"
    }
    fn answer(&self, r: &DescribeRequest) -> Answer {
        answer(self.describe(r))
    }
}

impl Engine for NaiveIndex {
    fn name(&self) -> &'static str {
        "naive"
    }
    fn answer(&self, r: &DescribeRequest) -> Answer {
        answer(self.describe(r))
    }
}

fn engines() -> Vec<Box<dyn Engine>> {
    let mut index = Index::new(RegistryAliases::default(), TokenKey::from_seed(1));
    let mut naive = NaiveIndex::new(RegistryAliases::default(), TokenKey::from_seed(1));
    for c in world() {
        index.insert(c.clone());
        naive.insert(c);
    }
    vec![Box::new(index), Box::new(naive)]
}

fn req() -> DescribeRequest {
    DescribeRequest::new("cn-hangzhou")
}

#[track_caller]
fn m(r: DescribeRequest, images: &[&str]) -> DescribeRequest {
    images.iter().fold(r, |r, i| r.match_image(i).unwrap())
}

#[test]
fn rules() {
    let digest = format!("nginx@{A}");
    // (what the case shows, request, ids in order, TotalCount)
    let cases: Vec<(&str, DescribeRequest, &[&str], usize)> = vec![
        (
            "no filter: newest first, then id",
            req(),
            &["imc-a", "imc-d", "imc-b", "imc-c", "imc-e"],
            5,
        ),
        (
            "F desc, then P desc, then newest, then id",
            m(req(), &["nginx:1.25"]),
            &["imc-a", "imc-d", "imc-b", "imc-c"],
            4,
        ),
        (
            "more exact matches first",
            m(req(), &["nginx:1.25", "redis:7"]),
            &["imc-a", "imc-d", "imc-b", "imc-c"],
            4,
        ),
        (
            "P counts repositories matched only partially",
            m(req(), &["nginx:9", "redis:1"]),
            &["imc-a", "imc-d", "imc-b", "imc-c"],
            4,
        ),
        (
            "a digest query matches the digest exactly",
            m(req(), &[&digest]).full_match(true),
            &["imc-c"],
            1,
        ),
        (
            "a tag never exactly matches a digest",
            m(req(), &["nginx:1.25"]).full_match(true),
            &["imc-a", "imc-d"],
            2,
        ),
        (
            "a digest never exactly matches a tag",
            m(req(), &[&digest]).match_count(1),
            &["imc-c"],
            1,
        ),
        (
            "duplicates in MatchImage count once",
            m(
                req(),
                &["nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25"],
            )
            .full_match(true),
            &["imc-a", "imc-d"],
            2,
        ),
        (
            "duplicates cannot reach a count",
            m(req(), &["nginx:1.25", "nginx:1.25"]).match_count(2),
            &[],
            0,
        ),
        (
            "ImageFullMatch beats ImageMatchCountRequest",
            m(req(), &["nginx:1.25", "redis:7"])
                .full_match(true)
                .match_count(1),
            &["imc-a"],
            1,
        ),
        (
            "ImageMatchCountRequest: F >= N",
            m(req(), &["nginx:1.25", "redis:7"]).match_count(1),
            &["imc-a", "imc-d"],
            2,
        ),
        (
            "ImageMatchCountRequest above the query images: nothing",
            m(req(), &["nginx:1.25"]).match_count(2),
            &[],
            0,
        ),
        (
            "endpoint variants match each other",
            m(req(), &["registry.cn-hangzhou.aliyuncs.com/ns/app:v1"]),
            &["imc-d"],
            1,
        ),
        (
            "other region does not",
            m(req(), &["registry.cn-shanghai.aliyuncs.com/ns/app:v1"]),
            &[],
            0,
        ),
        (
            "unknown images match nothing",
            m(req(), &["unknown/x"]),
            &[],
            0,
        ),
        (
            "ImageFullMatch without MatchImage is ignored",
            req().full_match(true),
            &["imc-a", "imc-d", "imc-b", "imc-c", "imc-e"],
            5,
        ),
        (
            "ImageMatchCountRequest without MatchImage is ignored",
            req().match_count(3),
            &["imc-a", "imc-d", "imc-b", "imc-c", "imc-e"],
            5,
        ),
        (
            "unknown ImageCacheId: empty, not an error",
            req().image_cache_id("imc-zzz"),
            &[],
            0,
        ),
        ("ImageCacheId", req().image_cache_id("imc-c"), &["imc-c"], 1),
        (
            "ImageCacheName is exact",
            req().image_cache_name("web"),
            &["imc-a", "imc-b"],
            2,
        ),
        (
            "ImageCacheName is case-sensitive",
            req().image_cache_name("Web"),
            &[],
            0,
        ),
        ("SnapshotId", req().snapshot_id("s-a"), &["imc-a"], 1),
        (
            "ResourceGroupId",
            req().resource_group_id("rg-2"),
            &["imc-c"],
            1,
        ),
        (
            "Image without a version: any version of the repository",
            req().image("nginx").unwrap(),
            &["imc-a", "imc-d", "imc-b", "imc-c"],
            4,
        ),
        (
            "Image with a tag: the exact key",
            req().image("nginx:1.25").unwrap(),
            &["imc-a", "imc-d"],
            2,
        ),
        (
            "Image :latest is a tag like any other",
            req().image("nginx:latest").unwrap(),
            &[],
            0,
        ),
        (
            "a cached image without a tag is :latest",
            req().image("busybox:latest").unwrap(),
            &["imc-e"],
            1,
        ),
        (
            "Image with a digest",
            req().image(&digest).unwrap(),
            &["imc-c"],
            1,
        ),
        (
            "Tag key and value",
            req().tag("env", Some("prod")),
            &["imc-a", "imc-c"],
            2,
        ),
        (
            "an empty Tag value matches any value",
            req().tag("env", Some("")),
            &["imc-a", "imc-d", "imc-b", "imc-c"],
            4,
        ),
        (
            "an absent Tag value matches any value",
            req().tag("env", None),
            &["imc-a", "imc-d", "imc-b", "imc-c"],
            4,
        ),
        (
            "every given tag must be on the cache",
            req().tag("env", Some("prod")).tag("team", None),
            &["imc-a"],
            1,
        ),
        ("an unknown tag: nothing", req().tag("owner", None), &[], 0),
        (
            "filters are ANDed with MatchImage",
            m(req(), &["nginx:1.25"]).image_cache_name("web"),
            &["imc-a", "imc-b"],
            2,
        ),
        (
            "Limit pages; TotalCount counts all",
            req().limit(2),
            &["imc-a", "imc-d"],
            5,
        ),
        (
            "Limit over the total: one page",
            req().limit(50),
            &["imc-a", "imc-d", "imc-b", "imc-c", "imc-e"],
            5,
        ),
    ];
    for engine in engines() {
        for (what, request, want, total) in &cases {
            let (got, got_total, more) = engine
                .answer(request)
                .unwrap_or_else(|e| panic!("{}: {what}: {e}", engine.name()));
            assert_eq!(got, *want, "{}: {what}", engine.name());
            assert_eq!(got_total, *total, "{}: {what}: TotalCount", engine.name());
            assert_eq!(
                more,
                got.len() < *total,
                "{}: {what}: NextToken only when more remain",
                engine.name()
            );
        }
    }
}

#[test]
fn validation() {
    let many_images: Vec<String> = (0..101).map(|i| format!("app{i}")).collect();
    let refs: Vec<&str> = many_images.iter().map(String::as_str).collect();
    let cases: Vec<(DescribeRequest, ErrorCode, &str)> = vec![
        (
            DescribeRequest::new(""),
            ErrorCode::MissingParameter,
            "The input parameter \"RegionId\" that is mandatory for processing this request is not supplied.",
        ),
        (
            m(req(), &refs),
            ErrorCode::InvalidParameter,
            "The specified parameter \"MatchImage\" is not valid: at most 100 images, got 101.",
        ),
        (
            (0..21).fold(req(), |r, i| r.tag(format!("k{i}"), None)),
            ErrorCode::InvalidParameter,
            "The specified parameter \"Tag\" is not valid: at most 20 tags, got 21.",
        ),
        (
            req().tag("", Some("v")),
            ErrorCode::InvalidParameter,
            "The specified parameter \"Tag.N.Key\" is not valid: a tag key must not be empty.",
        ),
        (
            req().limit(0),
            ErrorCode::InvalidParameter,
            "The specified parameter \"Limit\" is not valid: must be at least 1.",
        ),
        (
            req().match_count(0),
            ErrorCode::InvalidParameter,
            "The specified parameter \"ImageMatchCountRequest\" is not valid: must be at least 1.",
        ),
    ];
    for engine in engines() {
        for (request, code, message) in &cases {
            let e = engine.answer(request).unwrap_err();
            assert_eq!(
                (e.code(), e.http_status(), e.message()),
                (*code, 400, *message),
                "{}",
                engine.name()
            );
        }
    }
    // 100 images are fine.
    for engine in engines() {
        assert!(engine.answer(&m(req(), &refs[..100])).is_ok());
    }
    let e = req().match_image("Bad/Ref").unwrap_err();
    assert_eq!(
        e.message(),
        "The specified parameter \"MatchImage\" is not valid: repository path must be lower case: found 'R' at byte 4."
    );
}

/// Section 4.3: a page holds `min(Limit, cap)` caches, 20 without a
/// `Limit`; the cap is 20 unless the embedder sets another. 25 caches, on
/// both engines.
#[test]
fn page_cap() {
    let t = |i: i64| jiff::Timestamp::from_second(1_700_000_000 + i).unwrap();
    let caches: Vec<ImageCache> = (0..25)
        .map(|i| {
            ImageCache::new(format!("imc-{i:02}"), "c", "cn-hangzhou", t(i))
                .with_images(["nginx"])
                .unwrap()
        })
        .collect();
    // (cap, Limit, page size, NextToken)
    let cases: &[(Option<u32>, Option<u32>, usize, bool)] = &[
        (None, None, 20, true),
        (None, Some(1000), 20, true),
        (None, Some(20), 20, true),
        (None, Some(7), 7, true),
        (None, Some(25), 20, true),
        (Some(5), None, 5, true),
        (Some(5), Some(3), 3, true),
        (Some(100), None, 20, true),
        (Some(100), Some(25), 25, false),
        (Some(100), Some(1000), 25, false),
        (Some(u32::MAX), Some(u32::MAX), 25, false),
        (Some(1), Some(1000), 1, true),
    ];
    for &(cap, limit, size, more) in cases {
        let mut index = Index::new(RegistryAliases::default(), TokenKey::from_seed(1));
        let mut naive = NaiveIndex::new(RegistryAliases::default(), TokenKey::from_seed(1));
        if let Some(cap) = cap {
            index.set_page_cap(cap);
            naive.set_page_cap(cap);
        }
        for c in &caches {
            index.insert(c.clone());
            naive.insert(c.clone());
        }
        let mut r = req();
        r.limit = limit;
        let newest: Vec<String> = (0..25).rev().map(|i| format!("imc-{i:02}")).collect();
        for engine in [&index as &dyn Engine, &naive] {
            let (ids, total, next) = engine.answer(&r).unwrap();
            assert_eq!(
                (ids.as_slice(), total, next),
                (&newest[..size], 25, more),
                "{} cap {cap:?} Limit {limit:?}",
                engine.name()
            );
        }
        // Following NextToken reaches every cache once, in order.
        let mut seen = Vec::new();
        let mut r = r.clone();
        loop {
            let page = index.describe(&r).unwrap();
            assert!(page.image_caches.len() <= size);
            seen.extend(page.image_caches.iter().map(|c| c.id().to_owned()));
            match page.next_token {
                Some(token) => r.next_token = Some(token),
                None => break,
            }
        }
        assert_eq!(seen, newest);
    }
}
