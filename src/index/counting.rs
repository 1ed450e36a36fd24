//! Counting F and P for several `MatchImage`, block by block over the rank
//! space, and the `ImageFullMatch` intersection.
//!
//! Every query image contributes two ascending posting lists: its exact key
//! (each posting adds one to F) and its repo key (one to R, the caches
//! holding some image of that repository). A cache's exact key implies its
//! repo key, so P = R − F. The lists are walked in step, [`BLOCK`] ranks at
//! a time from the top rank down (result order), into 16-bit counters (F in
//! the high byte, R in the low) that stay in L1 for the whole block, so the
//! pass streams the postings instead of jumping through counters the size
//! of the index. A sparse block's touched ranks are collected branch-free
//! as they are counted, then judged, handed to a sink and cleared; a dense
//! block (one posting in 16 ranks or more) is counted alone and then
//! scanned, 32 counters to a comparison (SSE2), for the few above the
//! sink's bar. Under `ImageMatchCountRequest` a block counts its exact
//! lists first and reads its repo lists only if some cache is on enough of
//! them: a cache on too few exact lists cannot pass, whatever its P.
//!
//! Complexity: `O(Σ L + B · BLOCK / 32)` for `Σ L` postings over `B` dense
//! blocks, with `Limit` kept candidates; no allocation once `Scratch` has
//! grown.
//!
//! A page needs only the `Limit` best candidates and their count, so the
//! sink of a `DescribeImageCaches` page is a [`TopK`]: one comparison a
//! candidate against the worst it keeps. Walking ranks downwards makes that
//! comparison fail for nearly every candidate of an already full group.

use smallvec::SmallVec;

use super::containers::BLOCK_WORDS;
use super::lanes::{
    DENSE, LANES, SMALL_QUERY, above, add_bitmaps, any_above, count_all, count_arrays,
    count_arrays8, count_exact_first, count_touched, has_avx512, scan_dense, scan_dense8,
};
use super::pages::{Resolved, TagRef};
use super::postings::ListRef;
use super::runs::{Piece, Run, piece_len, union_count};
use super::sink::MatchSink;
use super::{Index, group};
use crate::matching::Prepared;

/// Ranks counted per block: 4 096 counters of 2 bytes, 8 KiB, inside L1
/// with the touched ranks of a sparse block.
pub(super) const BLOCK: usize = 1 << 12;

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
    /// The decoded `NextToken`, whose id a cursor borrows.
    pub(super) token_buf: Vec<u8>,
    /// F and R of the block's ranks, and the ranks counted.
    counters: Vec<u16>,
    /// The same as 8-bit counters, for a query of at most
    /// [`SMALL_QUERY`] images on a machine with AVX-512.
    counters8: Vec<u8>,
    touched: Vec<u32>,
    /// The best candidates of a page as [`TopK`] keeps them, each
    /// `group << 32 | rank`: a larger value comes first in result order.
    pub(super) candidates: Vec<u64>,
    /// The same for auto-match's ranking words.
    pub(super) ranked: Vec<u128>,
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

/// One block of the rank space: every query list's piece in it, the
/// exact lists' first (before `exact_end`), ranks from `base`.
#[derive(Clone, Copy)]
struct Block<'b, 'p> {
    pieces: &'b [(Piece<'p>, bool)],
    exact_end: usize,
    base: u32,
}

/// The scratch counters a block is counted in: one per rank of the block,
/// 16 bits (`wide`) or, for small queries, 8 (`narrow`), and the ranks
/// touched (each once per list at most).
struct Counters<'s> {
    wide: &'s mut [u16; BLOCK],
    narrow: &'s mut [u8; BLOCK],
    touched: &'s mut [u32; 2 * BLOCK],
}

/// What a counted cache must pass.
struct Pass<'a> {
    /// At most [`SMALL_QUERY`] images, on a machine with AVX-512: dense
    /// blocks count in 8 bits.
    small: bool,
    min_exact: u32,
    filtered: bool,
    resolved: &'a Resolved,
    tags: &'a [TagRef],
}

/// A counter ends as `F << 8 | P`: an exact posting adds 255 (F up, P
/// down) and a repo posting 1 (R = F + P up), so a counter orders like its
/// match group. F and P are each at most 255 (the API allows 100 images;
/// no carry into F; a transient P of −1 before the repo posting arrives
/// borrows from F and is repaid), and a counter is never 0 once counted.
pub(super) const ADD_EXACT: u16 = 0xff;
pub(super) const ADD_REPO: u16 = 1;

/// The match group of a final counter.
pub(super) fn counter_group(c: u32) -> u32 {
    group(c >> 8, c & 0xff)
}

/// The counter of a match group (F and P below 256).
pub(super) fn group_counter(g: u32) -> u32 {
    ((g >> 16) << 8) | (g & 0xff)
}

/// Whether a block (its exact `pieces` before `exact_end`) is done
/// without counting: even a cache on every piece would not beat `bar`, and
/// the sink wants no count of what passes, or (with no least F) is handed
/// that count here, from the union of the repo pieces (`sink.skip`).
#[inline(always)]
fn beyond_reach(
    pieces: &[(Piece<'_>, bool)],
    exact_end: usize,
    bar: u64,
    min_exact: u32,
    sink: &mut impl MatchSink,
) -> bool {
    // A cache of this block is on at most every exact and every repo
    // piece.
    let (exact, repo) = (exact_end as u32, (pieces.len() - exact_end) as u32);
    let best = (exact.min(0xff) << 8) | repo.saturating_sub(exact).min(0xff);
    if best > group_counter((bar >> 32) as u32) {
        return false;
    }
    if !sink.counts_skipped() {
        return true;
    }
    if min_exact == 0 {
        // Every cache on a list passes, and a cache on an exact list is
        // on its repo list.
        sink.skip(union_count(&pieces[exact_end..]));
        return true;
    }
    false
}

/// Without other filters a candidate passes on its counter alone: each
/// touched rank is judged and counted by two comparisons of integers (its
/// counter reset), and only those that beat `bar` are offered.
#[inline(always)]
fn offer_beating(
    touched: &[u32],
    counters: &mut [u16; BLOCK],
    bar: u64,
    min_exact: u32,
    sink: &mut impl MatchSink,
) {
    // F is at most 255: a larger ImageMatchCountRequest lets nothing pass
    // (and must not overflow the shift).
    let least = min_exact.min(0x100) << 8;
    let (bar_counter, bar_rank) = (group_counter((bar >> 32) as u32), bar as u32);
    let mut passing = 0;
    for &rank in touched {
        let c = u32::from(std::mem::take(&mut counters[rank as usize & (BLOCK - 1)]));
        let passes = c >= least;
        if passes && (c > bar_counter || (c == bar_counter && rank > bar_rank)) {
            sink.offer(counter_group(c), rank);
        } else {
            passing += usize::from(passes);
        }
    }
    sink.skip(passing);
}

impl Index {
    /// Several `MatchImage`: counts F and P of every cache on the query
    /// images' lists and hands each that passes to `sink` as (group, rank),
    /// ranks descending (or, below the sink's bar, only counts it).
    pub(super) fn count_matches(
        &self,
        resolved: &Resolved,
        filtered: bool,
        scratch: &mut Scratch,
        sink: &mut impl MatchSink,
    ) {
        let Scratch {
            prepared,
            counters,
            counters8,
            touched,
            tag_filters,
            ..
        } = scratch;
        counters.resize(BLOCK, 0);
        counters8.resize(BLOCK, 0);
        touched.resize(2 * BLOCK, 0);
        let mut all = Counters {
            wide: (&mut counters[..BLOCK]).try_into().expect("BLOCK long"),
            narrow: (&mut counters8[..BLOCK]).try_into().expect("BLOCK long"),
            touched: (&mut touched[..2 * BLOCK])
                .try_into()
                .expect("2 BLOCK long"),
        };
        // Outside ImageFullMatch a counted cache passes on F alone: it is on
        // some list, so F + P = R ≥ 1.
        debug_assert!(!prepared.full_match);
        let pass = Pass {
            min_exact: prepared.min_exact.unwrap_or(0),
            filtered,
            resolved,
            tags: tag_filters,
            small: prepared.match_count() <= SMALL_QUERY && has_avx512(),
        };
        let mut runs: SmallVec<[Run<'_>; 16]> = SmallVec::new();
        for (exact, repo) in prepared.match_keys() {
            runs.push(Run::new(self.exact.list_of(exact), true));
            runs.push(Run::new(self.repo.list_of(repo), false));
        }
        runs.retain(|r| !r.done());
        let mut pieces: SmallVec<[(Piece<'_>, bool); 32]> = SmallVec::new();
        while let Some(base) = runs.iter().filter_map(Run::top_block).max() {
            // The block's postings, exact lists first.
            pieces.clear();
            for run in runs.iter_mut().filter(|r| r.exact) {
                run.take_block(base, &mut pieces);
            }
            let exact_end = pieces.len();
            for run in runs.iter_mut().filter(|r| !r.exact) {
                run.take_block(base, &mut pieces);
            }
            runs.retain(|r| !r.done());
            let bar = sink.bar().filter(|_| !filtered);
            if let Some(bar) = bar
                && beyond_reach(&pieces, exact_end, bar, pass.min_exact, sink)
            {
                continue;
            }
            let block = Block {
                pieces: &pieces,
                exact_end,
                base,
            };
            self.count_block(block, &pass, bar, &mut all, sink);
        }
    }

    /// Counts one block's `pieces` (exact ones before `exact_end`) and
    /// hands the caches that pass to `sink`: a block with a bitmap or
    /// without other filters dense enough by its counters alone, the others
    /// by the ranks they touched.
    #[inline(always)]
    fn count_block(
        &self,
        block: Block<'_, '_>,
        pass: &Pass<'_>,
        bar: Option<u64>,
        all: &mut Counters<'_>,
        sink: &mut impl MatchSink,
    ) {
        let Block {
            pieces,
            exact_end,
            base,
        } = block;
        if pieces.iter().any(|(p, _)| matches!(p, Piece::Bits(_))) {
            self.count_dense(block, pass, bar, all, sink);
            return;
        }
        let Counters {
            wide: counters,
            narrow: counters8,
            touched,
        } = all;
        let n = if pass.min_exact > 0 {
            // Only a cache on `min_exact` exact lists passes: a block
            // where none is is done without reading its repo postings.
            let (exact, repo) = pieces.split_at(exact_end);
            match count_exact_first(exact, repo, base, pass.min_exact, counters, touched) {
                Some(n) => n,
                None => return,
            }
        } else if bar.is_some() && pieces.iter().map(|(p, _)| piece_len(p)).sum::<usize>() >= DENSE
        {
            // A dense block without other filters: the counters alone
            // are counted, then scanned from the top rank down, many at
            // a time, for the few that beat the bar.
            let mut none = SmallVec::new();
            if pass.small {
                count_arrays8(pieces, counters8, &mut none);
                scan_dense8(counters8, &none, base, sink);
            } else {
                count_arrays(pieces, counters, &mut none);
                scan_dense(counters, &none, base, 0, sink);
            }
            return;
        } else {
            count_touched(pieces, base, counters, touched, 0)
        };
        match bar {
            Some(bar) => offer_beating(&touched[..n], counters, bar, pass.min_exact, sink),
            None => {
                for &rank in &touched[..n] {
                    let c = std::mem::take(&mut counters[rank as usize & (BLOCK - 1)]);
                    self.judge(rank, u32::from(c), pass, sink);
                }
            }
        }
    }

    /// Counts a block that holds a bitmap, or a dense one, into the whole
    /// of `counters` (a bitmap adds to the counters of its set bits, 32 at
    /// a time where the machine can), then scans them: many at a time
    /// against the sink's bar when it has one and nothing else filters,
    /// else every counted cache is judged. Under `ImageMatchCountRequest`
    /// the repo pieces are counted only if some counter has enough F.
    /// Leaves `counters` cleared.
    fn count_dense(
        &self,
        block: Block<'_, '_>,
        pass: &Pass<'_>,
        bar: Option<u64>,
        all: &mut Counters<'_>,
        sink: &mut impl MatchSink,
    ) {
        let Block {
            pieces,
            exact_end,
            base,
        } = block;
        let Counters {
            wide: counters,
            narrow: counters8,
            ..
        } = all;
        if pass.small && pass.min_exact == 0 && bar.is_some() {
            let mut bitmaps = SmallVec::new();
            count_arrays8(pieces, counters8, &mut bitmaps);
            scan_dense8(counters8, &bitmaps, base, sink);
            return;
        }
        // A counter passes above `least`: F of at least `min_exact`.
        let least = match pass.min_exact {
            0 => 0,
            // F is at most 255: nothing passes (and the counters need no
            // clearing: nothing was counted).
            256.. => return,
            n => (n << 8) as u16 - 1,
        };
        let (exact, repo) = pieces.split_at(exact_end);
        let mut bitmaps: SmallVec<[(&[u64; BLOCK_WORDS], bool); 16]> = SmallVec::new();
        if pass.min_exact > 0 {
            count_all(exact, counters);
            // After exact postings alone a counter is 255 F.
            let need = (pass.min_exact * u32::from(ADD_EXACT)) as u16 - 1;
            if !any_above(counters, need) {
                counters.fill(0);
                return;
            }
            count_arrays(repo, counters, &mut bitmaps);
        } else {
            count_arrays(pieces, counters, &mut bitmaps);
        }
        match bar {
            Some(_) => scan_dense(counters, &bitmaps, base, least, sink),
            None => {
                add_bitmaps(&bitmaps, counters);
                for (lane, chunk) in counters.chunks_exact_mut(LANES).enumerate().rev() {
                    let chunk: &mut [u16; LANES] = chunk.try_into().expect("LANES long");
                    let mut passes = above(chunk, least);
                    while passes != 0 {
                        let i = 31 - passes.leading_zeros();
                        passes &= !(1 << i);
                        let rank = base + (lane * LANES) as u32 + i;
                        self.judge(rank, u32::from(chunk[i as usize]), pass, sink);
                    }
                    chunk.fill(0);
                }
            }
        }
    }

    /// Hands a counted cache to `sink` when it passes.
    #[inline(always)]
    fn judge(&self, rank: u32, c: u32, pass: &Pass<'_>, sink: &mut impl MatchSink) {
        if c >> 8 >= pass.min_exact
            && (!pass.filtered || self.passes_filters(rank, pass.resolved, pass.tags))
        {
            sink.offer(counter_group(c), rank);
        }
    }

    /// `ImageFullMatch` with several images: hands `sink` every cache on
    /// every exact list (the shortest drives, the others are probed), ranks
    /// descending.
    pub(super) fn full_matches(
        &self,
        resolved: &Resolved,
        scratch: &Scratch,
        sink: &mut impl MatchSink,
    ) {
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
        for rank in shortest.backward_from(shortest.len()) {
            if rest.iter().all(|l| l.contains(rank))
                && self.passes_filters(rank, resolved, &scratch.tag_filters)
            {
                sink.offer(full, rank);
            }
        }
    }

    /// Several `MatchImage`, counted or fully matched: hands `sink` every
    /// passing cache.
    pub(super) fn matches(
        &self,
        resolved: &Resolved,
        filtered: bool,
        scratch: &mut Scratch,
        sink: &mut impl MatchSink,
    ) {
        if scratch.prepared.full_match {
            self.full_matches(resolved, scratch, sink);
        } else {
            self.count_matches(resolved, filtered, scratch, sink);
        }
    }
}
