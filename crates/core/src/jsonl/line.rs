//! Reading one line of a JSONL store as a record.

use std::borrow::Cow;

use crate::json::{self, Kind, Mode};
use crate::verify::TraceEncoding;

use super::text::{LineProblem, strip_line};
use super::torn::claimed_seq;

/// One line read as a record.
#[derive(Debug)]
pub struct LineRecord<'a> {
    pub seq: u64,
    pub prev_hash: Cow<'a, [u8]>,
    pub record_hash: Cow<'a, [u8]>,
    /// The key id the line names, if it has one (weaver-kernel's lines have none).
    pub kid: Option<Cow<'a, [u8]>>,
    /// The trace: as stored ([`TraceEncoding::Stored`], read by the fast path: the layout
    /// trailseal writes), or put in canonical form ([`TraceEncoding::Canonical`]).
    pub trace: Cow<'a, [u8]>,
    pub encoding: TraceEncoding,
}

/// Why a line is not a record (and the seq it claims, when readable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub seq: Option<u64>,
    pub problem: String,
}

fn take_hex(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = input.iter().position(|b| *b == b'"')?;
    let (hex, rest) = input.split_at(end);
    hex.iter()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        .then_some((hex, rest.get(1..)?))
}

/// Reads a line in exactly the layout trailseal writes, without parsing the trace.
fn fast_parse(line: &[u8]) -> Option<LineRecord<'_>> {
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (num, rest) = rest.split_at(digits);
    if num.is_empty() || (num.len() > 1 && num.first() == Some(&b'0')) {
        return None;
    }
    let seq: u64 = std::str::from_utf8(num).ok()?.parse().ok()?;
    let rest = rest.strip_prefix(b",\"prev_hash\":\"")?;
    let (prev_hash, rest) = take_hex(rest)?;
    let rest = rest.strip_prefix(b",\"record_hash\":\"")?;
    let (record_hash, rest) = take_hex(rest)?;
    let (kid, rest) = match rest.strip_prefix(b",\"kid\":\"") {
        Some(r) => {
            let (kid, r) = take_hex(r)?;
            (Some(Cow::Borrowed(kid)), r)
        }
        None => (None, rest),
    };
    let trace = rest.strip_prefix(b",\"trace\":")?.strip_suffix(b"}")?;
    // The trace must be the line's last member: `{"a":1},"x":{"b":2}` is not one value (the
    // general reader takes such a line).
    if !json::is_one_bracketed_value(trace) {
        return None;
    }
    Some(LineRecord {
        seq,
        prev_hash: Cow::Borrowed(prev_hash),
        record_hash: Cow::Borrowed(record_hash),
        kid,
        trace: Cow::Borrowed(trace),
        encoding: TraceEncoding::Stored,
    })
}

/// Reads one non-blank line (stripped, see [`strip_line`]) as weaver-kernel would.
pub fn parse_line(line: &[u8]) -> Result<LineRecord<'_>, BadLine> {
    if let Some(record) = fast_parse(line) {
        return Ok(record);
    }
    let bad = |seq, problem: String| BadLine { seq, problem };
    let doc = json::parse(line).map_err(|e| bad(None, format!("not valid JSON: {e}")))?;
    let root = doc.root();
    if root.kind() != Kind::Object {
        return Err(bad(
            None,
            format!("a JSON {}, not a record object", root.kind().name()),
        ));
    }
    let seq = match root.get("seq") {
        None => return Err(bad(None, "no seq field".into())),
        Some(n) => n
            .as_u64()
            .ok_or_else(|| bad(None, "seq is not a non-negative integer".into()))?,
    };
    let string = |name: &'static str| -> Result<Vec<u8>, BadLine> {
        match root.get(name) {
            None => Err(bad(Some(seq), format!("no {name} field"))),
            Some(n) => n
                .as_str()
                .map(|s| s.as_bytes().to_vec())
                .ok_or_else(|| bad(Some(seq), format!("{name} is not a string"))),
        }
    };
    let prev_hash = string("prev_hash")?;
    let record_hash = string("record_hash")?;
    let kid = match root.get("kid") {
        None => None,
        Some(n) => Some(Cow::Owned(
            n.as_str()
                .ok_or_else(|| bad(Some(seq), "kid is not a string".into()))?
                .as_bytes()
                .to_vec(),
        )),
    };
    let trace = root
        .get("trace")
        .ok_or_else(|| bad(Some(seq), "no trace field".into()))?;
    let mut canonical = Vec::with_capacity(line.len());
    trace
        .write_canonical(&mut canonical, Mode::Python)
        .map_err(|e| bad(Some(seq), format!("trace cannot be canonicalised: {e}")))?;
    Ok(LineRecord {
        seq,
        prev_hash: Cow::Owned(prev_hash),
        record_hash: Cow::Owned(record_hash),
        kid,
        trace: Cow::Owned(canonical),
        encoding: TraceEncoding::Canonical,
    })
}

/// Reads a line as [`parse_line`] does; a last line without its newline (`ended` false) must
/// also be complete JSON. The fast reader checks only the ends of a line, so a record line cut
/// just before its closing brace would otherwise pass as a record whose trace lost its own.
pub fn parse_line_ended(line: &[u8], ended: bool) -> Result<LineRecord<'_>, BadLine> {
    let record = parse_line(line)?;
    if !ended
        && record.encoding == TraceEncoding::Stored
        && let Err(e) = json::parse(line)
    {
        return Err(BadLine {
            seq: Some(record.seq),
            problem: format!("not valid JSON: {e}"),
        });
    }
    Ok(record)
}

/// The `action_id` of a record's trace, if readable.
pub fn action_id_of(record: &LineRecord<'_>) -> Option<String> {
    let raw = json::find_top_level_string(&record.trace, "action_id")?;
    if !raw.contains(&b'\\') {
        return std::str::from_utf8(raw).ok().map(str::to_owned);
    }
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    json::parse(&quoted)
        .ok()?
        .root()
        .as_str()
        .map(str::to_owned)
}

/// A line of a store as read: its bytes as stored, and its text (stripped as weaver-kernel
/// strips it) or why it has none.
#[derive(Debug, Clone)]
pub struct ReadLine<'a> {
    /// The 1-based line number (0 when not counted).
    pub number: u64,
    /// The line without its line end, as stored (for a line over the record limit, only its
    /// beginning).
    pub raw: &'a [u8],
    /// Its text, stripped; or why it cannot be read as one.
    pub text: Result<&'a [u8], String>,
    /// Whether a line end follows it.
    pub ended: bool,
}

impl<'a> ReadLine<'a> {
    /// A line of `len` bytes (without its line end) whose first bytes are `raw`: all of them
    /// unless `len` is over `max`, the longest line read as a record.
    pub fn new(number: u64, raw: &'a [u8], len: u64, ended: bool, max: usize) -> Self {
        let text = if len > max as u64 {
            Err(format!(
                "the line is {len} bytes, over the limit of {max} bytes a record may have"
            ))
        } else {
            strip_line(raw).map_err(|LineProblem::NotUtf8 { at }| {
                format!("not valid UTF-8 (byte {} of the line)", at + 1)
            })
        };
        Self {
            number,
            raw,
            text,
            ended,
        }
    }

    /// Whether the line is blank (whitespace only, as Python strips it).
    pub fn is_blank(&self) -> bool {
        self.text.as_ref().is_ok_and(|t| t.is_empty())
    }

    /// The line read as a record (a last line without its line end must be complete JSON).
    pub fn record(&self) -> Result<LineRecord<'_>, BadLine> {
        match &self.text {
            Ok(text) => parse_line_ended(text, self.ended),
            Err(problem) => Err(BadLine {
                seq: claimed_seq(self.raw),
                problem: problem.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const H: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn both_readers_agree_on_the_layout_trailseal_writes() {
        let line = format!(
            r#"{{"seq":7,"prev_hash":"{H}","record_hash":"{H}","kid":"ab12","trace":{{"a":1}}}}"#
        );
        let fast = parse_line(line.as_bytes()).unwrap();
        assert_eq!(fast.encoding, TraceEncoding::Stored);
        let spaced = line.replace(",\"", ", \"");
        let slow = parse_line(spaced.as_bytes()).unwrap();
        assert_eq!(slow.encoding, TraceEncoding::Canonical);
        assert_eq!(
            (fast.seq, &fast.prev_hash, &fast.kid, &fast.trace),
            (slow.seq, &slow.prev_hash, &slow.kid, &slow.trace)
        );
        let cut = &line[..line.len() - 1];
        assert!(
            parse_line(cut.as_bytes()).is_err(),
            "the trace lost its brace"
        );
        assert!(parse_line_ended(cut.as_bytes(), false).is_err());
    }

    #[test]
    fn a_compact_line_with_members_after_the_trace_reads_as_its_spaced_spelling() {
        for after in [
            r#","kid":"ab12""#,
            r#","x":{"b":2}"#,
            r#","seq":7"#,
            r#","y":[1,{"c":"}"}]"#,
        ] {
            let line = format!(
                r#"{{"seq":7,"prev_hash":"{H}","record_hash":"{H}","trace":{{"a":1}}{after}}}"#
            );
            let compact = parse_line(line.as_bytes()).unwrap();
            let spaced = line.replace(",\"", ", \"");
            let slow = parse_line(spaced.as_bytes()).unwrap();
            assert_eq!(compact.encoding, TraceEncoding::Canonical, "{line}");
            assert_eq!(
                (compact.seq, &compact.kid, &compact.trace),
                (slow.seq, &slow.kid, &slow.trace),
                "{line}"
            );
            assert_eq!(&*compact.trace, b"{\"a\":1}");
        }
    }

    #[test]
    fn a_kid_that_is_not_a_string_is_refused() {
        for kid in ["7", "null", "true", "[\"ab12\"]", "{\"k\":\"ab12\"}"] {
            let line = format!(
                r#"{{"seq":2,"prev_hash":"{H}","record_hash":"{H}","kid":{kid},"trace":{{"a":1}}}}"#
            );
            let bad = parse_line(line.as_bytes()).unwrap_err();
            assert_eq!(
                (bad.seq, bad.problem.as_str()),
                (Some(2), "kid is not a string"),
                "{line}"
            );
        }
    }

    #[test]
    fn a_line_over_the_limit_or_not_utf8_has_no_text() {
        let long = ReadLine::new(3, b"{\"seq\":5,", 100, true, 10);
        let bad = long.record().unwrap_err();
        assert_eq!(bad.seq, Some(5));
        assert!(
            bad.problem.contains("over the limit of 10 bytes"),
            "{bad:?}"
        );
        let latin = ReadLine::new(1, b"{\xff}", 3, true, 10);
        assert_eq!(
            latin.text,
            Err("not valid UTF-8 (byte 2 of the line)".to_owned())
        );
        assert!(ReadLine::new(1, b" \t", 2, true, 10).is_blank());
    }
}
