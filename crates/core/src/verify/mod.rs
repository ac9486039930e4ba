//! Streaming chain verification.
//!
//! A store feeds records in chain order to a [`Verifier`]; it keeps only the expected next seq
//! and `prev_hash`, so memory does not grow with the store. Each record is checked as
//! weaver-kernel 0.12.0 checks it, in the same order (seq, then link, then MAC), so the first
//! failure — and its seq — is the same one weaver-kernel reports. On top of that trailseal
//! reports records it cannot read as `malformed` instead of raising, checks the index columns
//! a table store keeps beside the payload, and tells a wrong secret from tampering.
//!
//! The content check ([`ContentChecker`]) is independent of the sequential state, so callers
//! may run it on many records in parallel and feed the results in order with
//! [`Verifier::feed_checked`]; the verdict is the same as feeding records one by one.

mod content;
mod verifier;

pub use content::{ContentCheck, ContentChecker};
pub use verifier::{Expectation, SealedEnd, Verifier};

/// How the trace bytes of a record were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceEncoding {
    /// Text exactly as stored; usually the canonical form, but weaver-kernel's SQLite store
    /// keeps `json.dumps` output, so it is re-canonicalised when the stored bytes do not match.
    Stored,
    /// Already canonicalised by the reader.
    Canonical,
}

/// Index columns a table store keeps beside the payload (weaver-kernel's `action_id` and
/// `invoked_at`). They are not covered by the MAC, so they are checked against the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns<'a> {
    pub action_id: &'a [u8],
    pub invoked_at: &'a [u8],
}

/// One stored record, borrowed from the store's read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub seq: u64,
    pub prev_hash: &'a [u8],
    pub record_hash: &'a [u8],
    pub trace: &'a [u8],
    pub encoding: TraceEncoding,
    pub columns: Option<Columns<'a>>,
}

/// A stored record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedRecord {
    /// The seq the record claims, when it could be read.
    pub seq: Option<u64>,
    /// Where it is, e.g. `line 40`.
    pub location: String,
    /// What is wrong, without the location.
    pub problem: String,
    /// The record is the last one and incomplete: an interrupted write, not an edit.
    pub torn: bool,
}

/// An item of a store scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanItem<'a> {
    Record(RecordView<'a>),
    Malformed(MalformedRecord),
}

/// Whether to keep feeding records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}
