//! The matching rules every engine shares (the index, the oracle, the
//! cursor, auto-match): a request's images turned into keys under an
//! engine's alias rules ([`Prepared`]), whether a cache passes
//! `ImageFullMatch` and `ImageMatchCountRequest` ([`Prepared::match_passes`]),
//! the `Tag` filters ([`tags_match`]), and the order of a result
//! ([`SortKey`]: more exact matches, then more partial ones, then newest,
//! then id).

use std::cmp::Ordering;

use crate::describe::{DescribeRequest, TagFilter};
use crate::record::ImageCache;
use crate::reference::RegistryAliases;

/// A query key: byte ranges of [`Prepared`]'s text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyRange {
    start: u32,
    repo_end: u32,
    end: u32,
}

/// A request with its images turned into keys under an engine's rules, in
/// buffers that are reused from query to query.
#[derive(Default)]
pub(crate) struct Prepared {
    text: String,
    scratch: String,
    /// Distinct query images, sorted by exact key (duplicates count once).
    keys: Vec<KeyRange>,
    /// `Image`, and whether it was written without tag or digest.
    image: Option<(KeyRange, bool)>,
    /// `ImageFullMatch`, only when there is a `MatchImage`.
    pub full_match: bool,
    /// `ImageMatchCountRequest`, only when there is a `MatchImage`.
    pub min_exact: Option<u32>,
}

impl Prepared {
    /// Fills the buffers for `request`, keeping their capacity.
    pub fn prepare(&mut self, request: &DescribeRequest, rules: &RegistryAliases) {
        self.prepare_match(
            &request.match_images,
            request.image_full_match,
            request.image_match_count_request,
            rules,
        );
        self.image = request
            .image
            .as_ref()
            .map(|r| (self.push_key(r, rules), r.is_name_only()));
    }

    /// Fills the buffers for matching `images` only (auto-match).
    pub fn prepare_match(
        &mut self,
        images: &[crate::reference::Reference],
        full_match: bool,
        min_exact: Option<u32>,
        rules: &RegistryAliases,
    ) {
        self.text.clear();
        self.keys.clear();
        self.image = None;
        for image in images {
            let key = self.push_key(image, rules);
            self.keys.push(key);
        }
        let text = &self.text;
        let exact = |k: &KeyRange| &text[k.start as usize..k.end as usize];
        self.keys.sort_unstable_by(|a, b| exact(a).cmp(exact(b)));
        self.keys.dedup_by(|a, b| exact(a) == exact(b));
        let matching = !self.keys.is_empty();
        self.full_match = matching && full_match;
        self.min_exact = min_exact.filter(|_| matching);
    }

    fn push_key(
        &mut self,
        reference: &crate::reference::Reference,
        rules: &RegistryAliases,
    ) -> KeyRange {
        let repo_len = rules.write_exact_key(reference, &mut self.scratch);
        let start = self.text.len();
        self.text.push_str(&self.scratch);
        KeyRange {
            start: start as u32,
            repo_end: (start + repo_len) as u32,
            end: self.text.len() as u32,
        }
    }

    /// How many distinct query images there are.
    pub fn match_count(&self) -> usize {
        self.keys.len()
    }

    /// The distinct query images as (exact key, repo key).
    pub fn match_keys(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.keys.iter().map(|k| self.key(*k))
    }

    /// `Image` as (exact key, repo key, written without a version).
    pub fn image(&self) -> Option<(&str, &str, bool)> {
        self.image.map(|(k, name_only)| {
            let (exact, repo) = self.key(k);
            (exact, repo, name_only)
        })
    }

    fn key(&self, k: KeyRange) -> (&str, &str) {
        (
            &self.text[k.start as usize..k.end as usize],
            &self.text[k.start as usize..k.repo_end as usize],
        )
    }

    /// Whether a cache with `f` exact and `p` partial matches is returned
    /// (section 4.1). Without `MatchImage` every cache passes.
    pub fn match_passes(&self, f: u32, p: u32) -> bool {
        if self.keys.is_empty() {
            return true;
        }
        if f + p == 0 {
            return false;
        }
        if self.full_match {
            return f as usize == self.keys.len();
        }
        self.min_exact.is_none_or(|n| f >= n)
    }

    /// A canonical encoding of everything but `Limit` and `NextToken`, which
    /// a token is bound to.
    pub fn fingerprint(&self, request: &DescribeRequest, out: &mut Vec<u8>) {
        fn field(out: &mut Vec<u8>, tag: u8, value: Option<&str>) {
            out.push(tag);
            match value {
                None => out.push(0),
                Some(v) => {
                    out.push(1);
                    out.extend_from_slice(&(v.len() as u64).to_le_bytes());
                    out.extend_from_slice(v.as_bytes());
                }
            }
        }
        out.clear();
        field(out, b'R', Some(&request.region_id));
        field(out, b'I', request.image_cache_id.as_deref());
        field(out, b'N', request.image_cache_name.as_deref());
        field(out, b'S', request.snapshot_id.as_deref());
        field(out, b'G', request.resource_group_id.as_deref());
        match self.image() {
            None => field(out, b'M', None),
            Some((_, repo, true)) => field(out, b'm', Some(repo)),
            Some((exact, _, false)) => field(out, b'M', Some(exact)),
        }
        // Tags in a canonical order, without allocating: repeatedly emit the
        // smallest (key, value) greater than the last one emitted.
        let mut last: Option<(&str, Option<&str>)> = None;
        loop {
            let next = request
                .tags
                .iter()
                .map(|t| (t.key.as_str(), t.value()))
                .filter(|t| last.is_none_or(|l| *t > l))
                .min();
            let Some((key, value)) = next else { break };
            field(out, b'T', Some(key));
            field(out, b'V', value);
            last = next;
        }
        for (exact, _) in self.match_keys() {
            field(out, b'Q', Some(exact));
        }
        out.push(self.full_match as u8);
        out.extend_from_slice(&self.min_exact.unwrap_or(0).to_le_bytes());
    }
}

/// Whether a cache's tags satisfy every tag filter.
pub(crate) fn tags_match(cache: &ImageCache, filters: &[TagFilter]) -> bool {
    filters.iter().all(|filter| {
        cache
            .tags()
            .iter()
            .any(|(key, value)| key == filter.key && filter.value().is_none_or(|v| v == value))
    })
}

/// Where a cache stands in the total order of section 4.2: exact matches
/// descending, partial matches descending, `CreationTime` newest first,
/// `ImageCacheId` ascending. Without `MatchImage`, `exact` and `partial`
/// are 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SortKey<'a> {
    /// F: images matched exactly.
    pub exact: u32,
    /// P: images matched by repository only.
    pub partial: u32,
    pub creation: i64,
    pub id: &'a str,
}

impl Ord for SortKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .exact
            .cmp(&self.exact)
            .then(other.partial.cmp(&self.partial))
            .then(other.creation.cmp(&self.creation))
            .then(self.id.cmp(other.id))
    }
}

impl PartialOrd for SortKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<'a> SortKey<'a> {
    pub fn of(cache: &'a ImageCache, exact: u32, partial: u32) -> Self {
        SortKey {
            exact,
            partial,
            creation: cache.creation_time.as_second(),
            id: cache.id(),
        }
    }
}
