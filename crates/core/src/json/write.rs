//! The canonical object writer for trailseal's own JSON: receipts, bundle headers, entries,
//! trailers and manifests, selections, chain starts.
//!
//! One way to write an object:
//!
//! ```
//! use trailseal_core::json;
//!
//! let mut out = Vec::new();
//! json::write_object(&mut out, |o| {
//!     o.u64("seq", 7).str("kind", "genesis");
//!     o.object("cutoff", |c| {
//!         c.u64("keep_last", 3);
//!     });
//!     o.raw("trace", br#"{"a":1}"#);
//!     o.array("ids", |a| {
//!         a.str("x").u64(2);
//!     });
//! });
//! assert_eq!(
//!     out,
//!     br#"{"cutoff":{"keep_last":3},"ids":["x",2],"kind":"genesis","seq":7,"trace":{"a":1}}"#
//! );
//! ```
//!
//! - Keys are sorted by code point, as Python's `sort_keys` sorts them, whatever order the
//!   members are added in; a key added twice keeps its last value (as assigning a `dict` key
//!   twice does). Members added already in order are written straight to the output: the
//!   common case allocates and copies nothing; otherwise the object is rewritten once, when
//!   it is closed, by the canonical writer.
//! - Strings use the canonical escaping ([`write_json_string`]).
//! - [`ObjectWriter::raw`] embeds a value that is already canonical JSON (a canonical trace, a
//!   stored receipt) byte for byte; [`ObjectWriter::node`] writes a parsed value in canonical
//!   form.
//! - [`write_object_in_order`] keeps the members in the order they are added, for the layouts
//!   whose order is fixed by compatibility: JSONL record lines (weaver-kernel's
//!   `seq, prev_hash, record_hash, trace`), bundle entries, which copy that layout, and the
//!   CLI's `--json` documents, whose member order is part of its published output.
//!
//! The writer cannot fail: every value it takes has a canonical form. Only
//! [`ObjectWriter::node`] can, for a parsed value without one in [`Mode::Strict`]; it then
//! leaves the output as it was before the member.

use super::canonical::Mode;
use super::doc::NodeRef;
use super::error::JsonError;
use super::escape::write_json_string;

/// Whether an object's members are sorted by key or kept in the order added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Sorted,
    AsAdded,
}

/// Writes the members of one JSON object; see the [module documentation](self).
#[derive(Debug)]
pub struct ObjectWriter<'o> {
    out: &'o mut Vec<u8>,
    order: Order,
    /// Where the object starts (its `{`).
    open: usize,
    /// The previous key's text in `out`, when it needed no escape (its bytes are then the
    /// key's own UTF-8, whose byte order is code point order); `None` before the first key
    /// or after a key with an escape.
    previous: Option<std::ops::Range<usize>>,
    /// Whether every key so far is known to be greater than the one before it.
    in_order: bool,
}

/// Whether `key` is written as it is (printable ASCII other than `"` and `\`).
fn needs_no_escape(key: &str) -> bool {
    key.bytes()
        .all(|b| (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\')
}

/// Writes the elements of one JSON array, in order.
#[derive(Debug)]
pub struct ArrayWriter<'o> {
    out: &'o mut Vec<u8>,
    /// The order of the objects inside it.
    order: Order,
    first: bool,
}

/// Appends a canonical JSON object (keys sorted) built by `build` to `out`.
pub fn write_object(out: &mut Vec<u8>, build: impl FnOnce(&mut ObjectWriter<'_>)) {
    ObjectWriter::run(out, Order::Sorted, build);
}

/// A canonical JSON object (keys sorted) built by `build`, as a string.
pub fn object(build: impl FnOnce(&mut ObjectWriter<'_>)) -> String {
    let mut out = Vec::new();
    write_object(&mut out, build);
    // Keys and strings are escaped to ASCII; raw values are the caller's canonical JSON.
    String::from_utf8_lossy(&out).into_owned()
}

/// Appends a JSON object whose members stay in the order `build` adds them (for the fixed
/// line layouts named in the [module documentation](self)); everything else is as
/// [`write_object`].
pub fn write_object_in_order(out: &mut Vec<u8>, build: impl FnOnce(&mut ObjectWriter<'_>)) {
    ObjectWriter::run(out, Order::AsAdded, build);
}

impl<'o> ObjectWriter<'o> {
    fn run(out: &'o mut Vec<u8>, order: Order, build: impl FnOnce(&mut ObjectWriter<'_>)) {
        let open = out.len();
        out.push(b'{');
        let mut w = ObjectWriter {
            out,
            order,
            open,
            previous: None,
            in_order: true,
        };
        build(&mut w);
        w.finish();
    }

    /// Writes `"key":` and returns where the member started.
    fn key(&mut self, key: &str) -> usize {
        let start = self.out.len();
        if start > self.open + 1 {
            self.out.push(b',');
        }
        if self.order == Order::Sorted {
            let first = start == self.open + 1;
            let after_previous = match &self.previous {
                Some(p) => self.out.get(p.clone()).is_some_and(|p| p < key.as_bytes()),
                None => first,
            };
            self.in_order &= after_previous;
            let at = self.out.len() + 1;
            write_json_string(key, self.out);
            self.previous = needs_no_escape(key).then(|| at..self.out.len() - 1);
        } else {
            write_json_string(key, self.out);
        }
        self.out.push(b':');
        start
    }

    /// A string member.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        write_json_string(value, self.out);
        self
    }

    /// A non-negative integer member.
    pub fn u64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        let mut buf = [0u8; 20];
        self.out
            .extend_from_slice(crate::chain::format_u64(value, &mut buf));
        self
    }

    /// An integer member.
    pub fn i64(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        self.out.extend_from_slice(value.to_string().as_bytes());
        self
    }

    /// A boolean member.
    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
        self
    }

    /// A string member, or `null` for `None`.
    pub fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.str(key, v),
            None => self.null(key),
        }
    }

    /// A non-negative integer member, or `null` for `None`.
    pub fn opt_u64(&mut self, key: &str, value: Option<u64>) -> &mut Self {
        match value {
            Some(v) => self.u64(key, v),
            None => self.null(key),
        }
    }

    /// A `null` member.
    pub fn null(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.out.extend_from_slice(b"null");
        self
    }

    /// A member whose value is `canonical`, copied byte for byte: it must already be one JSON
    /// value in canonical form (a canonical trace, a stored receipt).
    pub fn raw(&mut self, key: &str, canonical: &[u8]) -> &mut Self {
        self.key(key);
        self.out.extend_from_slice(canonical);
        self
    }

    /// A member whose value is a parsed value, written in canonical form (in [`Mode::Python`],
    /// as Python writes it). On error the output is left as it was before this member.
    pub fn node(
        &mut self,
        key: &str,
        value: NodeRef<'_>,
        mode: Mode,
    ) -> Result<&mut Self, JsonError> {
        let (previous, in_order) = (self.previous.clone(), self.in_order);
        let start = self.key(key);
        if let Err(e) = value.write_canonical(self.out, mode) {
            self.out.truncate(start);
            (self.previous, self.in_order) = (previous, in_order);
            return Err(e);
        }
        Ok(self)
    }

    /// A member whose value is an object built by `build` (sorted as this one is).
    pub fn object(&mut self, key: &str, build: impl FnOnce(&mut ObjectWriter<'_>)) -> &mut Self {
        self.key(key);
        ObjectWriter::run(self.out, self.order, build);
        self
    }

    /// A member whose value is an array built by `build`.
    pub fn array(&mut self, key: &str, build: impl FnOnce(&mut ArrayWriter<'_>)) -> &mut Self {
        self.key(key);
        ArrayWriter::run(self.out, self.order, build);
        self
    }

    /// Closes the object; when its members were not added in key order, rewrites it in
    /// canonical form (keys sorted, the last of a repeated key kept), as the canonical writer
    /// writes any parsed object.
    fn finish(self) {
        let ObjectWriter {
            out,
            open,
            in_order,
            ..
        } = self;
        out.push(b'}');
        if in_order {
            return;
        }
        let Some(text) = out.get(open..) else {
            return;
        };
        // The text is this writer's own output (and the caller's canonical raw values): it
        // parses, and Python mode keeps whatever a raw value holds.
        let mut sorted = Vec::with_capacity(text.len());
        let rewritten = super::parse(text).ok().is_some_and(|doc| {
            doc.root()
                .write_canonical(&mut sorted, Mode::Python)
                .is_ok()
        });
        if rewritten {
            out.truncate(open);
            out.extend_from_slice(&sorted);
        }
    }
}

impl<'o> ArrayWriter<'o> {
    fn run(out: &'o mut Vec<u8>, order: Order, build: impl FnOnce(&mut ArrayWriter<'_>)) {
        out.push(b'[');
        let mut w = ArrayWriter {
            out,
            order,
            first: true,
        };
        build(&mut w);
        w.out.push(b']');
    }

    fn comma(&mut self) -> usize {
        let start = self.out.len();
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        start
    }

    /// A string element.
    pub fn str(&mut self, value: &str) -> &mut Self {
        self.comma();
        write_json_string(value, self.out);
        self
    }

    /// A non-negative integer element.
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.comma();
        let mut buf = [0u8; 20];
        self.out
            .extend_from_slice(crate::chain::format_u64(value, &mut buf));
        self
    }

    /// An element that is already one canonical JSON value, copied byte for byte.
    pub fn raw(&mut self, canonical: &[u8]) -> &mut Self {
        self.comma();
        self.out.extend_from_slice(canonical);
        self
    }

    /// A parsed value, in canonical form; on error the output is left as it was.
    pub fn node(&mut self, value: NodeRef<'_>, mode: Mode) -> Result<&mut Self, JsonError> {
        let was_first = self.first;
        let start = self.comma();
        if let Err(e) = value.write_canonical(self.out, mode) {
            self.out.truncate(start);
            self.first = was_first;
            return Err(e);
        }
        Ok(self)
    }

    /// An object element (sorted as the object holding this array is).
    pub fn object(&mut self, build: impl FnOnce(&mut ObjectWriter<'_>)) -> &mut Self {
        self.comma();
        ObjectWriter::run(self.out, self.order, build);
        self
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::json::{canonicalize, parse};

    fn text(out: &[u8]) -> &str {
        std::str::from_utf8(out).unwrap()
    }

    #[test]
    fn members_come_out_sorted_by_code_point_whatever_the_order_added() {
        let mut out = Vec::new();
        write_object(&mut out, |o| {
            // Escaped, `"` (U+0022) sorts before `#` (U+0023) although its escape `\"` starts
            // with a byte (0x5C) above `#`; U+FFFF sorts before U+1F600 although UTF-16 would
            // put the surrogates first.
            o.u64("a#", 1)
                .u64("a\"", 2)
                .u64("\u{1F600}", 3)
                .u64("\u{FFFF}", 4)
                .u64("Z", 5)
                .u64("", 6);
        });
        assert_eq!(
            text(&out),
            r#"{"":6,"Z":5,"a\"":2,"a#":1,"\uffff":4,"\ud83d\ude00":3}"#
        );
        assert_eq!(canonicalize(&out).unwrap(), text(&out));
    }

    #[test]
    fn a_key_added_twice_keeps_its_last_value() {
        let mut out = Vec::new();
        write_object(&mut out, |o| {
            o.u64("b", 1).u64("a", 2).str("b", "last");
        });
        assert_eq!(text(&out), r#"{"a":2,"b":"last"}"#);
        out.clear();
        write_object(&mut out, |o| {
            o.u64("a", 1).u64("a", 2);
        });
        assert_eq!(text(&out), r#"{"a":2}"#);
    }

    #[test]
    fn every_value_kind_and_nesting() {
        let doc = parse(br#"{"y": [1, 2.50], "x": "\u00e9"}"#).unwrap();
        let s = object(|o| {
            o.i64("i", -3)
                .bool("t", true)
                .bool("f", false)
                .null("n")
                .raw("r", br#"{"k":[]}"#)
                .object("o", |o| {
                    o.u64("b", 1).u64("a", 0);
                })
                .array("l", |a| {
                    a.str("\n").u64(1).raw(b"null").object(|o| {
                        o.u64("z", 1).u64("y", 2);
                    });
                });
            o.node("d", doc.root(), Mode::Strict).unwrap();
        });
        assert_eq!(
            s,
            r#"{"d":{"x":"\u00e9","y":[1,2.5]},"f":false,"i":-3,"l":["\n",1,null,{"y":2,"z":1}],"n":null,"o":{"a":0,"b":1},"r":{"k":[]},"t":true}"#
        );
        assert_eq!(object(|_| {}), "{}");
        assert_eq!(
            object(|o| {
                o.array("a", |_| {});
            }),
            r#"{"a":[]}"#
        );
    }

    #[test]
    fn a_value_without_canonical_form_leaves_the_output_as_it_was() {
        let nan = parse(b"[NaN]").unwrap();
        let s = object(|o| {
            o.u64("a", 1);
            assert!(o.node("b", nan.root(), Mode::Strict).is_err());
            o.u64("c", 2);
            o.array("l", |a| {
                assert!(a.node(nan.root(), Mode::Strict).is_err());
                a.u64(1);
                assert!(a.node(nan.root(), Mode::Strict).is_err());
            });
        });
        assert_eq!(s, r#"{"a":1,"c":2,"l":[1]}"#);
        let s = object(|o| {
            assert!(o.node("b", nan.root(), Mode::Strict).is_err());
            o.node("p", nan.root(), Mode::Python).unwrap();
        });
        assert_eq!(s, r#"{"p":[NaN]}"#);
    }

    #[test]
    fn in_order_keeps_the_layout_given() {
        let mut out = Vec::new();
        write_object_in_order(&mut out, |o| {
            o.u64("seq", 1).str("prev_hash", "p").object("trace", |t| {
                t.u64("b", 1).u64("a", 2);
            });
        });
        assert_eq!(
            text(&out),
            r#"{"seq":1,"prev_hash":"p","trace":{"b":1,"a":2}}"#
        );
    }

    proptest! {
        /// Whatever the keys, values and order added, the output is canonical (the reader
        /// writes it back unchanged) and holds the last value added for each key.
        #[test]
        fn output_is_canonical_and_holds_the_last_value(
            members in prop_oneof![
                proptest::collection::vec((any::<String>(), any::<String>()), 0..12),
                // Keys that need no escape, often repeated or in order: the path that
                // copies nothing.
                proptest::collection::vec(("[a-c]{0,3}", "[ -~]{0,4}"), 0..12),
            ],
        ) {
            let s = object(|o| {
                for (k, v) in &members {
                    o.str(k, v);
                }
            });
            prop_assert_eq!(canonicalize(s.as_bytes()).unwrap(), s.clone());
            let doc = parse(s.as_bytes()).unwrap();
            let mut last = std::collections::BTreeMap::new();
            for (k, v) in &members {
                last.insert(k.clone(), v.clone());
            }
            prop_assert_eq!(doc.root().members().count(), last.len());
            for (k, v) in &last {
                prop_assert_eq!(doc.root().get(k).and_then(|n| n.as_str()), Some(v.as_str()));
            }
        }
    }
}
