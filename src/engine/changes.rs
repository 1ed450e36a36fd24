//! What changed since a store last wrote the engine, for the store.

use super::lifecycle::Run;
use super::{Engine, RegionKey, Remembered, TokenAction};
use crate::record::ImageCache;

#[cfg(feature = "sqlite")]
/// A cache's record and its operation in progress, as they are now.
pub(crate) type CacheNow = (ImageCache, Option<Run>);

#[cfg(feature = "sqlite")]
/// What changed since the last [`Engine::take_changes`]: per cache its
/// record and run now (`None`: removed), per token what is remembered now.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) caches: Vec<(RegionKey, String, Option<CacheNow>)>,
    pub(crate) tokens: Vec<(RegionKey, TokenAction, String, Option<Remembered>)>,
}

impl Engine {
    #[cfg(feature = "sqlite")]
    /// Everything changed since the last call (for a store that persists
    /// effects): the records, runs and tokens as they are now.
    pub(crate) fn take_changes(&mut self) -> Changes {
        let mut changes = Changes::default();
        for key in std::mem::take(&mut self.changed_regions) {
            let Some(region) = self.regions.get_mut(&key) else {
                continue;
            };
            for id in std::mem::take(&mut region.changed) {
                let now = region
                    .index
                    .get(&id)
                    .map(|c| (c.clone(), region.runs.get(&id).cloned()));
                changes.caches.push((key.clone(), id, now));
            }
            for (action, token) in std::mem::take(&mut region.changed_tokens) {
                let now = region.tokens.get(&(action, token.clone())).cloned();
                changes.tokens.push((key.clone(), action, token, now));
            }
        }
        changes
    }

    /// Records changes from now on, for [`Engine::take_changes`] (a store
    /// holds the engine).
    #[cfg(feature = "sqlite")]
    pub(crate) fn track_changes(&mut self) {
        self.track = true;
        for region in self.regions.values_mut() {
            region.track = true;
        }
    }

    /// Forgets what changed (the engine now equals what a store holds).
    #[cfg(feature = "sqlite")]
    pub(crate) fn forget_changes(&mut self) {
        for key in std::mem::take(&mut self.changed_regions) {
            if let Some(region) = self.regions.get_mut(&key) {
                region.changed.clear();
                region.changed_tokens.clear();
            }
        }
    }

    #[cfg(feature = "sqlite")]
    /// The id generator's state (key, ids drawn), for a store.
    pub(crate) fn id_state(&self) -> ([u8; 32], u64) {
        self.ids.state()
    }
}
