//! Counting F and P for several `MatchImage`, block by block over the rank
//! space, and the `ImageFullMatch` intersection.
//!
//! Every query image contributes two ascending posting lists: its exact key
//! (each posting adds one to F) and its repo key (one to R, the caches
//! holding some image of that repository). A cache's exact key implies its
//! repo key, so P = R − F. The lists are walked in step, [`BLOCK`] ranks at
//! a time, into 16-bit counters (F in the high byte, R in the low) that stay
//! in L1 for the whole block, so the pass streams the postings instead of
//! jumping through counters the size of the index. Each block's touched
//! ranks are collected branch-free as they are counted, then judged and
//! cleared.

use smallvec::SmallVec;

use super::pages::Resolved;
use super::postings::ListRef;
use super::{Index, group};
use crate::describe::Prepared;

/// Ranks counted per block: 8 192 counters of 2 bytes, 16 KiB.
const BLOCK: u32 = 1 << 13;

/// Reusable scratch space for [`Index::describe_with`] and the auto-match
/// queries: counters, candidate lists and buffers that keep their capacity
/// between queries, so a warm query allocates nothing but its answer.
///
/// ```
/// use eci_imagecache::cursor::TokenKey;
/// use eci_imagecache::describe::DescribeRequest;
/// use eci_imagecache::index::{Index, Scratch};
/// use eci_imagecache::record::ImageCache;
/// use eci_imagecache::reference::RegistryAliases;
///
/// let mut index = Index::new(RegistryAliases::default(), TokenKey::from_seed(1));
/// let t = "2024-05-01T08:00:00Z".parse().unwrap();
/// index.insert(ImageCache::new("imc-a", "web", "cn-hangzhou", t)
///     .with_images(["nginx:1.25", "redis:7"]).unwrap());
/// let mut scratch = Scratch::default();
/// for image in ["nginx:1.25", "redis:7", "redis:6"] {
///     let request = DescribeRequest::new("cn-hangzhou")
///         .match_image(image)?
///         .match_image("busybox")?;
///     let page = index.describe_with(&request, &mut scratch)?;
///     assert_eq!(page.total_count, 1);
/// }
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
#[derive(Default)]
pub struct Scratch {
    pub(super) prepared: Prepared,
    pub(super) fingerprint: Vec<u8>,
    counters: Vec<u16>,
    touched: Vec<u32>,
    /// Passing caches, each `group << 32 | rank`: a larger value comes
    /// first in result order.
    pub(super) candidates: Vec<u64>,
    pub(super) ranked: Vec<u64>,
    pub(super) histogram: Vec<u32>,
    pub(super) groups: Vec<u32>,
    pub(super) tag_filters: Vec<super::pages::TagRef>,
    pub(super) key_buf: String,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch")
            .field("candidates", &self.candidates.capacity())
            .finish_non_exhaustive()
    }
}

/// A candidate's sort word: match group, then rank, both descending.
pub(super) fn candidate(group: u32, rank: u32) -> u64 {
    (u64::from(group) << 32) | u64::from(rank)
}

/// A posting list being walked: what is left of its current piece, the
/// pieces after it, and what a posting adds to its counter.
struct Run<'a> {
    rest: &'a [u32],
    more: std::slice::Iter<'a, Vec<u32>>,
    add: u16,
}

impl<'a> Run<'a> {
    fn new(list: ListRef<'a>, add: u16) -> Run<'a> {
        let (rest, more) = list.parts();
        let mut run = Run {
            rest,
            more: more.iter(),
            add,
        };
        run.refill();
        run
    }

    /// Moves to the next non-empty piece when this one is done.
    fn refill(&mut self) {
        while self.rest.is_empty() {
            match self.more.next() {
                Some(piece) => self.rest = piece,
                None => return,
            }
        }
    }

    fn first(&self) -> Option<u32> {
        self.rest.first().copied()
    }
}

/// F in the high byte of a counter, R in the low.
const ADD_EXACT: u16 = 0x100;
const ADD_REPO: u16 = 1;

impl Index {
    /// Several `MatchImage`: counts F and P of every cache on the query
    /// images' lists and keeps those that pass in `scratch.candidates`.
    pub(super) fn counted_candidates(
        &self,
        resolved: &Resolved,
        filtered: bool,
        scratch: &mut Scratch,
    ) {
        let Scratch {
            prepared,
            counters,
            touched,
            candidates,
            tag_filters,
            ..
        } = scratch;
        counters.resize(BLOCK as usize, 0);
        touched.resize(BLOCK as usize + 1, 0);
        let mut runs: SmallVec<[Run<'_>; 16]> = SmallVec::new();
        for (exact, repo) in prepared.match_keys() {
            runs.push(Run::new(self.exact.list_of(exact), ADD_EXACT));
            runs.push(Run::new(self.repo.list_of(repo), ADD_REPO));
        }
        runs.retain(|r| !r.rest.is_empty());
        while let Some(lowest) = runs.iter().filter_map(Run::first).min() {
            let base = lowest & !(BLOCK - 1);
            let end = base.saturating_add(BLOCK);
            let mut n = 0;
            for run in runs.iter_mut() {
                loop {
                    let take = run.rest.partition_point(|&r| r < end);
                    for &rank in &run.rest[..take] {
                        let i = (rank - base) as usize;
                        let c = counters[i];
                        touched[n] = rank;
                        n += usize::from(c == 0);
                        counters[i] = c + run.add;
                    }
                    run.rest = &run.rest[take..];
                    if !run.rest.is_empty() {
                        break;
                    }
                    run.refill();
                    if run.rest.is_empty() || run.rest[0] >= end {
                        break;
                    }
                }
            }
            runs.retain(|r| !r.rest.is_empty());
            for &rank in &touched[..n] {
                let c = std::mem::take(&mut counters[(rank - base) as usize]);
                let (f, r) = (u32::from(c >> 8), u32::from(c & 0xff));
                debug_assert!(r >= f, "an exact key implies its repo key");
                let p = r.saturating_sub(f);
                if prepared.match_passes(f, p)
                    && (!filtered || self.passes_filters(rank, resolved, tag_filters))
                {
                    candidates.push(candidate(group(f, p), rank));
                }
            }
        }
    }

    /// `ImageFullMatch` with several images: the caches on every exact list
    /// (the shortest drives, the others are probed).
    pub(super) fn full_match_candidates(&self, resolved: &Resolved, scratch: &mut Scratch) {
        let mut lists: SmallVec<[ListRef<'_>; 8]> = SmallVec::new();
        for (exact, _) in scratch.prepared.match_keys() {
            match self.exact.id(exact) {
                Some(k) => lists.push(self.exact.list(k)),
                None => return,
            }
        }
        lists.sort_unstable_by_key(|l| l.len());
        let (shortest, rest) = lists.split_first().expect("MatchImage is not empty");
        let full = group(lists.len() as u32, 0);
        for part in shortest.slices() {
            for &rank in part {
                if rest.iter().all(|l| l.contains(rank))
                    && self.passes_filters(rank, resolved, &scratch.tag_filters)
                {
                    scratch.candidates.push(candidate(full, rank));
                }
            }
        }
    }
}
