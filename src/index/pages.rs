//! `DescribeImageCaches`: resolving the filters, choosing the query path,
//! and reading a page in result order after the cursor.

use std::cmp::Ordering;

use super::counting::Scratch;
use super::fields::FieldRef;
use super::postings::{Backward, ListRef};
use super::ranks::RankKey;
use super::sink::{MatchSink, TopK, candidate};
use super::{Index, group, tag_pair_key};
use crate::cursor::{Bound, Position};
use crate::describe::{DescribePage, DescribeRequest};
use crate::error::ApiError;

/// A resolved tag filter: a (key, value) pair id or a key id.
#[derive(Clone, Copy)]
pub(super) enum TagRef {
    Pair(u32),
    Key(u32),
}

/// The filters other than `MatchImage` and tags, resolved to ids once per
/// query.
#[derive(Default)]
pub(super) struct Resolved {
    rank: Option<u32>,
    name: Option<FieldRef>,
    snapshot: Option<FieldRef>,
    resource_group: Option<u32>,
    /// (id, name only: repo key id, else exact key id)
    image: Option<(u32, bool)>,
}

impl Resolved {
    fn count(&self) -> usize {
        [
            self.rank.is_some(),
            self.name.is_some(),
            self.snapshot.is_some(),
            self.resource_group.is_some(),
            self.image.is_some(),
        ]
        .iter()
        .filter(|&&b| b)
        .count()
    }
}

/// Where the cursor stands: caches of a worse group come after it, and of
/// its group those ranked below `bound`.
#[derive(Clone, Copy)]
struct After {
    group: u32,
    bound: u32,
}

impl After {
    /// The candidate words after the cursor are those below this one.
    fn word(self) -> u64 {
        candidate(self.group, self.bound)
    }
}

/// A posting list read in result order (descending rank).
#[derive(Clone, Copy)]
struct ResultOrder<'a>(ListRef<'a>);

impl<'a> ResultOrder<'a> {
    fn len(self) -> usize {
        self.0.len()
    }

    /// The `i`-th rank in result order.
    fn get(self, i: usize) -> Option<u32> {
        (i < self.0.len()).then(|| self.0.get(self.0.len() - 1 - i))
    }

    /// The ranks from position `from` on, in result order.
    fn iter_from(self, from: usize) -> Backward<'a> {
        self.0.backward_from(self.0.len().saturating_sub(from))
    }

    /// How many ranks are at or above `rank`: the position in result order
    /// where the ranks below it start.
    fn position_below(self, rank: u32) -> usize {
        self.0.len() - self.0.lower_bound(rank)
    }
}

impl Index {
    /// Answers `DescribeImageCaches` with fresh scratch space.
    ///
    /// # Errors
    ///
    /// As [`Index::describe_with`].
    pub fn describe(&self, request: &DescribeRequest) -> Result<DescribePage<'_>, ApiError> {
        self.describe_with(request, &mut Scratch::default())
    }

    /// Answers `DescribeImageCaches`, reusing `scratch` between queries.
    ///
    /// # Errors
    ///
    /// What [`DescribeRequest::validate`] finds, and
    /// `InvalidParameter.NextToken` for a `NextToken` this index did not
    /// make for this same query (another query's, another region's, one
    /// altered or truncated).
    pub fn describe_with<'a>(
        &'a self,
        request: &DescribeRequest,
        scratch: &mut Scratch,
    ) -> Result<DescribePage<'a>, ApiError> {
        request.validate()?;
        scratch.prepared.prepare(request, &self.rules);
        scratch
            .prepared
            .fingerprint(request, &mut scratch.fingerprint);
        // The fingerprint is absorbed once for the token read and the one made.
        let bound = &self.token_key.bind(&scratch.fingerprint);
        let after = match request.continuation() {
            Some(token) => Some(self.after(bound.decode(token, &mut scratch.token_buf)?)),
            None => None,
        };
        let limit = request.page_size(self.page_cap);

        let Some(resolved) = self.resolve(request, scratch) else {
            return Ok(empty_page());
        };
        let filters = resolved.count() + scratch.tag_filters.len();
        Ok(match scratch.prepared.match_count() {
            0 if filters == 0 => self.unfiltered_page(after, limit, bound),
            0 => self.driven_page(&resolved, filters == 1, after, limit, bound, scratch),
            1 => self.single_image_page(&resolved, filters > 0, after, limit, bound, scratch),
            _ => self.top_page(&resolved, filters > 0, after, limit, bound, scratch),
        })
    }

    /// The cursor's place: the rank of its cache when that is still there
    /// unchanged (one lookup), else found by binary search.
    fn after(&self, p: Position<'_>) -> After {
        let bound = match self.rank_of(p.id) {
            Some(r) if self.cache(r).creation_time.as_second() == p.creation => r,
            _ => self.lower_bound(RankKey {
                creation: p.creation,
                id: p.id,
            }),
        };
        After {
            group: group(p.exact, p.partial),
            bound,
        }
    }

    /// Resolves the non-`MatchImage` filters to ids; `None` when one of them
    /// names something no cache has, so nothing can pass.
    fn resolve(&self, request: &DescribeRequest, scratch: &mut Scratch) -> Option<Resolved> {
        let mut resolved = Resolved::default();
        if let Some(id) = &request.image_cache_id {
            resolved.rank = Some(self.rank_of(id)?);
        }
        if let Some(name) = &request.image_cache_name {
            resolved.name = Some(self.names.find(&self.hasher, &self.entries, name)?);
        }
        if let Some(snapshot) = &request.snapshot_id {
            resolved.snapshot = Some(self.snapshots.find(&self.hasher, &self.entries, snapshot)?);
        }
        if let Some(group) = &request.resource_group_id {
            resolved.resource_group = Some(self.resource_groups.id(group)?);
        }
        if let Some((exact, repo, name_only)) = scratch.prepared.image() {
            resolved.image = Some(if name_only {
                (self.repo.id(repo)?, true)
            } else {
                (self.exact.id(exact)?, false)
            });
        }
        scratch.tag_filters.clear();
        for filter in &request.tags {
            let tag = match filter.value() {
                Some(value) => {
                    tag_pair_key(&filter.key, value, &mut scratch.key_buf);
                    TagRef::Pair(self.tag_pairs.id(&scratch.key_buf)?)
                }
                None => TagRef::Key(self.tag_keys.id(&filter.key)?),
            };
            scratch.tag_filters.push(tag);
        }
        Some(resolved)
    }

    /// The shortest posting list among the filters (there is at least one).
    fn driving_list<'a>(&'a self, resolved: &'a Resolved, tags: &[TagRef]) -> ListRef<'a> {
        let mut best: Option<ListRef<'a>> = resolved
            .rank
            .as_ref()
            .map(|rank| ListRef::Flat(std::slice::from_ref(rank)));
        let mut consider = |list: ListRef<'a>| {
            if best.is_none_or(|b| list.len() < b.len()) {
                best = Some(list);
            }
        };
        for (field, table) in [
            (&resolved.name, &self.names),
            (&resolved.snapshot, &self.snapshots),
        ] {
            match field {
                Some(FieldRef::Single(rank)) => consider(ListRef::Flat(std::slice::from_ref(rank))),
                Some(FieldRef::Shared(k)) => consider(table.list(*k)),
                None => {}
            }
        }
        if let Some(k) = resolved.resource_group {
            consider(self.resource_groups.list(k));
        }
        if let Some((k, name_only)) = resolved.image {
            consider(if name_only {
                self.repo.list(k)
            } else {
                self.exact.list(k)
            });
        }
        for tag in tags {
            consider(match *tag {
                TagRef::Pair(k) => self.tag_pairs.list(k),
                TagRef::Key(k) => self.tag_keys.list(k),
            });
        }
        best.unwrap_or(ListRef::Flat(&[]))
    }

    /// Whether the cache at `rank` passes every filter but `MatchImage`.
    pub(super) fn passes_filters(&self, rank: u32, resolved: &Resolved, tags: &[TagRef]) -> bool {
        let e = self.entry(rank);
        resolved.rank.is_none_or(|r| r == rank)
            && [(resolved.name, e.name), (resolved.snapshot, e.snapshot)]
                .into_iter()
                .all(|(field, at)| match field {
                    None => true,
                    Some(FieldRef::Single(r)) => r == rank,
                    Some(FieldRef::Shared(k)) => at == k,
                })
            && resolved
                .resource_group
                .is_none_or(|k| k == e.resource_group)
            && resolved.image.is_none_or(|(k, name_only)| {
                let ids = if name_only { e.repo() } else { e.exact() };
                ids.binary_search(&k).is_ok()
            })
            && tags.iter().all(|tag| match *tag {
                TagRef::Pair(k) => e.tag_pairs().binary_search(&k).is_ok(),
                TagRef::Key(k) => e.tag_keys().binary_search(&k).is_ok(),
            })
    }

    /// Where reading `list`, a list of match group `group` in result order,
    /// starts after the cursor.
    fn start(list: ResultOrder<'_>, group: u32, after: Option<After>) -> usize {
        let Some(a) = after else { return 0 };
        match a.group.cmp(&group) {
            // The cursor is in a better group: all of this one is still to come.
            Ordering::Greater => 0,
            Ordering::Less => list.len(),
            Ordering::Equal => list.position_below(a.bound),
        }
    }

    /// Filters without `MatchImage`: read the shortest list in result order.
    fn driven_page<'a>(
        &'a self,
        resolved: &Resolved,
        sole: bool,
        after: Option<After>,
        limit: usize,
        bound: &Bound,
        scratch: &Scratch,
    ) -> DescribePage<'a> {
        let tags = &scratch.tag_filters;
        let list = ResultOrder(self.driving_list(resolved, tags));
        let passes = |r: u32| sole || self.passes_filters(r, resolved, tags);
        let total = if sole {
            list.len()
        } else {
            list.iter_from(0).filter(|&r| passes(r)).count()
        };
        let walk = list
            .iter_from(Self::start(list, 0, after))
            .map(|r| (0, r))
            .filter(|&(_, r)| passes(r));
        self.page_from(walk, total, limit, bound)
    }

    /// One `MatchImage`: its exact list (F = 1), then its repo list without
    /// the exact list (P = 1), each read in result order.
    fn single_image_page<'a>(
        &'a self,
        resolved: &Resolved,
        filtered: bool,
        after: Option<After>,
        limit: usize,
        bound: &Bound,
        scratch: &Scratch,
    ) -> DescribePage<'a> {
        let prepared = &scratch.prepared;
        let (exact, repo) = prepared.match_keys().next().expect("one MatchImage");
        // ImageFullMatch wins over ImageMatchCountRequest; without it, more
        // exact matches than the one query image is impossible.
        if !prepared.full_match && prepared.min_exact.is_some_and(|n| n > 1) {
            return empty_page();
        }
        let exact_only = prepared.full_match || prepared.min_exact.is_some();
        let e = ResultOrder(self.exact.list_of(exact));
        let r = ResultOrder(if exact_only {
            ListRef::Flat(&[])
        } else {
            self.repo.list_of(repo)
        });
        let tags = &scratch.tag_filters;
        let passes = |rank: u32| !filtered || self.passes_filters(rank, resolved, tags);

        // Walks r minus e from position `from`, in result order.
        let partial = |from: usize| {
            let j = r
                .get(from)
                .map_or(e.len(), |first| e.position_below(first + 1));
            // A cursor on e, moved forward only, beside the walk on r.
            let mut exact = e.iter_from(j).peekable();
            r.iter_from(from).filter(move |&rank| {
                while exact.next_if(|&x| x > rank).is_some() {}
                exact.peek() != Some(&rank)
            })
        };
        let total = if filtered {
            e.iter_from(0).filter(|&s| passes(s)).count()
                + partial(0).filter(|&s| passes(s)).count()
        } else {
            // Every cache with the exact key has the repo key too.
            if exact_only { e.len() } else { r.len() }
        };

        let exact_group = group(1, 0);
        let partial_group = group(0, 1);
        let walk = e
            .iter_from(Self::start(e, exact_group, after))
            .map(|s| (exact_group, s))
            .chain(partial(Self::start(r, partial_group, after)).map(|s| (partial_group, s)))
            .filter(|&(_, s)| passes(s));
        self.page_from(walk, total, limit, bound)
    }

    /// Several `MatchImage`: every passing cache is counted for
    /// `TotalCount`, and the best `limit` after the cursor are kept as they
    /// come ([`TopK`]); only the page is sorted.
    fn top_page<'a>(
        &'a self,
        resolved: &Resolved,
        filtered: bool,
        after: Option<After>,
        limit: usize,
        bound: &Bound,
        scratch: &mut Scratch,
    ) -> DescribePage<'a> {
        /// Counts every candidate and keeps the best after the cursor.
        struct Page<'k> {
            top: TopK<'k, u64>,
            below: u64,
            total: usize,
            remaining: usize,
        }
        impl MatchSink for Page<'_> {
            fn offer(&mut self, group: u32, rank: u32) {
                self.total += 1;
                let word = candidate(group, rank);
                if word < self.below {
                    self.remaining += 1;
                    self.top.offer(word);
                }
            }
            fn skip(&mut self, n: usize) {
                self.total += n;
                self.remaining += n;
            }
            fn bar(&self) -> Option<u64> {
                // With a cursor, each candidate is compared with it.
                (self.below == u64::MAX).then(|| self.top.threshold())
            }
        }
        let mut kept = std::mem::take(&mut scratch.candidates);
        let mut sink = Page {
            top: TopK::new(limit, &mut kept),
            below: after.map_or(u64::MAX, After::word),
            total: 0,
            remaining: 0,
        };
        self.matches(resolved, filtered, scratch, &mut sink);
        let Page {
            top,
            total,
            remaining,
            ..
        } = sink;
        let page = top.finish();
        // The page's records lie far apart: all asked for before any is
        // read, so their misses overlap (the token reads the last one's).
        for &c in page {
            self.prefetch_record(c as u32);
        }
        let image_caches = page.iter().map(|&c| self.cache(c as u32)).collect();
        let next_token = (remaining > limit).then(|| {
            let &last = page.last().expect("limit >= 1");
            self.token_after(bound, (last >> 32) as u32, last as u32)
        });
        scratch.candidates = kept;
        DescribePage {
            image_caches,
            total_count: total,
            next_token,
        }
    }

    /// No filter at all: read the page straight from the rank array,
    /// downwards.
    fn unfiltered_page<'a>(
        &'a self,
        after: Option<After>,
        limit: usize,
        bound: &Bound,
    ) -> DescribePage<'a> {
        let end = after.map_or(self.entries.len(), |a| a.bound as usize);
        let walk = self.entries[..end]
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, e)| e.is_some())
            .map(|(rank, _)| (0, rank as u32));
        self.page_from(walk, self.len(), limit, bound)
    }

    /// The first `limit` (match group, rank) pairs of `walk`, which yields
    /// the passing caches in result order after the cursor, with a token
    /// when more remain.
    fn page_from<'a>(
        &'a self,
        mut walk: impl Iterator<Item = (u32, u32)>,
        total: usize,
        limit: usize,
        bound: &Bound,
    ) -> DescribePage<'a> {
        let mut image_caches = Vec::with_capacity(limit.min(total));
        let mut last = None;
        for (group, rank) in walk.by_ref().take(limit) {
            image_caches.push(self.cache(rank));
            last = Some((group, rank));
        }
        let next_token = match (walk.next(), last) {
            (Some(_), Some((group, rank))) => Some(self.token_after(bound, group, rank)),
            _ => None,
        };
        DescribePage {
            image_caches,
            total_count: total,
            next_token,
        }
    }
}

impl Index {
    /// The `NextToken` of a page whose last cache is `rank`, of `group`.
    fn token_after(&self, bound: &Bound, group: u32, rank: u32) -> String {
        bound.encode(self.sort_key(group, rank))
    }
}

/// Nothing passes.
pub(super) fn empty_page<'a>() -> DescribePage<'a> {
    DescribePage {
        image_caches: Vec::new(),
        total_count: 0,
        next_token: None,
    }
}
