//! Auto-match on the index (section 7): the ranked candidates for a
//! container group, every cache matching an image set, and one cache's F
//! and P.

use super::counting::{Scratch, counter_group, group_counter};
use super::pages::Resolved;
use super::sink::{Each, MatchSink, TopK, candidate};
use super::{Index, MAX_COUNTED_IMAGES, READY};
use crate::automatch::{AutoMatchRequest, BestMatch};
use crate::matching::Prepared;
use crate::reference::Reference;

impl Index {
    /// Auto-match: the best `Ready` cache for a container group (ranking of
    /// [`crate::automatch::rank`]), or `None`. One counting pass over the posting
    /// lists of the group's images (an intersection under `perfect_match`),
    /// then one linear pass for the maximum: `O(Σ L)` and no sort. An
    /// explicit `image_cache_id` is not looked at here (the engine handles
    /// it).
    pub fn best_match<'a>(
        &'a self,
        request: &AutoMatchRequest,
        scratch: &mut Scratch,
    ) -> Option<BestMatch<'a>> {
        self.ranked_matches(request, 1, scratch).pop()
    }

    /// Auto-match without choosing: the first `k` candidates in the ranking
    /// of section 7, best first (the first is [`Index::best_match`]).
    ///
    /// Costs one counting pass over the images' posting lists, then
    /// `O(c)` for `k = 1` and `O(c + k log k)` otherwise, for `c`
    /// candidates.
    ///
    /// A request of more than [`MAX_COUNTED_IMAGES`] images (far more than
    /// the [`crate::limits::MAX_GROUP_IMAGES`] that
    /// [`AutoMatchRequest::validate`] allows) matches nothing.
    pub fn ranked_matches<'a>(
        &'a self,
        request: &AutoMatchRequest,
        k: usize,
        scratch: &mut Scratch,
    ) -> Vec<BestMatch<'a>> {
        if request.images.len() > MAX_COUNTED_IMAGES {
            return Vec::new();
        }
        scratch.prepared.prepare_match(
            &request.images,
            request.perfect_match,
            request.match_count_request,
            &self.rules,
        );
        let images = scratch.prepared.match_count() as u32;
        if images == 0 || k == 0 {
            return Vec::new();
        }
        let storage = request.temporary_storage_gib;
        // The ranking of section 7 as one integer per candidate: (F, P)
        // group, then closeness of size, then rank (newest, smallest id).
        let mut kept = std::mem::take(&mut scratch.ranked);
        let mut sink = Ranked {
            top: TopK::new(k, &mut kept),
            word: |group: u32, rank: u32| {
                let fit = self.fit[rank as usize];
                let size = fit & !READY;
                (fit & READY != 0 && size <= storage).then(|| {
                    (u128::from(group) << 64)
                        | (u128::from(!(storage - size)) << 32)
                        | u128::from(rank)
                })
            },
        };
        scratch.tag_filters.clear();
        self.matches(&Resolved::default(), false, scratch, &mut sink);
        let ranked: Vec<BestMatch<'a>> = sink
            .top
            .finish()
            .iter()
            .map(|&word| {
                let group = (word >> 64) as u32;
                BestMatch {
                    cache: self.cache(word as u32),
                    exact: group >> 16,
                    partial: group & 0xffff,
                    images,
                }
            })
            .collect();
        scratch.ranked = kept;
        ranked
    }

    /// Every cache that matches at least one of these images exactly or
    /// partially (`F + P ≥ 1`), whatever its status and size, newest first:
    /// one counting pass over the images' posting lists. More than
    /// [`MAX_COUNTED_IMAGES`] images match nothing.
    pub fn matching<'a>(
        &'a self,
        images: &[Reference],
        scratch: &mut Scratch,
    ) -> Vec<BestMatch<'a>> {
        if images.len() > MAX_COUNTED_IMAGES {
            return Vec::new();
        }
        scratch
            .prepared
            .prepare_match(images, false, None, &self.rules);
        let distinct = scratch.prepared.match_count() as u32;
        if distinct == 0 {
            return Vec::new();
        }
        let mut all: Vec<(u32, u32)> = Vec::new();
        self.each_match(scratch, |group, rank| all.push((group, rank)));
        // Newest first is descending rank.
        all.sort_unstable_by_key(|&(_, rank)| std::cmp::Reverse(rank));
        all.into_iter()
            .map(|(group, rank)| BestMatch {
                cache: self.cache(rank),
                exact: group >> 16,
                partial: group & 0xffff,
                images: distinct,
            })
            .collect()
    }

    /// Every cache matching the prepared images, with no other filter, to
    /// `f` as (group, rank).
    fn each_match(&self, scratch: &mut Scratch, f: impl FnMut(u32, u32)) {
        scratch.tag_filters.clear();
        self.matches(&Resolved::default(), false, scratch, &mut Each(f));
    }

    /// How many distinct query images these are under the index's alias
    /// rules (duplicates and endpoint variants of one image count once):
    /// the `F` of a complete match.
    pub fn distinct_images(&self, images: &[Reference]) -> u32 {
        let mut prepared = Prepared::default();
        prepared.prepare_match(images, false, None, &self.rules);
        prepared.match_count() as u32
    }

    /// F and P of one cache for these query images (duplicates count
    /// once), or `None` when there is no such cache.
    pub fn match_counts(&self, id: &str, images: &[Reference]) -> Option<(u32, u32)> {
        let entry = self.entry(self.rank_of(id)?);
        let mut prepared = Prepared::default();
        prepared.prepare_match(images, false, None, &self.rules);
        let (mut f, mut p) = (0, 0);
        for (exact, repo) in prepared.match_keys() {
            if self
                .exact
                .id(exact)
                .is_some_and(|k| entry.exact().binary_search(&k).is_ok())
            {
                f += 1;
            } else if self
                .repo
                .id(repo)
                .is_some_and(|k| entry.repo().binary_search(&k).is_ok())
            {
                p += 1;
            }
        }
        Some((f, p))
    }
}

/// Auto-match's sink: keeps the best `k` by the ranking word (`word` of
/// a candidate's group and rank: `None` when it is not `Ready` or too
/// large); a candidate that cannot beat the worst kept (of a group below
/// it, or of its group and older when that one fits the storage exactly)
/// is only counted.
struct Ranked<'k, F> {
    top: TopK<'k, u128>,
    word: F,
}

impl<F: FnMut(u32, u32) -> Option<u128>> MatchSink for Ranked<'_, F> {
    fn offer(&mut self, group: u32, rank: u32) {
        if let Some(word) = (self.word)(group, rank) {
            self.top.offer(word);
        }
    }
    fn skip(&mut self, _: usize) {}
    fn counts_skipped(&self) -> bool {
        false
    }
    fn bar(&self) -> Option<u64> {
        let worst = self.top.threshold();
        let group = (worst >> 64) as u32;
        Some(match group {
            0 => 0,
            // The worst kept fits the storage exactly: a cache of its
            // group can at best tie on size, so only a newer one (a
            // higher rank) can beat it.
            g if (worst >> 32) as u32 == u32::MAX => candidate(g, worst as u32),
            // Just below the worst kept group, so every cache of
            // that group is still offered (size decides there).
            g => candidate(counter_group(group_counter(g) - 1), u32::MAX),
        })
    }
}
