//! One pass from `json.dumps` output to the canonical form, without building a document.
//!
//! weaver-kernel's SQLite store keeps each payload as `json.dumps(payload)`: ASCII only
//! (`ensure_ascii`), `", "` and `": "` separators, keys in insertion order. Its canonical form
//! differs only in whitespace and key order: strings are escaped by the same rules, integers
//! and floats print the same way. [`Recanonicalizer`] therefore copies every token through,
//! drops the whitespace and sorts each object's members in place, in one pass over the text.
//!
//! It handles exactly the texts where that is safe and gives up (returns `false`) on anything
//! else: a string that is not already in canonical escaping (raw non-ASCII, `\/`, uppercase
//! hex, an escape Python would not write), a key with an escape (byte order would not be code
//! point order), a repeated key, `NaN`/`Infinity`, `-0`, over-long integers, floats that do not
//! print as Python's `repr`, nesting deeper than [`MAX_DEPTH`], or invalid JSON. The caller then
//! uses the general reader ([`crate::json`]), whose output this one equals wherever it succeeds
//! (a differential test checks that on every vector and on random documents).

use std::ops::Range;

use super::{PYTHON_INT_MAX_DIGITS, write_float_repr};
use crate::number::float_of_number;

/// Nesting beyond this is left to the general reader.
pub const MAX_DEPTH: usize = 128;

/// One member of the object being copied: its key (raw, in the input) and where `"key":value`
/// sits in the output.
#[derive(Debug, Clone)]
struct Member {
    key: Range<usize>,
    out: Range<usize>,
}

/// Re-canonicalises `json.dumps` output; keeps its scratch buffers between calls.
#[derive(Debug, Default)]
pub struct Recanonicalizer {
    members: Vec<Member>,
    order: Vec<usize>,
    tmp: Vec<u8>,
    float: String,
}

struct Pass<'t, 's> {
    text: &'t [u8],
    at: usize,
    out: &'s mut Vec<u8>,
    scratch: &'s mut Recanonicalizer,
}

impl Recanonicalizer {
    /// A recanonicalizer with empty scratch buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes the canonical form of `text` to `out` (cleared first) and returns `true`, or
    /// returns `false` when `text` is outside what this fast path handles (`out` then holds
    /// nothing useful).
    pub fn run(&mut self, text: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        self.members.clear();
        let mut pass = Pass {
            text,
            at: 0,
            out,
            scratch: self,
        };
        pass.value(0).is_some() && {
            pass.skip_ws();
            pass.at == text.len()
        }
    }
}

impl Pass<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_ws();
        (self.peek() == Some(byte)).then(|| self.at += 1)
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_ws();
        match self.peek()? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(|_| ()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.text.get(self.at..end)? == word).then(|| {
            self.out.extend_from_slice(word);
            self.at = end;
        })
    }

    /// Copies a string that is already in canonical escaping; returns its raw contents'
    /// range in the input and whether it holds an escape.
    fn string(&mut self) -> Option<(Range<usize>, bool)> {
        let open = self.at;
        self.at += 1;
        let mut escaped = false;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    match self.text.get(self.at + 1)? {
                        b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f' => self.at += 2,
                        b'u' => {
                            let hex = self.text.get(self.at + 2..self.at + 6)?;
                            let mut unit = 0u32;
                            for &h in hex {
                                let digit = match h {
                                    b'0'..=b'9' => h - b'0',
                                    b'a'..=b'f' => h - b'a' + 10,
                                    // Python writes lowercase hex only.
                                    _ => return None,
                                };
                                unit = unit << 4 | u32::from(digit);
                            }
                            // Python writes printable ASCII raw and these five as short
                            // escapes; everything else as \uXXXX, lone surrogates included.
                            if (0x20..0x7F).contains(&unit)
                                || matches!(unit, 0x08 | 0x09 | 0x0A | 0x0C | 0x0D)
                            {
                                return None;
                            }
                            self.at += 6;
                        }
                        _ => return None,
                    }
                }
                // Control characters are invalid; DEL and non-ASCII would be escaped.
                0x20..=0x7E => self.at += 1,
                _ => return None,
            }
        }
        let close = self.at;
        self.at += 1;
        self.out.extend_from_slice(self.text.get(open..=close)?);
        Some((open + 1..close, escaped))
    }

    fn number(&mut self) -> Option<()> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let int_start = self.at;
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.at += 1;
                }
            }
            _ => return None,
        }
        let int_digits = self.at - int_start;
        let mut float = false;
        if self.peek() == Some(b'.') {
            float = true;
            self.at += 1;
            let digits = self.at;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.at += 1;
            }
            if self.at == digits {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            float = true;
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            let digits = self.at;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.at += 1;
            }
            if self.at == digits {
                return None;
            }
        }
        let raw = self.text.get(start..self.at)?;
        if !float {
            // Python reads -0 as 0, and refuses integers over its digit limit.
            if raw == b"-0" || int_digits > PYTHON_INT_MAX_DIGITS {
                return None;
            }
            self.out.extend_from_slice(raw);
            return Some(());
        }
        let value = float_of_number(std::str::from_utf8(raw).ok()?)?;
        if !value.is_finite() {
            return None;
        }
        self.scratch.float.clear();
        write_float_repr(value, &mut self.scratch.float);
        self.out.extend_from_slice(self.scratch.float.as_bytes());
        Some(())
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        self.at += 1;
        self.out.push(b'[');
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            self.out.push(b']');
            return Some(());
        }
        loop {
            self.value(depth + 1)?;
            self.skip_ws();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.out.push(b',');
                }
                b']' => {
                    self.at += 1;
                    self.out.push(b']');
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        self.at += 1;
        self.out.push(b'{');
        let body = self.out.len();
        let base = self.scratch.members.len();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            self.out.push(b'}');
            return Some(());
        }
        loop {
            self.skip_ws();
            if self.peek()? != b'"' {
                return None;
            }
            let start = self.out.len();
            let (key, escaped) = self.string()?;
            if escaped {
                return None;
            }
            self.expect(b':')?;
            self.out.push(b':');
            self.value(depth + 1)?;
            self.scratch.members.push(Member {
                key,
                out: start..self.out.len(),
            });
            self.skip_ws();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.out.push(b',');
                }
                b'}' => {
                    self.at += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.sort_members(base, body)?;
        self.scratch.members.truncate(base);
        self.out.push(b'}');
        Some(())
    }

    /// Puts the members written since `base` in key order (keys are escape-free ASCII, so
    /// byte order is code point order, as Python's `sort_keys`).
    fn sort_members(&mut self, base: usize, body: usize) -> Option<()> {
        let text = self.text;
        let key = |m: &Member| text.get(m.key.clone()).unwrap_or_default();
        let members = self.scratch.members.get(base..)?;
        let mut sorted = true;
        for pair in members.windows(2) {
            if let [a, b] = pair {
                match key(a).cmp(key(b)) {
                    std::cmp::Ordering::Less => {}
                    // A repeated key: Python keeps the last value; leave it to the general path.
                    std::cmp::Ordering::Equal => return None,
                    std::cmp::Ordering::Greater => sorted = false,
                }
            }
        }
        if sorted {
            return Some(());
        }
        let order = &mut self.scratch.order;
        order.clear();
        order.extend(0..members.len());
        order.sort_unstable_by(|&a, &b| {
            let (Some(a), Some(b)) = (members.get(a), members.get(b)) else {
                return std::cmp::Ordering::Equal;
            };
            key(a).cmp(key(b))
        });
        if order.windows(2).any(|w| match w {
            [a, b] => members.get(*a).map(key) == members.get(*b).map(key),
            _ => false,
        }) {
            return None;
        }
        let tmp = &mut self.scratch.tmp;
        tmp.clear();
        for (n, &i) in order.iter().enumerate() {
            if n > 0 {
                tmp.push(b',');
            }
            tmp.extend_from_slice(self.out.get(members.get(i)?.out.clone())?);
        }
        self.out.truncate(body);
        self.out.extend_from_slice(tmp);
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(text: &str) -> Option<String> {
        let mut out = Vec::new();
        Recanonicalizer::new()
            .run(text.as_bytes(), &mut out)
            .then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn json_dumps_output_becomes_canonical() {
        assert_eq!(
            fast(r#"{"b": 1, "a": [true, false, null, {"d": "x", "c": 1.5e-07}], "\u00e9": 2}"#),
            None,
            "a key with an escape is left to the general reader"
        );
        assert_eq!(
            fast(r#"{"b": 1, "a": [true, false, null, {"d": "\u00e9\n", "c": 1.5e-07}]}"#)
                .as_deref(),
            Some(r#"{"a":[true,false,null,{"c":1.5e-07,"d":"\u00e9\n"}],"b":1}"#)
        );
        assert_eq!(fast("{}").as_deref(), Some("{}"));
        assert_eq!(fast(" [ ] ").as_deref(), Some("[]"));
        assert_eq!(fast("1E5").as_deref(), Some("100000.0"));
        assert_eq!(
            fast("123456789012345678901234567890").as_deref(),
            Some("123456789012345678901234567890")
        );
    }

    #[test]
    fn gives_up_where_the_copy_would_differ() {
        for text in [
            r#""\/""#,
            r#""\u00E9""#,
            r#""\u0041""#,
            r#""\u000a""#,
            "\"\u{e9}\"",
            "\"\x7f\"",
            "-0",
            "NaN",
            "1e400",
            r#"{"a": 1, "a": 2}"#,
            r#"{"b": 1, "a": 2, "b": 3}"#,
            "[1,]",
            "{\"a\" 1}",
            "[1] x",
            "",
            "\"\x01\"",
        ] {
            assert_eq!(fast(text), None, "{text:?}");
        }
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(fast(&deep), None);
    }
}
