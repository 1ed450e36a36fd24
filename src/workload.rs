//! The seeded benchmark workload of `shared/spec/performance.md` (cargo
//! feature `workload`): one generator for the benchmarks, the property tests
//! and `eci-imagecache gen`, so everyone measures the same thing. Same seed,
//! same data: the random source is ChaCha8, whose output `rand_chacha`
//! keeps stable across versions, and every draw happens in a fixed order.
//!
//! ```
//! use eci_imagecache::workload::{QuerySet, Workload};
//!
//! let workload = Workload::new(42);
//! let caches: Vec<_> = workload.caches(1_000).collect();
//! assert_eq!(caches.len(), 1_000);
//! assert_eq!(caches[0], Workload::new(42).caches(1).next().unwrap());
//! let queries = workload.queries(QuerySet::Match, 10, &caches);
//! assert!(queries.iter().all(|q| q.limit == Some(20) && !q.match_images.is_empty()));
//! ```

use jiff::{SignedDuration, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::automatch::AutoMatchRequest;
use crate::describe::DescribeRequest;
use crate::record::{CacheStatus, EliminationStrategy, ImageCache, Tag};

/// Distinct repositories in the corpus.
pub const REPOSITORIES: usize = 20_000;
const REGION: &str = "cn-hangzhou";
const DAY: i64 = 86_400;

/// The corpus model: repositories with their registries and tags, and the
/// Zipf(1.0) popularity over them.
pub struct Workload {
    seed: u64,
    repos: Vec<Repo>,
    /// Cumulative Zipf weights, for exact sampling by binary search.
    popularity: Vec<f64>,
    /// The end of the creation-time window (90 days long).
    now: Timestamp,
}

impl std::fmt::Debug for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workload")
            .field("seed", &self.seed)
            .field("repositories", &self.repos.len())
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

struct Repo {
    registry: Registry,
    path: String,
    tags: Vec<String>,
}

enum Registry {
    /// Written short: `nginx:1.25`, `org/app:v3`.
    DockerHub,
    /// `registry.` or `registry-vpc.` `cn-hangzhou.aliyuncs.com`.
    AcrPersonal,
    /// `inst<k>-registry[-vpc].cn-hangzhou.cr.aliyuncs.com`.
    AcrEnterprise(u8),
    /// Another host with a port.
    Other(u8),
}

/// The query sets of `performance.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuerySet {
    /// Q1: `MatchImage` of 1–10 images (60 % copies of a cached image, 25 %
    /// the same repository with another tag or endpoint variant, 15 %
    /// unknown), `Limit=20`.
    Match,
    /// Q2: Q1 with `ImageFullMatch=true`.
    FullMatch,
    /// Q3: Q1 with `ImageMatchCountRequest=2`.
    MatchCount,
    /// Q4: 1–2 `Tag` filters, no `MatchImage`, `Limit=20`.
    Tags,
    /// Q5: `MatchImage` of one of the 10 most popular repositories,
    /// `Limit=50`, to be paged with `NextToken` to the end.
    Page,
}

impl QuerySet {
    /// Every set, Q1 to Q5.
    pub const ALL: [QuerySet; 5] = [
        QuerySet::Match,
        QuerySet::FullMatch,
        QuerySet::MatchCount,
        QuerySet::Tags,
        QuerySet::Page,
    ];
}

impl Workload {
    /// The corpus model for a seed.
    pub fn new(seed: u64) -> Workload {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let repos = (0..REPOSITORIES)
            .map(|i| {
                let registry = match rng.random_range(0..100) {
                    0..35 => Registry::DockerHub,
                    35..70 => Registry::AcrPersonal,
                    70..90 => Registry::AcrEnterprise(rng.random_range(0..20)),
                    _ => Registry::Other(rng.random_range(0..10)),
                };
                let path = match (&registry, rng.random_bool(0.5)) {
                    (Registry::DockerHub, true) => format!("app{i}"),
                    (_, _) => format!("team{}/app{i}", rng.random_range(0..200)),
                };
                let tag_count = rng.random_range(1..=20);
                let tags = (0..tag_count)
                    .map(|t| match t % 3 {
                        0 => format!("v{t}"),
                        1 => format!("1.{t}"),
                        _ => format!("release-{t}"),
                    })
                    .collect();
                Repo {
                    registry,
                    path,
                    tags,
                }
            })
            .collect();
        let mut total = 0.0;
        let popularity = (1..=REPOSITORIES)
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Workload {
            seed,
            repos,
            popularity,
            now: Timestamp::from_second(1_767_225_600).expect("2026-01-01"),
        }
    }

    /// The first `count` caches, generated one at a time (a million need no
    /// second copy in memory).
    pub fn caches(&self, count: usize) -> impl Iterator<Item = ImageCache> + '_ {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x5eed_cace);
        (0..count).map(move |i| self.cache(i, &mut rng))
    }

    fn cache(&self, i: usize, rng: &mut ChaCha8Rng) -> ImageCache {
        let id = format!("imc-{}", alphanumeric(rng, 20));
        let age = rng.random_range(0..90 * DAY);
        let created = self.now - SignedDuration::from_secs(age);
        let mut cache = ImageCache::new(id, format!("cache-{i}"), REGION, created);
        // 1–20 images, mean about 4: a geometric draw capped at 20.
        let mut images = 1;
        while images < 20 && rng.random_bool(0.75) {
            images += 1;
        }
        let written: Vec<String> = (0..images).map(|_| self.cached_image(rng)).collect();
        cache = cache
            .with_images(written.iter().map(String::as_str))
            .expect("generated images are valid");
        let tag_count = rng.random_range(0..=5);
        let mut keys: Vec<u32> = Vec::new();
        while keys.len() < tag_count {
            let k = rng.random_range(0..50);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let tags: Vec<Tag> = keys
            .iter()
            .map(|k| {
                Tag::new(
                    format!("key{k}"),
                    format!("value{}", rng.random_range(0..20)),
                )
            })
            .collect();
        cache.set_tags(&tags);
        cache.status = if rng.random_bool(0.9) {
            CacheStatus::Ready
        } else {
            CacheStatus::ALL[rng.random_range(0..CacheStatus::ALL.len())]
        };
        cache.progress = if cache.status == CacheStatus::Ready {
            100
        } else {
            rng.random_range(0..100)
        };
        if cache.status == CacheStatus::Ready {
            cache.set_snapshot_id(Some(&format!("s-{}", alphanumeric(rng, 20))));
        }
        cache.elimination_strategy = if rng.random_bool(0.3) {
            EliminationStrategy::Lru
        } else {
            EliminationStrategy::Retain
        };
        if rng.random_bool(0.5) {
            let used = rng.random_range(0..=age);
            cache.last_matched_time = Some(created + SignedDuration::from_secs(used));
        }
        cache.size_gib = [20, 20, 30, 50][rng.random_range(0..4)];
        cache.set_container_group_id(Some(&format!("eci-{}", alphanumeric(rng, 20))));
        cache
    }

    /// A popular repository by Zipf(1.0).
    fn popular(&self, rng: &mut ChaCha8Rng) -> usize {
        let x = rng.random::<f64>() * self.popularity[REPOSITORIES - 1];
        self.popularity
            .partition_point(|&c| c < x)
            .min(REPOSITORIES - 1)
    }

    /// An image as a cache would hold it: 20 % pinned by digest.
    fn cached_image(&self, rng: &mut ChaCha8Rng) -> String {
        let repo = self.popular(rng);
        let tag = rng.random_range(0..self.repos[repo].tags.len());
        let pinned = rng.random_bool(0.2);
        self.write(repo, tag, pinned, rng.random_bool(0.5))
    }

    /// Writes repository `repo` at tag number `tag`, as a digest when
    /// `pinned`, with the `vpc` endpoint variant when `vpc`.
    fn write(&self, repo: usize, tag: usize, pinned: bool, vpc: bool) -> String {
        let r = &self.repos[repo];
        let host = match r.registry {
            Registry::DockerHub => String::new(),
            Registry::AcrPersonal => {
                format!(
                    "registry{}.{REGION}.aliyuncs.com/",
                    if vpc { "-vpc" } else { "" }
                )
            }
            Registry::AcrEnterprise(k) => format!(
                "inst{k}-registry{}.{REGION}.cr.aliyuncs.com/",
                if vpc { "-vpc" } else { "" }
            ),
            Registry::Other(k) => format!("host{k}.example.com:{}/", 5000 + k as u16),
        };
        if pinned {
            format!("{host}{}@sha256:{}", r.path, digest_hex(repo, tag))
        } else {
            format!("{host}{}:{}", r.path, r.tags[tag])
        }
    }

    /// `count` requests of a query set, drawing copies of cached images from
    /// `sample` (any caches of the corpus; the more, the better).
    pub fn queries(
        &self,
        set: QuerySet,
        count: usize,
        sample: &[ImageCache],
    ) -> Vec<DescribeRequest> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x9e37_79b9 ^ set as u64);
        (0..count)
            .map(|_| self.query(set, sample, &mut rng))
            .collect()
    }

    fn query(&self, set: QuerySet, sample: &[ImageCache], rng: &mut ChaCha8Rng) -> DescribeRequest {
        let mut request = DescribeRequest::new(REGION).limit(20);
        match set {
            QuerySet::Match | QuerySet::FullMatch | QuerySet::MatchCount => {
                for _ in 0..rng.random_range(1..=10) {
                    let image = self.query_image(sample, rng);
                    request = request
                        .match_image(&image)
                        .expect("generated images are valid");
                }
                request.image_full_match = set == QuerySet::FullMatch;
                if set == QuerySet::MatchCount {
                    request.image_match_count_request = Some(2);
                }
            }
            QuerySet::Tags => {
                for _ in 0..rng.random_range(1..=2) {
                    let key = format!("key{}", rng.random_range(0..50));
                    let value = format!("value{}", rng.random_range(0..20));
                    request = request.tag(key, Some(&value));
                }
            }
            QuerySet::Page => {
                let repo = rng.random_range(0..10); // ranks 1–10 by popularity
                let tag = rng.random_range(0..self.repos[repo].tags.len());
                let image = self.write(repo, tag, false, rng.random_bool(0.5));
                request = request
                    .match_image(&image)
                    .expect("generated images are valid")
                    .limit(50);
            }
        }
        request
    }

    /// Q6: `count` container groups of 1–5 images each (drawn like Q1's
    /// images), with 20, 30 or 50 GiB of temporary storage.
    pub fn container_groups(&self, count: usize, sample: &[ImageCache]) -> Vec<AutoMatchRequest> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x6a09_e667);
        (0..count)
            .map(|_| {
                let mut request = AutoMatchRequest::new(REGION)
                    .temporary_storage_gib([20, 30, 30, 50][rng.random_range(0..4)]);
                for _ in 0..rng.random_range(1..=5) {
                    let image = self.query_image(sample, &mut rng);
                    request = request.image(&image).expect("generated images are valid");
                }
                request
            })
            .collect()
    }

    /// 60 % a copy of a cached image, 25 % its repository with another tag
    /// or endpoint variant, 15 % unknown.
    fn query_image(&self, sample: &[ImageCache], rng: &mut ChaCha8Rng) -> String {
        let roll = rng.random_range(0..100);
        if roll >= 85 || sample.is_empty() {
            return format!(
                "unknown{}/app:v{}",
                rng.random_range(0..1_000_000),
                rng.random_range(0..9)
            );
        }
        let cache = &sample[rng.random_range(0..sample.len())];
        let image = cache
            .images()
            .get(rng.random_range(0..cache.images().len()))
            .expect("in range");
        if roll < 60 {
            return image.written().to_owned();
        }
        // Same repository: find it in the model by its path, then write it
        // with another tag, or the same tag with the other endpoint.
        let reference = image.reference();
        let path = reference.repository();
        let path = path.strip_prefix("library/").unwrap_or(path);
        match self.repos.iter().position(|r| r.path == path) {
            Some(repo) => {
                let tag = rng.random_range(0..self.repos[repo].tags.len());
                self.write(repo, tag, false, rng.random_bool(0.5))
            }
            None => image.written().to_owned(),
        }
    }
}

fn alphanumeric(rng: &mut ChaCha8Rng, len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// A stable, fake sha256 hex for a repository's tag.
fn digest_hex(repo: usize, tag: usize) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(format!("{repo}:{tag}").as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_has_the_stated_shape() {
        let workload = Workload::new(7);
        let caches: Vec<ImageCache> = workload.caches(20_000).collect();
        let images: usize = caches.iter().map(|c| c.images().len()).sum();
        let mean = images as f64 / caches.len() as f64;
        assert!((3.5..4.5).contains(&mean), "mean images per cache {mean}");
        assert!(
            caches
                .iter()
                .all(|c| (1..=20).contains(&c.images().len()) && c.tags().len() <= 5)
        );
        let ready = caches
            .iter()
            .filter(|c| c.status == CacheStatus::Ready)
            .count() as f64
            / 20_000.0;
        assert!((0.88..0.93).contains(&ready), "ready {ready}");
        let lru = caches
            .iter()
            .filter(|c| c.elimination_strategy == EliminationStrategy::Lru)
            .count() as f64
            / 20_000.0;
        assert!((0.27..0.33).contains(&lru), "lru {lru}");
        let pinned = caches
            .iter()
            .flat_map(|c| c.images())
            .filter(|i| i.reference().digest().is_some())
            .count() as f64
            / images as f64;
        assert!((0.18..0.22).contains(&pinned), "pinned {pinned}");
        let matched = caches
            .iter()
            .filter(|c| c.last_matched_time.is_some())
            .count() as f64
            / 20_000.0;
        assert!((0.47..0.53).contains(&matched), "matched {matched}");
        let created: Vec<i64> = caches.iter().map(|c| c.creation_time.as_second()).collect();
        let span = created.iter().max().unwrap() - created.iter().min().unwrap();
        assert!(span > 89 * DAY && span <= 90 * DAY, "{span}");
        // Same seed, same data; another seed, other data.
        assert_eq!(
            Workload::new(7).caches(50).collect::<Vec<_>>(),
            caches[..50]
        );
        assert_ne!(
            Workload::new(8).caches(50).collect::<Vec<_>>(),
            caches[..50]
        );
    }

    #[test]
    fn query_sets() {
        let workload = Workload::new(3);
        let caches: Vec<ImageCache> = workload.caches(2_000).collect();
        for set in QuerySet::ALL {
            let queries = workload.queries(set, 200, &caches);
            assert_eq!(queries.len(), 200);
            assert_eq!(
                queries,
                workload.queries(set, 200, &caches),
                "{set:?} is deterministic"
            );
            for q in &queries {
                assert!(q.validate().is_ok());
                match set {
                    QuerySet::Tags => {
                        assert!((1..=2).contains(&q.tags.len()) && q.match_images.is_empty())
                    }
                    QuerySet::Page => assert_eq!((q.match_images.len(), q.limit), (1, Some(50))),
                    _ => assert!((1..=10).contains(&q.match_images.len())),
                }
            }
        }
    }
}
