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

use super::pages::{Resolved, TagRef};
use super::postings::ListRef;
use super::{Index, group};
use crate::describe::Prepared;

/// Ranks counted per block: 4 096 counters of 2 bytes, 8 KiB, inside L1
/// with the touched ranks of a sparse block.
const BLOCK: usize = 1 << 12;

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

/// A candidate's sort word: match group, then rank, both descending.
pub(super) fn candidate(group: u32, rank: u32) -> u64 {
    (u64::from(group) << 32) | u64::from(rank)
}

/// The `k` largest words offered, in a buffer of at most `2k` that is cut
/// back to `k` when full (amortised `O(1)` an offer), and a threshold below
/// which an offer is refused with one comparison.
/// Words must be above `T::default()` (a match group is never 0).
pub(super) struct TopK<'a, T> {
    k: usize,
    kept: &'a mut Vec<T>,
    threshold: T,
}

impl<'a, T: Ord + Copy + Default> TopK<'a, T> {
    pub fn new(k: usize, kept: &'a mut Vec<T>) -> TopK<'a, T> {
        kept.clear();
        TopK {
            k: k.max(1),
            kept,
            threshold: T::default(),
        }
    }

    #[inline]
    pub fn offer(&mut self, word: T) {
        debug_assert!(word > T::default());
        if word <= self.threshold {
            return;
        }
        self.kept.push(word);
        if self.kept.len() >= self.k.max(32).saturating_mul(2) {
            self.cut();
        }
    }

    fn cut(&mut self) {
        if self.kept.len() > self.k {
            self.kept
                .select_nth_unstable_by(self.k - 1, |a, b| b.cmp(a));
            self.kept.truncate(self.k);
            self.threshold = self.kept[self.k - 1];
        }
    }

    /// Every word at or below this is refused.
    pub fn threshold(&self) -> T {
        self.threshold
    }

    /// The `k` largest, largest first.
    pub fn finish(mut self) -> &'a [T] {
        self.cut();
        self.kept.sort_unstable_by(|a, b| b.cmp(a));
        self.kept
    }
}

/// A posting list being walked downwards: what is left of its current
/// piece, the pieces before it, and whether it is an exact key's list
/// (counted in F) or a repo key's (counted in R).
struct Run<'a> {
    rest: &'a [u32],
    more: std::slice::Iter<'a, Vec<u32>>,
    exact: bool,
}

impl<'a> Run<'a> {
    fn new(list: ListRef<'a>, exact: bool) -> Run<'a> {
        let (rest, more) = list.parts();
        let mut run = Run {
            rest,
            more: more.iter(),
            exact,
        };
        run.refill();
        run
    }

    /// Moves to the previous non-empty piece when this one is done.
    fn refill(&mut self) {
        while self.rest.is_empty() {
            match self.more.next_back() {
                Some(piece) => self.rest = piece,
                None => return,
            }
        }
    }

    fn top(&self) -> Option<u32> {
        self.rest.last().copied()
    }

    /// Appends every piece of ranks at or above `base` to `out`, with what
    /// each of its postings adds to a counter.
    fn take_block(&mut self, base: u32, out: &mut SmallVec<[(&'a [u32], u16); 32]>) {
        let add = if self.exact { ADD_EXACT } else { ADD_REPO };
        loop {
            out.push((self.take_down_to(base), add));
            if !self.rest.is_empty() {
                return;
            }
            self.refill();
            if self.top().is_none_or(|r| r < base) {
                return;
            }
        }
    }

    /// Takes the ranks at or above `base` off the current piece. The cut
    /// is found by galloping back from the end, so a block reads only the
    /// cache lines near the postings it takes (a binary search over a long
    /// list would miss the cache at nearly every step).
    fn take_down_to(&mut self, base: u32) -> &'a [u32] {
        let rest = self.rest;
        let cut = if rest.first().is_none_or(|&r| r >= base) {
            0
        } else {
            // rest[0] < base; rest[hi..] are all at or above it.
            let (mut lo, mut hi, mut step) = (0, rest.len(), 1);
            while step < hi {
                let probe = hi - step;
                if rest[probe] < base {
                    lo = probe;
                    break;
                }
                hi = probe;
                step *= 2;
            }
            lo + rest[lo..hi].partition_point(|&r| r < base)
        };
        let (rest, piece) = self.rest.split_at(cut);
        self.rest = rest;
        piece
    }
}

/// What a counted cache must pass.
struct Pass<'a> {
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
const ADD_EXACT: u16 = 0xff;
const ADD_REPO: u16 = 1;

/// The match group of a final counter.
pub(super) fn counter_group(c: u32) -> u32 {
    group(c >> 8, c & 0xff)
}

/// The counter of a match group (F and P below 256).
pub(super) fn group_counter(g: u32) -> u32 {
    ((g >> 16) << 8) | (g & 0xff)
}

/// Where counted candidates go.
pub(super) trait MatchSink {
    /// A passing candidate (group, rank).
    fn offer(&mut self, group: u32, rank: u32);
    /// `n` passing candidates that do not beat [`MatchSink::bar`], only
    /// counted.
    fn skip(&mut self, n: usize);
    /// The candidate word a candidate must exceed to be offered, when the
    /// rest may be counted in bulk through [`MatchSink::skip`]; `None` to
    /// be offered every one.
    fn bar(&self) -> Option<u64> {
        None
    }
}

/// Every candidate to a closure.
pub(super) struct Each<F>(pub F);

impl<F: FnMut(u32, u32)> MatchSink for Each<F> {
    fn offer(&mut self, group: u32, rank: u32) {
        (self.0)(group, rank);
    }
    fn skip(&mut self, n: usize) {
        debug_assert_eq!(n, 0, "no bar, nothing skipped");
    }
}

/// Postings a block must hold to be scanned counter by counter rather than
/// through its touched ranks: one in 16 ranks.
const DENSE: usize = BLOCK / 16;

/// Counts the block's pieces into `counters`, appending each rank to
/// `touched[n..]` the first time it is counted (branch-free); returns how
/// many `touched` then holds.
fn count_touched(
    pieces: &[(&[u32], u16)],
    counters: &mut [u16; BLOCK],
    touched: &mut [u32; 2 * BLOCK],
    mut n: usize,
) -> usize {
    for &(piece, add) in pieces {
        for &rank in piece {
            let i = rank as usize & (BLOCK - 1);
            let c = counters[i];
            // At most BLOCK distinct ranks, so the mask never wraps; it
            // only spares a bounds check.
            touched[n & (2 * BLOCK - 1)] = rank;
            n += usize::from(c == 0);
            counters[i] = c + add;
        }
    }
    n
}

/// Counts a block for a least F of `min_exact` (at least 1): the exact
/// pieces first, and the repo pieces only when some cache is on enough
/// exact lists; else clears the counters and returns `None`.
fn count_exact_first(
    exact: &[(&[u32], u16)],
    repo: &[(&[u32], u16)],
    min_exact: u32,
    counters: &mut [u16; BLOCK],
    touched: &mut [u32; 2 * BLOCK],
) -> Option<usize> {
    if exact.iter().map(|(piece, _)| piece.len()).sum::<usize>() < min_exact as usize {
        return None;
    }
    let n = count_touched(exact, counters, touched, 0);
    // After exact postings alone a counter is 255 F (F at most 255, so a
    // least F of 256 or more lets nothing pass and still fits 16 bits).
    let need = (min_exact.min(256) * u32::from(ADD_EXACT)) as u16;
    if !touched[..n]
        .iter()
        .any(|&r| counters[r as usize & (BLOCK - 1)] >= need)
    {
        for &rank in &touched[..n] {
            counters[rank as usize & (BLOCK - 1)] = 0;
        }
        return None;
    }
    Some(count_touched(repo, counters, touched, n))
}

/// Hands `sink` every counted cache of the block at `base` that beats its
/// bar and counts the rest (every counted cache passes: no least F here),
/// ranks descending, clearing the counters. `LANES` counters at a time are
/// compared with the bar without a branch; only the bits of those above it
/// are walked.
fn scan_block(counters: &mut [u16; BLOCK], base: u32, sink: &mut impl MatchSink) {
    let mut passing = 0usize;
    for (lane, chunk) in counters.chunks_exact_mut(LANES).enumerate().rev() {
        let chunk: &mut [u16; LANES] = chunk.try_into().expect("LANES long");
        // The bar's rank is above every rank of this chunk (ranks are
        // offered descending), so only a larger counter beats it.
        let bar =
            sink.bar()
                .map_or(0, |bar| group_counter((bar >> 32) as u32).min(0xffff)) as u16;
        let passes = above(chunk, 0);
        if passes != 0 {
            let mut beats = above(chunk, bar);
            passing += (passes & !beats).count_ones() as usize;
            let chunk_base = base + (lane * LANES) as u32;
            while beats != 0 {
                let i = 31 - beats.leading_zeros();
                beats &= !(1 << i);
                sink.offer(counter_group(u32::from(chunk[i as usize])), chunk_base + i);
            }
        }
        chunk.fill(0);
    }
    sink.skip(passing);
}

/// Counters scanned together.
const LANES: usize = 32;

/// Bit `i` set when `chunk[i] > t`, unsigned. SSE2 compares signed 16-bit
/// values, so both sides are biased by `0x8000` first (which maps the
/// unsigned order onto the signed one).
#[cfg(target_arch = "x86_64")]
fn above(chunk: &[u16; LANES], t: u16) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpgt_epi16, _mm_loadu_si128, _mm_movemask_epi8, _mm_packs_epi16,
        _mm_set1_epi16, _mm_xor_si128,
    };
    let p = chunk.as_ptr().cast::<__m128i>();
    // SAFETY: SSE2 is part of the x86_64 baseline, so these instructions
    // exist on every target this compiles for. The four unaligned 16-byte
    // loads read `chunk[0..8]`, `[8..16]`, `[16..24]` and `[24..32]`, all
    // inside the 64 bytes of `chunk`.
    unsafe {
        let bias = _mm_set1_epi16(i16::MIN);
        let t = _mm_set1_epi16((t ^ 0x8000) as i16);
        let gt = |i: usize| _mm_cmpgt_epi16(_mm_xor_si128(_mm_loadu_si128(p.add(i)), bias), t);
        let low = _mm_movemask_epi8(_mm_packs_epi16(gt(0), gt(1))) as u16;
        let high = _mm_movemask_epi8(_mm_packs_epi16(gt(2), gt(3))) as u16;
        u32::from(low) | u32::from(high) << 16
    }
}

/// Bit `i` set when `chunk[i] > t`.
#[cfg(not(target_arch = "x86_64"))]
fn above(chunk: &[u16; LANES], t: u16) -> u32 {
    chunk
        .iter()
        .enumerate()
        .fold(0, |mask, (i, &c)| mask | u32::from(c > t) << i)
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
            touched,
            tag_filters,
            ..
        } = scratch;
        counters.resize(BLOCK, 0);
        touched.resize(2 * BLOCK, 0);
        let counters: &mut [u16; BLOCK] = (&mut counters[..BLOCK]).try_into().expect("BLOCK long");
        let touched: &mut [u32; 2 * BLOCK] = (&mut touched[..2 * BLOCK])
            .try_into()
            .expect("2 BLOCK long");
        // Outside ImageFullMatch a counted cache passes on F alone: it is on
        // some list, so F + P = R ≥ 1.
        debug_assert!(!prepared.full_match);
        let pass = Pass {
            min_exact: prepared.min_exact.unwrap_or(0),
            filtered,
            resolved,
            tags: tag_filters,
        };
        let mut runs: SmallVec<[Run<'_>; 16]> = SmallVec::new();
        for (exact, repo) in prepared.match_keys() {
            runs.push(Run::new(self.exact.list_of(exact), true));
            runs.push(Run::new(self.repo.list_of(repo), false));
        }
        runs.retain(|r| !r.rest.is_empty());
        let mut pieces: SmallVec<[(&[u32], u16); 32]> = SmallVec::new();
        while let Some(highest) = runs.iter().filter_map(Run::top).max() {
            let base = highest & !(BLOCK as u32 - 1);
            // The block's postings, exact lists first.
            pieces.clear();
            for run in runs.iter_mut().filter(|r| r.exact) {
                run.take_block(base, &mut pieces);
            }
            let exact_end = pieces.len();
            for run in runs.iter_mut().filter(|r| !r.exact) {
                run.take_block(base, &mut pieces);
            }
            runs.retain(|r| !r.rest.is_empty());
            let bar = sink.bar().filter(|_| !filtered);
            let n = if pass.min_exact > 0 {
                // Only a cache on `min_exact` exact lists passes: a block
                // where none is is done without reading its repo postings.
                let (exact, repo) = pieces.split_at(exact_end);
                match count_exact_first(exact, repo, pass.min_exact, counters, touched) {
                    Some(n) => n,
                    None => continue,
                }
            } else if bar.is_some() && pieces.iter().map(|(p, _)| p.len()).sum::<usize>() >= DENSE {
                // A dense block without other filters: the counters alone
                // are counted, then scanned from the top rank down, many at
                // a time, for the few that beat the bar.
                for &(piece, add) in &pieces {
                    for &rank in piece {
                        counters[rank as usize & (BLOCK - 1)] += add;
                    }
                }
                scan_block(counters, base, sink);
                continue;
            } else {
                count_touched(&pieces, counters, touched, 0)
            };
            match bar {
                // Without other filters a candidate passes on its counter
                // alone: most are judged and counted by two comparisons of
                // integers, and only those that beat the bar are offered.
                Some(bar) => {
                    // F is at most 255: a larger ImageMatchCountRequest
                    // lets nothing pass (and must not overflow the shift).
                    let least = pass.min_exact.min(0x100) << 8;
                    let (bar_counter, bar_rank) = (group_counter((bar >> 32) as u32), bar as u32);
                    let mut passing = 0;
                    for &rank in &touched[..n] {
                        let c =
                            u32::from(std::mem::take(&mut counters[rank as usize & (BLOCK - 1)]));
                        let passes = c >= least;
                        if passes && (c > bar_counter || (c == bar_counter && rank > bar_rank)) {
                            sink.offer(counter_group(c), rank);
                        } else {
                            passing += usize::from(passes);
                        }
                    }
                    sink.skip(passing);
                }
                None => {
                    for &rank in &touched[..n] {
                        let c = std::mem::take(&mut counters[rank as usize & (BLOCK - 1)]);
                        self.judge(rank, u32::from(c), &pass, sink);
                    }
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
