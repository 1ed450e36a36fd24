//! The floor of `performance.md`: what no exact evaluation that reads
//! postings can beat.
//!
//! The floor is one tight pass over every posting list a query touches,
//! each read as a plain ascending `u32` array: a cost of `Σ L` postings,
//! whatever the index's own layout. The index keeps dense stretches of a
//! list as bitmaps (`containers.rs`), which the floor must not profit from
//! (a bitmap is read a word, not a posting, at a time): so the lists are
//! first copied out, untimed, into [`FloorLists`], and the floor is the
//! query's keys, each key's list found in the index, and the pass over the
//! copies.

use super::counting::Scratch;
use super::postings::ListRef;
use super::{Index, tag_pair_key};
use crate::describe::DescribeRequest;

/// The posting lists one query touches, as plain arrays, for the floor.
/// For the `compare` command and the profiles; not part of the API.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct FloorLists {
    lists: Vec<Vec<u32>>,
    used: usize,
}

impl FloorLists {
    /// One pass over the `i`-th copied list, added to `sum`.
    fn read(&self, i: usize, sum: u64) -> u64 {
        self.lists[..self.used].get(i).map_or(sum, |list| {
            list.iter().fold(sum, |s, &r| s.wrapping_add(u64::from(r)))
        })
    }

    /// How many postings the floor reads.
    pub fn postings(&self) -> usize {
        self.lists[..self.used].iter().map(Vec::len).sum()
    }

    fn push(&mut self, list: ListRef<'_>) {
        if self.used == self.lists.len() {
            self.lists.push(Vec::new());
        }
        let out = &mut self.lists[self.used];
        out.clear();
        out.extend(list.iter());
        self.used += 1;
    }
}

impl Index {
    /// The floor: the request's keys prepared and looked up in the index as
    /// a query must, then one tight pass over every posting of the lists
    /// [`Index::touched_postings`] copied for the same request, returning a
    /// checksum so the reads are not optimised away. For the `compare`
    /// command; not part of the API.
    #[doc(hidden)]
    pub fn read_touched_postings(
        &self,
        request: &DescribeRequest,
        scratch: &mut Scratch,
        lists: &FloorLists,
    ) -> u64 {
        let mut i = 0;
        let mut sum = 0u64;
        self.each_touched_list(request, scratch, |list| {
            sum = lists.read(i, sum.wrapping_add(list.len() as u64));
            i += 1;
        });
        sum
    }

    /// Hands `f` every posting list the request touches (exact and repo
    /// lists of each `MatchImage`, only exact lists under
    /// `ImageFullMatch`, else the tag lists).
    fn each_touched_list<'a>(
        &'a self,
        request: &DescribeRequest,
        scratch: &mut Scratch,
        mut f: impl FnMut(ListRef<'a>),
    ) {
        scratch.prepared.prepare(request, &self.rules);
        for (exact, repo) in scratch.prepared.match_keys() {
            f(self.exact.list_of(exact));
            if !scratch.prepared.full_match {
                f(self.repo.list_of(repo));
            }
        }
        if scratch.prepared.match_count() == 0 {
            for filter in &request.tags {
                match filter.value() {
                    Some(value) => {
                        tag_pair_key(&filter.key, value, &mut scratch.key_buf);
                        f(self.tag_pairs.list_of(&scratch.key_buf));
                    }
                    None => f(self.tag_keys.list_of(&filter.key)),
                }
            }
        }
    }

    /// Copies every posting list the request touches into `out`, as plain
    /// arrays, for [`Index::read_touched_postings`]. For the `compare`
    /// command; not part of the API.
    #[doc(hidden)]
    pub fn touched_postings(
        &self,
        request: &DescribeRequest,
        scratch: &mut Scratch,
        out: &mut FloorLists,
    ) {
        out.used = 0;
        self.each_touched_list(request, scratch, |list| out.push(list));
    }
}
