//! Stored records as the Python side receives them: each as a tuple whose trace is the
//! canonical text its MAC covers, and a record that cannot be read as `CorruptRecordError`.

use trailseal::AuditLog;
use trailseal::core::json::{self, Mode};
use trailseal::core::verify::{Flow, ScanItem};

use crate::errors::{Raised, Result};

/// A stored record as Python receives it: seq, prev_hash, record_hash and the trace as the
/// canonical JSON text its MAC covers.
pub(crate) type RecordTuple = (u64, String, String, String);

/// The canonical text of a stored trace, or `CorruptRecordError` naming the record.
pub(crate) fn canonical(seq: u64, trace: &[u8]) -> Result<String> {
    let doc = json::parse(trace)
        .map_err(|e| Raised::corrupt(seq, None, format!("the trace is not JSON: {e}")))?;
    if doc.root().kind() != json::Kind::Object {
        return Err(Raised::corrupt(seq, None, "the trace is not a JSON object"));
    }
    let mut out = Vec::with_capacity(trace.len());
    doc.root()
        .write_canonical(&mut out, Mode::Python)
        .map_err(|e| Raised::corrupt(seq, None, format!("the trace has no canonical form: {e}")))?;
    String::from_utf8(out).map_err(|_| Raised::corrupt(seq, None, "the trace is not UTF-8"))
}

fn text(seq: u64, what: &str, bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Raised::corrupt(seq, None, format!("its {what} is not UTF-8")))
}

/// Hands each record from `from_seq` on to `keep`; stops at the first that cannot be read.
pub(crate) fn scan_records(
    log: &mut AuditLog,
    from_seq: u64,
    keep: &mut (dyn FnMut(RecordTuple) + Send),
) -> Result<()> {
    let location = log.location().to_owned();
    let mut failed = None;
    log.store_mut().scan(from_seq, &mut |item| {
        let converted = match item {
            ScanItem::Record(r) => canonical(r.seq, r.trace).and_then(|trace| {
                Ok((
                    r.seq,
                    text(r.seq, "prev_hash", r.prev_hash)?,
                    text(r.seq, "record_hash", r.record_hash)?,
                    trace,
                ))
            }),
            ScanItem::Malformed(m) => Err(Raised::malformed(&location, m)),
        };
        match converted {
            Ok(record) => {
                keep(record);
                Flow::Continue
            }
            Err(e) => {
                failed = Some(e);
                Flow::Stop
            }
        }
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
