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

use super::containers::{BLOCK_WORDS, BLOCKS, Bitmap, Container, HIGH_SHIFT, popcount};
use super::pages::{Resolved, TagRef};
use super::postings::ListRef;
use super::{Index, group};
use crate::matching::Prepared;

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
        if self.k == 1 {
            // The best alone (auto-match): the threshold is the best so
            // far at once, so the sink's bar rises with every better
            // candidate rather than after a buffer's worth.
            self.threshold = word;
            self.kept.clear();
            self.kept.push(word);
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

/// One block's postings of one list.
#[derive(Clone, Copy)]
enum Piece<'a> {
    /// Ranks of a flat list.
    Ranks(&'a [u32]),
    /// Low 16 bits of the ranks of an array container.
    Lows(&'a [u16]),
    /// A bitmap container's 64 words over the block.
    Bits(&'a [u64; BLOCK_WORDS]),
}

/// A posting list being walked downwards, a block at a time, and whether
/// it is an exact key's list (counted in F) or a repo key's (counted in
/// R). It is never left on an empty piece: `top_block` is `None` only once
/// the list is done.
struct Run<'a> {
    at: At<'a>,
    exact: bool,
}

enum At<'a> {
    /// What is left of a flat list.
    Flat(&'a [u32]),
    /// The current container (its ranks' high bits in `base`) and the
    /// containers before it.
    Long {
        base: u32,
        current: Current<'a>,
        highs: &'a [u32],
        items: &'a [Container],
    },
    Done,
}

enum Current<'a> {
    Lows(&'a [u16]),
    /// The bitmap's counting blocks `0..blocks` are left.
    Bits(&'a Bitmap, usize),
}

impl<'a> Run<'a> {
    fn new(list: ListRef<'a>, exact: bool) -> Run<'a> {
        let at = match list {
            ListRef::Flat([]) => At::Done,
            ListRef::Flat(s) => At::Flat(s),
            ListRef::Long(c) => {
                let (highs, items) = c.parts();
                At::Long {
                    base: 0,
                    current: Current::Lows(&[]),
                    highs,
                    items,
                }
            }
        };
        let mut run = Run { at, exact };
        run.settle();
        run
    }

    /// Moves off an empty piece: to the previous non-empty block of a
    /// bitmap, or to the previous container, or to `Done`.
    fn settle(&mut self) {
        match &mut self.at {
            At::Flat([]) => self.at = At::Done,
            At::Long {
                base,
                current,
                highs,
                items,
            } => loop {
                match current {
                    Current::Lows(lows) if !lows.is_empty() => return,
                    Current::Bits(bitmap, blocks) => {
                        while *blocks > 0 && bitmap.block_is_empty(*blocks - 1) {
                            *blocks -= 1;
                        }
                        if *blocks > 0 {
                            return;
                        }
                    }
                    Current::Lows(_) => {}
                }
                let (Some((&high, h)), Some((item, i))) = (highs.split_last(), items.split_last())
                else {
                    self.at = At::Done;
                    return;
                };
                (*highs, *items) = (h, i);
                *base = high << HIGH_SHIFT;
                *current = match item {
                    Container::Array(lows) => Current::Lows(lows),
                    Container::Bitmap(bitmap) => Current::Bits(bitmap, BLOCKS),
                };
            },
            _ => {}
        }
    }

    /// The first rank of the block of the highest rank left.
    fn top_block(&self) -> Option<u32> {
        let top = match &self.at {
            At::Flat(s) => *s.last()?,
            At::Long { base, current, .. } => match current {
                Current::Lows(lows) => base | u32::from(*lows.last()?),
                Current::Bits(_, blocks) => base | ((*blocks as u32 - 1) * BLOCK as u32),
            },
            At::Done => return None,
        };
        Some(top & !(BLOCK as u32 - 1))
    }

    /// Takes the list's postings in the block at `base` (a block's first
    /// rank, at or above every rank left) into `out`.
    fn take_block(&mut self, base: u32, out: &mut SmallVec<[(Piece<'a>, bool); 32]>) {
        if self.top_block() != Some(base) {
            return;
        }
        let piece = match &mut self.at {
            At::Flat(s) => Piece::Ranks(take_down_to(s, base)),
            At::Long { current, .. } => match current {
                Current::Lows(lows) => Piece::Lows(take_down_to(lows, base as u16)),
                Current::Bits(bitmap, blocks) => {
                    *blocks -= 1;
                    Piece::Bits(bitmap.block(*blocks))
                }
            },
            At::Done => return,
        };
        out.push((piece, self.exact));
        self.settle();
    }

    fn done(&self) -> bool {
        matches!(self.at, At::Done)
    }
}

/// Takes the values at or above `base` off the end of `rest`. The cut is
/// found by galloping back from the end, so a block reads only the cache
/// lines near the postings it takes (a binary search over a long list
/// would miss the cache at nearly every step).
fn take_down_to<'a, T: Copy + Ord>(rest: &mut &'a [T], base: T) -> &'a [T] {
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
    let (left, piece) = rest.split_at(cut);
    *rest = left;
    piece
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
    /// Whether [`MatchSink::skip`]'s counts are used (a page's `TotalCount`
    /// is; auto-match's ranking is not), so a block none of whose caches can
    /// beat the bar must still be counted.
    fn counts_skipped(&self) -> bool {
        true
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

/// Counts the block's pieces (no bitmap among them) into `counters`,
/// appending each rank to `touched[n..]` the first time it is counted
/// (branch-free); returns how many `touched` then holds.
fn count_touched(
    pieces: &[(Piece<'_>, bool)],
    base: u32,
    counters: &mut [u16; BLOCK],
    touched: &mut [u32; 2 * BLOCK],
    mut n: usize,
) -> usize {
    #[inline(always)]
    fn count<T: Copy + Into<u32>>(
        piece: &[T],
        add: u16,
        base: u32,
        counters: &mut [u16; BLOCK],
        touched: &mut [u32; 2 * BLOCK],
        mut n: usize,
    ) -> usize {
        for &x in piece {
            let i = x.into() as usize & (BLOCK - 1);
            let c = counters[i];
            // At most BLOCK distinct ranks, so the mask never wraps; it
            // only spares a bounds check.
            touched[n & (2 * BLOCK - 1)] = base | i as u32;
            n += usize::from(c == 0);
            counters[i] = c + add;
        }
        n
    }
    for &(piece, exact) in pieces {
        let add = if exact { ADD_EXACT } else { ADD_REPO };
        n = match piece {
            Piece::Ranks(s) => count(s, add, base, counters, touched, n),
            Piece::Lows(s) => count(s, add, base, counters, touched, n),
            Piece::Bits(_) => unreachable!("a block with a bitmap is counted by count_dense"),
        };
    }
    n
}

/// Counts the pieces into `counters`, bitmaps included.
fn count_all(pieces: &[(Piece<'_>, bool)], counters: &mut [u16; BLOCK]) {
    let mut bitmaps = SmallVec::new();
    count_arrays(pieces, counters, &mut bitmaps);
    add_bitmaps(&bitmaps, counters);
}

/// Adds each bitmap (exact or repo) to `counters`.
fn add_bitmaps(bitmaps: &[(&[u64; BLOCK_WORDS], bool)], counters: &mut [u16; BLOCK]) {
    for &(words, exact) in bitmaps {
        add_bits(words, if exact { ADD_EXACT } else { ADD_REPO }, counters);
    }
}

/// Counts the array pieces into `counters` and sets the bitmaps aside.
fn count_arrays<'p>(
    pieces: &[(Piece<'p>, bool)],
    counters: &mut [u16; BLOCK],
    bitmaps: &mut SmallVec<[(&'p [u64; BLOCK_WORDS], bool); 16]>,
) {
    count_arrays_by(pieces, counters, [ADD_EXACT, ADD_REPO], bitmaps);
}

/// [`count_arrays`] with `adds` (exact, repo) into counters of any width.
fn count_arrays_by<'p, C: Copy + std::ops::AddAssign>(
    pieces: &[(Piece<'p>, bool)],
    counters: &mut [C; BLOCK],
    [add_exact, add_repo]: [C; 2],
    bitmaps: &mut SmallVec<[(&'p [u64; BLOCK_WORDS], bool); 16]>,
) {
    for &(piece, exact) in pieces {
        let add = if exact { add_exact } else { add_repo };
        match piece {
            Piece::Ranks(s) => s
                .iter()
                .for_each(|&r| counters[r as usize & (BLOCK - 1)] += add),
            Piece::Lows(s) => s
                .iter()
                .for_each(|&r| counters[usize::from(r) & (BLOCK - 1)] += add),
            Piece::Bits(words) => bitmaps.push((words, exact)),
        }
    }
}

/// Adds the bitmaps to `counters`, then [`scan_block`]: in one pass with
/// AVX-512 (each 32 counters loaded once, every bitmap's 32 bits added by
/// one masked add, compared with the bar and cleared), else in two.
fn scan_dense(
    counters: &mut [u16; BLOCK],
    bitmaps: &[(&[u64; BLOCK_WORDS], bool)],
    base: u32,
    least: u16,
    sink: &mut impl MatchSink,
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the instructions were just detected.
        unsafe { scan_dense_avx512(counters, bitmaps, base, least, sink) };
        return;
    }
    scan_dense_portable(counters, bitmaps, base, least, sink);
}

/// [`scan_dense`] in two passes, without AVX-512.
fn scan_dense_portable(
    counters: &mut [u16; BLOCK],
    bitmaps: &[(&[u64; BLOCK_WORDS], bool)],
    base: u32,
    least: u16,
    sink: &mut impl MatchSink,
) {
    for &(words, exact) in bitmaps {
        add_bits_portable(words, if exact { ADD_EXACT } else { ADD_REPO }, counters);
    }
    scan_block(counters, base, least, sink);
}

/// [`scan_dense`] in one pass.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw,popcnt")]
fn scan_dense_avx512(
    counters: &mut [u16; BLOCK],
    bitmaps: &[(&[u64; BLOCK_WORDS], bool)],
    base: u32,
    least: u16,
    sink: &mut impl MatchSink,
) {
    use std::arch::x86_64::{
        _mm512_cmpgt_epu16_mask, _mm512_loadu_si512, _mm512_mask_add_epi16, _mm512_set1_epi16,
        _mm512_setzero_si512, _mm512_storeu_si512,
    };
    let exact_add = _mm512_set1_epi16(ADD_EXACT as i16);
    let repo_add = _mm512_set1_epi16(ADD_REPO as i16);
    let least_v = _mm512_set1_epi16(least as i16);
    let mut passing = 0usize;
    let mut values = [0u16; LANES];
    // The bar's rank is above every rank of this block (ranks are offered
    // descending), so only a larger counter beats it.
    let mut bar_v = _mm512_set1_epi16(bar_counter(sink, least) as i16);
    for lane in (0..BLOCK / LANES).rev() {
        let (w, shift) = (lane / 2, 32 * (lane % 2));
        // SAFETY: counters `lane * 32..` plus 32 lie inside the block's
        // 4 096 (lane < 128); unaligned loads and stores.
        let p = unsafe { counters.as_mut_ptr().add(lane * LANES) }.cast();
        let mut c = unsafe { _mm512_loadu_si512(p) };
        for &(words, exact) in bitmaps {
            let add = if exact { exact_add } else { repo_add };
            c = _mm512_mask_add_epi16(c, (words[w] >> shift) as u32, c, add);
        }
        // Branch-free but for the rare lane with a cache that beats the
        // bar (which then rises).
        let passes = _mm512_cmpgt_epu16_mask(c, least_v);
        let mut beats = _mm512_cmpgt_epu16_mask(c, bar_v);
        passing += (passes & !beats).count_ones() as usize;
        if beats != 0 {
            // SAFETY: 32 counters into a 32-counter array.
            unsafe { _mm512_storeu_si512(values.as_mut_ptr().cast(), c) };
            let lane_base = base + (lane * LANES) as u32;
            while beats != 0 {
                let i = 31 - beats.leading_zeros();
                beats &= !(1 << i);
                sink.offer(counter_group(u32::from(values[i as usize])), lane_base + i);
            }
            bar_v = _mm512_set1_epi16(bar_counter(sink, least) as i16);
        }
        // SAFETY: as the load above.
        unsafe { _mm512_storeu_si512(p, _mm512_setzero_si512()) };
    }
    sink.skip(passing);
}

/// Queries of at most this many images count dense blocks in 8 bits:
/// `16 F + P`, an exact posting adding 15 and a repo posting 1 (F + P is at
/// most the number of images, so a counter is at most 240).
const SMALL_QUERY: usize = 15;
const ADD_EXACT8: u8 = 15;
const ADD_REPO8: u8 = 1;

/// Whether the machine has the AVX-512 instructions the one-pass scans use;
/// never while `ECI_IMAGECACHE_NO_AVX512` is set (to anything, `0`
/// included), read once a process.
fn has_avx512() -> bool {
    // Set, the portable paths run on any machine: how CI runs the oracle
    // suite over them, and how their speed is measured.
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *OFF.get_or_init(|| std::env::var_os("ECI_IMAGECACHE_NO_AVX512").is_some()) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("popcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`count_arrays`] into 8-bit counters.
fn count_arrays8<'p>(
    pieces: &[(Piece<'p>, bool)],
    counters: &mut [u8; BLOCK],
    bitmaps: &mut SmallVec<[(&'p [u64; BLOCK_WORDS], bool); 16]>,
) {
    count_arrays_by(pieces, counters, [ADD_EXACT8, ADD_REPO8], bitmaps);
}

/// The sink's bar as an 8-bit counter: a counter above it beats the bar
/// (F and P of a small query are at most 15, so a larger P of the bar is
/// as good as 15, and a larger F lets nothing pass).
fn bar_counter8(sink: &impl MatchSink) -> u8 {
    let c = sink
        .bar()
        .map_or(0, |bar| group_counter((bar >> 32) as u32));
    let (f, p) = (c >> 8, c & 0xff);
    if f > 15 {
        u8::MAX
    } else {
        (f << 4 | p.min(15)) as u8
    }
}

/// The match group of an 8-bit counter.
fn counter8_group(c: u8) -> u32 {
    group(u32::from(c >> 4), u32::from(c & 15))
}

/// [`scan_dense`] on 8-bit counters, 64 to a step: one load, one masked add
/// a bitmap word, two compares, one store. Only where the machine has
/// AVX-512 ([`Pass::small`]); counts every counted cache as passing.
fn scan_dense8(
    counters: &mut [u8; BLOCK],
    bitmaps: &[(&[u64; BLOCK_WORDS], bool)],
    base: u32,
    sink: &mut impl MatchSink,
) {
    #[cfg(target_arch = "x86_64")]
    {
        debug_assert!(has_avx512());
        // SAFETY: `Pass::small` holds only where the instructions were
        // detected.
        unsafe { scan_dense8_avx512(counters, bitmaps, base, sink) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (counters, bitmaps, base, sink);
        unreachable!("no 8-bit scan without AVX-512");
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw,popcnt")]
fn scan_dense8_avx512(
    counters: &mut [u8; BLOCK],
    bitmaps: &[(&[u64; BLOCK_WORDS], bool)],
    base: u32,
    sink: &mut impl MatchSink,
) {
    use std::arch::x86_64::{
        _mm512_cmpgt_epu8_mask, _mm512_loadu_si512, _mm512_mask_add_epi8, _mm512_set1_epi8,
        _mm512_setzero_si512, _mm512_storeu_si512, _mm512_test_epi8_mask,
    };
    let exact_add = _mm512_set1_epi8(ADD_EXACT8 as i8);
    let repo_add = _mm512_set1_epi8(ADD_REPO8 as i8);
    let mut passing = 0usize;
    let mut values = [0u8; 64];
    // The bar's rank is above every rank of this block (ranks are offered
    // descending), so only a larger counter beats it.
    let mut bar_v = _mm512_set1_epi8(bar_counter8(sink) as i8);
    for w in (0..BLOCK_WORDS).rev() {
        // SAFETY: counters `w * 64..` plus 64 lie inside the block's 4 096
        // (w < 64); unaligned loads and stores.
        let p = unsafe { counters.as_mut_ptr().add(w * 64) }.cast();
        let mut c = unsafe { _mm512_loadu_si512(p) };
        for &(words, exact) in bitmaps {
            let add = if exact { exact_add } else { repo_add };
            c = _mm512_mask_add_epi8(c, words[w], c, add);
        }
        let passes = _mm512_test_epi8_mask(c, c);
        let mut beats = _mm512_cmpgt_epu8_mask(c, bar_v);
        passing += (passes & !beats).count_ones() as usize;
        if beats != 0 {
            // SAFETY: 64 counters into a 64-counter array.
            unsafe { _mm512_storeu_si512(values.as_mut_ptr().cast(), c) };
            let word_base = base + (w * 64) as u32;
            while beats != 0 {
                let i = 63 - beats.leading_zeros();
                beats &= !(1 << i);
                sink.offer(counter8_group(values[i as usize]), word_base + i);
            }
            bar_v = _mm512_set1_epi8(bar_counter8(sink) as i8);
        }
        // SAFETY: as the load above.
        unsafe { _mm512_storeu_si512(p, _mm512_setzero_si512()) };
    }
    sink.skip(passing);
}

/// The counter a candidate must exceed to be offered: the sink's bar's, or
/// `least` when that is higher.
fn bar_counter(sink: &impl MatchSink, least: u16) -> u16 {
    let bar = sink
        .bar()
        .map_or(0, |bar| group_counter((bar >> 32) as u32).min(0xffff)) as u16;
    bar.max(least)
}

/// Adds `add` to the counter of every bit set in `words`.
fn add_bits(words: &[u64; BLOCK_WORDS], add: u16, counters: &mut [u16; BLOCK]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the instructions were just detected.
        unsafe { add_bits_avx512(words, add, counters) };
        return;
    }
    add_bits_portable(words, add, counters);
}

/// [`add_bits`] without AVX-512: a word a byte at a time, each byte's
/// eight bits spread to eight counters through a table (`BYTE_LANES`), one
/// SIMD add where the machine has 128-bit integer vectors (every x86-64 and
/// aarch64): no branch a bit, and no population count (which x86-64's
/// baseline does not have).
fn add_bits_portable(words: &[u64; BLOCK_WORDS], add: u16, counters: &mut [u16; BLOCK]) {
    for (w, &word) in words.iter().enumerate() {
        if word == 0 {
            continue;
        }
        let lanes: &mut [u16; 64] = (&mut counters[w * 64..][..64])
            .try_into()
            .expect("64 counters a word");
        for (b, byte) in word.to_le_bytes().into_iter().enumerate() {
            let ones = &BYTE_LANES[usize::from(byte)];
            for (c, &one) in lanes[b * 8..][..8].iter_mut().zip(ones) {
                *c += one & add;
            }
        }
    }
}

/// For each byte, eight lanes: `0xffff` where its bit is set, else 0.
static BYTE_LANES: [[u16; 8]; 256] = {
    let mut table = [[0u16; 8]; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut bit = 0;
        while bit < 8 {
            if byte & (1 << bit) != 0 {
                table[byte][bit] = 0xffff;
            }
            bit += 1;
        }
        byte += 1;
    }
    table
};

/// [`add_bits`] with AVX-512: one masked add for 32 counters.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
fn add_bits_avx512(words: &[u64; BLOCK_WORDS], add: u16, counters: &mut [u16; BLOCK]) {
    use std::arch::x86_64::{
        _mm512_loadu_si512, _mm512_mask_add_epi16, _mm512_set1_epi16, _mm512_storeu_si512,
    };
    let add = _mm512_set1_epi16(add as i16);
    for (w, &word) in words.iter().enumerate() {
        for half in 0..2 {
            let mask = (word >> (32 * half)) as u32;
            // SAFETY: counters `w * 64 + 32 * half ..` plus 32 are inside
            // the block's 4 096 (w < 64, half < 2); unaligned loads and
            // stores.
            unsafe {
                let p = counters.as_mut_ptr().add(w * 64 + 32 * half).cast();
                let c = _mm512_loadu_si512(p);
                _mm512_storeu_si512(p, _mm512_mask_add_epi16(c, mask, c, add));
            }
        }
    }
}

/// Whether some counter is above `t`.
fn any_above(counters: &[u16; BLOCK], t: u16) -> bool {
    counters
        .chunks_exact(LANES)
        .any(|chunk| above(chunk.try_into().expect("LANES long"), t) != 0)
}

/// How many ranks of the block are on some piece: the pieces' bits OR'ed
/// into one bitmap of the block, then counted.
fn union_count(pieces: &[(Piece<'_>, bool)]) -> usize {
    let mut union = [0u64; BLOCK_WORDS];
    fn set(union: &mut [u64; BLOCK_WORDS], i: usize) {
        union[(i / 64) & (BLOCK_WORDS - 1)] |= 1 << (i % 64);
    }
    for &(piece, _) in pieces {
        match piece {
            Piece::Ranks(s) => s
                .iter()
                .for_each(|&r| set(&mut union, r as usize & (BLOCK - 1))),
            Piece::Lows(s) => s
                .iter()
                .for_each(|&r| set(&mut union, usize::from(r) & (BLOCK - 1))),
            Piece::Bits(words) => {
                for (u, w) in union.iter_mut().zip(words) {
                    *u |= w;
                }
            }
        }
    }
    popcount(&union) as usize
}

/// How many postings a piece without bitmaps holds.
fn piece_len(piece: &Piece<'_>) -> usize {
    match piece {
        Piece::Ranks(s) => s.len(),
        Piece::Lows(s) => s.len(),
        Piece::Bits(_) => BLOCK,
    }
}

/// Counts a block for a least F of `min_exact` (at least 1): the exact
/// pieces first, and the repo pieces only when some cache is on enough
/// exact lists; else clears the counters and returns `None`.
fn count_exact_first(
    exact: &[(Piece<'_>, bool)],
    repo: &[(Piece<'_>, bool)],
    base: u32,
    min_exact: u32,
    counters: &mut [u16; BLOCK],
    touched: &mut [u32; 2 * BLOCK],
) -> Option<usize> {
    if exact
        .iter()
        .map(|(piece, _)| piece_len(piece))
        .sum::<usize>()
        < min_exact as usize
    {
        return None;
    }
    let n = count_touched(exact, base, counters, touched, 0);
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
    Some(count_touched(repo, base, counters, touched, n))
}

/// Hands `sink` every counted cache of the block at `base` that is above
/// `least` and beats its bar, and counts the others above `least`, ranks
/// descending, clearing the counters. `LANES` counters at a time are
/// compared with the bar without a branch; only the bits of those above it
/// are walked.
fn scan_block(counters: &mut [u16; BLOCK], base: u32, least: u16, sink: &mut impl MatchSink) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: the instruction was just detected.
        unsafe { scan_block_popcnt(counters, base, least, sink) };
        return;
    }
    scan_block_inline(counters, base, least, sink);
}

/// [`scan_block`] where the machine counts bits in one instruction (x86-64's
/// baseline does not: its `count_ones` is a dozen).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn scan_block_popcnt(
    counters: &mut [u16; BLOCK],
    base: u32,
    least: u16,
    sink: &mut impl MatchSink,
) {
    scan_block_inline(counters, base, least, sink);
}

#[inline(always)]
fn scan_block_inline(
    counters: &mut [u16; BLOCK],
    base: u32,
    least: u16,
    sink: &mut impl MatchSink,
) {
    let mut passing = 0usize;
    for (lane, chunk) in counters.chunks_exact_mut(LANES).enumerate().rev() {
        let chunk: &mut [u16; LANES] = chunk.try_into().expect("LANES long");
        // The bar's rank is above every rank of this chunk (ranks are
        // offered descending), so only a larger counter beats it.
        let passes = above(chunk, least);
        if passes != 0 {
            let mut beats = above(chunk, bar_counter(sink, least));
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

/// Whether a block (its exact `pieces` before `exact_end`) is done
/// without counting: even a cache on every piece would not beat `bar`, and
/// the sink wants no count of what passes, or (with no least F) has it
/// from the union of the repo pieces.
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
        let counters8: &mut [u8; BLOCK] = (&mut counters8[..BLOCK]).try_into().expect("BLOCK long");
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
            let mut counters = Counters {
                wide: &mut *counters,
                narrow: &mut *counters8,
                touched: &mut *touched,
            };
            self.count_block(block, &pass, bar, &mut counters, sink);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps the best `k` words, so its bar rises as a page's does, and
    /// records every call.
    struct Recorder {
        k: usize,
        best: Vec<u64>,
        calls: Vec<(u32, u32)>,
        skipped: usize,
    }

    impl MatchSink for Recorder {
        fn offer(&mut self, group: u32, rank: u32) {
            self.calls.push((group, rank));
            if self.k == usize::MAX {
                // Keeps nothing: its bar never rises.
                return;
            }
            self.best.push(candidate(group, rank));
            self.best.sort_unstable_by(|a, b| b.cmp(a));
            self.best.truncate(self.k);
        }
        fn skip(&mut self, n: usize) {
            self.skipped += n;
        }
        fn bar(&self) -> Option<u64> {
            Some(if self.k != usize::MAX && self.best.len() == self.k {
                self.best[self.k - 1]
            } else {
                0
            })
        }
    }

    /// The `k` largest of a stream, largest first, for every `k` from 1
    /// (whose threshold is the best so far after every offer) to more than
    /// the stream holds; the threshold never passes the `k`-th largest.
    #[test]
    fn top_k_keeps_the_k_largest_and_its_threshold_trails_them() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let words: Vec<u64> = (0..500)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                1 + x % 300
            })
            .collect();
        for k in [1, 2, 20, 64, 499, 500, 600] {
            let mut kept = Vec::new();
            let mut top = TopK::new(k, &mut kept);
            for (i, &w) in words.iter().enumerate() {
                top.offer(w);
                let mut seen = words[..=i].to_vec();
                seen.sort_unstable_by(|a, b| b.cmp(a));
                let kth = seen.get(k - 1).copied().unwrap_or(0);
                assert!(top.threshold() <= kth, "k {k}, after {i}");
                if k == 1 {
                    assert_eq!(top.threshold(), seen[0], "after {i}");
                }
            }
            let mut want = words.clone();
            want.sort_unstable_by(|a, b| b.cmp(a));
            want.truncate(k);
            assert_eq!(top.finish(), &want[..], "k {k}");
        }
    }

    /// `ECI_IMAGECACHE_NO_AVX512` turns the AVX-512 paths off: `.ci/run`
    /// runs the lib's tests and the oracle suites with it set, and this
    /// holds that run to the portable paths.
    #[test]
    fn the_override_turns_the_avx512_paths_off() {
        if std::env::var_os("ECI_IMAGECACHE_NO_AVX512").is_some() {
            assert!(!has_avx512());
        } else {
            eprintln!("ECI_IMAGECACHE_NO_AVX512 is not set: nothing to check");
        }
    }

    /// The one-pass AVX-512 scan (where the machine has it) hands a sink
    /// exactly what the portable two passes hand it: the same offers in
    /// the same order, the same count skipped, and clears the counters.
    #[test]
    fn both_dense_scans_offer_and_skip_the_same() {
        let mut x = 7u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut offered = 0;
        for round in 0..60 {
            let mut counters = [0u16; BLOCK];
            for _ in 0..(next() % 3000) {
                let i = (next() as usize) % BLOCK;
                counters[i] += if next() % 3 == 0 { ADD_EXACT } else { ADD_REPO };
            }
            let words: Vec<[u64; BLOCK_WORDS]> = (0..next() % 4)
                .map(|_| {
                    let sparse = next() % 2 == 0;
                    std::array::from_fn(|_| {
                        if sparse {
                            next() & next() & next()
                        } else {
                            next()
                        }
                    })
                })
                .collect();
            let bitmaps: Vec<(&[u64; BLOCK_WORDS], bool)> =
                words.iter().map(|w| (w, next() % 2 == 0)).collect();
            let least = [0u16, 0xfe, 0x1fd][round % 3];
            let k = [1, 5, 20][round % 3];
            let run = |portable: bool| {
                let mut c = counters;
                let mut sink = Recorder {
                    k,
                    best: vec![],
                    calls: vec![],
                    skipped: 0,
                };
                if portable {
                    scan_dense_portable(&mut c, &bitmaps, 1 << 20, least, &mut sink);
                } else {
                    scan_dense(&mut c, &bitmaps, 1 << 20, least, &mut sink);
                }
                assert!(c.iter().all(|&v| v == 0), "counters cleared");
                (sink.calls, sink.skipped)
            };
            let (calls, skipped) = run(true);
            offered += usize::from(!calls.is_empty());
            assert_eq!(run(false), (calls, skipped), "round {round}");
        }
        assert!(offered > 40, "{offered} rounds offered something");
    }

    /// A small query's blocks counted in 8 bits hand a sink exactly what
    /// the 16-bit count hands it, over random arrays and bitmaps of up to
    /// 15 images (each exact posting with its repo posting, as in an index).
    #[test]
    fn eight_bit_counters_offer_and_skip_like_sixteen_bit_ones() {
        if !has_avx512() {
            eprintln!("no AVX-512 here: the 8-bit scan is never used");
            return;
        }
        let mut x = 11u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..60 {
            let images = 1 + (next() % SMALL_QUERY as u64) as usize;
            // Per image: the repo list's bits, the exact list's a subset.
            let mut lists: Vec<([u64; BLOCK_WORDS], bool)> = Vec::new();
            for _ in 0..images {
                let density = next() % 4;
                let repo: [u64; BLOCK_WORDS] = std::array::from_fn(|_| match density {
                    0 => next() & next() & next() & next(),
                    1 => next() & next(),
                    _ => next(),
                });
                let exact: [u64; BLOCK_WORDS] = std::array::from_fn(|w| repo[w] & next() & next());
                lists.push((exact, true));
                lists.push((repo, false));
            }
            // Some lists as arrays of lows, the others as bitmaps.
            let lows: Vec<Vec<u16>> = lists
                .iter()
                .map(|(words, _)| {
                    (0..BLOCK)
                        .filter(|&i| words[i / 64] >> (i % 64) & 1 == 1)
                        .map(|i| i as u16)
                        .collect()
                })
                .collect();
            let as_array: Vec<bool> = lists.iter().map(|_| next() % 2 == 0).collect();
            let mut pieces: Vec<(Piece<'_>, bool)> = Vec::new();
            for (i, (words, exact)) in lists.iter().enumerate() {
                pieces.push((
                    if as_array[i] {
                        Piece::Lows(&lows[i])
                    } else {
                        Piece::Bits(words)
                    },
                    *exact,
                ));
            }
            let k = [1, 5, 20, usize::MAX][round % 4];
            // Each takes its own steps (32 and 64 counters) between looks at
            // the bar, so they may offer different losers; what they keep,
            // how many pass and each offer's group must agree.
            let run = |eight: bool| {
                let mut sink = Recorder {
                    k,
                    best: vec![],
                    calls: vec![],
                    skipped: 0,
                };
                let mut bitmaps = SmallVec::new();
                if eight {
                    let mut c = [0u8; BLOCK];
                    count_arrays8(&pieces, &mut c, &mut bitmaps);
                    scan_dense8(&mut c, &bitmaps, 1 << 20, &mut sink);
                    assert!(c.iter().all(|&v| v == 0), "counters cleared");
                } else {
                    let mut c = [0u16; BLOCK];
                    count_arrays(&pieces, &mut c, &mut bitmaps);
                    scan_dense(&mut c, &bitmaps, 1 << 20, 0, &mut sink);
                }
                sink
            };
            let (sixteen, eight) = (run(false), run(true));
            assert_eq!(eight.best, sixteen.best, "round {round}, {images} images");
            assert_eq!(
                eight.calls.len() + eight.skipped,
                sixteen.calls.len() + sixteen.skipped
            );
            if k == usize::MAX {
                // Nothing refused: every counted cache offered, with its group.
                assert_eq!(eight.calls, sixteen.calls);
                assert!(!eight.calls.is_empty());
            }
        }
    }
}
