//! The tree from YAML: saphyr-parser's events read with an explicit stack,
//! anchors shared and never copied, `<<` merged, and the scalars resolved
//! as Kubernetes' decoder (go-yaml v2, YAML 1.1) resolves them.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, StrInput, Tag};

use super::{Doc, NodeId, TOO_DEEP, Value};
use crate::pod::{MAX_DEPTH, PodError, PodErrorKind, Position};

fn position(span: &Span) -> Option<Position> {
    Some(Position {
        line: span.start.line(),
        column: span.start.col() + 1,
    })
}

fn syntax(e: &ScanError) -> PodError {
    // The scanner's own bound on flow nesting ([[[[…).
    let kind = if e.info() == "recursion limit exceeded" {
        PodErrorKind::TooComplex
    } else {
        PodErrorKind::Syntax
    };
    PodError::new(kind, None, format_args!("invalid YAML: {}", e.info())).at(Some(Position {
        line: e.marker().line(),
        column: e.marker().col() + 1,
    }))
}

/// A collection being read.
enum Frame {
    Seq {
        anchor: usize,
        position: Option<Position>,
        items: Vec<NodeId>,
        size: u64,
    },
    Map {
        anchor: usize,
        position: Option<Position>,
        entries: Vec<(Box<str>, NodeId)>,
        /// Key → index in `entries`, once the mapping has a few keys.
        index: Option<HashMap<Box<str>, usize>>,
        /// The key read, waiting for its value; `Some(None)` for the `<<`
        /// merge key.
        key: Option<Option<Box<str>>>,
        /// Mappings to merge (`<<`), in priority order.
        merges: Vec<NodeId>,
        size: u64,
    },
}

/// Reads the YAML text as one document: a second document that is not
/// empty is an error (one pod per manifest).
pub(crate) fn from_yaml(text: &str) -> Result<(Doc, NodeId), PodError> {
    read_yaml(text).map_err(|mut e| {
        e.position = e.position.map(|p| within(text, p));
        e
    })
}

/// The position, or the end of the text when the scanner's is past it: at
/// the end of the stream it moves to a new line, even when the text does
/// not end with one.
fn within(text: &str, p: Position) -> Position {
    let mut line = 1;
    let mut last_start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let lone_cr = b == b'\r' && bytes.get(i + 1) != Some(&b'\n');
        if b == b'\n' || lone_cr {
            line += 1;
            last_start = i + 1;
        }
    }
    if p.line <= line {
        return p;
    }
    Position {
        line,
        column: text[last_start..].chars().count() + 1,
    }
}

fn read_yaml(text: &str) -> Result<(Doc, NodeId), PodError> {
    let mut parser = Parser::new_from_str(text);
    let mut doc = Doc::default();
    let mut root = None;
    loop {
        let (event, span) = next(&mut parser)?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                let (first, first_span) = next(&mut parser)?;
                // Anchors are per document.
                let node = read_node(&mut doc, &mut parser, first, first_span, &mut Vec::new())?;
                let empty = matches!(doc.node(node).value, Value::Null);
                match root {
                    _ if empty => {}
                    None => root = Some(node),
                    Some(_) => {
                        return Err(PodError::new(
                            PodErrorKind::MultipleDocuments,
                            None,
                            "a second YAML document: give one Pod or workload per manifest",
                        )
                        .at(position(&span)));
                    }
                }
            }
            _ => unreachable!("the parser starts every node inside a document"),
        }
    }
    match root {
        Some(root) => Ok((doc, root)),
        None => Err(PodError::new(
            PodErrorKind::MissingField,
            None,
            "the manifest is empty",
        )),
    }
}

type YamlParser<'input> = Parser<'input, StrInput<'input>>;

fn next<'input>(parser: &mut YamlParser<'input>) -> Result<(Event<'input>, Span), PodError> {
    match parser.next_event() {
        Some(Ok(event)) => Ok(event),
        Some(Err(e)) => Err(syntax(&e)),
        None => Ok((Event::StreamEnd, Span::default())),
    }
}

/// Reads one node starting with `event`, with an explicit stack (no
/// recursion, whatever the nesting).
fn read_node<'input>(
    doc: &mut Doc,
    parser: &mut YamlParser<'input>,
    mut event: Event<'input>,
    mut span: Span,
    anchors: &mut Vec<Option<NodeId>>,
) -> Result<NodeId, PodError> {
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let at = position(&span);
        // A plain, untagged `<<` as a key merges mappings (YAML 1.1).
        let mut merge_key = false;
        // A finished node to hand to the frame above, if any.
        let done: Option<NodeId> = match event {
            Event::Scalar(text, style, anchor, tag) => {
                doc.grow(1, at)?;
                merge_key = style == ScalarStyle::Plain && tag.is_none() && text == MERGE_KEY;
                let value = resolve(&text, style, tag.as_deref());
                let id = doc.push(value, at, 1);
                register(anchors, anchor, id);
                Some(id)
            }
            Event::Alias(anchor) => Some(alias(doc, anchors, anchor, at)?),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(PodError::new(PodErrorKind::TooComplex, None, TOO_DEEP).at(at));
                }
                doc.grow(1, at)?;
                let sequence = matches!(event, Event::SequenceStart(..));
                stack.push(Frame::open(sequence, anchor, at));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = stack.pop().expect("the parser balances collections");
                Some(frame.close(doc, anchors)?)
            }
            _ => unreachable!("no stream or document event inside a node"),
        };
        if let Some(id) = done {
            match stack.last_mut() {
                None => return Ok(id),
                Some(frame) => frame.attach(doc, id, merge_key)?,
            }
        }
        (event, span) = next(parser)?;
    }
}

/// The node an alias names, counted again toward [`MAX_NODES`].
fn alias(
    doc: &mut Doc,
    anchors: &[Option<NodeId>],
    anchor: usize,
    at: Option<Position>,
) -> Result<NodeId, PodError> {
    match anchors.get(anchor).copied().flatten() {
        Some(id) => {
            doc.grow(doc.sizes[id as usize], at)?;
            Ok(id)
        }
        None => Err(PodError::new(
            PodErrorKind::TooComplex,
            None,
            "an alias refers to a node that contains it",
        )
        .at(at)),
    }
}

fn register(anchors: &mut Vec<Option<NodeId>>, anchor: usize, id: NodeId) {
    if anchor == 0 {
        return;
    }
    if anchors.len() <= anchor {
        anchors.resize(anchor + 1, None);
    }
    anchors[anchor] = Some(id);
}

impl Frame {
    /// An empty sequence or mapping, begun at `position`.
    fn open(sequence: bool, anchor: usize, position: Option<Position>) -> Frame {
        if sequence {
            Frame::Seq {
                anchor,
                position,
                items: Vec::new(),
                size: 1,
            }
        } else {
            Frame::Map {
                anchor,
                position,
                entries: Vec::new(),
                index: None,
                key: None,
                merges: Vec::new(),
                size: 1,
            }
        }
    }

    /// The finished collection as a node (a mapping's `<<` merged first).
    fn close(self, doc: &mut Doc, anchors: &mut Vec<Option<NodeId>>) -> Result<NodeId, PodError> {
        let (anchor, id) = match self {
            Frame::Seq {
                anchor,
                position,
                items,
                size,
            } => (anchor, doc.push(Value::Seq(items), position, size)),
            Frame::Map {
                anchor,
                position,
                mut entries,
                index,
                merges,
                mut size,
                ..
            } => {
                merge(doc, &mut entries, index, &merges, &mut size, position)?;
                (anchor, doc.push(Value::Map(entries), position, size))
            }
        };
        register(anchors, anchor, id);
        Ok(id)
    }

    /// Hands a finished node to the collection being read: an item, a key
    /// or a value.
    fn attach(&mut self, doc: &Doc, id: NodeId, merge_key: bool) -> Result<(), PodError> {
        let node_size = doc.sizes[id as usize];
        match self {
            Frame::Seq { items, size, .. } => {
                items.push(id);
                *size = size.saturating_add(node_size);
            }
            Frame::Map {
                entries,
                index,
                key,
                merges,
                size,
                ..
            } => match key.take() {
                None => {
                    *key = Some(if merge_key {
                        None
                    } else {
                        Some(new_key(doc, entries, index.as_ref(), id)?)
                    });
                    *size = size.saturating_add(1);
                }
                // `<<: *base` or `<<: [*a, *b]`: merged when the mapping ends.
                Some(None) => add_merges(doc, merges, id)?,
                Some(Some(text)) => {
                    add_entry(entries, index, text, id);
                    *size = size.saturating_add(node_size);
                }
            },
        }
        Ok(())
    }
}

/// The text of key node `id`: a string not yet in the mapping.
fn new_key(
    doc: &Doc,
    entries: &[(Box<str>, NodeId)],
    index: Option<&HashMap<Box<str>, usize>>,
    id: NodeId,
) -> Result<Box<str>, PodError> {
    let node = doc.node(id);
    let Value::Str(text) = &node.value else {
        return Err(PodError::new(
            PodErrorKind::WrongType,
            None,
            format_args!(
                "a mapping key must be a string, found {}",
                node.value.describe()
            ),
        )
        .at(node.position));
    };
    if let Some(first) = find(entries, index, text) {
        let first = doc.node(entries[first].1).position;
        return Err(PodError::new(
            PodErrorKind::DuplicateKey,
            None,
            format_args!("duplicate key {text:?}{}", Since(first)),
        )
        .at(node.position));
    }
    Ok(text.clone())
}

/// Notes the mapping, or each of the sequence of mappings, that a `<<`
/// key's value `id` names.
fn add_merges(doc: &Doc, merges: &mut Vec<NodeId>, id: NodeId) -> Result<(), PodError> {
    let mut add = |m: NodeId| match doc.node(m).value {
        Value::Map(_) => {
            merges.push(m);
            Ok(())
        }
        _ => Err(PodError::new(
            PodErrorKind::WrongType,
            None,
            "a merge key (<<) takes a mapping or a sequence of mappings",
        )
        .at(doc.node(m).position)),
    };
    match &doc.node(id).value {
        Value::Seq(items) => items.iter().try_for_each(|&m| add(m)),
        _ => add(id),
    }
}

/// Adds `key: id` to a mapping, indexing its keys by hash once it has a
/// few.
fn add_entry(
    entries: &mut Vec<(Box<str>, NodeId)>,
    index: &mut Option<HashMap<Box<str>, usize>>,
    key: Box<str>,
    id: NodeId,
) {
    if let Some(index) = index {
        index.insert(key.clone(), entries.len());
    } else if entries.len() >= 8 {
        let mut map: HashMap<Box<str>, usize> = entries
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
        map.insert(key.clone(), entries.len());
        *index = Some(map);
    }
    entries.push((key, id));
}

/// The key that merges mappings, as YAML 1.1 and Kubernetes' decoder read
/// it.
const MERGE_KEY: &str = "<<";

fn find(
    entries: &[(Box<str>, NodeId)],
    index: Option<&HashMap<Box<str>, usize>>,
    key: &str,
) -> Option<usize> {
    match index {
        Some(index) => index.get(key).copied(),
        None => entries.iter().position(|(k, _)| &**k == key),
    }
}

/// Applies `<<` merges: keys written in the mapping win, then earlier
/// merged mappings over later ones. Each merged entry counts as nodes of the
/// expanded document.
fn merge(
    doc: &mut Doc,
    entries: &mut Vec<(Box<str>, NodeId)>,
    index: Option<HashMap<Box<str>, usize>>,
    merges: &[NodeId],
    size: &mut u64,
    at: Option<Position>,
) -> Result<(), PodError> {
    if merges.is_empty() {
        return Ok(());
    }
    let mut index = index.unwrap_or_else(|| {
        entries
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect()
    });
    for &m in merges {
        let Value::Map(merged) = &doc.nodes[m as usize].value else {
            unreachable!("only mappings are merged")
        };
        // The work is at most the merged mapping's size, which its alias
        // (or its text) already counted.
        let mut grown = 0u64;
        for (k, v) in merged {
            if !index.contains_key(k) {
                index.insert(k.clone(), entries.len());
                entries.push((k.clone(), *v));
                grown = grown.saturating_add(1 + doc.sizes[*v as usize]);
            }
        }
        *size = size.saturating_add(grown);
        doc.grow(grown, at)?;
    }
    Ok(())
}

/// " (first at line L, column C)", or nothing.
struct Since(Option<Position>);

impl fmt::Display for Since {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(p) => write!(f, " (first at line {}, column {})", p.line, p.column),
            None => Ok(()),
        }
    }
}

/// What a scalar is, as Kubernetes' YAML decoder (go-yaml v2, YAML 1.1
/// rules) resolves it: a quoted or block scalar is a string; a plain one is
/// null, a boolean (`true`, `yes`, `on`, `y` and their negations, in three
/// casings) or a number when it reads as one, else a string. Core tags
/// (`!!str`, `!!int` …) decide for themselves.
fn resolve(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag.filter(|t| t.is_yaml_core_schema()) {
        match tag.suffix.as_str() {
            "str" | "binary" | "timestamp" => return Value::Str(text.into()),
            "int" | "float" => return Value::Number,
            "bool" => return Value::Bool,
            "null" => return Value::Null,
            _ => {}
        }
    }
    if style != ScalarStyle::Plain {
        return Value::Str(text.into());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" | "n"
        | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Value::Bool
        }
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => Value::Number,
        _ if is_number(text) => Value::Number,
        _ => Value::Str(text.into()),
    }
}

/// go-yaml v2's numbers, underscores removed: Go integer literals (`0x`,
/// `0o`, `0b`, leading-zero octal, decimal) with a sign, and
/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_number(text: &str) -> bool {
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    let unsigned = plain.strip_prefix(['+', '-']).unwrap_or(&plain);
    let all = |s: &str, digit: fn(&u8) -> bool| !s.is_empty() && s.as_bytes().iter().all(digit);
    let radix = |lower: &str, upper: &str| {
        unsigned
            .strip_prefix(lower)
            .or_else(|| unsigned.strip_prefix(upper))
    };
    if let Some(rest) = radix("0x", "0X") {
        return all(rest, u8::is_ascii_hexdigit);
    }
    if let Some(rest) = radix("0o", "0O") {
        return all(rest, is_octal);
    }
    if let Some(rest) = radix("0b", "0B") {
        return all(rest, |b| matches!(b, b'0' | b'1'));
    }
    // Leading-zero octal (`0755`) is also of the float form below, which
    // covers decimal integers too.
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => all(frac, u8::is_ascii_digit),
        Some((int, frac)) => {
            all(int, u8::is_ascii_digit) && frac.bytes().all(|b| b.is_ascii_digit())
        }
        None => all(mantissa, u8::is_ascii_digit),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        all(digits, u8::is_ascii_digit)
    });
    mantissa_ok && exponent_ok
}

fn is_octal(b: &u8) -> bool {
    (b'0'..=b'7').contains(b)
}
