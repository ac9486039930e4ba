//! `jsonl_format`: the JSONL line format in memory, without a file or a store.
//!
//! The bytes are a JSONL file. Checked, whatever they are:
//!
//! - splitting: the format's in-memory splitter ([`split_lines`]) and the store's bounded
//!   reader ([`LineReader`], over buffers of a few bytes, with and without a line limit) find
//!   the same lines at the same offsets, and the limit keeps only a line's beginning;
//! - stripping: [`strip_line`] fails exactly on invalid UTF-8, leaves no Python whitespace at
//!   either end, and only ever removes bytes from the ends;
//! - records: every line read as a record writes back ([`write_record_line`]) as a line that
//!   reads as the same record; a trace the reader re-canonicalised is canonical; a record line
//!   that trailseal writes is never taken for an interrupted write, and every cut of it short
//!   of its end is taken for the interrupted write of exactly that record;
//! - headers: every header line read writes back ([`Header::to_line`]) as the same header.

use std::io::BufReader;

use trailseal::store::lines::LineReader;
use trailseal_core::jsonl::{
    Header, ReadLine, Terminators, action_id_of, claimed_seq, is_python_space,
    is_strict_record_prefix, is_torn_after, lstrip, parse_line, split_lines, strip_line,
    write_record_line,
};
use trailseal_core::verify::TraceEncoding;
use trailseal_core::{Hash32, KeyId};

use crate::python_canonical;

/// A line limit small enough that fuzzed lines go over it.
const SMALL_MAX: usize = 24;

pub fn jsonl_format(data: &[u8]) {
    let lines: Vec<_> = split_lines(data, Terminators::Universal).collect();
    for (chunk, max) in [(1, usize::MAX), (7, usize::MAX), (7, SMALL_MAX)] {
        let mut reader = LineReader::new(
            BufReader::with_capacity(chunk, data),
            Terminators::Universal,
            max,
            0,
            0,
        );
        let mut n = 0usize;
        while let Ok(Some(line)) = reader.next_line() {
            assert!(
                n < lines.len(),
                "the file reader finds more lines than the splitter"
            );
            let Some(want) = lines.get(n) else { break };
            assert_eq!(line.offset, want.offset as u64, "line {n} starts elsewhere");
            assert_eq!(
                line.len,
                want.bytes.len() as u64,
                "line {n} has another length"
            );
            assert_eq!(line.ended, want.ended, "line {n} ends otherwise");
            let kept = want.bytes.get(..max.min(want.bytes.len()));
            assert_eq!(Some(line.bytes), kept, "line {n} holds other bytes");
            assert_eq!(line.oversized, want.bytes.len() > max);
            n += 1;
        }
        assert_eq!(
            n,
            lines.len(),
            "the file reader finds fewer lines than the splitter"
        );
    }
    for (i, line) in lines.iter().enumerate() {
        check_strip(line.bytes);
        let number = i as u64 + 1;
        let read = ReadLine::new(
            number,
            line.bytes,
            line.bytes.len() as u64,
            line.ended,
            1 << 20,
        );
        let _ = claimed_seq(line.bytes);
        let _ = is_torn_after(line.bytes, None);
        if let Ok(text) = read.text {
            if let Ok(Some(header)) = Header::parse(text) {
                let again = header.to_line();
                assert_eq!(
                    Header::parse(again.trim_end_matches('\n').as_bytes()),
                    Ok(Some(header)),
                    "a header does not read back as written"
                );
            }
            if let Ok(record) = parse_line(text) {
                check_record(&record);
            }
        }
        let _ = read.record();
    }
}

fn check_strip(bytes: &[u8]) {
    let stripped = strip_line(bytes);
    assert_eq!(
        stripped.is_ok(),
        std::str::from_utf8(bytes).is_ok(),
        "strip_line fails on valid UTF-8 or passes invalid"
    );
    if let Ok(text) = stripped {
        let s = std::str::from_utf8(text).unwrap_or_default();
        assert!(
            !s.starts_with(is_python_space) && !s.ends_with(is_python_space),
            "whitespace left at an end"
        );
        assert!(
            bytes.windows(text.len().max(1)).any(|w| w == text) || text.is_empty(),
            "stripping changed the inside of a line"
        );
    }
    assert!(bytes.ends_with(lstrip(bytes)) || std::str::from_utf8(bytes).is_err());
}

fn check_record(record: &trailseal_core::jsonl::LineRecord<'_>) {
    let _ = action_id_of(record);
    if record.encoding == TraceEncoding::Canonical {
        assert_eq!(
            python_canonical(&record.trace).as_deref(),
            Some(&*record.trace),
            "a trace the reader re-canonicalised is canonical"
        );
    }
    let kid = record.kid.as_deref().and_then(KeyId::parse);
    let mut line = Vec::new();
    write_record_line(
        &mut line,
        record.seq,
        &record.prev_hash,
        &record.record_hash,
        kid,
        &record.trace,
    );
    let text = line.strip_suffix(b"\n");
    assert!(
        text.is_some(),
        "a record line is written without its line end"
    );
    let Some(text) = text else { return };
    assert!(
        split_lines(text, Terminators::Universal).count() == 1,
        "a record line is written with a line end inside"
    );
    let again = parse_line(text);
    assert!(again.is_ok(), "a record line written does not read back");
    let Ok(again) = again else { return };
    assert_eq!(again.seq, record.seq);
    assert_eq!(again.prev_hash, record.prev_hash);
    assert_eq!(again.record_hash, record.record_hash);
    assert_eq!(again.trace, record.trace, "the trace reads back otherwise");
    assert_eq!(
        again.kid.as_deref().and_then(KeyId::parse),
        kid,
        "the key id reads back otherwise"
    );
    // The torn-tail check, on lines as trailseal writes them (hex hashes, a canonical trace).
    let written_by_us = Hash32::parse(&record.prev_hash).is_some()
        && Hash32::parse(&record.record_hash).is_some()
        && python_canonical(&record.trace).as_deref() == Some(&*record.trace);
    if !written_by_us {
        return;
    }
    assert!(
        !is_strict_record_prefix(text),
        "a whole record line is taken for an interrupted write"
    );
    let head = (record.seq, &*record.prev_hash);
    let step = (text.len() / 16).max(1);
    for cut in (1..text.len()).step_by(step) {
        let Some(part) = text.get(..cut) else { break };
        assert!(
            is_torn_after(part, Some(head)),
            "a record line cut after {cut} bytes is not taken for its interrupted write"
        );
    }
}
