//! The counters of one block, many at a time: adding a block's pieces to
//! 16-bit (or, for small queries on AVX-512, 8-bit) counters, sparse or
//! dense, and scanning them for the few above a sink's bar (AVX-512 where
//! the machine has it, SSE2 and `popcnt` where it has those, a portable
//! loop elsewhere). `ECI_IMAGECACHE_NO_AVX512=1` forces the portable path.

use smallvec::SmallVec;

use super::containers::BLOCK_WORDS;
use super::counting::{ADD_EXACT, ADD_REPO, BLOCK, counter_group, group_counter};
use super::group;
use super::runs::{Piece, piece_len};
use super::sink::MatchSink;

/// Postings a block must hold to be scanned counter by counter rather than
/// through its touched ranks: one in 16 ranks.
pub(super) const DENSE: usize = BLOCK / 16;

/// Counts the block's pieces (no bitmap among them) into `counters`,
/// appending each rank to `touched[n..]` the first time it is counted
/// (branch-free); returns how many `touched` then holds.
pub(super) fn count_touched(
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
pub(super) fn count_all(pieces: &[(Piece<'_>, bool)], counters: &mut [u16; BLOCK]) {
    let mut bitmaps = SmallVec::new();
    count_arrays(pieces, counters, &mut bitmaps);
    add_bitmaps(&bitmaps, counters);
}

/// Adds each bitmap (exact or repo) to `counters`.
pub(super) fn add_bitmaps(bitmaps: &[(&[u64; BLOCK_WORDS], bool)], counters: &mut [u16; BLOCK]) {
    for &(words, exact) in bitmaps {
        add_bits(words, if exact { ADD_EXACT } else { ADD_REPO }, counters);
    }
}

/// Counts the array pieces into `counters` and sets the bitmaps aside.
pub(super) fn count_arrays<'p>(
    pieces: &[(Piece<'p>, bool)],
    counters: &mut [u16; BLOCK],
    bitmaps: &mut SmallVec<[(&'p [u64; BLOCK_WORDS], bool); 16]>,
) {
    count_arrays_by(pieces, counters, [ADD_EXACT, ADD_REPO], bitmaps);
}

/// [`count_arrays`] with `adds` (exact, repo) into counters of any width.
pub(super) fn count_arrays_by<'p, C: Copy + std::ops::AddAssign>(
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
pub(super) fn scan_dense(
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
pub(super) fn scan_dense_portable(
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
pub(super) fn scan_dense_avx512(
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
pub(super) const SMALL_QUERY: usize = 15;
pub(super) const ADD_EXACT8: u8 = 15;
pub(super) const ADD_REPO8: u8 = 1;

/// Whether the machine has the AVX-512 instructions the one-pass scans use;
/// never while `ECI_IMAGECACHE_NO_AVX512` is set (to anything, `0`
/// included), read once a process.
pub(super) fn has_avx512() -> bool {
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
pub(super) fn count_arrays8<'p>(
    pieces: &[(Piece<'p>, bool)],
    counters: &mut [u8; BLOCK],
    bitmaps: &mut SmallVec<[(&'p [u64; BLOCK_WORDS], bool); 16]>,
) {
    count_arrays_by(pieces, counters, [ADD_EXACT8, ADD_REPO8], bitmaps);
}

/// The sink's bar as an 8-bit counter: a counter above it beats the bar
/// (F and P of a small query are at most 15, so a larger P of the bar is
/// as good as 15, and a larger F lets nothing pass).
pub(super) fn bar_counter8(sink: &impl MatchSink) -> u8 {
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
pub(super) fn counter8_group(c: u8) -> u32 {
    group(u32::from(c >> 4), u32::from(c & 15))
}

/// [`scan_dense`] on 8-bit counters, 64 to a step: one load, one masked add
/// a bitmap word, two compares, one store. Only where the machine has
/// AVX-512 ([`Pass::small`]); counts every counted cache as passing.
pub(super) fn scan_dense8(
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
pub(super) fn scan_dense8_avx512(
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
pub(super) fn bar_counter(sink: &impl MatchSink, least: u16) -> u16 {
    let bar = sink
        .bar()
        .map_or(0, |bar| group_counter((bar >> 32) as u32).min(0xffff)) as u16;
    bar.max(least)
}

/// Adds `add` to the counter of every bit set in `words`.
pub(super) fn add_bits(words: &[u64; BLOCK_WORDS], add: u16, counters: &mut [u16; BLOCK]) {
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
pub(super) fn add_bits_portable(words: &[u64; BLOCK_WORDS], add: u16, counters: &mut [u16; BLOCK]) {
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
pub(super) static BYTE_LANES: [[u16; 8]; 256] = {
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
pub(super) fn add_bits_avx512(words: &[u64; BLOCK_WORDS], add: u16, counters: &mut [u16; BLOCK]) {
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
pub(super) fn any_above(counters: &[u16; BLOCK], t: u16) -> bool {
    counters
        .chunks_exact(LANES)
        .any(|chunk| above(chunk.try_into().expect("LANES long"), t) != 0)
}

/// Counts a block for a least F of `min_exact` (at least 1): the exact
/// pieces first, and the repo pieces only when some cache is on enough
/// exact lists; else clears the counters and returns `None`.
pub(super) fn count_exact_first(
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
pub(super) fn scan_block(
    counters: &mut [u16; BLOCK],
    base: u32,
    least: u16,
    sink: &mut impl MatchSink,
) {
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
pub(super) fn scan_block_popcnt(
    counters: &mut [u16; BLOCK],
    base: u32,
    least: u16,
    sink: &mut impl MatchSink,
) {
    scan_block_inline(counters, base, least, sink);
}

#[inline(always)]
pub(super) fn scan_block_inline(
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
pub(super) const LANES: usize = 32;

/// Bit `i` set when `chunk[i] > t`, unsigned. SSE2 compares signed 16-bit
/// values, so both sides are biased by `0x8000` first (which maps the
/// unsigned order onto the signed one).
#[cfg(target_arch = "x86_64")]
pub(super) fn above(chunk: &[u16; LANES], t: u16) -> u32 {
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
pub(super) fn above(chunk: &[u16; LANES], t: u16) -> u32 {
    chunk
        .iter()
        .enumerate()
        .fold(0, |mask, (i, &c)| mask | u32::from(c > t) << i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::sink::candidate;

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
