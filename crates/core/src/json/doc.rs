//! The parsed document: a flat tape of nodes plus an arena of decoded text, and the
//! read-only view of its values ([`NodeRef`]).

use super::canonical::{self, Mode};
use super::error::{JsonError, JsonErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) start: u32,
    pub(super) len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Node {
    Null,
    True,
    False,
    /// Exact integer text, normalised (`-0` becomes `0`).
    Int(Span),
    /// Python `repr` of the float.
    Float(Span),
    /// Decoded string (WTF-8).
    Str(Span),
    /// `NaN`, `Infinity`, `-Infinity` or a number that overflows to infinity, as Python
    /// prints it; `offset` is where it appeared in the input.
    NonFinite {
        text: Span,
        offset: u32,
    },
    /// `end` is the tape index just past the container's last descendant.
    Array {
        count: u32,
        end: u32,
    },
    /// Members are stored as a key (`Str`) followed by the value's subtree.
    Object {
        count: u32,
        end: u32,
    },
}

/// A parsed JSON document: a flat tape of nodes plus an arena of decoded text.
#[derive(Clone, PartialEq, Eq)]
pub struct Doc {
    pub(super) nodes: Vec<Node>,
    /// Decoded strings and normalised numbers, as WTF-8 (UTF-8 that may encode surrogates).
    pub(super) arena: Vec<u8>,
    /// Input offsets of strings that contain a lone surrogate, by node index.
    pub(super) surrogates: Vec<(u32, u32)>,
}

impl std::fmt::Debug for Doc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doc")
            .field("nodes", &self.nodes.len())
            .finish_non_exhaustive()
    }
}

/// The type of a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Int,
    Float,
    String,
    Array,
    Object,
}

impl Kind {
    /// A lowercase name for messages ("string", "object", ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "boolean",
            Kind::Int => "integer",
            Kind::Float => "float",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }
}

// Lengths and offsets are bounded by the 4 GiB input check in `parse_with`; the arena never
// exceeds the input by more than the short escapes it expands (at most 3 bytes of UTF-8 per
// 6-byte `\uXXXX` escape), so these conversions cannot truncate.
pub(super) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A value inside a [`Doc`].
#[derive(Clone, Copy)]
pub struct NodeRef<'d> {
    doc: &'d Doc,
    idx: u32,
}

impl std::fmt::Debug for NodeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = Vec::new();
        let _ = self.write_canonical(&mut out, Mode::Python);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

impl Doc {
    /// The top-level value.
    pub fn root(&self) -> NodeRef<'_> {
        NodeRef { doc: self, idx: 0 }
    }

    pub(super) fn node(&self, idx: u32) -> Node {
        self.nodes.get(idx as usize).copied().unwrap_or(Node::Null)
    }

    pub(super) fn text(&self, span: Span) -> &[u8] {
        let start = span.start as usize;
        self.arena
            .get(start..start + span.len as usize)
            .unwrap_or_default()
    }

    pub(super) fn key_text(&self, idx: u32) -> &[u8] {
        match self.node(idx) {
            Node::Str(span) => self.text(span),
            _ => b"",
        }
    }

    /// The first value that has no canonical form (a NaN, an infinity, a lone surrogate),
    /// wherever it is in the document.
    pub fn check_strict(&self) -> Result<(), JsonError> {
        let non_finite = self.nodes.iter().find_map(|n| match n {
            Node::NonFinite { offset, .. } => Some(*offset),
            _ => None,
        });
        let surrogate = self.surrogates.first().map(|(_, offset)| *offset);
        let err = |offset: u32, kind| {
            Err(JsonError {
                offset: offset as usize,
                kind,
            })
        };
        match (non_finite, surrogate) {
            (Some(a), Some(b)) if b < a => err(b, JsonErrorKind::LoneSurrogate),
            (Some(a), _) => err(a, JsonErrorKind::NonFinite),
            (None, Some(b)) => err(b, JsonErrorKind::LoneSurrogate),
            (None, None) => Ok(()),
        }
    }

    pub(super) fn surrogate_offset(&self, idx: u32) -> usize {
        self.surrogates
            .iter()
            .find(|(node, _)| *node == idx)
            .map_or(0, |(_, offset)| *offset as usize)
    }

    pub(super) fn subtree_end(&self, idx: u32) -> u32 {
        match self.node(idx) {
            Node::Array { end, .. } | Node::Object { end, .. } => end,
            _ => idx + 1,
        }
    }

    /// The first key that appears twice in one object, anywhere in the document.
    pub fn find_duplicate_key(&self) -> Option<String> {
        let mut keys: Vec<&[u8]> = Vec::new();
        for idx in 0..to_u32(self.nodes.len()) {
            if let Node::Object { count, .. } = self.node(idx)
                && count > 1
            {
                keys.clear();
                let mut at = idx + 1;
                for _ in 0..count {
                    keys.push(self.key_text(at));
                    at = self.subtree_end(at + 1);
                }
                keys.sort_unstable();
                if let Some(w) = keys.windows(2).find(|w| w.first() == w.get(1)) {
                    return w.first().map(|k| String::from_utf8_lossy(k).into_owned());
                }
            }
        }
        None
    }
}

impl<'d> NodeRef<'d> {
    /// The value's type.
    pub fn kind(&self) -> Kind {
        match self.doc.node(self.idx) {
            Node::Null => Kind::Null,
            Node::True | Node::False => Kind::Bool,
            Node::Int(_) => Kind::Int,
            Node::Float(_) => Kind::Float,
            Node::Str(_) => Kind::String,
            Node::NonFinite { .. } => Kind::Float,
            Node::Array { .. } => Kind::Array,
            Node::Object { .. } => Kind::Object,
        }
    }

    /// The decoded text of a string (`None` for a string holding a lone surrogate).
    pub fn as_str(&self) -> Option<&'d str> {
        match self.doc.node(self.idx) {
            Node::Str(span) => std::str::from_utf8(self.doc.text(span)).ok(),
            _ => None,
        }
    }

    /// The value of a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self.doc.node(self.idx) {
            Node::True => Some(true),
            Node::False => Some(false),
            _ => None,
        }
    }

    /// The exact decimal text of an integer.
    pub fn int_text(&self) -> Option<&'d str> {
        match self.doc.node(self.idx) {
            Node::Int(span) => std::str::from_utf8(self.doc.text(span)).ok(),
            _ => None,
        }
    }

    /// An integer that fits in `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        self.int_text()?.parse().ok()
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        self.kind() == Kind::Null
    }

    /// Members of an object in document order (duplicates included).
    pub fn members(&self) -> impl Iterator<Item = (&'d str, NodeRef<'d>)> + 'd {
        let doc = self.doc;
        let (count, mut at) = match doc.node(self.idx) {
            Node::Object { count, .. } => (count, self.idx + 1),
            _ => (0, 0),
        };
        (0..count).map(move |_| {
            let key = std::str::from_utf8(doc.key_text(at)).unwrap_or("\u{FFFD}");
            let value = NodeRef { doc, idx: at + 1 };
            at = doc.subtree_end(at + 1);
            (key, value)
        })
    }

    /// Elements of an array in order.
    pub fn elements(&self) -> impl Iterator<Item = NodeRef<'d>> + 'd {
        let doc = self.doc;
        let (count, mut at) = match doc.node(self.idx) {
            Node::Array { count, .. } => (count, self.idx + 1),
            _ => (0, 0),
        };
        (0..count).map(move |_| {
            let value = NodeRef { doc, idx: at };
            at = doc.subtree_end(at);
            value
        })
    }

    /// The value of `key` in an object (the last one when the key repeats, as in Python).
    pub fn get(&self, key: &str) -> Option<NodeRef<'d>> {
        self.members()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .last()
    }

    /// Appends the canonical form of this value (in [`Mode::Python`], Python's output).
    pub fn write_canonical(&self, out: &mut Vec<u8>, mode: Mode) -> Result<(), JsonError> {
        canonical::write(self.doc, self.idx, out, mode)
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    #[test]
    fn accessors() {
        let doc = parse(br#"{"a":[1,{"b":"x"}],"c":true,"a":null}"#).unwrap();
        let root = doc.root();
        assert!(root.get("a").unwrap().is_null());
        let first_a = root.members().next().unwrap().1;
        assert_eq!(first_a.elements().count(), 2);
        assert_eq!(root.get("c").unwrap().as_bool(), Some(true));
        assert_eq!(doc.find_duplicate_key().as_deref(), Some("a"));
    }
}
