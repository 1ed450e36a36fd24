//! One account's caches in one region: the index and what is kept beside
//! it (runs, timers, tokens, `AcrRegistryInfo` alias groups, counts).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::lifecycle::Run;
use super::{Remembered, TokenAction};
use crate::index::Index;
use crate::record::ImageCache;
use crate::reference::RegistryAliases;

/// One account's caches in one region.
pub(super) struct Region {
    pub(super) index: Index,
    /// The engine's alias rules, to which `AcrRegistryInfo` aliases are added.
    pub(super) base: RegistryAliases,
    /// Creates and updates in progress, and failed creates (until removed).
    pub(super) runs: HashMap<String, Run, foldhash::fast::RandomState>,
    /// (due, id): one timer per cache that will change.
    pub(super) timers: BTreeSet<(i64, String)>,
    pub(super) timer_of: HashMap<String, i64, foldhash::fast::RandomState>,
    pub(super) tokens: HashMap<(TokenAction, String), Remembered, foldhash::fast::RandomState>,
    /// Tokens by the time they were stored, oldest first, for expiry.
    /// Ordered by time, not by insertion: a manual clock may move back, and
    /// a restart (which sorts) must expire them in the same order.
    pub(super) token_times: BTreeSet<(i64, TokenAction, String)>,
    /// Caches and tokens changed since [`Engine::take_changes`].
    pub(super) changed: BTreeSet<String>,
    pub(super) changed_tokens: BTreeSet<(TokenAction, String)>,
    /// Whether changes are recorded (a store holds the engine).
    pub(super) track: bool,
    /// Its entry in the engine's due queue, if any.
    pub(super) queued: Option<i64>,
    /// `AcrRegistryInfo` domain groups of the caches, with use counts.
    pub(super) acr_groups: BTreeMap<Vec<String>, usize>,
    pub(super) created: usize,
    pub(super) auto_created: usize,
}

impl Region {
    pub(super) fn new(index: Index) -> Region {
        Region {
            base: index.rules().clone(),
            index,
            runs: HashMap::default(),
            timers: BTreeSet::new(),
            timer_of: HashMap::default(),
            tokens: HashMap::default(),
            token_times: BTreeSet::new(),
            changed: BTreeSet::new(),
            changed_tokens: BTreeSet::new(),
            track: false,
            queued: None,
            acr_groups: BTreeMap::new(),
            created: 0,
            auto_created: 0,
        }
    }

    pub(super) fn mark(&mut self, id: &str) {
        if self.track && !self.changed.contains(id) {
            self.changed.insert(id.to_owned());
        }
    }

    pub(super) fn insert_cache(&mut self, cache: ImageCache) {
        self.insert_caches(vec![cache]);
    }

    /// [`Region::insert_cache`] for many: the index is built in one pass
    /// (a few are inserted one by one).
    pub(super) fn insert_caches(&mut self, caches: Vec<ImageCache>) {
        let mut groups = Vec::new();
        for cache in &caches {
            self.mark(cache.id());
            if cache.auto_created {
                self.auto_created += 1;
            } else {
                self.created += 1;
            }
            groups.extend(acr_groups(cache));
        }
        self.count_acr_groups(&groups, 1);
        self.index.extend(caches);
    }

    pub(super) fn replace_cache(&mut self, cache: ImageCache) {
        let id = cache.id().to_owned();
        self.mark(&id);
        let new_groups = acr_groups(&cache);
        let mut old_groups = Vec::new();
        self.index.update(&id, |c| {
            old_groups = acr_groups(c);
            *c = cache;
        });
        if old_groups != new_groups {
            self.count_acr_groups(&new_groups, 1);
            self.count_acr_groups(&old_groups, -1);
        }
    }

    /// Removes a cache and everything about it; `false` if there is none.
    pub(super) fn remove_cache(&mut self, id: &str) -> bool {
        let Some(cache) = self.index.remove(id) else {
            return false;
        };
        self.mark(id);
        if cache.auto_created {
            self.auto_created -= 1;
        } else {
            self.created -= 1;
        }
        self.runs.remove(id);
        if let Some(t) = self.timer_of.remove(id) {
            self.timers.remove(&(t, id.to_owned()));
        }
        self.count_acr_groups(&acr_groups(&cache), -1);
        true
    }

    /// Adds (`delta` 1) or removes (-1) domain groups; when the set of
    /// groups changes, re-keys the index under the base rules plus every
    /// group's aliases.
    fn count_acr_groups(&mut self, groups: &[Vec<String>], delta: i64) {
        let mut changed = false;
        for group in groups {
            if delta > 0 {
                let n = self.acr_groups.entry(group.clone()).or_insert(0);
                *n += 1;
                changed |= *n == 1;
            } else if let Some(n) = self.acr_groups.get_mut(group) {
                *n -= 1;
                if *n == 0 {
                    self.acr_groups.remove(group);
                    changed = true;
                }
            }
        }
        if changed {
            let mut rules = self.base.clone();
            for group in self.acr_groups.keys() {
                for domain in &group[1..] {
                    rules.add_alias(domain, &group[0]);
                }
            }
            self.index.set_rules(rules);
        }
    }
}

/// The `AcrRegistryInfo` domain groups of a cache with two or more domains,
/// each sorted (commas inside a domain value separate domains).
fn acr_groups(cache: &ImageCache) -> Vec<Vec<String>> {
    cache
        .settings
        .acr_registry_info
        .iter()
        .filter_map(|info| {
            let mut domains: Vec<String> = info
                .domains
                .iter()
                .flat_map(|d| d.split(','))
                .map(|d| d.trim().to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect();
            domains.sort();
            domains.dedup();
            (domains.len() >= 2).then_some(domains)
        })
        .collect()
}
