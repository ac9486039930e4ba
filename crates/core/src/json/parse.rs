//! The reader: JSON text to a flat tape ([`Doc`]), accepting what Python's `json.loads`
//! accepts, scalars normalised on the way (integers keep every digit, floats become Python's
//! `repr`, strings are decoded to WTF-8).

use super::doc::{Doc, Node, Span, to_u32};
use super::error::{JsonError, JsonErrorKind};
use super::escape::push_wtf8;
use super::float::write_float_repr;
use super::scan::is_ws;
use crate::number;

/// Python's default `sys.get_int_max_str_digits()`: `json.loads` rejects longer integers.
pub const PYTHON_INT_MAX_DIGITS: usize = 4300;

/// Default nesting limit of [`ParseOptions`].
pub const DEFAULT_MAX_DEPTH: usize = 10_000;

/// Limits applied while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Deepest nesting of arrays and objects accepted.
    pub max_depth: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Parses a JSON text with default limits.
pub fn parse(input: &[u8]) -> Result<Doc, JsonError> {
    parse_with(input, &ParseOptions::default())
}

/// Parses a JSON text.
pub fn parse_with(input: &[u8], options: &ParseOptions) -> Result<Doc, JsonError> {
    if u32::try_from(input.len()).is_err() {
        return Err(JsonError {
            offset: 0,
            kind: JsonErrorKind::TooLarge,
        });
    }
    Parser {
        input,
        pos: 0,
        nodes: Vec::with_capacity(input.len() / 8 + 1),
        arena: Vec::with_capacity(input.len()),
        surrogates: Vec::new(),
        stack: Vec::new(),
        max_depth: options.max_depth,
    }
    .run()
}

struct Frame {
    node: u32,
    count: u32,
    is_object: bool,
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    nodes: Vec<Node>,
    arena: Vec<u8>,
    surrogates: Vec<(u32, u32)>,
    stack: Vec<Frame>,
    max_depth: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, kind: JsonErrorKind) -> JsonError {
        JsonError {
            offset: self.pos,
            kind,
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or_default()
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if !is_ws(b) {
                break;
            }
            self.pos += 1;
        }
    }

    fn run(mut self) -> Result<Doc, JsonError> {
        if self.input.starts_with(b"\xEF\xBB\xBF") {
            return Err(self.err(JsonErrorKind::UnexpectedBom));
        }
        'value: loop {
            self.skip_ws();
            match self.peek() {
                Some(b'{') => {
                    self.open(true)?;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        self.close();
                    } else {
                        self.key()?;
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.open(false)?;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        self.close();
                    } else {
                        continue 'value;
                    }
                }
                Some(b'"') => {
                    let span = self.string()?;
                    self.nodes.push(Node::Str(span));
                }
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b't') => self.literal(b"true", Node::True)?,
                Some(b'f') => self.literal(b"false", Node::False)?,
                Some(b'n') => self.literal(b"null", Node::Null)?,
                Some(b'N') if self.rest().starts_with(b"NaN") => self.non_finite(b"NaN"),
                Some(b'I') if self.rest().starts_with(b"Infinity") => self.non_finite(b"Infinity"),
                _ => return Err(self.err(JsonErrorKind::ExpectingValue)),
            }
            // A value is complete: decide what follows it.
            loop {
                let Some(frame) = self.stack.last_mut() else {
                    self.skip_ws();
                    if self.pos != self.input.len() {
                        return Err(self.err(JsonErrorKind::ExtraData));
                    }
                    return Ok(Doc {
                        nodes: self.nodes,
                        arena: self.arena,
                        surrogates: self.surrogates,
                    });
                };
                frame.count += 1;
                let is_object = frame.is_object;
                self.skip_ws();
                match (self.peek(), is_object) {
                    (Some(b','), true) => {
                        self.pos += 1;
                        self.skip_ws();
                        self.key()?;
                        continue 'value;
                    }
                    (Some(b','), false) => {
                        self.pos += 1;
                        continue 'value;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        self.pos += 1;
                        self.close();
                    }
                    _ => return Err(self.err(JsonErrorKind::ExpectingComma)),
                }
            }
        }
    }

    fn open(&mut self, is_object: bool) -> Result<(), JsonError> {
        if self.stack.len() >= self.max_depth {
            return Err(self.err(JsonErrorKind::TooDeep {
                limit: self.max_depth,
            }));
        }
        self.pos += 1;
        let node = to_u32(self.nodes.len());
        self.nodes.push(if is_object {
            Node::Object { count: 0, end: 0 }
        } else {
            Node::Array { count: 0, end: 0 }
        });
        self.stack.push(Frame {
            node,
            count: 0,
            is_object,
        });
        Ok(())
    }

    fn close(&mut self) {
        if let Some(frame) = self.stack.pop() {
            let end = to_u32(self.nodes.len());
            if let Some(node) = self.nodes.get_mut(frame.node as usize) {
                *node = if frame.is_object {
                    Node::Object {
                        count: frame.count,
                        end,
                    }
                } else {
                    Node::Array {
                        count: frame.count,
                        end,
                    }
                };
            }
        }
    }

    /// Reads `"key" :` (whitespace already skipped before the quote).
    fn key(&mut self) -> Result<(), JsonError> {
        if self.peek() != Some(b'"') {
            return Err(self.err(JsonErrorKind::ExpectingPropertyName));
        }
        let span = self.string()?;
        self.nodes.push(Node::Str(span));
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.err(JsonErrorKind::ExpectingColon));
        }
        self.pos += 1;
        Ok(())
    }

    fn non_finite(&mut self, word: &[u8]) {
        let offset = to_u32(self.pos);
        self.pos += word.len();
        self.push_non_finite(word, offset);
    }

    fn push_non_finite(&mut self, text: &[u8], offset: u32) {
        let start = to_u32(self.arena.len());
        self.arena.extend_from_slice(text);
        let text = Span {
            start,
            len: to_u32(text.len()),
        };
        self.nodes.push(Node::NonFinite { text, offset });
    }

    fn literal(&mut self, word: &[u8], node: Node) -> Result<(), JsonError> {
        if self.rest().starts_with(word) {
            self.pos += word.len();
            self.nodes.push(node);
            Ok(())
        } else {
            Err(self.err(JsonErrorKind::ExpectingValue))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
            if self.rest().starts_with(b"Infinity") {
                self.pos += b"Infinity".len();
                self.push_non_finite(b"-Infinity", to_u32(start));
                return Ok(());
            }
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => {
                self.pos = start;
                return Err(self.err(JsonErrorKind::ExpectingValue));
            }
        }
        let int_end = self.pos;
        let mut is_float = false;
        if self.peek() == Some(b'.') && matches!(self.input.get(self.pos + 1), Some(b'0'..=b'9')) {
            self.pos += 1;
            self.digits();
            is_float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                self.pos = save;
            } else {
                is_float = true;
            }
        }
        let text = self.input.get(start..self.pos).unwrap_or_default();
        // The grammar above only admits ASCII digits, signs, '.', 'e' and 'E'.
        let text = std::str::from_utf8(text).unwrap_or("");
        let arena_start = self.arena.len();
        if is_float {
            let Some(value) = number::float_of_number(text) else {
                // Python's float() refuses it (more than a billion digits).
                self.pos = start;
                return Err(self.err(JsonErrorKind::FloatTooLong));
            };
            if !value.is_finite() {
                // Python's float() overflows to inf, which json.dumps prints as Infinity.
                let word: &[u8] = if value < 0.0 {
                    b"-Infinity"
                } else {
                    b"Infinity"
                };
                self.push_non_finite(word, to_u32(start));
                return Ok(());
            }
            let mut repr = String::new();
            write_float_repr(value, &mut repr);
            self.arena.extend_from_slice(repr.as_bytes());
            let span = Span {
                start: to_u32(arena_start),
                len: to_u32(self.arena.len() - arena_start),
            };
            self.nodes.push(Node::Float(span));
        } else {
            let negative = text.starts_with('-');
            let digits = int_end - start - usize::from(negative);
            if digits > PYTHON_INT_MAX_DIGITS {
                self.pos = start;
                return Err(self.err(JsonErrorKind::IntegerTooLong));
            }
            if text == "-0" {
                self.arena.push(b'0');
            } else {
                self.arena.extend_from_slice(text.as_bytes());
            }
            let span = Span {
                start: to_u32(arena_start),
                len: to_u32(self.arena.len() - arena_start),
            };
            self.nodes.push(Node::Int(span));
        }
        Ok(())
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let bytes = self.input.get(at..at + 4)?;
        let mut v = 0u32;
        for &b in bytes {
            v = v * 16 + (b as char).to_digit(16)?;
        }
        Some(v)
    }

    /// Reads a string starting at its opening quote; returns its decoded span in the arena.
    fn string(&mut self) -> Result<Span, JsonError> {
        let open = self.pos;
        self.pos += 1;
        let arena_start = self.arena.len();
        let mut lone_surrogate_at: Option<usize> = None;
        loop {
            let run_start = self.pos;
            while let Some(&b) = self.input.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            if self.pos > run_start {
                // Runs end at ASCII bytes, which never split a UTF-8 sequence.
                let run = self.input.get(run_start..self.pos).unwrap_or_default();
                match std::str::from_utf8(run) {
                    Ok(s) => self.arena.extend_from_slice(s.as_bytes()),
                    Err(e) => {
                        self.pos = run_start + e.valid_up_to();
                        return Err(self.err(JsonErrorKind::InvalidUtf8));
                    }
                }
            }
            match self.peek() {
                None => {
                    self.pos = open;
                    return Err(self.err(JsonErrorKind::UnterminatedString));
                }
                Some(b'"') => {
                    self.pos += 1;
                    if lone_surrogate_at.is_some() {
                        // The string node is pushed right after this returns.
                        let node = to_u32(self.nodes.len());
                        self.surrogates.push((node, to_u32(open)));
                    }
                    return Ok(Span {
                        start: to_u32(arena_start),
                        len: to_u32(self.arena.len() - arena_start),
                    });
                }
                Some(b'\\') => {
                    if self.escape()? {
                        lone_surrogate_at.get_or_insert(self.pos);
                    }
                }
                Some(_) => return Err(self.err(JsonErrorKind::InvalidControlCharacter)),
            }
        }
    }

    /// Decodes one escape at `self.pos`; returns whether it was a lone surrogate.
    fn escape(&mut self) -> Result<bool, JsonError> {
        let Some(&c) = self.input.get(self.pos + 1) else {
            return Err(self.err(JsonErrorKind::UnterminatedString));
        };
        let simple: Option<u8> = match c {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0C),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            _ => return Err(self.err(JsonErrorKind::InvalidEscape)),
        };
        if let Some(byte) = simple {
            self.arena.push(byte);
            self.pos += 2;
            return Ok(false);
        }
        let Some(unit) = self.hex4(self.pos + 2) else {
            return Err(self.err(JsonErrorKind::InvalidUnicodeEscape));
        };
        let mut lone = false;
        let code = match unit {
            0xD800..=0xDBFF => {
                let low = if self.input.get(self.pos + 6..self.pos + 8) == Some(b"\\u") {
                    self.hex4(self.pos + 8)
                } else {
                    None
                };
                match low {
                    Some(low @ 0xDC00..=0xDFFF) => {
                        self.pos += 6;
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    _ => {
                        lone = true;
                        unit
                    }
                }
            }
            0xDC00..=0xDFFF => {
                lone = true;
                unit
            }
            other => other,
        };
        push_wtf8(code, &mut self.arena);
        self.pos += 6;
        Ok(lone)
    }
}
