//! The floor of `performance.md`: what no exact evaluation that reads
//! postings can beat.

use super::counting::Scratch;
use super::postings::ListRef;
use super::{Index, tag_pair_key};
use crate::describe::DescribeRequest;

impl Index {
    /// One tight pass over every posting list the request touches (exact
    /// and repo lists of each `MatchImage`, only exact lists under
    /// `ImageFullMatch`, else the tag lists), returning a checksum so the
    /// reads are not optimised away. For the `compare` command; not part of
    /// the API.
    #[doc(hidden)]
    pub fn read_touched_postings(&self, request: &DescribeRequest, scratch: &mut Scratch) -> u64 {
        scratch.prepared.prepare(request, &self.rules);
        let mut sum = 0u64;
        let mut read = |list: ListRef<'_>| {
            for part in list.slices() {
                for &rank in part {
                    sum = sum.wrapping_add(u64::from(rank));
                }
            }
        };
        for (exact, repo) in scratch.prepared.match_keys() {
            read(self.exact.list_of(exact));
            if !scratch.prepared.full_match {
                read(self.repo.list_of(repo));
            }
        }
        if scratch.prepared.match_count() == 0 {
            for filter in &request.tags {
                match filter.value() {
                    Some(value) => {
                        tag_pair_key(&filter.key, value, &mut scratch.key_buf);
                        read(self.tag_pairs.list_of(&scratch.key_buf));
                    }
                    None => read(self.tag_keys.list_of(&filter.key)),
                }
            }
        }
        sum
    }
}
