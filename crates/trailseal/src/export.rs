//! Writing chains out as self-contained JSONL stores: exports and prune archives.

use std::io::Write;
use std::ops::RangeInclusive;
use std::path::Path;

use trailseal_core::json::{self, Mode};
use trailseal_core::jsonl::{Header, write_record_line};
use trailseal_core::start::{StartKind, StoredKeyId};
use trailseal_core::verify::{Flow, ScanItem};
use trailseal_store::atomic::{AtomicFile, PRIVATE, Perms};
use trailseal_store::{Snapshot, StoreError, StoreState};

use crate::error::Error;
use crate::verify::Progress;

/// Writes the records of `snapshot` with seqs in `range` to `out` in the JSONL layout, after
/// `header` if given. Fails on a record that cannot be read; returns how many were written.
pub(crate) fn write_records(
    snapshot: &mut Snapshot<'_>,
    out: &mut dyn Write,
    location: &str,
    header: Option<&Header>,
    range: RangeInclusive<u64>,
    progress: &mut dyn FnMut(Progress),
) -> Result<u64, Error> {
    let state = &snapshot.state;
    let total_hint = state.record_count_hint;
    let io = |source| Error::Io {
        path: location.to_owned(),
        action: "write",
        source,
    };
    if let Some(header) = header {
        out.write_all(header.to_line().as_bytes()).map_err(io)?;
    }
    let kid = match state.key_id {
        StoredKeyId::Present(id) => Some(id),
        StoredKeyId::Absent => None,
    };
    let mut written = 0u64;
    let mut line = Vec::new();
    let mut canonical = Vec::new();
    let mut failure: Option<Error> = None;
    let unreadable = |seq: u64, problem: String| {
        Error::Store(StoreError::BadHead {
            location: location.to_owned(),
            seq,
            problem,
        })
    };
    snapshot.scan(*range.start(), &mut |item| {
        let record = match item {
            ScanItem::Record(r) if r.seq > *range.end() => return Flow::Stop,
            ScanItem::Record(r) => r,
            ScanItem::Malformed(bad) => {
                failure = Some(unreadable(
                    bad.seq.unwrap_or(0),
                    format!("{}: {}", bad.location, bad.problem),
                ));
                return Flow::Stop;
            }
        };
        canonical.clear();
        let doc = json::parse(record.trace);
        if !doc.as_ref().is_ok_and(|d| {
            d.root()
                .write_canonical(&mut canonical, Mode::Python)
                .is_ok()
        }) {
            failure = Some(unreadable(
                record.seq,
                "its payload is not valid JSON".into(),
            ));
            return Flow::Stop;
        }
        line.clear();
        write_record_line(
            &mut line,
            record.seq,
            record.prev_hash,
            record.record_hash,
            kid,
            &canonical,
        );
        if let Err(e) = out.write_all(&line) {
            failure = Some(io(e));
            return Flow::Stop;
        }
        written += 1;
        if written.is_multiple_of(4096) {
            progress(Progress {
                records_checked: written,
                total_hint,
            });
        }
        Flow::Continue
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    out.flush().map_err(io)?;
    Ok(written)
}

/// The header an export of a store in `state` needs: none when it starts at genesis (so
/// weaver-kernel can read the export), else its start and the retention log that
/// authenticates it.
pub(crate) fn export_header(state: &StoreState) -> Option<Header> {
    if state.start.kind == StartKind::Genesis {
        return None;
    }
    Some(Header {
        start: state.start.clone(),
        retention: state.retention.clone(),
        archive_of: None,
    })
}

/// Writes a new file holding traces atomically and private (mode `0600`, whatever the umask):
/// see [`trailseal_store::atomic`] (a temporary file beside `path`, fsynced, renamed over it,
/// the directory fsynced). A file or symbolic link at `path` is replaced, never written
/// through; when `write` or the replacement fails, nothing is left behind. The one way the
/// library and the command line write exports, archives and bundles.
pub fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T, Error>,
) -> Result<T, Error> {
    let failed = |source| Error::Write {
        path: path.display().to_string(),
        source,
    };
    let mut file = AtomicFile::create(path, Perms::Mode(PRIVATE)).map_err(failed)?;
    // Dropping `file` on an error removes what was written.
    let done = write(&mut file)?;
    file.replace().map_err(failed)?;
    Ok(done)
}
