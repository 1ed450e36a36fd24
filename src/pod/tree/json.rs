//! The tree from JSON: serde_json's parser driving a seed that builds the
//! arena, within the same depth and node bounds, duplicate keys refused.

use std::collections::HashMap;
use std::fmt;

use super::{Doc, NodeId, TOO_DEEP, Value};
use crate::pod::{MAX_DEPTH, PodError, PodErrorKind, Position};

/// Reads JSON text (serde_json: its errors carry JSON line and column).
/// [`MAX_DEPTH`] is checked here, before serde_json's own limit (128).
pub(crate) fn from_json(text: &str) -> Result<(Doc, NodeId), PodError> {
    use serde::de::DeserializeSeed;
    let mut doc = Doc::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let root = NodeSeed(&mut doc)
        .deserialize(&mut de)
        .and_then(|root| de.end().map(|()| root))
        .map_err(|e| {
            let message = e.to_string();
            // serde_json appends " at line L column C"; the position is kept
            // apart.
            let message = match message.rfind(" at line ") {
                Some(i) => &message[..i],
                None => &message,
            };
            let (kind, message) = match doc.failure {
                // The visitor's own refusals read as they do for YAML.
                Some(kind) => (kind, message.to_owned()),
                None => (PodErrorKind::Syntax, format!("invalid JSON: {message}")),
            };
            // serde_json says column 0 for an error at a line break (a raw
            // newline in a string, the end of the text after one); columns
            // here count from 1.
            PodError::new(kind, None, message).at(Some(Position {
                line: e.line(),
                column: e.column().max(1),
            }))
        })?;
    Ok((doc, root))
}

struct NodeSeed<'a>(&'a mut Doc);

impl<'de> serde::de::DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = NodeId;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<NodeId, D::Error> {
        de.deserialize_any(self)
    }
}

impl Doc {
    /// A JSON collection starts: one node, one level deeper.
    fn enter(&mut self) -> Result<(), PodError> {
        if self.depth >= MAX_DEPTH {
            self.failure = Some(PodErrorKind::TooComplex);
            return Err(PodError::new(PodErrorKind::TooComplex, None, TOO_DEEP));
        }
        self.depth += 1;
        self.grow(1, None)
    }
}

impl NodeSeed<'_> {
    fn leaf<E: serde::de::Error>(self, value: Value) -> Result<NodeId, E> {
        self.0.grow(1, None).map_err(E::custom)?;
        Ok(self.0.push(value, None, 1))
    }
}

impl<'de> serde::de::Visitor<'de> for NodeSeed<'_> {
    type Value = NodeId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<NodeId, E> {
        self.leaf(Value::Bool)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<NodeId, E> {
        self.leaf(Value::Number)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<NodeId, E> {
        self.leaf(Value::Number)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<NodeId, E> {
        self.leaf(Value::Number)
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<NodeId, E> {
        self.leaf(Value::Str(s.into()))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<NodeId, E> {
        self.leaf(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<NodeId, A::Error> {
        use serde::de::Error;
        self.0.enter().map_err(A::Error::custom)?;
        let mut items = Vec::new();
        let mut size = 1u64;
        while let Some(id) = seq.next_element_seed(NodeSeed(self.0))? {
            size = size.saturating_add(self.0.sizes[id as usize]);
            items.push(id);
        }
        self.0.depth -= 1;
        Ok(self.0.push(Value::Seq(items), None, size))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<NodeId, A::Error> {
        use serde::de::Error;
        self.0.enter().map_err(A::Error::custom)?;
        let mut entries: Vec<(Box<str>, NodeId)> = Vec::new();
        let mut seen: HashMap<Box<str>, ()> = HashMap::new();
        let mut size = 1u64;
        while let Some(key) = map.next_key::<Box<str>>()? {
            if seen.insert(key.clone(), ()).is_some() {
                self.0.failure = Some(PodErrorKind::DuplicateKey);
                return Err(A::Error::custom(format_args!("duplicate key {key:?}")));
            }
            self.0.grow(1, None).map_err(A::Error::custom)?;
            let id = map.next_value_seed(NodeSeed(self.0))?;
            size = size.saturating_add(1 + self.0.sizes[id as usize]);
            entries.push((key, id));
        }
        self.0.depth -= 1;
        Ok(self.0.push(Value::Map(entries), None, size))
    }
}
