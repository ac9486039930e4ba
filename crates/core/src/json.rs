//! A JSON reader that accepts what Python's `json.loads` accepts, and the canonical writer of
//! chain format "1".
//!
//! The reader builds a flat *tape* ([`Doc`]) instead of a tree: no recursion while parsing,
//! writing or dropping, so a document nested 100,000 deep is a typed error, never a stack
//! overflow. Scalars are normalised while parsing (integers keep every digit, floats become
//! Python's `repr`, strings are decoded), so writing the canonical form is a single walk.
//! A float's value is the one Python's `float()` gives its text, for any length of mantissa
//! and exponent ([`crate::number::python_float`]); a float Python refuses (more than a billion
//! digits) is [`JsonErrorKind::FloatTooLong`], an integer it refuses (more than 4300 digits)
//! [`JsonErrorKind::IntegerTooLong`].
//!
//! The reader accepts everything Python's reader accepts, including `NaN`, `Infinity`, numbers
//! that overflow to infinity and lone surrogates (the arena holds WTF-8, so surrogates sort by
//! code point as in Python). Whether those values may be *written* depends on the [`Mode`]:
//! - [`Mode::Strict`] is the canonical form of chain format "1": writing one of them is a
//!   typed error ([`JsonErrorKind::NonFinite`], [`JsonErrorKind::LoneSurrogate`]), as are
//!   integers beyond Python's 4300-digit limit and nesting beyond [`ParseOptions::max_depth`].
//! - [`Mode::Python`] writes them as Python does (`NaN`, `Infinity`, `\ud800`), so records
//!   that weaver-kernel wrote with such values still verify.
//!
//! An error is raised only for values that reach the output: as in Python, a repeated key's
//! earlier value is dropped before anything is written.

use std::fmt::Write as _;

use crate::number::{self, PYTHON_FLOAT_MAX_DIGITS};

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

/// Why a JSON text was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonErrorKind {
    #[error("expecting value")]
    ExpectingValue,
    #[error("expecting property name enclosed in double quotes")]
    ExpectingPropertyName,
    #[error("expecting ':' delimiter")]
    ExpectingColon,
    #[error("expecting ',' delimiter")]
    ExpectingComma,
    #[error("extra data after the value")]
    ExtraData,
    #[error("unterminated string")]
    UnterminatedString,
    #[error("invalid control character in string")]
    InvalidControlCharacter,
    #[error("invalid \\escape")]
    InvalidEscape,
    #[error("invalid \\uXXXX escape")]
    InvalidUnicodeEscape,
    #[error("lone surrogate in string (not representable in UTF-8)")]
    LoneSurrogate,
    #[error("invalid UTF-8")]
    InvalidUtf8,
    #[error("NaN and Infinity are not valid in the canonical form")]
    NonFinite,
    #[error("integer has more than {PYTHON_INT_MAX_DIGITS} digits")]
    IntegerTooLong,
    #[error("float has more than {PYTHON_FLOAT_MAX_DIGITS} digits")]
    FloatTooLong,
    #[error("nesting deeper than {limit} levels")]
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    #[error("unexpected UTF-8 byte order mark")]
    UnexpectedBom,
    #[error("document larger than 4 GiB")]
    TooLarge,
}

/// A JSON text that could not be read, with the byte offset where reading stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {kind}")]
pub struct JsonError {
    /// Byte offset into the input.
    pub offset: usize,
    /// What was wrong.
    pub kind: JsonErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
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
    nodes: Vec<Node>,
    /// Decoded strings and normalised numbers, as WTF-8 (UTF-8 that may encode surrogates).
    arena: Vec<u8>,
    /// Input offsets of strings that contain a lone surrogate, by node index.
    surrogates: Vec<(u32, u32)>,
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

/// Returns the canonical form of a JSON text: what Python prints for
/// `json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=True)`.
pub fn canonicalize(input: &[u8]) -> Result<String, JsonError> {
    let doc = parse(input)?;
    let mut out = Vec::with_capacity(input.len());
    doc.root().write_canonical(&mut out, Mode::Strict)?;
    // The canonical form is pure ASCII by construction.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// How values without a canonical form are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The canonical form: `NaN`, `Infinity` and lone surrogates are errors.
    Strict,
    /// Exactly Python's output, `NaN`, `Infinity` and `\udXXX` included.
    Python,
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

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

// Lengths and offsets are bounded by the 4 GiB input check in `parse_with`; the arena never
// exceeds the input by more than the short escapes it expands (at most 3 bytes of UTF-8 per
// 6-byte `\uXXXX` escape), so these conversions cannot truncate.
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
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

/// Appends a code point (surrogates included) as WTF-8.
fn push_wtf8(code: u32, out: &mut Vec<u8>) {
    match code {
        0..=0x7F => out.push(code as u8),
        0x80..=0x7FF => {
            out.extend_from_slice(&[0xC0 | (code >> 6) as u8, 0x80 | (code & 0x3F) as u8])
        }
        0x800..=0xFFFF => out.extend_from_slice(&[
            0xE0 | (code >> 12) as u8,
            0x80 | ((code >> 6) & 0x3F) as u8,
            0x80 | (code & 0x3F) as u8,
        ]),
        _ => out.extend_from_slice(&[
            0xF0 | (code >> 18) as u8,
            0x80 | ((code >> 12) & 0x3F) as u8,
            0x80 | ((code >> 6) & 0x3F) as u8,
            0x80 | (code & 0x3F) as u8,
        ]),
    }
}

/// Decodes the WTF-8 sequence at the start of `bytes`: (code point, length).
fn decode_wtf8(bytes: &[u8]) -> (u32, usize) {
    let b = |i: usize| u32::from(bytes.get(i).copied().unwrap_or(0x80) & 0x3F);
    match bytes.first().copied().unwrap_or(0) {
        lead @ 0..=0x7F => (u32::from(lead), 1),
        lead @ 0xC0..=0xDF => ((u32::from(lead & 0x1F) << 6) | b(1), 2),
        lead @ 0xE0..=0xEF => ((u32::from(lead & 0x0F) << 12) | (b(1) << 6) | b(2), 3),
        lead => (
            (u32::from(lead & 0x07) << 18) | (b(1) << 12) | (b(2) << 6) | b(3),
            4,
        ),
    }
}

/// Writes a finite float as Python's `repr` does: the shortest digits that round-trip, in
/// positional form when the decimal exponent is in `-4 < e <= 16`, else `d.ddde±XX`.
pub fn write_float_repr(value: f64, out: &mut String) {
    if value == 0.0 {
        out.push_str(if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        });
        return;
    }
    // Ryu gives the shortest digits that round-trip, breaking ties to even as Python's
    // dtoa does (Rust's own `{:e}` rounds some ties the other way).
    let mut buf = ryu::Buffer::new();
    let printed = buf.format_finite(value);
    let (negative, printed) = match printed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, printed),
    };
    let (mantissa, exp) = printed.split_once(['e', 'E']).unwrap_or((printed, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all: String = format!("{int_part}{frac_part}");
    // Position of the decimal point relative to the start of `all`, then normalise away
    // leading and trailing zeros.
    let mut decpt = i32::try_from(int_part.len()).unwrap_or(0) + exp;
    let trimmed_start = all.trim_start_matches('0');
    decpt -= i32::try_from(all.len() - trimmed_start.len()).unwrap_or(0);
    let digits = trimmed_start.trim_end_matches('0').to_owned();
    let n = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if negative {
        out.push('-');
    }
    if -4 < decpt && decpt <= 16 {
        if decpt <= 0 {
            out.push_str("0.");
            for _ in 0..-decpt {
                out.push('0');
            }
            out.push_str(&digits);
        } else if decpt >= n {
            out.push_str(&digits);
            for _ in 0..decpt - n {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            let (int_part, frac) = digits.split_at(decpt.unsigned_abs() as usize);
            out.push_str(int_part);
            out.push('.');
            out.push_str(frac);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let e = decpt - 1;
        let _ = write!(
            out,
            "e{}{:02}",
            if e < 0 { '-' } else { '+' },
            e.unsigned_abs()
        );
    }
}

/// Appends `s` as a JSON string in the canonical form: ASCII only, short escapes for
/// `" \\ \n \r \t \b \f`, `\u00XX` for other controls and DEL, `\uXXXX` (lowercase, surrogate
/// pairs above U+FFFF) for everything outside printable ASCII.
pub fn write_json_string(s: &str, out: &mut Vec<u8>) {
    // A `str` holds no lone surrogates, so this cannot fail.
    let _ = write_wtf8_string(s.as_bytes(), out, Mode::Strict);
}

/// Writes a WTF-8 string; in strict mode a lone surrogate is an error (`Err(())`).
fn write_wtf8_string(bytes: &[u8], out: &mut Vec<u8>, mode: Mode) -> Result<(), ()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    fn unit(u: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\\u");
        for shift in [12u32, 8, 4, 0] {
            out.extend(HEX.get(((u >> shift) & 0xF) as usize));
        }
    }
    out.push(b'"');
    let mut run_start = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        out.extend(bytes.get(run_start..i).unwrap_or_default());
        if b < 0x80 {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0C => out.extend_from_slice(b"\\f"),
                other => unit(u32::from(other), out),
            }
            i += 1;
        } else {
            let (code, len) = decode_wtf8(bytes.get(i..).unwrap_or_default());
            if code >= 0x10000 {
                let c = code - 0x10000;
                unit(0xD800 + (c >> 10), out);
                unit(0xDC00 + (c & 0x3FF), out);
            } else {
                if (0xD800..=0xDFFF).contains(&code) && mode == Mode::Strict {
                    return Err(());
                }
                unit(code, out);
            }
            i += len;
        }
        run_start = i;
    }
    out.extend(bytes.get(run_start..).unwrap_or_default());
    out.push(b'"');
    Ok(())
}

fn skip_ws_at(text: &[u8], mut i: usize) -> usize {
    while text.get(i).is_some_and(|b| is_ws(*b)) {
        i += 1;
    }
    i
}

/// Index just past the closing quote of the string whose opening quote is at `i`.
fn end_of_string(text: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', text.get(j..)?)?;
        match text.get(k)? {
            b'\\' => j = k + 2,
            _ => return Some(k + 1),
        }
    }
}

/// Index just past the value starting at `i`.
fn skip_value(text: &[u8], i: usize) -> Option<usize> {
    match text.get(i)? {
        b'"' => end_of_string(text, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match text.get(j)? {
                    b'"' => {
                        j = end_of_string(text, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while text
                .get(j)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !is_ws(*b))
            {
                j += 1;
            }
            Some(j)
        }
    }
}

/// Finds the top-level member `key` of a JSON object text and returns the raw (still escaped)
/// content of its string value, without parsing the rest. `key` must be plain ASCII without
/// characters that need escaping. Returns `None` when the member is absent, is not a string,
/// or the text is not a well-formed object. Never panics.
pub fn find_top_level_string<'t>(text: &'t [u8], key: &str) -> Option<&'t [u8]> {
    let mut i = skip_ws_at(text, 0);
    if text.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws_at(text, i + 1);
    if text.get(i) == Some(&b'}') {
        return None;
    }
    loop {
        if text.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = end_of_string(text, i)?;
        let found = text.get(i + 1..key_end - 1)?;
        i = skip_ws_at(text, key_end);
        if text.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws_at(text, i + 1);
        if found == key.as_bytes() {
            if text.get(i) != Some(&b'"') {
                return None;
            }
            let end = end_of_string(text, i)?;
            return text.get(i + 1..end - 1);
        }
        i = skip_ws_at(text, skip_value(text, i)?);
        match text.get(i)? {
            b',' => i = skip_ws_at(text, i + 1),
            _ => return None,
        }
    }
}

/// Re-indents a compact JSON text (such as the canonical form) the way Python's
/// `json.dumps(..., indent=indent)` lays it out: one member or element a line, `": "` after
/// keys, empty containers kept as `{}` and `[]`. Strings are copied as they are.
pub fn pretty(compact: &[u8], indent: usize) -> String {
    let mut out = Vec::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut i = 0;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', depth * indent));
    };
    while let Some(&b) = compact.get(i) {
        match b {
            b'"' => {
                let end = end_of_string(compact, i).unwrap_or(compact.len());
                out.extend_from_slice(compact.get(i..end).unwrap_or_default());
                i = end;
                continue;
            }
            b'{' | b'[' => {
                let close = if b == b'{' { b'}' } else { b']' };
                if compact.get(i + 1) == Some(&close) {
                    out.extend_from_slice(&[b, close]);
                    i += 2;
                    continue;
                }
                out.push(b);
                depth += 1;
                newline(&mut out, depth);
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(b);
            }
            b',' => {
                out.push(b',');
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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

    fn node(&self, idx: u32) -> Node {
        self.nodes.get(idx as usize).copied().unwrap_or(Node::Null)
    }

    fn text(&self, span: Span) -> &[u8] {
        let start = span.start as usize;
        self.arena
            .get(start..start + span.len as usize)
            .unwrap_or_default()
    }

    fn key_text(&self, idx: u32) -> &[u8] {
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

    fn surrogate_offset(&self, idx: u32) -> usize {
        self.surrogates
            .iter()
            .find(|(node, _)| *node == idx)
            .map_or(0, |(_, offset)| *offset as usize)
    }

    fn subtree_end(&self, idx: u32) -> u32 {
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
        CanonicalWriter {
            doc: self.doc,
            out,
            mode,
            members: Vec::new(),
            stack: Vec::new(),
        }
        .run(self.idx)
    }
}

enum WriteFrame {
    Array {
        next: u32,
        end: u32,
        first: bool,
    },
    Object {
        start: usize,
        pos: usize,
        end: usize,
    },
}

struct CanonicalWriter<'d, 'o> {
    doc: &'d Doc,
    out: &'o mut Vec<u8>,
    mode: Mode,
    /// (key node, value node) pairs of the objects being written, as a stack of ranges.
    members: Vec<(u32, u32)>,
    stack: Vec<WriteFrame>,
}

impl CanonicalWriter<'_, '_> {
    fn run(mut self, root: u32) -> Result<(), JsonError> {
        self.value(root)?;
        while let Some(frame) = self.stack.last_mut() {
            match frame {
                WriteFrame::Array { next, end, first } => {
                    if *next >= *end {
                        self.out.push(b']');
                        self.stack.pop();
                        continue;
                    }
                    if !*first {
                        self.out.push(b',');
                    }
                    *first = false;
                    let child = *next;
                    *next = self.doc.subtree_end(child);
                    self.value(child)?;
                }
                WriteFrame::Object { start, pos, end } => {
                    if *pos >= *end {
                        let start = *start;
                        self.out.push(b'}');
                        self.members.truncate(start);
                        self.stack.pop();
                        continue;
                    }
                    if *pos > *start {
                        self.out.push(b',');
                    }
                    let (k, v) = self.members.get(*pos).copied().unwrap_or((0, 0));
                    *pos += 1;
                    self.string(k)?;
                    self.out.push(b':');
                    self.value(v)?;
                }
            }
        }
        Ok(())
    }

    fn string(&mut self, idx: u32) -> Result<(), JsonError> {
        let doc = self.doc;
        write_wtf8_string(doc.key_text(idx), self.out, self.mode).map_err(|()| JsonError {
            offset: doc.surrogate_offset(idx),
            kind: JsonErrorKind::LoneSurrogate,
        })
    }

    fn value(&mut self, idx: u32) -> Result<(), JsonError> {
        match self.doc.node(idx) {
            Node::Null => self.out.extend_from_slice(b"null"),
            Node::True => self.out.extend_from_slice(b"true"),
            Node::False => self.out.extend_from_slice(b"false"),
            Node::Int(span) | Node::Float(span) => {
                self.out.extend_from_slice(self.doc.text(span));
            }
            Node::NonFinite { text, offset } => {
                if self.mode == Mode::Strict {
                    return Err(JsonError {
                        offset: offset as usize,
                        kind: JsonErrorKind::NonFinite,
                    });
                }
                self.out.extend_from_slice(self.doc.text(text));
            }
            Node::Str(_) => self.string(idx)?,
            Node::Array { count: 0, .. } => self.out.extend_from_slice(b"[]"),
            Node::Array { end, .. } => {
                self.out.push(b'[');
                self.stack.push(WriteFrame::Array {
                    next: idx + 1,
                    end,
                    first: true,
                });
            }
            Node::Object { count: 0, .. } => self.out.extend_from_slice(b"{}"),
            Node::Object { count, .. } => {
                let start = self.members.len();
                let mut at = idx + 1;
                for _ in 0..count {
                    self.members.push((at, at + 1));
                    at = self.doc.subtree_end(at + 1);
                }
                let doc = self.doc;
                let key = |i: u32| doc.key_text(i);
                if let Some(slice) = self.members.get_mut(start..) {
                    // Sort by key (WTF-8 byte order is code point order, as Python sorts),
                    // then by position, so the last of equal keys comes last.
                    slice.sort_unstable_by(|a, b| key(a.0).cmp(key(b.0)).then(a.0.cmp(&b.0)));
                }
                // Python keeps the last value of a repeated key.
                let mut write = start;
                for read in start..self.members.len() {
                    let cur = self.members.get(read).copied().unwrap_or((0, 0));
                    let next_same = self
                        .members
                        .get(read + 1)
                        .is_some_and(|n| key(n.0) == key(cur.0));
                    if !next_same {
                        if let Some(slot) = self.members.get_mut(write) {
                            *slot = cur;
                        }
                        write += 1;
                    }
                }
                self.members.truncate(write);
                self.out.push(b'{');
                self.stack.push(WriteFrame::Object {
                    start,
                    pos: start,
                    end: write,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        canonicalize(s.as_bytes()).unwrap()
    }

    fn err(s: &str) -> JsonErrorKind {
        canonicalize(s.as_bytes()).unwrap_err().kind
    }

    #[test]
    fn scalars() {
        assert_eq!(canon(" null "), "null");
        assert_eq!(canon("-0"), "0");
        assert_eq!(canon("-0.0"), "-0.0");
        assert_eq!(canon("1e2"), "100.0");
        assert_eq!(canon("1E+16"), "1e+16");
        assert_eq!(canon("0.00001"), "1e-05");
        assert_eq!(canon("0.0001"), "0.0001");
        assert_eq!(
            canon("123456789012345678901234567890"),
            "123456789012345678901234567890"
        );
        assert_eq!(canon("1e-400"), "0.0");
        assert_eq!(canon("5e-324"), "5e-324");
    }

    /// Python's float() refuses more than a billion digits after the point (a 1 GB text:
    /// `cargo test -p trailseal-core --lib -- --ignored billion`).
    #[test]
    #[ignore = "builds a 1 GB text"]
    fn a_billion_digits_python_refuses() {
        let mut text = String::from("0.");
        text.push_str(&"0".repeat(1_000_000_001));
        assert_eq!(err(&text), JsonErrorKind::FloatTooLong);
        text.pop();
        assert_eq!(canon(&text), "0.0");
    }

    #[test]
    fn strings() {
        assert_eq!(canon(r#""\u007f\/""#), r#""\u007f/""#);
        assert_eq!(canon("\"\u{1F600}\""), r#""\ud83d\ude00""#);
        assert_eq!(canon(r#""\uD83D\uDE00""#), r#""\ud83d\ude00""#);
        assert_eq!(canon("\"\u{7f}é\""), r#""\u007f\u00e9""#);
    }

    #[test]
    fn objects_sort_and_keep_last_duplicate() {
        assert_eq!(canon(r#"{"b":1,"a":2,"b":3}"#), r#"{"a":2,"b":3}"#);
        assert_eq!(
            canon("{\"\u{1F600}\":1,\"\u{FFFF}\":2}"),
            r#"{"\uffff":2,"\ud83d\ude00":1}"#
        );
    }

    #[test]
    fn rejections() {
        assert_eq!(err("NaN"), JsonErrorKind::NonFinite);
        assert_eq!(err("-Infinity"), JsonErrorKind::NonFinite);
        assert_eq!(err("1e400"), JsonErrorKind::NonFinite);
        assert_eq!(err(r#""\ud800""#), JsonErrorKind::LoneSurrogate);
        assert_eq!(err(r#""\udc00\ud800""#), JsonErrorKind::LoneSurrogate);
        assert_eq!(err("[1,]"), JsonErrorKind::ExpectingValue);
        assert_eq!(err(r#"{"a":1,}"#), JsonErrorKind::ExpectingPropertyName);
        assert_eq!(err("01"), JsonErrorKind::ExtraData);
        assert_eq!(err("1."), JsonErrorKind::ExtraData);
        assert_eq!(err("\u{feff}1"), JsonErrorKind::UnexpectedBom);
        assert_eq!(err("\"a\nb\""), JsonErrorKind::InvalidControlCharacter);
        assert_eq!(err(&"1".repeat(4301)), JsonErrorKind::IntegerTooLong);
        assert_eq!(canon(&"1".repeat(4300)).len(), 4300);
        assert_eq!(err(""), JsonErrorKind::ExpectingValue);
        assert_eq!(err("[1 2]"), JsonErrorKind::ExpectingComma);
    }

    #[test]
    fn python_mode_writes_what_python_writes() {
        let py = |s: &str| {
            let doc = parse(s.as_bytes()).unwrap();
            let mut out = Vec::new();
            doc.root().write_canonical(&mut out, Mode::Python).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            py("[NaN,Infinity,-Infinity,1e999,-1e999]"),
            "[NaN,Infinity,-Infinity,Infinity,-Infinity]"
        );
        assert_eq!(
            py(r#"{"\ud800":"\udfff\ud83d\ude00"}"#),
            r#"{"\ud800":"\udfff\ud83d\ude00"}"#
        );
        // Surrogates sort by code point, between U+D7FF and U+E000.
        assert_eq!(
            py(r#"{"\ue000":1,"\udc00":2,"\ud7ff":3}"#),
            r#"{"\ud7ff":3,"\udc00":2,"\ue000":1}"#
        );
        // A dropped duplicate value is never written, so it is no error even in strict mode.
        assert_eq!(canon(r#"{"a":NaN,"a":"\ud800x","a":1}"#), r#"{"a":1}"#);
        assert!(parse(b"[1,NaN]").unwrap().check_strict().is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert_eq!(
            err(&deep),
            JsonErrorKind::TooDeep {
                limit: DEFAULT_MAX_DEPTH
            }
        );
        let ok = "[".repeat(DEFAULT_MAX_DEPTH) + &"]".repeat(DEFAULT_MAX_DEPTH);
        assert_eq!(canon(&ok), ok);
    }

    #[test]
    fn top_level_string_scan() {
        let text = br#"{"a":{"action_id":"no"},"action_id":"x\"y","b":[1,"]"],"invoked_at":"t"}"#;
        assert_eq!(
            find_top_level_string(text, "action_id"),
            Some(&br#"x\"y"#[..])
        );
        assert_eq!(find_top_level_string(text, "invoked_at"), Some(&b"t"[..]));
        assert_eq!(find_top_level_string(text, "b"), None);
        assert_eq!(find_top_level_string(text, "zz"), None);
        for cut in 0..text.len() {
            let _ = find_top_level_string(&text[..cut], "invoked_at");
        }
    }

    #[test]
    fn pretty_matches_python_indent() {
        let text = br#"{"a":[1,{"b":"x,:{"}],"c":{},"d":[]}"#;
        assert_eq!(
            pretty(text, 2),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"x,:{\"\n    }\n  ],\n  \"c\": {},\n  \"d\": []\n}"
        );
    }

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
