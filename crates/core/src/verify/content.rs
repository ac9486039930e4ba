//! The content half of verification: one record's MAC and index columns, independent of the
//! chain's order, so it can run on many records in parallel.

use crate::chain::ChainKey;
use crate::json::{self, Kind};

use super::{Columns, RecordView, TraceEncoding};

/// The result of checking one record's content against its `record_hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentCheck {
    /// The MAC matches (and the index columns, if any, match the payload).
    Ok,
    /// The MAC does not match.
    Mismatch,
    /// The payload is not a JSON object.
    Malformed(String),
    /// The MAC matches but an index column differs from the authenticated payload.
    ColumnMismatch(&'static str),
    /// Not checked: the key that covers the record's seq (after a rotation in place) is not
    /// held ([`KeySchedule::check`](crate::KeySchedule::check)).
    NotHeld,
}

/// Checks record contents. Keeps a scratch buffer and a hint about whether this store's
/// payloads are stored canonically, so the common case costs one MAC and no parsing.
#[derive(Debug, Default)]
pub struct ContentChecker {
    scratch: Vec<u8>,
    expect_noncanonical: bool,
    /// The last check's MAC matched over `scratch` (re-canonicalised bytes), not the stored ones.
    matched_scratch: bool,
    recanon: crate::recanon::Recanonicalizer,
}

impl ContentChecker {
    /// A checker with an empty scratch buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks `record` against its `record_hash` with `key`. Never panics.
    pub fn check(&mut self, key: &ChainKey, record: &RecordView<'_>) -> ContentCheck {
        self.matched_scratch = false;
        let try_stored = record.encoding == TraceEncoding::Canonical || !self.expect_noncanonical;
        if try_stored {
            let mac = key.record_hash(record.seq, record.prev_hash, record.trace);
            if mac.ct_eq_stored(record.record_hash) {
                self.expect_noncanonical = false;
                return match record.columns {
                    Some(cols) => check_columns_canonical(record.trace, cols),
                    None => ContentCheck::Ok,
                };
            }
            if record.encoding == TraceEncoding::Canonical {
                return ContentCheck::Mismatch;
            }
        }
        // weaver-kernel's `json.dumps` payloads: one pass, no document, when it applies.
        if record.trace.first() == Some(&b'{') && self.recanon.run(record.trace, &mut self.scratch)
        {
            if try_stored && self.scratch == record.trace {
                return ContentCheck::Mismatch;
            }
            self.expect_noncanonical = true;
            let mac = key.record_hash(record.seq, record.prev_hash, &self.scratch);
            if !mac.ct_eq_stored(record.record_hash) {
                return ContentCheck::Mismatch;
            }
            self.matched_scratch = true;
            return match record.columns {
                Some(cols) => check_columns_canonical(&self.scratch, cols),
                None => ContentCheck::Ok,
            };
        }
        let doc = match json::parse(record.trace) {
            Ok(doc) => doc,
            Err(e) => return ContentCheck::Malformed(format!("payload is not valid JSON: {e}")),
        };
        let root = doc.root();
        if root.kind() != Kind::Object {
            return ContentCheck::Malformed(format!(
                "payload is a JSON {}, not an object",
                root.kind().name()
            ));
        }
        self.scratch.clear();
        // Python mode: weaver-kernel hashed NaN, Infinity and lone surrogates as Python prints them.
        if let Err(e) = root.write_canonical(&mut self.scratch, json::Mode::Python) {
            return ContentCheck::Malformed(format!("payload cannot be canonicalised: {e}"));
        }
        if try_stored && self.scratch == record.trace {
            return ContentCheck::Mismatch;
        }
        self.expect_noncanonical = true;
        let mac = key.record_hash(record.seq, record.prev_hash, &self.scratch);
        if !mac.ct_eq_stored(record.record_hash) {
            return ContentCheck::Mismatch;
        }
        self.matched_scratch = true;
        match record.columns {
            Some(cols) => {
                let field = |name: &str| root.get(name).and_then(|n| n.as_str());
                if field("action_id").map(str::as_bytes) != Some(cols.action_id) {
                    ContentCheck::ColumnMismatch("action_id")
                } else if field("invoked_at").map(str::as_bytes) != Some(cols.invoked_at) {
                    ContentCheck::ColumnMismatch("invoked_at")
                } else {
                    ContentCheck::Ok
                }
            }
            None => ContentCheck::Ok,
        }
    }

    /// The canonical trace bytes the last [`ContentChecker::check`] of `record` verified the
    /// MAC over: the stored bytes, or their re-canonicalised form. Meaningful only after that
    /// check returned [`ContentCheck::Ok`] (or [`ContentCheck::ColumnMismatch`]).
    pub fn verified_trace<'a>(&'a self, record: &RecordView<'a>) -> &'a [u8] {
        if self.matched_scratch {
            &self.scratch
        } else {
            record.trace
        }
    }
}

const ACTION_ID_NEEDLE: &[u8] = b"\"action_id\":\"";
const INVOKED_AT_NEEDLE: &[u8] = b"\"invoked_at\":\"";

/// Where a top-level string member's raw value is, in a canonical (MAC-verified) payload.
///
/// Fast paths: the payload's first member (`action_id` sorts first in the export shape), or
/// the only occurrence of `"name":"` in the payload (the top-level member exists in every
/// export-shape trace, so a lone occurrence is it). Otherwise a structural scan.
fn locate<'t>(trace: &'t [u8], name: &str, needle: &[u8]) -> Option<&'t [u8]> {
    let value_at = |start: usize| {
        let rest = trace.get(start..)?;
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        (rest.get(end) == Some(&b'"'))
            .then(|| rest.get(..end))
            .flatten()
    };
    if trace.first() == Some(&b'{')
        && trace.get(1..).is_some_and(|t| t.starts_with(needle))
        && let Some(v) = value_at(1 + needle.len())
    {
        return Some(v);
    }
    static FINDERS: std::sync::OnceLock<[memchr::memmem::Finder<'static>; 2]> =
        std::sync::OnceLock::new();
    let finders = FINDERS.get_or_init(|| {
        [
            memchr::memmem::Finder::new(ACTION_ID_NEEDLE),
            memchr::memmem::Finder::new(INVOKED_AT_NEEDLE),
        ]
    });
    let finder = if needle == ACTION_ID_NEEDLE {
        &finders[0]
    } else {
        &finders[1]
    };
    let mut hits = finder.find_iter(trace);
    if let (Some(at), None) = (hits.next(), hits.next())
        && let Some(v) = value_at(at + needle.len())
    {
        return Some(v);
    }
    json::find_top_level_string(trace, name)
}

fn check_columns_canonical(trace: &[u8], cols: Columns<'_>) -> ContentCheck {
    for (name, needle, column) in [
        ("action_id", ACTION_ID_NEEDLE, cols.action_id),
        ("invoked_at", INVOKED_AT_NEEDLE, cols.invoked_at),
    ] {
        let matches = match locate(trace, name, needle) {
            Some(raw) if !raw.contains(&b'\\') => raw == column,
            Some(raw) => {
                let mut quoted = Vec::with_capacity(raw.len() + 2);
                quoted.push(b'"');
                quoted.extend_from_slice(raw);
                quoted.push(b'"');
                json::parse(&quoted)
                    .ok()
                    .is_some_and(|d| d.root().as_str().map(str::as_bytes) == Some(column))
            }
            None => false,
        };
        if !matches {
            return ContentCheck::ColumnMismatch(name);
        }
    }
    ContentCheck::Ok
}
