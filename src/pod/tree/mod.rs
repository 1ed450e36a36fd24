//! A manifest as a small tree of nodes, read from YAML events or from JSON,
//! within the limits of [`super`]: nesting depth, and the number of nodes
//! the document stands for once its aliases are expanded.
//!
//! Nodes live in one arena and refer to each other by index, so an alias is
//! one more reference to the node it names, never a copy: however much a
//! document expands, the tree is as large as its text. Dropping it is flat.

use std::fmt;

mod json;
mod yaml;

use super::{MAX_DEPTH, MAX_NODES, PodError, PodErrorKind, Position};

pub(super) use json::from_json;
pub(super) use yaml::from_yaml;

/// A node's index in [`Doc::nodes`].
pub(super) type NodeId = u32;

/// What a node holds.
#[derive(Debug)]
pub(super) enum Value {
    Null,
    Bool,
    /// An integer or a float (its value is never needed).
    Number,
    Str(Box<str>),
    Seq(Vec<NodeId>),
    /// Keys in document order, without duplicates; merged keys (`<<`)
    /// already applied.
    Map(Vec<(Box<str>, NodeId)>),
}

impl Value {
    /// "a string", "a mapping"…: for messages.
    pub(super) fn describe(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool => "a boolean",
            Value::Number => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a sequence",
            Value::Map(_) => "a mapping",
        }
    }
}

#[derive(Debug)]
pub(super) struct Node {
    pub(super) value: Value,
    /// Where the node starts (YAML only: serde_json tells no positions
    /// once a value is read).
    pub(super) position: Option<Position>,
}

/// One parsed document.
#[derive(Debug, Default)]
pub(super) struct Doc {
    nodes: Vec<Node>,
    /// Per node: how many nodes it stands for with aliases expanded.
    sizes: Vec<u64>,
    /// Nodes of the expanded document so far (checked against
    /// [`MAX_NODES`]).
    expanded: u64,
    /// Why the JSON visitor stopped (serde_json only carries a message).
    failure: Option<PodErrorKind>,
    /// Collections open in the JSON visitor.
    depth: usize,
}

impl Doc {
    pub(super) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// The value of `key` in mapping `id`; `None` when `id` is not a
    /// mapping or has no such key.
    pub(super) fn get(&self, id: NodeId, key: &str) -> Option<NodeId> {
        match &self.node(id).value {
            Value::Map(entries) => entries.iter().find(|(k, _)| &**k == key).map(|&(_, v)| v),
            _ => None,
        }
    }

    fn push(&mut self, value: Value, position: Option<Position>, size: u64) -> NodeId {
        let id = self.nodes.len() as NodeId;
        self.nodes.push(Node { value, position });
        self.sizes.push(size);
        id
    }

    /// Counts `n` more nodes of the expanded document.
    fn grow(&mut self, n: u64, position: Option<Position>) -> Result<(), PodError> {
        self.expanded = self.expanded.saturating_add(n);
        if self.expanded > MAX_NODES {
            self.failure = Some(PodErrorKind::TooComplex);
            return Err(PodError::new(
                PodErrorKind::TooComplex,
                None,
                format_args!(
                    "the document stands for more than {MAX_NODES} nodes once its aliases are expanded"
                ),
            )
            .at(position));
        }
        Ok(())
    }
}

const TOO_DEEP: DepthMessage = DepthMessage;

struct DepthMessage;

impl fmt::Display for DepthMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nested more than {MAX_DEPTH} levels deep")
    }
}
