//! JSONL: weaver-kernel 0.12.0's `JsonlTraceStore` layout, one record a line.
//!
//! weaver-kernel writes `json.dumps({"seq", "prev_hash", "record_hash", "trace"})` with
//! default separators; trailseal writes
//! `{"seq":N,"prev_hash":"…","record_hash":"…","kid":"…","trace":<canonical trace>}` — the
//! same record, compact, with the trace in canonical form (so it is MAC'd without parsing) and
//! the key id (`kid`, ignored by weaver-kernel). Lines are split and stripped exactly as
//! weaver-kernel's reader does (universal newlines, Python's `str.strip()`, blank lines
//! skipped; see [`crate::lines`]), and none is read past the record limit.
//!
//! Appends take an exclusive advisory lock on the file (`flock`), read the head from the
//! file's tail, write the new lines with one `write` and `fsync` before unlocking, so several
//! trailseal processes appending to one file produce one chain. A last line without a line end
//! that is a strict prefix of a record line is an interrupted write (see [`crate::TornTail`]):
//! appends refuse to build on it.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use trailseal_core::json::{self, Kind, Mode};
use trailseal_core::start::{ChainStart, StartKind, StoredKeyId};
use trailseal_core::verify::{Flow, MalformedRecord, RecordView, ScanItem, TraceEncoding};
use trailseal_core::{ChainKey, Hash32, Head, KeyId, PreparedTrace, seal_batch};

use crate::atomic::{AtomicFile, Perms};
use crate::error::Shown;
use crate::lines::{
    LastLine, LineProblem, LineReader, Terminators, is_blank, is_python_space, last_line,
    line_number_at, strip_line,
};
use crate::{
    Appended, ImportMeta, ImportRecord, OpenMode, PrunePlan, SeqRange, Snapshot, SnapshotReader,
    Store, StoreError, StoreState, StoredRecord, TornTail,
};
pub use trailseal_core::trace::DEFAULT_MAX_RECORD_BYTES;

/// One parsed line.
#[derive(Debug)]
pub(crate) struct LineRecord<'a> {
    pub(crate) seq: u64,
    pub(crate) prev_hash: Cow<'a, [u8]>,
    pub(crate) record_hash: Cow<'a, [u8]>,
    pub(crate) kid: Option<Cow<'a, [u8]>>,
    pub(crate) trace: Cow<'a, [u8]>,
    pub(crate) encoding: TraceEncoding,
}

/// Why a line is not a record (and the seq it claims, when readable).
#[derive(Debug)]
pub(crate) struct BadLine {
    pub(crate) seq: Option<u64>,
    pub(crate) problem: String,
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
    Some(LineRecord {
        seq,
        prev_hash: Cow::Borrowed(prev_hash),
        record_hash: Cow::Borrowed(record_hash),
        kid,
        trace: Cow::Borrowed(trace),
        encoding: TraceEncoding::Stored,
    })
}

/// Reads one non-blank line (trimmed) as weaver-kernel would.
pub(crate) fn parse_line(line: &[u8]) -> Result<LineRecord<'_>, BadLine> {
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
    let kid = root
        .get("kid")
        .and_then(|n| n.as_str())
        .map(|s| Cow::Owned(s.as_bytes().to_vec()));
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
pub(crate) fn parse_line_ended(line: &[u8], ended: bool) -> Result<LineRecord<'_>, BadLine> {
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

/// The first line of a JSONL store that does not start at genesis, or that carries a
/// retention log (a pruned store, an export or archive of one):
/// `{"trailseal":{"format":1,"start":{"seq":N,"prev_hash":"…","kind":"…"},"retention":[…],"archive_of":{…}}}`.
/// weaver-kernel cannot read a file with this line (see docs/format.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Where the chain in the file starts.
    pub start: ChainStart,
    /// The retention log: receipts as canonical JSON texts, oldest first.
    pub retention: Vec<String>,
    /// For an archive of pruned records: the prune receipt that removed them from their store.
    pub archive_of: Option<String>,
}

/// The header format version this code writes and reads.
pub const HEADER_FORMAT: u64 = 1;

impl Header {
    /// A header that only sets the start.
    pub fn starting_at(start: ChainStart) -> Header {
        Header {
            start,
            retention: Vec::new(),
            archive_of: None,
        }
    }

    /// The header as one line, with its newline.
    pub fn to_line(&self) -> String {
        let mut prev = Vec::new();
        json::write_json_string(&String::from_utf8_lossy(&self.start.prev_hash), &mut prev);
        let mut line = format!(
            "{{\"trailseal\":{{\"format\":{HEADER_FORMAT},\"start\":{{\"seq\":{},\"prev_hash\":{},\"kind\":\"{}\"}}",
            self.start.next_seq,
            String::from_utf8_lossy(&prev),
            self.start.kind.as_str(),
        );
        if !self.retention.is_empty() {
            line.push_str(",\"retention\":[");
            line.push_str(&self.retention.join(","));
            line.push(']');
        }
        if let Some(receipt) = &self.archive_of {
            line.push_str(",\"archive_of\":");
            line.push_str(receipt);
        }
        line.push_str("}}\n");
        line
    }

    /// Reads a header line. `Ok(None)` when the line is not a header.
    pub(crate) fn parse(line: &[u8], location: &str) -> Result<Option<Header>, StoreError> {
        if !line.starts_with(b"{\"trailseal\"") {
            return Ok(None);
        }
        let unknown = |reason: &str| StoreError::UnknownStore {
            location: location.to_owned(),
            reason: format!("its header line {reason}"),
        };
        let doc = json::parse(line).map_err(|e| unknown(&format!("is not valid JSON: {e}")))?;
        // Its receipts are MAC'd in canonical form, which drops a repeated member: refused.
        if let Some(name) = doc.find_duplicate_key() {
            return Err(unknown(&format!("repeats the member {name:?}")));
        }
        let Some(header) = doc.root().get("trailseal") else {
            return Ok(None);
        };
        let format = header
            .get("format")
            .and_then(|n| n.as_u64())
            .ok_or_else(|| unknown("has no format"))?;
        if format > HEADER_FORMAT {
            return Err(StoreError::NewerVersion {
                location: location.to_owned(),
                found: format.to_string(),
                supported: HEADER_FORMAT.to_string(),
            });
        }
        let start = header.get("start").ok_or_else(|| unknown("has no start"))?;
        let next_seq = start
            .get("seq")
            .and_then(|n| n.as_u64())
            .ok_or_else(|| unknown("has no start.seq"))?;
        let prev_hash = start
            .get("prev_hash")
            .and_then(|n| n.as_str())
            .ok_or_else(|| unknown("has no start.prev_hash"))?;
        let kind = start
            .get("kind")
            .and_then(|n| n.as_str())
            .and_then(StartKind::from_name)
            .ok_or_else(|| unknown("has an unknown start.kind"))?;
        let text = |node: json::NodeRef<'_>| {
            let mut out = Vec::new();
            node.write_canonical(&mut out, Mode::Python)
                .map(|()| String::from_utf8_lossy(&out).into_owned())
        };
        let retention = match header.get("retention") {
            None => Vec::new(),
            Some(list) if list.kind() == Kind::Array => list
                .elements()
                .map(text)
                .collect::<Result<_, _>>()
                .map_err(|e| unknown(&e.to_string()))?,
            Some(_) => return Err(unknown("has a retention member that is not a list")),
        };
        let archive_of = header
            .get("archive_of")
            .map(text)
            .transpose()
            .map_err(|e| unknown(&e.to_string()))?;
        Ok(Some(Header {
            start: ChainStart {
                next_seq,
                prev_hash: prev_hash.as_bytes().to_vec(),
                kind,
            },
            retention,
            archive_of,
        }))
    }
}

fn write_hash_field(out: &mut Vec<u8>, value: &[u8]) {
    if value.iter().all(|b| b.is_ascii_alphanumeric()) {
        out.push(b'"');
        out.extend_from_slice(value);
        out.push(b'"');
    } else {
        json::write_json_string(&String::from_utf8_lossy(value), out);
    }
}

/// Appends one record line in the layout trailseal writes, with its newline. `trace` must be
/// the canonical form.
pub fn write_record_line(
    out: &mut Vec<u8>,
    seq: u64,
    prev_hash: &[u8],
    record_hash: &[u8],
    kid: Option<KeyId>,
    trace: &[u8],
) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(trailseal_core::chain::format_u64(seq, &mut buf));
    out.extend_from_slice(b",\"prev_hash\":");
    write_hash_field(out, prev_hash);
    out.extend_from_slice(b",\"record_hash\":");
    write_hash_field(out, record_hash);
    if let Some(kid) = kid {
        out.extend_from_slice(b",\"kid\":\"");
        out.extend_from_slice(kid.as_str().as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b",\"trace\":");
    out.extend_from_slice(trace);
    out.extend_from_slice(b"}\n");
}

/// What is wrong with a line's `kid`, given the first `kid` of the file (recorded here when
/// this is the first): not a key id, or another key than the earlier lines'.
fn kid_problem(record: &LineRecord<'_>, first: &mut Option<Vec<u8>>) -> Option<String> {
    let kid = record.kid.as_deref()?;
    if KeyId::parse(kid).is_none() {
        return Some(format!("kid {} is not a key id", Shown(kid)));
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

/// The `action_id` of a parsed record's trace, if readable.
fn action_id_of(record: &LineRecord<'_>) -> Option<String> {
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

/// The seq a torn line claims, when its beginning (`{"seq": N,`) was written in full.
fn claimed_seq(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{")?.trim_ascii_start();
    let rest = rest.strip_prefix(b"\"seq\"")?.trim_ascii_start();
    let rest = rest.strip_prefix(b":")?.trim_ascii_start();
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (num, rest) = rest.split_at(digits);
    // Without what follows the number, the number itself may have been cut short.
    if num.is_empty() || !rest.trim_ascii_start().starts_with(b",") {
        return None;
    }
    std::str::from_utf8(num).ok()?.parse().ok()
}

/// The part of its `prev_hash` a torn line holds, once the seq before it is complete.
fn claimed_prev_hash(line: &[u8]) -> Option<&[u8]> {
    let at = line.windows(11).position(|w| w == b"\"prev_hash\"")?;
    let rest = line.get(at + 11..)?.trim_ascii_start();
    let rest = rest.strip_prefix(b":")?.trim_ascii_start();
    let rest = rest.strip_prefix(b"\"")?;
    let end = rest.iter().position(|b| *b == b'"').unwrap_or(rest.len());
    rest.get(..end)
}

/// Whether a last line without its line end (as stored) is an interrupted write of the record
/// that follows `head` (the next seq, and the hash it links to): a strict prefix of a record
/// line (see [`crate::torn`]) whose seq and `prev_hash`, as far as they were written, are that
/// record's. A line that is complete JSON, holds more than one value, has a byte no writer
/// writes, or claims another place in the chain was not left by a writer that died: it is
/// damage, not a torn tail.
fn is_torn_after(line: &[u8], head: Option<(u64, &[u8])>) -> bool {
    if !crate::torn::is_strict_record_prefix(line) {
        return false;
    }
    let Some((next_seq, prev_hash)) = head else {
        return true;
    };
    claimed_seq(line).is_none_or(|seq| seq == next_seq)
        && claimed_prev_hash(line).is_none_or(|p| prev_hash.starts_with(p))
}

/// Leading whitespace (as Python strips it) removed from the valid UTF-8 beginning of a line.
fn lstrip(bytes: &[u8]) -> &[u8] {
    let valid = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or_default())
            .unwrap_or_default(),
    };
    valid.trim_start_matches(is_python_space).as_bytes()
}

/// A non-blank line as read: its text (stripped as weaver-kernel strips it), or why it has
/// none.
struct Item<'a> {
    number: u64,
    /// The line without its line end, as stored (at most the record limit).
    raw: &'a [u8],
    text: Result<&'a [u8], String>,
    ended: bool,
}

impl Item<'_> {
    /// The line parsed as a record (the last one must be complete JSON).
    fn record(&self) -> Result<LineRecord<'_>, BadLine> {
        match self.text {
            Ok(text) => parse_line_ended(text, self.ended),
            Err(ref problem) => Err(BadLine {
                seq: claimed_seq(self.raw),
                problem: problem.clone(),
            }),
        }
    }
}

/// What is wrong with a line that cannot be read as text, if anything; `Ok` holds its
/// stripped text.
fn line_text(bytes: &[u8], len: u64, oversized: bool, max: usize) -> Result<&[u8], String> {
    if oversized {
        return Err(format!(
            "the line is {len} bytes, over the limit of {max} bytes a record may have"
        ));
    }
    strip_line(bytes).map_err(|LineProblem::NotUtf8 { at }| {
        format!("not valid UTF-8 (byte {} of the line)", at + 1)
    })
}

#[derive(Debug)]
struct AppendCache {
    identity: (u64, u64),
    len: u64,
    head: Head,
    ids: HashSet<String>,
}

/// A copy into the store in progress: the records go to a file beside it, which replaces it
/// (rename) when the copy finishes, so the store is either still empty or holds the whole
/// copy. The store's lock is held throughout.
#[derive(Debug)]
struct Import {
    /// The store file, locked.
    _lock: File,
    /// The file being written; removed when the copy does not finish (dropped).
    out: AtomicFile,
}

/// A chain in a JSONL file.
#[derive(Debug)]
pub struct JsonlStore {
    path: PathBuf,
    location: String,
    cache: Option<AppendCache>,
    /// The key id written on imported lines.
    import_kid: Option<KeyId>,
    /// The copy in progress, between `import_start` and `import_finish`.
    import: Option<Import>,
    /// While `repair_torn_tail` checks the store: reads end at this offset (the torn tail's),
    /// and writes are refused.
    hide_from: Option<u64>,
    /// The longest line read as a record (see [`JsonlStore::with_max_record_bytes`]).
    max_record_bytes: usize,
}

fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0)
    }
}

impl JsonlStore {
    /// Opens the store at `path`. [`OpenMode::Read`] requires it to exist; an existing file
    /// whose first line is not a JSON object is refused as an unknown store.
    pub fn open(path: &Path, mode: OpenMode) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        if !path.exists() && !matches!(mode, OpenMode::Write { create: true }) {
            return Err(StoreError::NotFound { location });
        }
        let store = Self {
            path: path.to_owned(),
            location,
            cache: None,
            import_kid: None,
            import: None,
            hide_from: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        };
        if path.exists() {
            store.check_first_line()?;
        } else {
            // Create the empty store now, so it exists for other handles and readers.
            let file = store.open_file(true, true)?;
            file.sync_all()
                .map_err(StoreError::io(&store.location, "fsync"))?;
        }
        Ok(store)
    }

    /// Sets the longest line, in bytes without its line end, read as a record (default
    /// [`DEFAULT_MAX_RECORD_BYTES`]). A longer line is not read into memory: it is reported as
    /// a malformed record, and appends refuse to write one.
    pub fn with_max_record_bytes(mut self, max: usize) -> Self {
        self.max_record_bytes = max;
        self
    }

    fn check_first_line(&self) -> Result<(), StoreError> {
        let file = File::open(&self.path).map_err(StoreError::io(&self.location, "open"))?;
        let mut lines =
            LineReader::new(BufReader::new(file), Terminators::Universal, 1 << 16, 0, 0);
        loop {
            let Some(line) = lines
                .next_line()
                .map_err(StoreError::io(&self.location, "read"))?
            else {
                return Ok(());
            };
            if !line.oversized && is_blank(line.bytes) {
                continue;
            }
            return if lstrip(line.bytes).first() == Some(&b'{') {
                // A complete header line of a newer format is refused now, not on first use.
                if line.ended
                    && !line.oversized
                    && let Ok(text) = strip_line(line.bytes)
                {
                    Header::parse(text, &self.location)?;
                }
                Ok(())
            } else {
                Err(StoreError::UnknownStore {
                    location: self.location.clone(),
                    reason: "its first line is not a JSON object (is this a JSONL store?)".into(),
                })
            };
        }
    }

    /// Opens the store file; for writing never through a symbolic link (a link planted at the
    /// path would have the chain written into its target), creating it `0600` if `create`.
    fn open_file(&self, write: bool, create: bool) -> Result<File, StoreError> {
        let mut options = OpenOptions::new();
        options.read(true).append(write).create(create);
        #[cfg(unix)]
        if write {
            use std::os::unix::fs::OpenOptionsExt;
            options
                .custom_flags(libc::O_NOFOLLOW)
                .mode(crate::atomic::PRIVATE);
        }
        options.open(&self.path).map_err(|e| {
            #[cfg(unix)]
            if write && e.raw_os_error() == Some(libc::ELOOP) {
                return StoreError::io(
                    &self.location,
                    "open for writing (the path is a symbolic link, which is never written through; name the file itself)",
                )(e);
            }
            StoreError::io(&self.location, "open")(e)
        })
    }

    /// Reads every non-blank line from `offset` (see [`lines_in`]).
    fn for_each_line(
        &self,
        offset: u64,
        f: &mut dyn FnMut(&Item<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        let mut file = self.open_file(false, false)?;
        let end = self.hide_from.unwrap_or(u64::MAX);
        lines_in(&mut file, &self.reading(end), offset, f)
    }

    /// How this store's file is read, up to byte `end`.
    fn reading(&self, end: u64) -> Reading<'_> {
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
    fn open_snapshot(&self) -> Result<(File, u64), StoreError> {
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
        // This handle holding the exclusive lock itself (a repair checking the store, a copy
        // into it) writes nothing meanwhile, and waiting for the lock would never end.
        let holds_lock = self.hide_from.is_some() || self.import.is_some();
        if end == 0 || holds_lock || ends_a_line(&mut file, end, &self.location)? {
            return Ok((file, end));
        }
        lock_shared(&file, &self.location)?;
        let end = len(&file);
        let _ = file.unlock();
        Ok((file, end?))
    }

    /// [`StoreError::RecordTooLarge`] for a line of `size` bytes over the record limit.
    fn refuse_oversized(&self, seq: u64, size: usize) -> Result<(), StoreError> {
        if size > self.max_record_bytes {
            return Err(StoreError::RecordTooLarge {
                location: self.location.clone(),
                seq,
                size,
                limit: self.max_record_bytes,
            });
        }
        Ok(())
    }

    /// The last non-blank line of the first `len` bytes (see [`last_line`]).
    fn last_line(&self, file: &mut File, len: u64) -> Result<Option<LastLine>, StoreError> {
        last_line(file, len, self.max_record_bytes)
            .map_err(StoreError::io(&self.location, "read tail"))
    }

    /// The last line as an [`Item`].
    fn last_item<'a>(&self, last: &'a LastLine) -> Item<'a> {
        Item {
            number: 0,
            raw: &last.bytes,
            text: line_text(&last.bytes, last.len, last.oversized, self.max_record_bytes),
            ended: last.ended,
        }
    }

    /// Whether the last line may be an interrupted write: no line end, not a record, and a
    /// strict prefix of a record line (its place in the chain not checked).
    fn may_be_torn(&self, last: &LastLine) -> bool {
        let item = self.last_item(last);
        !last.ended
            && item.text.is_ok()
            && item.record().is_err()
            && is_torn_after(&last.bytes, None)
    }

    fn build_cache(
        &self,
        file: &mut File,
        meta: &std::fs::Metadata,
    ) -> Result<AppendCache, StoreError> {
        let head = self.build_head_only(file, meta)?;
        let mut ids = HashSet::new();
        self.for_each_line(0, &mut |item| {
            if let Ok(text) = item.text
                && let Ok(record) = parse_line(text)
                && let Some(id) = action_id_of(&record)
            {
                ids.insert(id);
            }
            Flow::Continue
        })?;
        Ok(AppendCache {
            identity: identity(meta),
            len: meta.len(),
            head,
            ids,
        })
    }

    fn head_after(&self, record: &LineRecord<'_>) -> Result<Head, StoreError> {
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

impl Store for JsonlStore {
    fn write(&mut self) -> Result<Box<dyn crate::WriteTx + '_>, StoreError> {
        Err(StoreError::Io {
            location: self.location().to_owned(),
            action: "begin a write",
            source: std::io::Error::other("not yet converted to the one write path"),
        })
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn state(&mut self) -> Result<StoreState, StoreError> {
        if !self.path.exists() {
            return Ok(state_of_empty());
        }
        let (mut file, end) = self.open_snapshot()?;
        state_in(&mut file, &self.reading(end))
    }

    fn snapshot(&mut self, _readers: usize) -> Result<Snapshot<'_>, StoreError> {
        if !self.path.exists() {
            return Err(StoreError::NotFound {
                location: self.location.clone(),
            });
        }
        let (mut file, end) = self.open_snapshot()?;
        let state = state_in(&mut file, &self.reading(end))?;
        Ok(Snapshot {
            state,
            readers: vec![Box::new(JsonlReader {
                file,
                end,
                location: self.location.clone(),
                max: self.max_record_bytes,
            })],
        })
    }

    fn repair_torn_tail(
        &mut self,
        confirm: &mut dyn FnMut(&mut dyn Store, &TornTail) -> bool,
    ) -> Result<Option<TornTail>, StoreError> {
        let mut file = self.open_locked()?;
        let len = file
            .metadata()
            .map_err(StoreError::io(&self.location, "stat"))?
            .len();
        let Some(last) = self.last_line(&mut file, len)? else {
            return Ok(None);
        };
        if !self.may_be_torn(&last) {
            return Ok(None);
        }
        let offset = last.offset;
        // Only the record that would follow the lines before it can have been cut short.
        self.hide_from = Some(offset);
        let before = self.state();
        self.hide_from = None;
        let before = before?;
        let head = match &before.head {
            Some((seq, hash)) => (seq.saturating_add(1), hash.as_slice()),
            None => (before.start.next_seq, before.start.prev_hash.as_slice()),
        };
        if !is_torn_after(&last.bytes, Some(head)) {
            return Ok(None);
        }
        let tail = TornTail {
            line: line_number_at(&mut file, offset)
                .map_err(StoreError::io(&self.location, "read"))?,
            offset,
            bytes: len - offset,
            claimed_seq: claimed_seq(&last.bytes),
        };
        // Appends wait for the lock this holds, so what `confirm` checks is what stays.
        self.hide_from = Some(offset);
        let remove = confirm(self, &tail);
        self.hide_from = None;
        if !remove {
            return Ok(Some(tail));
        }
        let now = file
            .metadata()
            .map_err(StoreError::io(&self.location, "stat"))?
            .len();
        if now != len {
            // Only a writer that ignores the lock (not trailseal) can get here.
            return Err(self.conflict("the file changed while it was being checked"));
        }
        self.cache = None;
        file.set_len(offset)
            .map_err(StoreError::io(&self.location, "truncate"))?;
        file.sync_all()
            .map_err(StoreError::io(&self.location, "fsync"))?;
        Ok(Some(tail))
    }

    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        if !self.path.exists() {
            return Err(StoreError::NotFound {
                location: self.location.clone(),
            });
        }
        let mut snapshot = self.snapshot(1)?;
        snapshot.scan(from_seq, visit)
    }

    fn find(&mut self, action_id: &str) -> Result<Option<StoredRecord>, StoreError> {
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
}

impl JsonlStore {
    fn conflict(&self, detail: &str) -> StoreError {
        StoreError::Conflict {
            location: self.location.clone(),
            detail: detail.into(),
        }
    }

    /// Opens the file for appending and takes its exclusive lock. A prune replaces the file
    /// (rename), so after waiting for the lock, check that the path still names the file we
    /// hold; if not, start again on the new one.
    fn open_locked(&self) -> Result<File, StoreError> {
        if self.hide_from.is_some() {
            return Err(self.conflict(
                "the store is being repaired; it cannot be written through the view repair checks",
            ));
        }
        if self.import.is_some() {
            return Err(self.conflict("a copy into the store is in progress"));
        }
        loop {
            let file = self.open_file(true, true)?;
            file.lock()
                .map_err(StoreError::io(&self.location, "lock"))?;
            let held = file
                .metadata()
                .map_err(StoreError::io(&self.location, "stat"))?;
            match std::fs::metadata(&self.path) {
                Ok(now) if identity(&now) == identity(&held) => return Ok(file),
                Ok(_) => continue,
                Err(e) => return Err(StoreError::io(&self.location, "stat")(e)),
            }
        }
    }

    /// Replaces the file with `header` and every record line except those with
    /// `seq <= drop_through`: written beside it, fsynced, renamed over it, directory fsynced.
    /// The caller holds the lock.
    fn rewrite(
        &mut self,
        held: &File,
        header: &Header,
        drop_through: Option<u64>,
    ) -> Result<(), StoreError> {
        // Lines are written back with their newline: an interrupted write at the end would
        // become a complete corrupt line, which `repair` could no longer remove.
        self.refuse_torn_tail()?;
        let result = self.write_rewrite(held, header, drop_through);
        self.cache = None;
        result
    }

    fn write_rewrite(
        &self,
        held: &File,
        header: &Header,
        drop_through: Option<u64>,
    ) -> Result<(), StoreError> {
        // The new file gets the mode and owner of the one it replaces, or is not written.
        let meta = held
            .metadata()
            .map_err(StoreError::io(&self.location, "stat"))?;
        crate::atomic::remove_stale(&self.path);
        let mut out = AtomicFile::create(&self.path, Perms::SameAs(&meta))
            .map_err(StoreError::write(&self.location))?;
        out.write_all(header.to_line().as_bytes())
            .map_err(StoreError::io(&self.location, "write"))?;
        let mut failed = None;
        let location = self.location.clone();
        self.for_each_line(0, &mut |item| {
            let text = match &item.text {
                Ok(text) => *text,
                // What was not read cannot be written back.
                Err(problem) => {
                    failed = Some(StoreError::Conflict {
                        location: location.clone(),
                        detail: format!("line {} cannot be rewritten: {problem}", item.number),
                    });
                    return Flow::Stop;
                }
            };
            let drop = drop_through.is_some_and(|d| parse_line(text).is_ok_and(|r| r.seq <= d));
            if !drop && let Err(e) = out.write_all(text).and_then(|()| out.write_all(b"\n")) {
                failed = Some(StoreError::io(&location, "write")(e));
                return Flow::Stop;
            }
            Flow::Continue
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        out.replace().map_err(StoreError::write(&self.location))
    }

    /// Writes `bytes` at the end of `file` (of `len` bytes) and syncs them. When that fails
    /// part way, the file is cut back to `len` (and synced) so the store is exactly as before
    /// ([`StoreError::AppendFailed`]); if even that fails, [`StoreError::AppendTorn`].
    fn write_or_undo(&self, file: &mut File, len: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let (action, source) = match file.write_all(bytes) {
            Err(e) => ("write", e),
            Ok(()) => match file.sync_data() {
                Err(e) => ("fsync", e),
                Ok(()) => return Ok(()),
            },
        };
        match file.set_len(len).and_then(|()| file.sync_all()) {
            Ok(()) => Err(StoreError::AppendFailed {
                location: self.location.clone(),
                action,
                source,
            }),
            Err(cleanup) => Err(StoreError::AppendTorn {
                location: self.location.clone(),
                action,
                source,
                cleanup,
            }),
        }
    }

    /// [`StoreError::TornTail`] when the file ends with an interrupted write.
    fn refuse_torn_tail(&self) -> Result<(), StoreError> {
        let mut file = self.open_file(false, false)?;
        let len = file
            .metadata()
            .map_err(StoreError::io(&self.location, "stat"))?
            .len();
        match self.last_line(&mut file, len)? {
            Some(last) if self.may_be_torn(&last) => Err(StoreError::TornTail {
                location: self.location.clone(),
                offset: last.offset,
            }),
            _ => Ok(()),
        }
    }

    /// The header line, if the file has one.
    fn header(&self) -> Result<Option<Header>, StoreError> {
        if !self.path.exists() {
            return Ok(None);
        }
        let mut file = File::open(&self.path).map_err(StoreError::io(&self.location, "open"))?;
        header_in(&mut file, &self.reading(u64::MAX))
    }

    fn start_head(&self) -> Result<Head, StoreError> {
        match self.header()? {
            None => Ok(Head::GENESIS),
            Some(h) => Ok(Head {
                next_seq: h.start.next_seq,
                prev_hash: Hash32::parse(&h.start.prev_hash).ok_or_else(|| {
                    StoreError::BadHead {
                        location: self.location.clone(),
                        seq: h.start.next_seq,
                        problem: "the header's start hash is not 64 lowercase hex characters"
                            .into(),
                    }
                })?,
            }),
        }
    }

    fn build_head_only(
        &self,
        file: &mut File,
        meta: &std::fs::Metadata,
    ) -> Result<Head, StoreError> {
        let Some(last) = self.last_line(file, meta.len())? else {
            return Ok(Head::GENESIS);
        };
        let item = self.last_item(&last);
        if last.ended
            && let Ok(text) = item.text
            && Header::parse(text, &self.location)?.is_some()
        {
            return self.start_head();
        }
        match item.record() {
            Ok(record) => self.head_after(&record),
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
}

/// How a store's file is read: where it is (for messages), the record limit, and the byte at
/// which reading ends.
struct Reading<'a> {
    location: &'a str,
    max: usize,
    end: u64,
}

/// Reads every non-blank line of `file` from `offset` to `reading.end`, as weaver-kernel
/// splits and strips them (see [`crate::lines`]), calling `f` for each; the header line of a
/// file (its first non-blank line, when it is one) is skipped. No line is buffered past the
/// record limit.
fn lines_in(
    file: &mut File,
    reading: &Reading<'_>,
    offset: u64,
    f: &mut dyn FnMut(&Item<'_>) -> Flow,
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
        let text = line_text(line.bytes, line.len, line.oversized, max);
        if text.as_ref().is_ok_and(|t| t.is_empty()) {
            continue;
        }
        if std::mem::take(&mut first)
            && let Ok(t) = text
            && Header::parse(t, location)?.is_some()
        {
            continue;
        }
        let item = Item {
            number: line.number,
            raw: line.bytes,
            text,
            ended: line.ended,
        };
        if f(&item) == Flow::Stop {
            return Ok(());
        }
    }
}

/// The header line of `file` (up to `reading.end`), if it has one.
fn header_in(file: &mut File, reading: &Reading<'_>) -> Result<Option<Header>, StoreError> {
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
            if lstrip(line.bytes).starts_with(b"{\"trailseal\"") {
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
        match strip_line(line.bytes) {
            Ok([]) => continue,
            Ok(text) => return Header::parse(text, location),
            Err(_) => return Ok(None),
        }
    }
}

/// The state of a store whose file does not exist (yet).
fn state_of_empty() -> StoreState {
    StoreState {
        start: ChainStart::genesis(),
        retention: Vec::new(),
        archive_of: None,
        key_id: StoredKeyId::Absent,
        head: None,
        record_count_hint: None,
    }
}

/// The state of the store held in `file` up to `reading.end`.
fn state_in(file: &mut File, reading: &Reading<'_>) -> Result<StoreState, StoreError> {
    let (start, retention, archive_of) = match header_in(file, reading)? {
        Some(h) => (h.start, h.retention, h.archive_of),
        None => (ChainStart::genesis(), Vec::new(), None),
    };
    // The key id of the first record (weaver-kernel's lines carry none).
    let mut key_id = StoredKeyId::Absent;
    lines_in(file, reading, 0, &mut |item| {
        if let Some(kid) = item
            .text
            .as_ref()
            .ok()
            .and_then(|t| parse_line(t).ok())
            .and_then(|r| r.kid.as_deref().and_then(KeyId::parse))
        {
            key_id = StoredKeyId::Present(kid);
        }
        Flow::Stop
    })?;
    let last = last_line(file, reading.end, reading.max)
        .map_err(StoreError::io(reading.location, "read tail"))?;
    let head = last.and_then(|last| {
        let item = Item {
            number: 0,
            raw: &last.bytes,
            text: line_text(&last.bytes, last.len, last.oversized, reading.max),
            ended: last.ended,
        };
        item.record()
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
    })
}

/// Whether the byte before `end` is a line end (`\n` or `\r`, which weaver-kernel's reader
/// also ends lines at).
fn ends_a_line(file: &mut File, end: u64, location: &str) -> Result<bool, StoreError> {
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

/// The one reader of a JSONL store's snapshot: the file as it was opened, up to the length
/// seen then.
struct JsonlReader {
    file: File,
    end: u64,
    location: String,
    max: usize,
}

impl SnapshotReader for JsonlReader {
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
        let start =
            header_in(&mut self.file, &reading)?.map_or_else(ChainStart::genesis, |h| h.start);
        let mut next_seq = start.next_seq;
        let mut next_prev = start.prev_hash;
        lines_in(&mut self.file, &reading, 0, &mut |item| {
            let parsed = item.record();
            let kid = parsed
                .as_ref()
                .ok()
                .and_then(|r| kid_problem(r, &mut first_kid));
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

/// The write protocols as this backend implemented them before the one write path
/// (`crate::protocol`); to be turned into its `WriteTx` and removed.
#[allow(dead_code)]
impl JsonlStore {
    fn append(
        &mut self,
        key: &ChainKey,
        traces: &[PreparedTrace],
    ) -> Result<Vec<Appended>, StoreError> {
        crate::refuse_repeated_ids(&self.location, traces)?;
        let mut file = self.open_locked()?;
        let meta = file
            .metadata()
            .map_err(StoreError::io(&self.location, "stat"))?;
        let cache = match self.cache.take() {
            Some(c) if c.identity == identity(&meta) && c.len == meta.len() => c,
            Some(mut c) if c.identity == identity(&meta) && c.len < meta.len() => {
                // Other writers appended: learn their ids and the new head.
                let start = c.len;
                let mut new_ids = Vec::new();
                self.for_each_line(start, &mut |item| {
                    if let Ok(text) = item.text
                        && let Ok(record) = parse_line(text)
                        && let Some(id) = action_id_of(&record)
                    {
                        new_ids.push(id);
                    }
                    Flow::Continue
                })?;
                let fresh = self.build_head_only(&mut file, &meta)?;
                c.ids.extend(new_ids);
                AppendCache {
                    identity: c.identity,
                    len: meta.len(),
                    head: fresh,
                    ids: c.ids,
                }
            }
            _ => self.build_cache(&mut file, &meta)?,
        };
        if let Some(id) = traces
            .iter()
            .map(PreparedTrace::action_id)
            .find(|id| cache.ids.contains(*id))
        {
            return Err(StoreError::DuplicateActionId {
                location: self.location.clone(),
                action_id: id.into(),
            });
        }
        // A complete last line without its line end (hand-edited) gets one first.
        let needs_newline = if meta.len() > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(meta.len() - 1))
                .map_err(StoreError::io(&self.location, "seek"))?;
            file.read_exact(&mut last)
                .map_err(StoreError::io(&self.location, "read"))?;
            // `\r` ends a line as `\n` does (universal newlines, as weaver-kernel reads).
            !matches!(last[0], b'\n' | b'\r')
        } else {
            false
        };
        let mut head = cache.head;
        if head.next_seq.checked_add(traces.len() as u64).is_none() {
            return Err(StoreError::SeqOverflow {
                location: self.location.clone(),
            });
        }
        let sealed = seal_batch(key, &mut head, traces);
        let mut out = Vec::with_capacity(traces.iter().map(|t| t.canonical().len() + 200).sum());
        if needs_newline {
            out.push(b'\n');
        }
        let kid = Some(key.key_id());
        let mut appended = Vec::with_capacity(sealed.len());
        for r in &sealed {
            let trace = r.trace.canonical().as_bytes();
            let before = out.len();
            write_record_line(
                &mut out,
                r.seq,
                r.prev_hash.as_bytes(),
                r.record_hash.as_bytes(),
                kid,
                trace,
            );
            self.refuse_oversized(r.seq, out.len() - before - 1)?;
            appended.push(Appended {
                seq: r.seq,
                record_hash: r.record_hash,
            });
        }
        self.write_or_undo(&mut file, meta.len(), &out)?;
        let mut ids = cache.ids;
        ids.extend(traces.iter().map(|t| t.action_id().to_owned()));
        self.cache = Some(AppendCache {
            identity: cache.identity,
            len: meta.len() + out.len() as u64,
            head,
            ids,
        });
        // The lock is released when `file` closes.
        Ok(appended)
    }

    fn add_receipt(&mut self, expected_len: u64, receipt: &str) -> Result<(), StoreError> {
        let lock = self.open_locked()?;
        let mut header = self
            .header()?
            .unwrap_or_else(|| Header::starting_at(ChainStart::genesis()));
        if header.retention.len() as u64 != expected_len {
            return Err(self.conflict("the retention log grew"));
        }
        header.retention.push(receipt.to_owned());
        self.rewrite(&lock, &header, None)
    }

    fn prune(&mut self, plan: &PrunePlan, receipt: &str) -> Result<(), StoreError> {
        let lock = self.open_locked()?;
        let mut header = self
            .header()?
            .unwrap_or_else(|| Header::starting_at(ChainStart::genesis()));
        if header.retention.len() as u64 != plan.log_len {
            return Err(self.conflict("the retention log grew"));
        }
        let mut first = None;
        let mut last_hash_ok = false;
        self.for_each_line(0, &mut |item| {
            if let Ok(text) = item.text
                && let Ok(r) = parse_line(text)
            {
                first.get_or_insert(r.seq);
                if r.seq == plan.last_seq {
                    last_hash_ok = *r.record_hash == *plan.last_hash.as_bytes();
                    return Flow::Stop;
                }
            }
            Flow::Continue
        })?;
        if first != Some(plan.from_seq) || !last_hash_ok {
            return Err(self.conflict("the records to prune changed"));
        }
        header.start = ChainStart::checkpoint(plan.last_seq, plan.last_hash);
        header.retention.push(receipt.to_owned());
        header.archive_of = None;
        self.rewrite(&lock, &header, Some(plan.last_seq))
    }

    fn import_start(&mut self, meta: &ImportMeta) -> Result<(), StoreError> {
        let mut lock = self.open_locked()?;
        let len = lock
            .metadata()
            .map_err(StoreError::io(&self.location, "stat"))?
            .len();
        if len > 0 {
            let last_seq = self
                .last_line(&mut lock, len)
                .ok()
                .flatten()
                .and_then(|last| claimed_seq(&last.bytes));
            return Err(crate::not_empty(
                &self.location,
                crate::Holdings {
                    last_seq,
                    bytes: Some(len),
                    ..crate::Holdings::default()
                },
            ));
        }
        // The copy is written beside the store (mode and owner of the empty store file) and
        // renamed over it when it finishes.
        let held = lock
            .metadata()
            .map_err(StoreError::io(&self.location, "stat"))?;
        // The lock is held: a copy or rewrite that was killed left what is beside it.
        crate::atomic::remove_stale(&self.path);
        let out = AtomicFile::create(&self.path, Perms::SameAs(&held))
            .map_err(StoreError::write(&self.location))?;
        let mut import = Import { _lock: lock, out };
        if meta.start.kind != StartKind::Genesis || !meta.retention.is_empty() {
            let header = Header {
                start: meta.start.clone(),
                retention: meta.retention.clone(),
                archive_of: None,
            };
            import
                .out
                .write_all(header.to_line().as_bytes())
                .map_err(StoreError::io(&self.location, "write"))?;
        }
        self.import_kid = match meta.key_id {
            StoredKeyId::Present(id) => Some(id),
            StoredKeyId::Absent => None,
        };
        self.import = Some(import);
        self.cache = None;
        Ok(())
    }

    fn import_records(&mut self, records: &[ImportRecord]) -> Result<(), StoreError> {
        if self.import.is_none() {
            return Err(self.conflict("records can only be imported after import_start"));
        }
        let mut out = Vec::with_capacity(records.iter().map(|r| r.trace.len() + 200).sum());
        for r in records {
            let before = out.len();
            write_record_line(
                &mut out,
                r.seq,
                r.prev_hash.as_bytes(),
                r.record_hash.as_bytes(),
                self.import_kid,
                r.trace.as_bytes(),
            );
            if let Err(e) = self.refuse_oversized(r.seq, out.len() - before - 1) {
                // The copy cannot finish: drop it (and its file).
                self.import = None;
                return Err(e);
            }
        }
        let Some(import) = self.import.as_mut() else {
            return Err(self.conflict("records can only be imported after import_start"));
        };
        if let Err(e) = import.out.write_all(&out) {
            // The copy cannot finish: drop it (and its file).
            self.import = None;
            return Err(StoreError::io(&self.location, "write")(e));
        }
        Ok(())
    }

    fn import_finish(&mut self) -> Result<(), StoreError> {
        let Some(import) = self.import.take() else {
            return Err(self.conflict("no copy into the store was started"));
        };
        self.cache = None;
        let Import { _lock: lock, out } = import;
        let done = out.replace().map_err(StoreError::write(&self.location));
        // The lock on the replaced file is released only now.
        drop(lock);
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_with_a_repeated_member_is_refused() {
        // Its receipts are read in canonical form, which keeps only the last of a repeated
        // member: the first would be stored text that no MAC covers.
        let line = Header::starting_at(ChainStart::genesis()).to_line();
        assert!(Header::parse(line.as_bytes(), "t").unwrap().is_some());
        let repeated = line.replacen("{\"seq\"", "{\"seq\":5,\"seq\"", 1);
        assert!(matches!(
            Header::parse(repeated.as_bytes(), "t"),
            Err(StoreError::UnknownStore { .. })
        ));
    }
}
