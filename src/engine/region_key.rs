//! Which region of which account: the key of the engine's regions, and the
//! same key borrowed, so that a lookup makes no `String`s.
//!
//! A `BTreeMap<(String, String), _>` can only be searched with a
//! `&(String, String)`, since a tuple of `String`s does not borrow as a
//! tuple of `&str`s. Both tuples implement [`RegionKeyRef`], and the owned
//! key borrows as `dyn RegionKeyRef` ordered like the tuple, so [`find`]
//! searches the map with two `&str`s, and [`of_account`] walks an
//! account's regions from `(account, "")`.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;

/// (account, region).
pub(crate) type RegionKey = (String, String);

/// An (account, region) pair, owned or borrowed.
pub(crate) trait RegionKeyRef {
    /// (account, region).
    fn parts(&self) -> (&str, &str);
}

impl RegionKeyRef for RegionKey {
    fn parts(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }
}

impl RegionKeyRef for (&str, &str) {
    fn parts(&self) -> (&str, &str) {
        *self
    }
}

impl<'a> Borrow<dyn RegionKeyRef + 'a> for RegionKey {
    fn borrow(&self) -> &(dyn RegionKeyRef + 'a) {
        self
    }
}

/// As the tuple's: by account, then by region (what `Borrow` requires).
impl Ord for dyn RegionKeyRef + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts().cmp(&other.parts())
    }
}

impl PartialOrd for dyn RegionKeyRef + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for dyn RegionKeyRef + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn RegionKeyRef + '_ {}

/// The value of an account's region, found without making its key.
pub(crate) fn find<'m, V>(
    map: &'m BTreeMap<RegionKey, V>,
    account: &str,
    region_id: &str,
) -> Option<&'m V> {
    map.get(&(account, region_id) as &dyn RegionKeyRef)
}

/// The values of every region of an account, in region order, found
/// without making a key: the account's keys start at `(account, "")`.
pub(crate) fn of_account<'m, V>(
    map: &'m BTreeMap<RegionKey, V>,
    account: &str,
) -> impl Iterator<Item = &'m V> {
    let first: &dyn RegionKeyRef = &(account, "");
    map.range::<dyn RegionKeyRef, _>((Bound::Included(first), Bound::Unbounded))
        .take_while(move |((a, _), _)| a == account)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_borrowed_key_finds_what_the_owned_one_does() {
        let keys = [
            ("a", "cn-hangzhou"),
            ("a", "cn-beijing"),
            ("b", "cn-hangzhou"),
            ("", ""),
        ];
        let map: BTreeMap<RegionKey, usize> = keys
            .iter()
            .enumerate()
            .map(|(i, (a, r))| (((*a).to_owned(), (*r).to_owned()), i))
            .collect();
        for (i, &(a, r)) in keys.iter().enumerate() {
            assert_eq!(map.get(&(a, r) as &dyn RegionKeyRef), Some(&i), "{a} {r}");
        }
        assert_eq!(map.get(&("a", "cn-shanghai") as &dyn RegionKeyRef), None);
        assert_eq!(find(&map, "b", "cn-hangzhou"), Some(&2));
        let of_a: Vec<usize> = of_account(&map, "a").copied().collect();
        assert_eq!(of_a, [1, 0], "a's regions, in region order");
        assert_eq!(of_account(&map, "").copied().collect::<Vec<_>>(), [3]);
        assert_eq!(of_account(&map, "c").count(), 0);
        assert_eq!(map.get(&("cn-hangzhou", "a") as &dyn RegionKeyRef), None);
        // The borrowed order is the tuple's, so the map's order holds.
        let owned: Vec<&RegionKey> = map.keys().collect();
        let mut borrowed = owned.clone();
        borrowed.sort_by(|x, y| {
            let (x, y): (&dyn RegionKeyRef, &dyn RegionKeyRef) = (*x, *y);
            x.cmp(y)
        });
        assert_eq!(owned, borrowed);
    }
}
