//! JSONL: weaver-kernel 0.12.0's `JsonlTraceStore` layout, one record a line.
//!
//! weaver-kernel writes `json.dumps({"seq", "prev_hash", "record_hash", "trace"})` with
//! default separators; trailseal writes
//! `{"seq":N,"prev_hash":"…","record_hash":"…","kid":"…","trace":<canonical trace>}` — the
//! same record, compact, with the trace in canonical form (so it is MAC'd without parsing) and
//! the key id (`kid`, ignored by weaver-kernel). Blank lines are skipped, as in weaver-kernel.
//!
//! Appends take an exclusive advisory lock on the file (`flock`), read the head from the
//! file's tail, write the new lines with one `write` and `fsync` before unlocking, so several
//! trailseal processes appending to one file produce one chain. A last line without its
//! newline is an interrupted write: appends refuse to build on it.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use trailseal_core::json::{self, Kind, Mode};
use trailseal_core::verify::{
    ChainStart, Flow, MalformedRecord, RecordView, ScanItem, StartKind, StoredKeyId, TraceEncoding,
};
use trailseal_core::{ChainKey, Hash32, Head, KeyId, PreparedTrace, seal_batch};

use crate::{
    Appended, ImportMeta, ImportRecord, OpenMode, PrunePlan, Store, StoreError, StoreState,
    StoredRecord,
};

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

/// The last non-blank line of a file: (offset, trimmed bytes, whether a newline follows it).
fn read_last_line(file: &mut File, len: u64) -> std::io::Result<Option<(u64, Vec<u8>, bool)>> {
    let mut window: u64 = 64 * 1024;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::with_capacity((len - start) as usize);
        Read::by_ref(file).take(len - start).read_to_end(&mut buf)?;
        let Some(end) = buf.iter().rposition(|b| !b.is_ascii_whitespace()) else {
            if start == 0 {
                return Ok(None);
            }
            window = window.saturating_mul(4);
            continue;
        };
        let newline_after = buf.get(end + 1..).is_some_and(|tail| tail.contains(&b'\n'));
        match buf
            .get(..end)
            .and_then(|b| b.iter().rposition(|c| *c == b'\n'))
        {
            Some(nl) => {
                let line = buf.get(nl + 1..=end).unwrap_or_default();
                return Ok(Some((
                    start + nl as u64 + 1,
                    line.trim_ascii().to_vec(),
                    newline_after,
                )));
            }
            None if start == 0 => {
                let line = buf.get(..=end).unwrap_or_default();
                return Ok(Some((0, line.trim_ascii().to_vec(), newline_after)));
            }
            None => window = window.saturating_mul(4),
        }
    }
}

#[derive(Debug)]
struct AppendCache {
    identity: (u64, u64),
    len: u64,
    head: Head,
    ids: HashSet<String>,
}

/// A chain in a JSONL file.
#[derive(Debug)]
pub struct JsonlStore {
    path: PathBuf,
    location: String,
    cache: Option<AppendCache>,
    /// The key id written on imported lines.
    import_kid: Option<KeyId>,
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

    fn check_first_line(&self) -> Result<(), StoreError> {
        let file = File::open(&self.path).map_err(StoreError::io(&self.location, "open"))?;
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = Read::by_ref(&mut reader)
                .take(1 << 16)
                .read_until(b'\n', &mut line)
                .map_err(StoreError::io(&self.location, "read"))?;
            if n == 0 {
                return Ok(());
            }
            let t = <[u8]>::trim_ascii(&line);
            if t.is_empty() && line.ends_with(b"\n") {
                continue;
            }
            return if t.first() == Some(&b'{') {
                Ok(())
            } else {
                Err(StoreError::UnknownStore {
                    location: self.location.clone(),
                    reason: "its first line is not a JSON object (is this a JSONL store?)".into(),
                })
            };
        }
    }

    fn open_file(&self, write: bool, create: bool) -> Result<File, StoreError> {
        OpenOptions::new()
            .read(true)
            .append(write)
            .create(create)
            .open(&self.path)
            .map_err(StoreError::io(&self.location, "open"))
    }

    /// Reads every non-blank line from `offset`, calling `f` for each; the header line of a
    /// file (its first non-blank line, when it is one) is skipped.
    fn for_each_line(
        &self,
        offset: u64,
        f: &mut dyn FnMut(u64, &[u8], bool) -> Flow,
    ) -> Result<(), StoreError> {
        let mut first = offset == 0;
        let mut file = self.open_file(false, false)?;
        file.seek(SeekFrom::Start(offset))
            .map_err(StoreError::io(&self.location, "seek"))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut buf = Vec::with_capacity(4096);
        let mut line_no: u64 = 0;
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(StoreError::io(&self.location, "read"))?;
            if n == 0 {
                return Ok(());
            }
            line_no += 1;
            let ended = buf.last() == Some(&b'\n');
            let line = <[u8]>::trim_ascii(&buf);
            if line.is_empty() {
                continue;
            }
            if std::mem::take(&mut first) && Header::parse(line, &self.location)?.is_some() {
                continue;
            }
            if f(line_no, line, ended) == Flow::Stop {
                return Ok(());
            }
        }
    }

    fn build_cache(
        &self,
        file: &mut File,
        meta: &std::fs::Metadata,
    ) -> Result<AppendCache, StoreError> {
        let head = self.build_head_only(file, meta)?;
        let mut ids = HashSet::new();
        self.for_each_line(0, &mut |_, line, _| {
            if let Ok(record) = parse_line(line)
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
    fn location(&self) -> &str {
        &self.location
    }

    fn state(&mut self) -> Result<StoreState, StoreError> {
        let header = self.header()?;
        let (start, retention, archive_of) = match header {
            Some(h) => (h.start, h.retention, h.archive_of),
            None => (ChainStart::genesis(), Vec::new(), None),
        };
        // The key id of the first record (weaver-kernel's lines carry none).
        let mut key_id = StoredKeyId::Absent;
        if self.path.exists() {
            self.for_each_line(0, &mut |_, line, _| {
                if let Some(kid) = parse_line(line)
                    .ok()
                    .and_then(|r| r.kid.as_deref().and_then(KeyId::parse))
                {
                    key_id = StoredKeyId::Present(kid);
                }
                Flow::Stop
            })?;
        }
        let head = if self.path.exists() {
            let mut file = self.open_file(false, false)?;
            let len = file
                .metadata()
                .map_err(StoreError::io(&self.location, "stat"))?
                .len();
            read_last_line(&mut file, len)
                .map_err(StoreError::io(&self.location, "read tail"))?
                .and_then(|(_, line, _)| {
                    parse_line(&line)
                        .ok()
                        .map(|r| (r.seq, r.record_hash.into_owned()))
                })
        } else {
            None
        };
        Ok(StoreState {
            start,
            retention,
            archive_of,
            key_id,
            head,
            record_count_hint: None,
        })
    }

    fn add_receipt(&mut self, expected_len: u64, receipt: &str) -> Result<(), StoreError> {
        let _lock = self.open_locked()?;
        let mut header = self
            .header()?
            .unwrap_or_else(|| Header::starting_at(ChainStart::genesis()));
        if header.retention.len() as u64 != expected_len {
            return Err(self.conflict("the retention log grew"));
        }
        header.retention.push(receipt.to_owned());
        self.rewrite(&header, None)
    }

    fn prune(&mut self, plan: &PrunePlan, receipt: &str) -> Result<(), StoreError> {
        let _lock = self.open_locked()?;
        let mut header = self
            .header()?
            .unwrap_or_else(|| Header::starting_at(ChainStart::genesis()));
        if header.retention.len() as u64 != plan.log_len {
            return Err(self.conflict("the retention log grew"));
        }
        let mut first = None;
        let mut last_hash_ok = false;
        self.for_each_line(0, &mut |_, line, _| {
            if let Ok(r) = parse_line(line) {
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
        self.rewrite(&header, Some(plan.last_seq))
    }

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
                self.for_each_line(start, &mut |_, line, _| {
                    if let Ok(record) = parse_line(line)
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
        // A complete last line without its newline (hand-edited) gets one first.
        let needs_newline = if meta.len() > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(meta.len() - 1))
                .map_err(StoreError::io(&self.location, "seek"))?;
            file.read_exact(&mut last)
                .map_err(StoreError::io(&self.location, "read"))?;
            last[0] != b'\n'
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
            write_record_line(
                &mut out,
                r.seq,
                r.prev_hash.as_bytes(),
                r.record_hash.as_bytes(),
                kid,
                trace,
            );
            appended.push(Appended {
                seq: r.seq,
                record_hash: r.record_hash,
            });
        }
        file.write_all(&out)
            .map_err(StoreError::io(&self.location, "write"))?;
        file.sync_data()
            .map_err(StoreError::io(&self.location, "fsync"))?;
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

    fn import_start(&mut self, meta: &ImportMeta) -> Result<(), StoreError> {
        let mut file = self.open_locked()?;
        if file
            .metadata()
            .map_err(StoreError::io(&self.location, "stat"))?
            .len()
            > 0
        {
            return Err(crate::not_empty(&self.location));
        }
        if meta.start.kind != StartKind::Genesis || !meta.retention.is_empty() {
            let header = Header {
                start: meta.start.clone(),
                retention: meta.retention.clone(),
                archive_of: None,
            };
            file.write_all(header.to_line().as_bytes())
                .map_err(StoreError::io(&self.location, "write"))?;
            file.sync_data()
                .map_err(StoreError::io(&self.location, "fsync"))?;
        }
        self.import_kid = match meta.key_id {
            StoredKeyId::Present(id) => Some(id),
            StoredKeyId::Absent => None,
        };
        self.cache = None;
        Ok(())
    }

    fn import_records(&mut self, records: &[ImportRecord]) -> Result<(), StoreError> {
        let mut file = self.open_locked()?;
        let mut out = Vec::with_capacity(records.iter().map(|r| r.trace.len() + 200).sum());
        for r in records {
            write_record_line(
                &mut out,
                r.seq,
                r.prev_hash.as_bytes(),
                r.record_hash.as_bytes(),
                self.import_kid,
                r.trace.as_bytes(),
            );
        }
        file.write_all(&out)
            .map_err(StoreError::io(&self.location, "write"))?;
        file.sync_data()
            .map_err(StoreError::io(&self.location, "fsync"))?;
        self.cache = None;
        Ok(())
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
        self.for_each_line(0, &mut |line_no, line, ended| match parse_line(line) {
            Ok(r) if r.seq < from_seq => Flow::Continue,
            Ok(r) => visit(&ScanItem::Record(RecordView {
                seq: r.seq,
                prev_hash: &r.prev_hash,
                record_hash: &r.record_hash,
                trace: &r.trace,
                encoding: r.encoding,
                columns: None,
            })),
            Err(bad) => visit(&ScanItem::Malformed(MalformedRecord {
                seq: bad.seq,
                location: format!("line {line_no}"),
                problem: bad.problem,
                torn: !ended,
            })),
        })
    }

    fn find(&mut self, action_id: &str) -> Result<Option<StoredRecord>, StoreError> {
        let mut found = None;
        self.for_each_line(0, &mut |_, line, _| {
            if let Ok(record) = parse_line(line)
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
    fn rewrite(&mut self, header: &Header, drop_through: Option<u64>) -> Result<(), StoreError> {
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.rewrite-{}", std::process::id()));
        let result = (|| {
            let file = File::create(&tmp).map_err(StoreError::io(&self.location, "create"))?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            out.write_all(header.to_line().as_bytes())
                .map_err(StoreError::io(&self.location, "write"))?;
            let mut failed = None;
            self.for_each_line(0, &mut |_, line, _| {
                let drop = drop_through.is_some_and(|d| parse_line(line).is_ok_and(|r| r.seq <= d));
                if !drop && let Err(e) = out.write_all(line).and_then(|()| out.write_all(b"\n")) {
                    failed = Some(e);
                    return Flow::Stop;
                }
                Flow::Continue
            })?;
            if let Some(e) = failed {
                return Err(StoreError::io(&self.location, "write")(e));
            }
            let file = out
                .into_inner()
                .map_err(|e| StoreError::io(&self.location, "write")(e.into_error()))?;
            file.sync_all()
                .map_err(StoreError::io(&self.location, "fsync"))?;
            std::fs::rename(&tmp, &self.path).map_err(StoreError::io(&self.location, "rename"))?;
            File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(StoreError::io(&self.location, "fsync directory"))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        self.cache = None;
        result
    }

    /// The header line, if the file has one.
    fn header(&self) -> Result<Option<Header>, StoreError> {
        if !self.path.exists() {
            return Ok(None);
        }
        let file = File::open(&self.path).map_err(StoreError::io(&self.location, "open"))?;
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader
                .read_until(b'\n', &mut line)
                .map_err(StoreError::io(&self.location, "read"))?
                == 0
            {
                return Ok(None);
            }
            let t = <[u8]>::trim_ascii(&line);
            if !t.is_empty() {
                return Header::parse(t, &self.location);
            }
        }
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
        match read_last_line(file, meta.len())
            .map_err(StoreError::io(&self.location, "read tail"))?
        {
            None => Ok(Head::GENESIS),
            Some((_, line, true)) if Header::parse(&line, &self.location)?.is_some() => {
                self.start_head()
            }
            Some((offset, line, ended)) => match parse_line(&line) {
                Ok(record) => self.head_after(&record),
                Err(_) if !ended => Err(StoreError::TornTail {
                    location: self.location.clone(),
                    offset,
                }),
                Err(bad) => Err(StoreError::BadHead {
                    location: self.location.clone(),
                    seq: bad.seq.unwrap_or(0),
                    problem: bad.problem,
                }),
            },
        }
    }
}
