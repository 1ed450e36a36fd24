//! A tag: a key and a value (empty when none).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A tag on a cache: a key and a value, in one allocation.
///
/// Tags order and compare as (key, value) pairs.
///
/// ```
/// use eci_imagecache::record::Tag;
///
/// let tag = Tag::new("env", "prod");
/// assert_eq!((tag.key(), tag.value()), ("env", "prod"));
/// assert!(Tag::new("a", "bc") < Tag::new("ab", "c"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "TagFields", into = "TagFields")]
pub struct Tag {
    /// The key, then the value.
    text: Box<str>,
    /// `text[..key_len]` is the key.
    key_len: usize,
}

impl Tag {
    /// A tag.
    pub fn new(key: impl AsRef<str>, value: impl AsRef<str>) -> Tag {
        let (key, value) = (key.as_ref(), value.as_ref());
        let mut text = String::with_capacity(key.len() + value.len());
        text.push_str(key);
        text.push_str(value);
        Tag {
            text: text.into_boxed_str(),
            key_len: key.len(),
        }
    }

    /// `Key`.
    pub fn key(&self) -> &str {
        &self.text[..self.key_len]
    }

    /// `Value`.
    pub fn value(&self) -> &str {
        &self.text[self.key_len..]
    }
}

impl Ord for Tag {
    fn cmp(&self, other: &Tag) -> std::cmp::Ordering {
        (self.key(), self.value()).cmp(&(other.key(), other.value()))
    }
}

impl PartialOrd for Tag {
    fn partial_cmp(&self, other: &Tag) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tag")
            .field("key", &self.key())
            .field("value", &self.value())
            .finish()
    }
}

/// A tag as it is stored: `{"key": …, "value": …}`.
#[derive(Clone, Serialize, Deserialize)]
struct TagFields {
    key: String,
    value: String,
}

impl From<TagFields> for Tag {
    fn from(t: TagFields) -> Tag {
        Tag::new(t.key, t.value)
    }
}

impl From<Tag> for TagFields {
    fn from(t: Tag) -> TagFields {
        TagFields {
            key: t.key().to_owned(),
            value: t.value().to_owned(),
        }
    }
}
