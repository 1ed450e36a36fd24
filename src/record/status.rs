//! A cache's status, and what happens when the region's quota is full.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `Status`. Only `Ready` caches are usable for container groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CacheStatus {
    /// `Preparing`.
    Preparing,
    /// `Creating`.
    Creating,
    /// `Ready`.
    Ready,
    /// `Failed`.
    Failed,
    /// `Updating`.
    Updating,
    /// `UpdateFailed`.
    UpdateFailed,
}

impl CacheStatus {
    /// The status as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Preparing => "Preparing",
            CacheStatus::Creating => "Creating",
            CacheStatus::Ready => "Ready",
            CacheStatus::Failed => "Failed",
            CacheStatus::Updating => "Updating",
            CacheStatus::UpdateFailed => "UpdateFailed",
        }
    }

    /// Every status, in lifecycle order.
    pub const ALL: [CacheStatus; 6] = [
        CacheStatus::Preparing,
        CacheStatus::Creating,
        CacheStatus::Ready,
        CacheStatus::Failed,
        CacheStatus::Updating,
        CacheStatus::UpdateFailed,
    ];
}

impl fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `EliminationStrategy`: kept forever, or evicted least recently used first
/// when the quota is reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EliminationStrategy {
    /// Empty: always retained.
    #[default]
    Retain,
    /// `LRU`.
    Lru,
}

impl EliminationStrategy {
    /// The strategy as the API spells it, in a parameter or a body: empty
    /// for [`Retain`](EliminationStrategy::Retain), `LRU`; `None` for
    /// anything else (the names are case-sensitive).
    ///
    /// ```
    /// use eci_imagecache::record::EliminationStrategy;
    ///
    /// assert_eq!(EliminationStrategy::parse("LRU"), Some(EliminationStrategy::Lru));
    /// assert_eq!(EliminationStrategy::parse(""), Some(EliminationStrategy::Retain));
    /// assert_eq!(EliminationStrategy::parse("lru"), None);
    /// assert_eq!(EliminationStrategy::Lru.as_api(), Some("LRU"));
    /// assert_eq!(EliminationStrategy::Retain.as_api(), None); // omitted
    /// ```
    pub fn parse(text: &str) -> Option<EliminationStrategy> {
        match text {
            "" => Some(EliminationStrategy::Retain),
            "LRU" => Some(EliminationStrategy::Lru),
            _ => None,
        }
    }

    /// As a body writes it: `LRU`, or nothing (the key omitted) for a
    /// retained cache.
    pub fn as_api(self) -> Option<&'static str> {
        match self {
            EliminationStrategy::Retain => None,
            EliminationStrategy::Lru => Some("LRU"),
        }
    }
}
