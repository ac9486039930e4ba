//! Reading a JSONL store: one consistent state of the file, its header and head, and the
//! snapshot reader the verifier scans.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use trailseal_core::jsonl::{
    Header, LineRecord, ReadLine, action_id_of, is_torn_after, parse_line,
};
use trailseal_core::start::{ChainStart, StoredKeyId};
use trailseal_core::verify::{Flow, MalformedRecord, RecordView, ScanItem};
use trailseal_core::{Hash32, Head, KeyId};

use super::{JsonlStore, parse_header};
use crate::error::Shown;
use crate::lines::{LastLine, LineReader, Terminators, last_line};
use crate::{SeqRange, Snapshot, SnapshotReader, StoreError, StoreState, StoredRecord};

/// How a store's file is read: where it is (for messages), the record limit, and the byte at
/// which reading ends.
pub(super) struct Reading<'a> {
    pub(super) location: &'a str,
    pub(super) max: usize,
    pub(super) end: u64,
}

impl JsonlStore {
    /// Reads every non-blank line from `offset` (see [`lines_in`]).
    pub(super) fn for_each_line(
        &self,
        offset: u64,
        f: &mut dyn FnMut(&ReadLine<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        let mut file = self.open_file(false, false)?;
        let end = self.hide_from.unwrap_or(u64::MAX);
        lines_in(&mut file, &self.reading(end), offset, f)
    }

    /// How this store's file is read, up to byte `end`.
    pub(super) fn reading(&self, end: u64) -> Reading<'_> {
        Reading {
            location: &self.location,
            max: self.max_record_bytes,
            end,
        }
    }

    /// Opens the file for a consistent read: one descriptor, and the length up to which it
    /// holds one state of the store. A prune, a policy change or a copy into the store
    /// replaces the file by renaming a new one over it and leaves the open one unchanged; an
    /// append only adds lines at its end. So everything read through the descriptor up to
    /// that length is one state of the store, however long the read takes and whatever is
    /// written meanwhile.
    ///
    /// A file whose length does not end a line is either being appended to (the write is not
    /// complete yet) or ends with an interrupted write. Appends write under the file's
    /// exclusive lock, so the length is then read again under the shared lock: a write in
    /// progress is complete by then, an interrupted one is still there. Nothing else leaves a
    /// line incomplete while holding the lock (prunes and copies write a new file), so that
    /// wait lasts at most one append.
    pub(super) fn open_snapshot(&self) -> Result<(File, u64), StoreError> {
        let limit = self.hide_from.unwrap_or(u64::MAX);
        let mut file = self.open_file(false, false)?;
        let len = |file: &File| -> Result<u64, StoreError> {
            Ok(file
                .metadata()
                .map_err(StoreError::io(&self.location, "stat"))?
                .len()
                .min(limit))
        };
        let end = len(&file)?;
        // This handle holding the exclusive lock itself (a repair checking the store) writes
        // nothing meanwhile, and waiting for the lock would never end.
        let holds_lock = self.hide_from.is_some();
        if end == 0 || holds_lock || ends_a_line(&mut file, end, &self.location)? {
            return Ok((file, end));
        }
        lock_shared(&file, &self.location)?;
        let end = len(&file);
        let _ = file.unlock();
        Ok((file, end?))
    }

    /// [`crate::Store::snapshot`]: one reader over the file as it is now.
    pub(super) fn open_consistent(&self) -> Result<Snapshot<'_>, StoreError> {
        if !self.path.exists() {
            return Err(StoreError::NotFound {
                location: self.location.clone(),
            });
        }
        // The tree before the records: a snapshot never sees hashes of records it does not.
        let tree = super::tree::Sidecar::open(&self.path, &self.location)?;
        let (mut file, end) = self.open_snapshot()?;
        let mut state = state_in(&mut file, &self.reading(end))?;
        state.tree = tree.as_ref().map(super::tree::Sidecar::tree);
        Ok(Snapshot {
            state,
            readers: vec![Box::new(JsonlReader {
                file,
                end,
                location: self.location.clone(),
                max: self.max_record_bytes,
                tree,
            })],
        })
    }

    /// [`crate::Store::find`].
    pub(super) fn find_record(&self, action_id: &str) -> Result<Option<StoredRecord>, StoreError> {
        let mut found = None;
        self.for_each_line(0, &mut |item| {
            if let Ok(text) = item.text
                && let Ok(record) = parse_line(text)
                && action_id_of(&record).as_deref() == Some(action_id)
            {
                found = Some(StoredRecord {
                    seq: record.seq,
                    prev_hash: String::from_utf8_lossy(&record.prev_hash).into_owned(),
                    record_hash: String::from_utf8_lossy(&record.record_hash).into_owned(),
                    trace: String::from_utf8_lossy(&record.trace).into_owned(),
                });
                return Flow::Stop;
            }
            Flow::Continue
        })?;
        Ok(found)
    }

    /// The last non-blank line of the first `len` bytes (see [`last_line`]).
    pub(super) fn last_line(
        &self,
        file: &mut File,
        len: u64,
    ) -> Result<Option<LastLine>, StoreError> {
        last_line(file, len, self.max_record_bytes)
            .map_err(StoreError::io(&self.location, "read tail"))
    }

    /// The last line as read.
    pub(super) fn last_item<'a>(&self, last: &'a LastLine) -> ReadLine<'a> {
        ReadLine::new(0, &last.bytes, last.len, last.ended, self.max_record_bytes)
    }

    /// Whether the last line may be an interrupted write: no line end, not a record, and a
    /// strict prefix of a record line (its place in the chain not checked).
    pub(super) fn may_be_torn(&self, last: &LastLine) -> bool {
        let item = self.last_item(last);
        !last.ended
            && item.text.is_ok()
            && item.record().is_err()
            && is_torn_after(&last.bytes, None)
    }

    /// [`StoreError::TornTail`] when the first `len` bytes of `file` end with an interrupted
    /// write.
    pub(super) fn refuse_torn_tail(&self, file: &mut File, len: u64) -> Result<(), StoreError> {
        match self.last_line(file, len)? {
            Some(last) if self.may_be_torn(&last) => Err(StoreError::TornTail {
                location: self.location.clone(),
                offset: last.offset,
            }),
            _ => Ok(()),
        }
    }

    /// The header line of `file`, if it has one.
    pub(super) fn header_of(&self, file: &mut File) -> Result<Option<Header>, StoreError> {
        header_in(file, &self.reading(u64::MAX))
    }

    /// Where the chain starts, as a head to link to.
    pub(super) fn start_head(&self, start: &ChainStart) -> Result<Head, StoreError> {
        Ok(Head {
            next_seq: start.next_seq,
            prev_hash: Hash32::parse(&start.prev_hash).ok_or_else(|| StoreError::BadHead {
                location: self.location.clone(),
                seq: start.next_seq,
                problem: "the header's start hash is not 64 lowercase hex characters".into(),
            })?,
        })
    }

    /// The head of the first `len` bytes of `file` — after its last record, or its start
    /// when it holds none — and the seq of that last record. [`StoreError::TornTail`] when it
    /// ends with an interrupted write, [`StoreError::BadHead`] when its last line is not a
    /// record.
    pub(super) fn head_of(
        &self,
        file: &mut File,
        len: u64,
    ) -> Result<(Head, Option<u64>), StoreError> {
        let Some(last) = self.last_line(file, len)? else {
            return Ok((Head::GENESIS, None));
        };
        let item = self.last_item(&last);
        if last.ended
            && let Ok(text) = item.text
            && parse_header(text, &self.location)?.is_some()
        {
            let start = self
                .header_of(file)?
                .map_or_else(ChainStart::genesis, |h| h.start);
            return Ok((self.start_head(&start)?, None));
        }
        match item.record() {
            Ok(record) => Ok((self.head_after(&record)?, Some(record.seq))),
            Err(_) if self.may_be_torn(&last) => Err(StoreError::TornTail {
                location: self.location.clone(),
                offset: last.offset,
            }),
            Err(bad) => Err(StoreError::BadHead {
                location: self.location.clone(),
                seq: bad.seq.unwrap_or(0),
                problem: bad.problem,
            }),
        }
    }

    /// The head after `record`.
    pub(super) fn head_after(&self, record: &LineRecord<'_>) -> Result<Head, StoreError> {
        let bad = |problem: &str| StoreError::BadHead {
            location: self.location.clone(),
            seq: record.seq,
            problem: problem.into(),
        };
        let prev_hash = Hash32::parse(&record.record_hash)
            .ok_or_else(|| bad("its record_hash is not 64 lowercase hex characters"))?;
        let next_seq = record
            .seq
            .checked_add(1)
            .ok_or_else(|| bad("seq overflow"))?;
        Ok(Head {
            next_seq,
            prev_hash,
        })
    }
}

/// Reads every non-blank line of `file` from `offset` to `reading.end`, as weaver-kernel
/// splits and strips them (see [`trailseal_core::jsonl::text`]), calling `f` for each; the
/// header line of a file (its first non-blank line, when it is one) is skipped. No line is
/// buffered past the record limit.
pub(super) fn lines_in(
    file: &mut File,
    reading: &Reading<'_>,
    offset: u64,
    f: &mut dyn FnMut(&ReadLine<'_>) -> Flow,
) -> Result<(), StoreError> {
    let location = reading.location;
    let mut first = offset == 0;
    file.seek(SeekFrom::Start(offset))
        .map_err(StoreError::io(location, "seek"))?;
    let limit = reading.end.saturating_sub(offset);
    let reader = BufReader::with_capacity(1 << 20, Read::by_ref(file).take(limit));
    let max = reading.max;
    let mut lines = LineReader::new(reader, Terminators::Universal, max, offset, 0);
    loop {
        let Some(line) = lines
            .next_line()
            .map_err(StoreError::io(location, "read"))?
        else {
            return Ok(());
        };
        let item = ReadLine::new(line.number, line.bytes, line.len, line.ended, max);
        if item.is_blank() {
            continue;
        }
        if std::mem::take(&mut first)
            && let Ok(t) = item.text
            && parse_header(t, location)?.is_some()
        {
            continue;
        }
        if f(&item) == Flow::Stop {
            return Ok(());
        }
    }
}

/// The header line of `file` (up to `reading.end`), if it has one.
pub(super) fn header_in(
    file: &mut File,
    reading: &Reading<'_>,
) -> Result<Option<Header>, StoreError> {
    let location = reading.location;
    let max = reading.max;
    file.seek(SeekFrom::Start(0))
        .map_err(StoreError::io(location, "seek"))?;
    let reader = BufReader::new(Read::by_ref(file).take(reading.end));
    let mut lines = LineReader::new(reader, Terminators::Universal, max, 0, 0);
    loop {
        let Some(line) = lines
            .next_line()
            .map_err(StoreError::io(location, "read"))?
        else {
            return Ok(None);
        };
        if line.oversized {
            if trailseal_core::jsonl::lstrip(line.bytes).starts_with(b"{\"trailseal\"") {
                return Err(StoreError::UnknownStore {
                    location: location.to_owned(),
                    reason: format!(
                        "its header line is {} bytes, over the limit of {max} bytes a line may have",
                        line.len
                    ),
                });
            }
            return Ok(None);
        }
        match trailseal_core::jsonl::strip_line(line.bytes) {
            Ok([]) => continue,
            Ok(text) => return parse_header(text, location),
            Err(_) => return Ok(None),
        }
    }
}

/// The state of a store whose file does not exist (yet).
pub(super) fn state_of_empty() -> StoreState {
    StoreState {
        start: ChainStart::genesis(),
        retention: Vec::new(),
        archive_of: None,
        key_id: StoredKeyId::Absent,
        head: None,
        record_count_hint: None,
        tree: None,
    }
}

/// The key id a line names, when it is a record with a valid `kid`.
pub(super) fn key_id_of(item: &ReadLine<'_>) -> StoredKeyId {
    item.text
        .as_ref()
        .ok()
        .and_then(|t| parse_line(t).ok())
        .and_then(|r| r.kid.as_deref().and_then(KeyId::parse))
        .map_or(StoredKeyId::Absent, StoredKeyId::Present)
}

/// The state of the store held in `file` up to `reading.end`.
pub(super) fn state_in(file: &mut File, reading: &Reading<'_>) -> Result<StoreState, StoreError> {
    let (start, retention, archive_of) = match header_in(file, reading)? {
        Some(h) => (h.start, h.retention, h.archive_of),
        None => (ChainStart::genesis(), Vec::new(), None),
    };
    // The key the last rotation names; else the key id of the first record (weaver-kernel's
    // lines carry none).
    let mut key_id = StoredKeyId::Absent;
    match crate::rotated_to(&retention) {
        Some(id) => key_id = StoredKeyId::Present(id),
        None => lines_in(file, reading, 0, &mut |item| {
            key_id = key_id_of(item);
            Flow::Stop
        })?,
    }
    let last = last_line(file, reading.end, reading.max)
        .map_err(StoreError::io(reading.location, "read tail"))?;
    let head = last.and_then(|last| {
        ReadLine::new(0, &last.bytes, last.len, last.ended, reading.max)
            .record()
            .ok()
            .map(|r| (r.seq, r.record_hash.into_owned()))
    });
    Ok(StoreState {
        start,
        retention,
        archive_of,
        key_id,
        head,
        record_count_hint: None,
        tree: None,
    })
}

/// Whether the byte before `end` is a line end (`\n` or `\r`, which weaver-kernel's reader
/// also ends lines at).
pub(super) fn ends_a_line(file: &mut File, end: u64, location: &str) -> Result<bool, StoreError> {
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(end.saturating_sub(1)))
        .and_then(|_| file.read_exact(&mut last))
        .map_err(StoreError::io(location, "read"))?;
    Ok(matches!(last, [b'\n' | b'\r']))
}

/// How long a reader waits for an append's exclusive lock before giving up.
const READ_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Takes `file`'s shared lock, waiting at most [`READ_LOCK_WAIT`].
fn lock_shared(file: &File, location: &str) -> Result<(), StoreError> {
    let start = std::time::Instant::now();
    loop {
        match file.try_lock_shared() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < READ_LOCK_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::io(location, "lock")(std::io::Error::other(
                    format!(
                        "the last line is incomplete and a writer has held the store's lock for more than {}s",
                        READ_LOCK_WAIT.as_secs()
                    ),
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::io(location, "lock")(e));
            }
        }
    }
}

/// What is wrong with a line's `kid`, given the rotations the header's retention log names and
/// the first `kid` of the lines before any rotation (recorded here when this is the first):
/// not a key id, another key than the rotation covering its seq names, or (before any
/// rotation) another key than the earlier lines'.
fn kid_problem(
    record: &LineRecord<'_>,
    rotations: &[(u64, KeyId)],
    first: &mut Option<Vec<u8>>,
) -> Option<String> {
    let kid = record.kid.as_deref()?;
    if KeyId::parse(kid).is_none() {
        return Some(format!("kid {} is not a key id", Shown(kid)));
    }
    if let Some((at, id)) = rotations.iter().rev().find(|(at, _)| *at <= record.seq) {
        return (id.as_str().as_bytes() != kid).then(|| {
            format!(
                "kid {} differs from key id {id}, which the rotation at seq {at} moved the chain to",
                Shown(kid)
            )
        });
    }
    match first {
        None => {
            *first = Some(kid.to_vec());
            None
        }
        Some(f) if f.as_slice() == kid => None,
        Some(f) => Some(format!(
            "kid {} differs from the key id {} of the lines before it",
            Shown(kid),
            Shown(f)
        )),
    }
}

/// The one reader of a JSONL store's snapshot: the file as it was opened, up to the length
/// seen then.
struct JsonlReader {
    file: File,
    end: u64,
    location: String,
    max: usize,
    tree: Option<super::tree::Sidecar>,
}

impl SnapshotReader for JsonlReader {
    fn read_tree_hashes(
        &mut self,
        first: u64,
        out: &mut [trailseal_core::tree::MerkleHash],
    ) -> Result<(), StoreError> {
        match &self.tree {
            Some(tree) => tree.read(&self.location, first, out),
            None if out.is_empty() => Ok(()),
            None => Err(crate::tree::tree_error(
                &self.location,
                first,
                "missing (the store has no tree file)",
            )),
        }
    }

    fn detached_tree_hashes(&self) -> Result<Option<Box<dyn crate::TreeHashes>>, StoreError> {
        let Some(tree) = &self.tree else {
            return Ok(None);
        };
        Ok(Some(Box::new(super::tree::DetachedSidecar {
            sidecar: tree.try_clone(&self.location)?,
            location: self.location.clone(),
        })))
    }

    fn scan_range(
        &mut self,
        range: SeqRange,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        let reading = Reading {
            location: &self.location,
            max: self.max,
            end: self.end,
        };
        let within =
            |seq: u64| range.from.is_none_or(|f| seq >= f) && range.until.is_none_or(|u| seq < u);
        // A line whose seq cannot be read belongs to the first range (see `SeqRange`).
        let unnumbered = range.from.is_none();
        // The key id lines carry (`kid`) is not covered by the MACs: every line that has one
        // must name the same key as the first that has one, or the file was altered.
        let mut first_kid: Option<Vec<u8>> = None;
        // The record the next line must be, for telling an interrupted write from damage.
        let (start, rotations) = header_in(&mut self.file, &reading)?.map_or_else(
            || (ChainStart::genesis(), Vec::new()),
            |h| (h.start, crate::rotations(&h.retention)),
        );
        let mut next_seq = start.next_seq;
        let mut next_prev = start.prev_hash;
        lines_in(&mut self.file, &reading, 0, &mut |item| {
            let parsed = item.record();
            let kid = parsed
                .as_ref()
                .ok()
                .and_then(|r| kid_problem(r, &rotations, &mut first_kid));
            if let Ok(r) = &parsed {
                next_seq = r.seq.saturating_add(1);
                next_prev.clear();
                next_prev.extend_from_slice(&r.record_hash);
            }
            let location = || format!("line {}", item.number);
            match (parsed, kid) {
                (Ok(r), _) if !within(r.seq) => Flow::Continue,
                (Ok(r), Some(problem)) => visit(&ScanItem::Malformed(MalformedRecord {
                    seq: Some(r.seq),
                    location: location(),
                    problem,
                    torn: false,
                })),
                (Ok(r), None) => visit(&ScanItem::Record(RecordView {
                    seq: r.seq,
                    prev_hash: &r.prev_hash,
                    record_hash: &r.record_hash,
                    trace: &r.trace,
                    encoding: r.encoding,
                    columns: None,
                })),
                (Err(bad), _) if bad.seq.map_or(!unnumbered, |s| !within(s)) => Flow::Continue,
                (Err(bad), _) => visit(&ScanItem::Malformed(MalformedRecord {
                    seq: bad.seq,
                    location: location(),
                    problem: bad.problem,
                    torn: !item.ended
                        && item.text.is_ok()
                        && is_torn_after(item.raw, Some((next_seq, &next_prev))),
                })),
            }
        })
    }
}
