//! A long posting list as Roaring-style containers (Chambi, Lemire et al.,
//! "Better bitmap performance with Roaring bitmaps", 2016): the ranks are
//! split by their high 16 bits, and each container holds the low 16 bits
//! of its ranks as a sorted array while sparse or as a 65 536-bit bitmap
//! once dense.
//!
//! The counting pass (`counting.rs`) reads a bitmap 4 096 ranks (64 words)
//! at a time and adds each word to its 64 counters by two masked adds, so
//! a dense list costs a few operations a word instead of one counter update
//! a posting; an array is counted posting by posting. Positions (the `i`-th rank, the
//! number below a rank) are answered from cumulative counts: a list's
//! counts by container, a bitmap's by 4 096-rank block.
//!
//! Complexity, for `C` containers: an insert or a removal is `O(log C)` to
//! find its container, then `O(ARRAY_MAX)` at most in an array (one move)
//! or `O(1)` in a bitmap, plus `O(C)` cumulative counts moved by one;
//! `get` and `lower_bound` are `O(log C + 64)`.

/// Bits of a rank that pick its container.
pub(crate) const HIGH_SHIFT: u32 = 16;
/// 64-bit words of a bitmap container.
pub(crate) const WORDS: usize = 1 << (HIGH_SHIFT - 6);
/// Words of one counting block (4 096 ranks).
pub(crate) const BLOCK_WORDS: usize = 64;
/// Counting blocks in a bitmap container.
pub(crate) const BLOCKS: usize = WORDS / BLOCK_WORDS;

/// An array container holding more ranks than this becomes a bitmap (one
/// rank in 32 of its span: from about here a bitmap counts faster than its
/// array)…
const ARRAY_MAX: usize = 2048;
/// …and a bitmap holding this many or fewer goes back to an array (the gap
/// keeps a list near the boundary from converting at every change).
const BITMAP_MIN: usize = 1536;

/// A long posting list: containers in ascending order of their high bits.
#[derive(Clone, Debug, Default)]
pub(crate) struct Containers {
    /// `rank >> 16` of each container, ascending.
    highs: Vec<u32>,
    /// `ends[i]`: how many ranks containers `0..=i` hold.
    ends: Vec<u32>,
    items: Vec<Container>,
}

/// The low 16 bits of one container's ranks.
#[derive(Clone, Debug)]
pub(crate) enum Container {
    /// Sorted, at most [`ARRAY_MAX`] long.
    Array(Vec<u16>),
    /// More than [`BITMAP_MIN`] set bits.
    Bitmap(Box<Bitmap>),
}

/// 65 536 bits, with the set bits before each 4 096-bit block.
#[derive(Clone, Debug)]
pub(crate) struct Bitmap {
    words: [u64; WORDS],
    /// `before[b]`: set bits in blocks `0..b` (`before[BLOCKS]`: all).
    before: [u32; BLOCKS + 1],
}

impl Bitmap {
    fn from_lows(lows: &[u16]) -> Box<Bitmap> {
        let mut bitmap = Box::new(Bitmap {
            words: [0; WORDS],
            before: [0; BLOCKS + 1],
        });
        for &low in lows {
            bitmap.words[usize::from(low) / 64] |= 1 << (low % 64);
        }
        bitmap.recount();
        bitmap
    }

    fn recount(&mut self) {
        let mut sum = 0u32;
        for b in 0..BLOCKS {
            self.before[b] = sum;
            sum += popcount(&self.words[b * BLOCK_WORDS..][..BLOCK_WORDS]);
        }
        self.before[BLOCKS] = sum;
    }

    /// Whether counting block `b` has no bit set.
    pub fn block_is_empty(&self, b: usize) -> bool {
        self.before[b] == self.before[b + 1]
    }

    /// The 64 words of counting block `b` (0..16).
    pub fn block(&self, b: usize) -> &[u64; BLOCK_WORDS] {
        self.words[b * BLOCK_WORDS..][..BLOCK_WORDS]
            .try_into()
            .expect("a block is 64 words")
    }

    fn has(&self, low: u16) -> bool {
        self.words[usize::from(low) / 64] >> (low % 64) & 1 == 1
    }

    /// Where the word of `low` lies.
    fn word_ptr(&self, low: u16) -> *const u8 {
        std::ptr::from_ref(&self.words[usize::from(low) / 64]).cast()
    }

    /// Sets or clears a bit; returns whether it changed.
    fn set(&mut self, low: u16, on: bool) -> bool {
        let (w, bit) = (usize::from(low) / 64, 1u64 << (low % 64));
        if (self.words[w] & bit != 0) == on {
            return false;
        }
        self.words[w] ^= bit;
        for before in &mut self.before[usize::from(low) / 4096 + 1..] {
            *before = if on { *before + 1 } else { *before - 1 };
        }
        true
    }

    /// Set bits below `low`.
    fn count_below(&self, low: u16) -> usize {
        let (b, w) = (usize::from(low) / 4096, usize::from(low) / 64);
        self.before[b] as usize
            + popcount(&self.words[b * BLOCK_WORDS..w]) as usize
            + (self.words[w] & ((1u64 << (low % 64)) - 1)).count_ones() as usize
    }

    /// The low bits of the `j`-th set bit (there are more than `j`).
    fn select(&self, j: usize) -> u16 {
        let b = self.before[..BLOCKS].partition_point(|&n| n as usize <= j) - 1;
        let mut left = j - self.before[b] as usize;
        for w in b * BLOCK_WORDS..(b + 1) * BLOCK_WORDS {
            let n = self.words[w].count_ones() as usize;
            if left < n {
                let mut word = self.words[w];
                for _ in 0..left {
                    word &= word - 1;
                }
                return (w * 64) as u16 + word.trailing_zeros() as u16;
            }
            left -= n;
        }
        unreachable!("a bitmap holds the ranks its counts say")
    }

    fn lows(&self) -> Vec<u16> {
        let mut lows = Vec::new();
        for (w, &word) in self.words.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                lows.push((w * 64) as u16 + word.trailing_zeros() as u16);
                word &= word - 1;
            }
        }
        lows
    }
}

/// Set bits in `words`, with the `popcnt` instruction where the machine has
/// one (x86-64's baseline lacks it; the portable count is several times
/// slower).
pub(crate) fn popcount(words: &[u64]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        #[target_feature(enable = "popcnt")]
        fn count(words: &[u64]) -> u32 {
            words.iter().map(|w| w.count_ones()).sum()
        }
        // SAFETY: the instruction was just detected.
        return unsafe { count(words) };
    }
    words.iter().map(|w| w.count_ones()).sum()
}

fn high(rank: u32) -> u32 {
    rank >> HIGH_SHIFT
}

fn low(rank: u32) -> u16 {
    rank as u16
}

impl Containers {
    /// The containers of ascending, distinct `ranks`.
    pub fn from_sorted(ranks: impl IntoIterator<Item = u32>) -> Containers {
        let mut c = Containers::default();
        for rank in ranks {
            c.add(rank);
        }
        c
    }

    pub fn len(&self) -> usize {
        self.ends.last().map_or(0, |&e| e as usize)
    }

    fn start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.ends[i - 1] as usize }
    }

    /// How many ranks container `i` holds.
    fn count(&self, i: usize) -> usize {
        self.ends[i] as usize - self.start(i)
    }

    /// The container whose high bits are `h`, or where it would go.
    fn find(&self, h: u32) -> Result<usize, usize> {
        match self.highs.last() {
            // Appending, the usual case.
            Some(&last) if last == h => Ok(self.highs.len() - 1),
            Some(&last) if last < h => Err(self.highs.len()),
            _ => self.highs.binary_search(&h),
        }
    }

    /// Adds `rank`; returns whether it was not there.
    pub fn add(&mut self, rank: u32) -> bool {
        let i = match self.find(high(rank)) {
            Ok(i) => i,
            Err(i) => {
                self.highs.insert(i, high(rank));
                self.ends.insert(i, self.start(i) as u32);
                self.items.insert(i, Container::Array(Vec::new()));
                i
            }
        };
        let added = match &mut self.items[i] {
            Container::Array(lows) => {
                let l = low(rank);
                let at = match lows.last() {
                    Some(&last) if last < l => Ok(lows.len()),
                    None => Ok(0),
                    _ => match lows.binary_search(&l) {
                        Ok(_) => Err(()),
                        Err(at) => Ok(at),
                    },
                };
                match at {
                    Ok(at) => {
                        lows.insert(at, l);
                        if lows.len() > ARRAY_MAX {
                            self.items[i] = Container::Bitmap(Bitmap::from_lows(lows));
                        }
                        true
                    }
                    Err(()) => false,
                }
            }
            Container::Bitmap(bitmap) => bitmap.set(low(rank), true),
        };
        if added {
            for end in &mut self.ends[i..] {
                *end += 1;
            }
        }
        added
    }

    /// Asks for the container of `rank`: its array's middle or its
    /// bitmap's word (see [`super::postings::Postings::prefetch_list`]).
    pub fn prefetch(&self, rank: u32) {
        let Ok(i) = self.find(high(rank)) else {
            return;
        };
        let p: *const u8 = match &self.items[i] {
            Container::Array(lows) => match lows.get(lows.len() / 2) {
                Some(middle) => std::ptr::from_ref(middle).cast(),
                None => return,
            },
            Container::Bitmap(bitmap) => bitmap.word_ptr(low(rank)),
        };
        crate::prefetch::prefetch(p);
    }

    /// Removes `rank`; returns whether it was there.
    pub fn remove(&mut self, rank: u32) -> bool {
        let Ok(i) = self.find(high(rank)) else {
            return false;
        };
        let removed = match &mut self.items[i] {
            Container::Array(lows) => match lows.binary_search(&low(rank)) {
                Ok(at) => {
                    lows.remove(at);
                    true
                }
                Err(_) => false,
            },
            Container::Bitmap(bitmap) => bitmap.set(low(rank), false),
        };
        if !removed {
            return false;
        }
        for end in &mut self.ends[i..] {
            *end -= 1;
        }
        let left = self.count(i);
        if left == 0 {
            self.highs.remove(i);
            self.ends.remove(i);
            self.items.remove(i);
        } else if left <= BITMAP_MIN
            && let Container::Bitmap(bitmap) = &self.items[i]
        {
            self.items[i] = Container::Array(bitmap.lows());
        }
        true
    }

    /// Moves `from` to `to` when no other rank lies between them.
    pub fn shift(&mut self, from: u32, to: u32) {
        if high(from) == high(to)
            && let Ok(i) = self.find(high(from))
        {
            match &mut self.items[i] {
                Container::Array(lows) => {
                    if let Ok(at) = lows.binary_search(&low(from)) {
                        lows[at] = low(to);
                    }
                }
                Container::Bitmap(bitmap) => {
                    if bitmap.set(low(from), false) {
                        let moved = bitmap.set(low(to), true);
                        debug_assert!(moved, "a rank shifted onto one the list holds");
                    }
                }
            }
        } else if self.remove(from) {
            self.add(to);
        }
    }

    pub fn contains(&self, rank: u32) -> bool {
        match self.highs.binary_search(&high(rank)) {
            Ok(i) => match &self.items[i] {
                Container::Array(lows) => lows.binary_search(&low(rank)).is_ok(),
                Container::Bitmap(bitmap) => bitmap.has(low(rank)),
            },
            Err(_) => false,
        }
    }

    /// How many ranks are below `rank`.
    pub fn lower_bound(&self, rank: u32) -> usize {
        let i = self.highs.partition_point(|&h| h < high(rank));
        let mut n = self.start(i);
        if self.highs.get(i) == Some(&high(rank)) {
            n += match &self.items[i] {
                Container::Array(lows) => lows.partition_point(|&l| l < low(rank)),
                Container::Bitmap(bitmap) => bitmap.count_below(low(rank)),
            };
        }
        n
    }

    /// The rank at position `i` (there are more than `i`).
    pub fn get(&self, i: usize) -> u32 {
        let k = self.ends.partition_point(|&e| e as usize <= i);
        let j = i - self.start(k);
        let l = match &self.items[k] {
            Container::Array(lows) => lows[j],
            Container::Bitmap(bitmap) => bitmap.select(j),
        };
        self.highs[k] << HIGH_SHIFT | u32::from(l)
    }

    /// The high bits of each container and the containers.
    pub fn parts(&self) -> (&[u32], &[Container]) {
        (&self.highs, &self.items)
    }

    /// The containers, each with its high bits shifted into place.
    pub fn containers(&self) -> impl DoubleEndedIterator<Item = (u32, &Container)> {
        self.highs
            .iter()
            .map(|&h| h << HIGH_SHIFT)
            .zip(self.items.iter())
    }

    /// The ranks, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.containers().flat_map(|(base, c)| {
            let lows = match c {
                Container::Array(lows) => lows.clone(),
                Container::Bitmap(bitmap) => bitmap.lows(),
            };
            lows.into_iter().map(move |l| base | u32::from(l))
        })
    }

    /// The ranks at positions `0..end`, last first.
    pub fn backward_from(&self, end: usize) -> Backward<'_> {
        if end == 0 {
            return Backward {
                list: self,
                container: 0,
                within: Within::Done,
            };
        }
        let last = end - 1;
        let k = self.ends.partition_point(|&e| e as usize <= last);
        let j = last - self.start(k);
        Backward {
            list: self,
            container: k,
            within: Within::at(&self.items[k], j),
        }
    }

    /// How many containers are bitmaps.
    pub fn bitmaps(&self) -> usize {
        self.items
            .iter()
            .filter(|c| matches!(c, Container::Bitmap(_)))
            .count()
    }

    /// Bytes of heap held.
    pub fn heap_bytes(&self) -> usize {
        let items: usize = self
            .items
            .iter()
            .map(|c| match c {
                Container::Array(lows) => lows.capacity() * 2,
                Container::Bitmap(_) => std::mem::size_of::<Bitmap>(),
            })
            .sum();
        items
            + self.items.capacity() * std::mem::size_of::<Container>()
            + (self.highs.capacity() + self.ends.capacity()) * 4
    }

    /// Gives back spare capacity.
    pub fn shrink_to_fit(&mut self) {
        for c in &mut self.items {
            if let Container::Array(lows) = c {
                lows.shrink_to_fit();
            }
        }
        self.items.shrink_to_fit();
        self.highs.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// Walks a container list backwards.
pub(crate) struct Backward<'a> {
    list: &'a Containers,
    container: usize,
    within: Within<'a>,
}

enum Within<'a> {
    Array(std::iter::Rev<std::slice::Iter<'a, u16>>),
    /// The words left (the last one masked to the bits still to yield).
    Bits {
        words: &'a [u64],
        last: u64,
    },
    Done,
}

impl<'a> Within<'a> {
    /// Position `j` of `c` and the ones before it.
    fn at(c: &'a Container, j: usize) -> Within<'a> {
        match c {
            Container::Array(lows) => Within::Array(lows[..=j].iter().rev()),
            Container::Bitmap(bitmap) => {
                let l = usize::from(bitmap.select(j));
                let mask = if l % 64 == 63 {
                    u64::MAX
                } else {
                    (1u64 << (l % 64 + 1)) - 1
                };
                Within::Bits {
                    words: &bitmap.words[..l / 64],
                    last: bitmap.words[l / 64] & mask,
                }
            }
        }
    }

    fn whole(c: &'a Container) -> Within<'a> {
        match c {
            Container::Array(lows) => Within::Array(lows.iter().rev()),
            Container::Bitmap(bitmap) => Within::Bits {
                words: &bitmap.words[..WORDS - 1],
                last: bitmap.words[WORDS - 1],
            },
        }
    }

    fn next(&mut self) -> Option<u16> {
        match self {
            Within::Array(it) => it.next().copied(),
            Within::Bits { words, last } => loop {
                if *last != 0 {
                    let bit = 63 - last.leading_zeros();
                    *last &= !(1u64 << bit);
                    return Some((words.len() * 64) as u16 + bit as u16);
                }
                let (&word, rest) = words.split_last()?;
                *words = rest;
                *last = word;
            },
            Within::Done => None,
        }
    }
}

impl Iterator for Backward<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        loop {
            if let Some(l) = self.within.next() {
                return Some(self.list.highs[self.container] << HIGH_SHIFT | u32::from(l));
            }
            if self.container == 0 || matches!(self.within, Within::Done) {
                self.within = Within::Done;
                return None;
            }
            self.container -= 1;
            self.within = Within::whole(&self.list.items[self.container]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list built in shuffled order and thinned again reads back like a
    /// sorted vector through every reading method, across the array/bitmap
    /// boundaries of its containers.
    #[test]
    fn containers_read_like_a_sorted_vector() {
        let mut c = Containers::default();
        let mut model: Vec<u32> = Vec::new();
        let mut x = 99u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let check = |c: &Containers, model: &[u32]| {
            assert_eq!(c.len(), model.len());
            assert_eq!(c.iter().collect::<Vec<_>>(), model);
            for end in [
                0,
                1,
                model.len() / 3,
                model.len().saturating_sub(1),
                model.len(),
            ] {
                let back: Vec<u32> = c.backward_from(end).collect();
                let want: Vec<u32> = model[..end].iter().rev().copied().collect();
                assert_eq!(back, want, "backward from {end}");
            }
            for i in (0..model.len()).step_by(37) {
                let v = model[i];
                assert_eq!(c.get(i), v);
                assert_eq!(c.lower_bound(v), i);
                assert_eq!(c.lower_bound(v + 1), i + 1);
                assert!(c.contains(v));
                assert_eq!(c.contains(v + 1), model.binary_search(&(v + 1)).is_ok());
            }
            for (base, container) in c.containers() {
                let n = model.iter().filter(|&&r| r >> 16 == base >> 16).count();
                match container {
                    Container::Array(lows) => assert!(lows.len() <= ARRAY_MAX && n == lows.len()),
                    Container::Bitmap(b) => {
                        assert!(n > BITMAP_MIN);
                        assert_eq!(b.lows().len(), n);
                    }
                }
            }
        };
        // Dense in the first 65 536 ranks (a bitmap), sparse above.
        for _ in 0..6000 {
            let v = match next() % 3 {
                0 | 1 => (next() % 65_536) as u32,
                _ => (next() % 400_000) as u32,
            };
            assert_eq!(c.add(v), model.binary_search(&v).is_err());
            if let Err(at) = model.binary_search(&v) {
                model.insert(at, v);
            }
        }
        assert!(matches!(c.items[0], Container::Bitmap(_)));
        check(&c, &model);
        while model.len() > 10 {
            let i = (next() as usize) % model.len();
            let v = model.remove(i);
            assert!(c.remove(v));
            assert!(!c.remove(v));
            if model.len().is_multiple_of(500) {
                check(&c, &model);
            }
        }
        check(&c, &model);
        assert!(c.items.iter().all(|i| matches!(i, Container::Array(_))));
    }

    #[test]
    fn the_edges_of_a_bitmap_read_back() {
        let ranks: Vec<u32> = (0..65_536)
            .step_by(7)
            .chain([65_535, 65_536, 131_071])
            .collect();
        let mut sorted = ranks.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let c = Containers::from_sorted(sorted.iter().copied());
        assert_eq!(c.iter().collect::<Vec<_>>(), sorted);
        let back: Vec<u32> = c.backward_from(c.len()).collect();
        assert_eq!(back, sorted.iter().rev().copied().collect::<Vec<_>>());
        assert_eq!(c.get(c.len() - 1), 131_071);
        assert_eq!(
            c.lower_bound(65_535),
            sorted.iter().filter(|&&r| r < 65_535).count()
        );
    }
}
