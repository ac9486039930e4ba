//! Exporting a chain as a self-contained JSONL store.

use std::io::Write;
use std::path::Path;

use trailseal_core::json::{self, Mode};
use trailseal_core::verify::{Flow, ScanItem, StartKind, StoredKeyId};
use trailseal_store::jsonl::{Header, write_record_line};
use trailseal_store::{Store, StoreError};

use crate::log::Error;

/// Writes every record of `store` to `out` in the JSONL layout, with a header line when the
/// chain does not start at genesis. Fails on a record that cannot be read.
pub(crate) fn write_jsonl(
    store: &mut dyn Store,
    out: &mut dyn Write,
    location: String,
) -> Result<u64, Error> {
    let state = store.state()?;
    let io = |source| Error::Io {
        path: location.clone(),
        action: "write export",
        source,
    };
    if state.start.kind != StartKind::Genesis {
        out.write_all(
            Header {
                start: state.start.clone(),
            }
            .to_line()
            .as_bytes(),
        )
        .map_err(io)?;
    }
    let kid = match state.key_id {
        StoredKeyId::Present(id) => Some(id),
        StoredKeyId::Absent => None,
    };
    let mut written = 0u64;
    let mut line = Vec::new();
    let mut canonical = Vec::new();
    let mut failure: Option<Error> = None;
    store.scan(0, &mut |item| {
        let record = match item {
            ScanItem::Record(r) => r,
            ScanItem::Malformed(bad) => {
                failure = Some(Error::Store(StoreError::BadHead {
                    location: location.clone(),
                    seq: bad.seq.unwrap_or(0),
                    problem: format!(
                        "{}: {}; run `trailseal verify` before exporting",
                        bad.location, bad.problem
                    ),
                }));
                return Flow::Stop;
            }
        };
        canonical.clear();
        let doc = json::parse(record.trace);
        let ok = doc.as_ref().is_ok_and(|d| {
            d.root()
                .write_canonical(&mut canonical, Mode::Python)
                .is_ok()
        });
        if !ok {
            failure = Some(Error::Store(StoreError::BadHead {
                location: location.clone(),
                seq: record.seq,
                problem: "its payload is not valid JSON; run `trailseal verify` before exporting"
                    .into(),
            }));
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
            failure = Some(Error::Io {
                path: location.clone(),
                action: "write export",
                source: e,
            });
            return Flow::Stop;
        }
        written += 1;
        Flow::Continue
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    out.flush().map_err(io)?;
    Ok(written)
}

/// Exports to `path` atomically: a temporary file in the same directory, fsynced, renamed.
pub(crate) fn export_jsonl(store: &mut dyn Store, path: &Path) -> Result<u64, Error> {
    let shown = path.display().to_string();
    let io = |action: &'static str| {
        let shown = shown.clone();
        move |source| Error::Io {
            path: shown,
            action,
            source,
        }
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => Path::new(".").to_owned(),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let file = std::fs::File::create(&tmp).map_err(io("create"))?;
        let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
        let n = write_jsonl(store, &mut writer, shown.clone())?;
        let file = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .map_err(io("write"))?;
        file.sync_all().map_err(io("fsync"))?;
        std::fs::rename(&tmp, path).map_err(io("rename"))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
