//! A cache's events, as `DescribeImageCaches` lists them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// An event of a cache's lifecycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `Type`.
    pub kind: EventKind,
    /// `Reason`.
    pub reason: String,
    /// `Message`.
    pub message: String,
    /// `Name`: `<ImageCacheName>.<16 hex>`.
    pub name: String,
    /// `Count`: how many times it happened.
    pub count: u32,
    /// `FirstTimestamp`.
    pub first_timestamp: Timestamp,
    /// `LastTimestamp`.
    pub last_timestamp: Timestamp,
}

/// An event's `Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// `Normal`.
    Normal,
    /// `Warning`.
    Warning,
}

impl EventKind {
    /// The type as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Normal => "Normal",
            EventKind::Warning => "Warning",
        }
    }
}
