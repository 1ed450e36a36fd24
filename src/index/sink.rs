//! Where counted candidates go: the [`MatchSink`] a counting pass hands
//! each cache that passes to, with the bar below which it need not, and
//! [`TopK`], the sink of a page (the `k` best words, refused with one
//! comparison below the worst kept).

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
