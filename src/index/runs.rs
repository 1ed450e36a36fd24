//! Posting lists walked block by block: a [`Run`] is one query list,
//! handing out its [`Piece`] of each block of `BLOCK` ranks from the top
//! rank down, whether the list is an array of ranks or bitmap containers.

use smallvec::SmallVec;

use super::containers::{BLOCK_WORDS, BLOCKS, Bitmap, Container, HIGH_SHIFT, popcount};
use super::counting::BLOCK;
use super::postings::ListRef;

/// One block's postings of one list.
#[derive(Clone, Copy)]
pub(super) enum Piece<'a> {
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
pub(super) struct Run<'a> {
    at: At<'a>,
    pub(super) exact: bool,
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
    pub(super) fn new(list: ListRef<'a>, exact: bool) -> Run<'a> {
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
    pub(super) fn top_block(&self) -> Option<u32> {
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
    pub(super) fn take_block(&mut self, base: u32, out: &mut SmallVec<[(Piece<'a>, bool); 32]>) {
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

    pub(super) fn done(&self) -> bool {
        matches!(self.at, At::Done)
    }
}

/// Takes the values at or above `base` off the end of `rest`. The cut is
/// found by galloping back from the end, so a block reads only the cache
/// lines near the postings it takes (a binary search over a long list
/// would miss the cache at nearly every step).
pub(super) fn take_down_to<'a, T: Copy + Ord>(rest: &mut &'a [T], base: T) -> &'a [T] {
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

/// How many ranks of the block are on some piece: the pieces' bits OR'ed
/// into one bitmap of the block, then counted.
pub(super) fn union_count(pieces: &[(Piece<'_>, bool)]) -> usize {
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
pub(super) fn piece_len(piece: &Piece<'_>) -> usize {
    match piece {
        Piece::Ranks(s) => s.len(),
        Piece::Lows(s) => s.len(),
        Piece::Bits(_) => BLOCK,
    }
}
