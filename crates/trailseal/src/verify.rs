//! Driving a [`Verifier`] over a store, with the content checks spread over all cores.
//!
//! The store is read by the calling thread, which copies records into batches (one buffer
//! each). Worker threads compute each record's content check (the MAC, and re-canonicalising
//! weaver-kernel payloads); the calling thread feeds the results, in chain order, to the
//! sequential [`Verifier`], which checks seqs and links exactly as a one-by-one pass would. The
//! verdict (first bad seq, kind, records checked) is therefore identical to the sequential one.
//! At most `2 × threads + 1` batches exist at a time, so memory stays bounded whatever the size
//! of the store.

use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};

use trailseal_core::retention::{Receipt, ReceiptBody, ResolvedStart, resolve_start};
use trailseal_core::start::StoredKeyId;
use trailseal_core::verify::{
    Columns, ContentCheck, ContentChecker, Flow, MalformedRecord, RecordView, ScanItem,
    TraceEncoding, Verifier,
};
use trailseal_core::verify::{Expectation, SealedEnd};
use trailseal_core::{ChainKey, TamperKind, Tampered, Unverifiable, UnverifiableReason, Verdict};
use trailseal_store::{SeqRange, Snapshot, SnapshotReader, Store, StoreError, StoreState};

/// A retention log that fails to verify because it was written with another key — its first
/// receipt, and the store's key id if it records one, say so: the secret is wrong. As for
/// records, `verify` tells that apart from tampering (key ids are not authenticated: altering
/// them can at most turn `tampered` into `unverifiable`).
fn wrong_secret_of_log(key: &ChainKey, state: &StoreState) -> Option<Verdict> {
    let first = Receipt::parse(state.retention.first()?.as_bytes(), 0).ok()?;
    let ours = key.key_id();
    let theirs = match state.key_id {
        StoredKeyId::Present(id) if id == ours => return None,
        StoredKeyId::Present(id) => id,
        StoredKeyId::Absent => first.key_id,
    };
    (first.key_id != ours).then(|| {
        Verdict::Unverifiable(Unverifiable {
            reason: UnverifiableReason::WrongSecret,
            detail: format!(
                "the store was written with key id {theirs}, but this secret has key id {ours}"
            ),
        })
    })
}

/// How far verification has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub records_checked: u64,
    /// How many records the store holds, when it can tell.
    pub total_hint: Option<u64>,
}

/// The verdict for a store that could not be read: `tampered` when what stopped the read is
/// itself damage (a schema object trailseal and weaver-kernel do not create, kind `schema`; a
/// checkpoint value that is not text, kind `checkpoint`), otherwise `unverifiable`.
pub fn verdict_of_store_error(e: &StoreError) -> Verdict {
    let tampered = |first_bad_seq: u64, kind: TamperKind, detail: String| {
        Verdict::Tampered(Tampered {
            first_bad_seq,
            kind,
            records_checked: 0,
            detail,
        })
    };
    match e {
        StoreError::Schema { problem, .. } => {
            tampered(0, TamperKind::Schema, format!("schema: {problem}"))
        }
        StoreError::BadMeta {
            seq, key, problem, ..
        } => tampered(
            *seq,
            TamperKind::Checkpoint,
            format!("seq {seq}: meta `{key}` {problem}"),
        ),
        _ => {
            let reason = if e.is_unknown_store() {
                UnverifiableReason::UnknownStore
            } else {
                UnverifiableReason::Unreadable
            };
            Verdict::Unverifiable(Unverifiable {
                reason,
                detail: e.to_string(),
            })
        }
    }
}

/// The verdict when no key was provided.
pub fn no_secret() -> Verdict {
    Verdict::Unverifiable(Unverifiable {
        reason: UnverifiableReason::NoSecret,
        detail: "no secret: set WEAVER_KERNEL_SECRET or pass --secret-file PATH".into(),
    })
}

/// Records per batch handed to a worker.
const BATCH: usize = 2048;

/// The number of threads verification uses by default: every core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Verifies every record of `store` with `key`, streaming, on `threads` threads (1: all on the
/// calling thread).
pub fn verify_store(
    store: &mut dyn Store,
    key: Option<&ChainKey>,
    threads: usize,
    progress: &mut dyn FnMut(Progress),
) -> Verdict {
    verify_impl(store, key, threads, progress, None, &[])
}

/// The verdict of a store whose archive receipt cannot be accepted.
fn archive_problem(start: u64, detail: String) -> Verdict {
    Verdict::Tampered(Tampered {
        first_bad_seq: start,
        kind: TamperKind::Checkpoint,
        records_checked: 0,
        detail,
    })
}

/// Checks an archive's prune receipt: it authenticates the archive's start and end.
fn sealed_end(key: &ChainKey, text: &str, resolved: &ResolvedStart) -> Result<SealedEnd, Verdict> {
    let start = resolved.start.next_seq;
    let receipt = Receipt::parse(text.as_bytes(), 0).map_err(|e| {
        archive_problem(
            start,
            format!(
                "seq {start}: the archive's prune receipt cannot be read: {}",
                e.problem
            ),
        )
    })?;
    if receipt.key_id != key.key_id() || !receipt.mac_holds(key) {
        return Err(archive_problem(
            start,
            format!("seq {start}: the archive's prune receipt does not verify with this secret"),
        ));
    }
    let ReceiptBody::Prune {
        from,
        last_pruned_seq,
        last_pruned_hash,
        ..
    } = &receipt.body
    else {
        return Err(archive_problem(
            start,
            format!("seq {start}: the archive's receipt is not a prune receipt"),
        ));
    };
    let linked = receipt.index == resolved.log.receipts.len() as u64
        && receipt.prev_mac == resolved.log.last_mac();
    if *from != resolved.start || !linked {
        return Err(archive_problem(
            start,
            format!(
                "seq {start}: the archive's start does not match its prune receipt (receipt {})",
                receipt.index
            ),
        ));
    }
    Ok(SealedEnd {
        last_seq: *last_pruned_seq,
        last_hash: last_pruned_hash.as_bytes().to_vec(),
        source: format!("the archive's prune receipt {}", receipt.index),
    })
}

/// [`verify_store`], also showing `observe` every record that passed, in chain order, on the
/// calling thread.
pub fn verify_store_observed(
    store: &mut dyn Store,
    key: Option<&ChainKey>,
    threads: usize,
    progress: &mut dyn FnMut(Progress),
    observe: &mut dyn FnMut(&RecordView<'_>),
) -> Verdict {
    verify_impl(store, key, threads, progress, Some(observe), &[])
}

/// A signed anchor to check the store against, already opened with its public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorCheck {
    pub anchor: trailseal_core::anchor::Anchor,
    /// Where it came from, for messages (a file name).
    pub label: String,
}

/// Checks what anchors say about the store before reading records: the chain key they name,
/// and the retention receipt they saw.
fn anchor_expectations(
    key: &ChainKey,
    anchors: &[AnchorCheck],
    resolved: &ResolvedStart,
) -> Result<Vec<Expectation>, Verdict> {
    let mut out = Vec::new();
    for a in anchors {
        let source = format!("anchor {} (signed {})", a.label, a.anchor.time);
        if a.anchor.key_id != key.key_id() {
            return Err(Verdict::Unverifiable(Unverifiable {
                reason: UnverifiableReason::WrongSecret,
                detail: format!(
                    "{source} is for a chain keyed with key id {}, but this secret's key id is {}",
                    a.anchor.key_id,
                    key.key_id()
                ),
            }));
        }
        if let Some((index, mac)) = a.anchor.retention {
            let held = usize::try_from(index)
                .ok()
                .and_then(|i| resolved.log.receipts.get(i));
            if held.is_none_or(|r| r.mac != mac) {
                let seq = resolved.start.next_seq;
                return Err(Verdict::Tampered(Tampered {
                    first_bad_seq: seq,
                    kind: TamperKind::Checkpoint,
                    records_checked: 0,
                    detail: format!(
                        "seq {seq}: retention receipt {index}, which {source} vouches for, is missing or different (the retention log was rolled back)"
                    ),
                }));
            }
        }
        if let Some(seq) = a.anchor.head_seq() {
            out.push(Expectation {
                seq,
                record_hash: a.anchor.head_hash.as_bytes().to_vec(),
                source,
            });
        }
    }
    Ok(out)
}

/// [`verify_store`], also checking the store against signed anchors: it must still hold each
/// anchored head (else `truncated`, or `link` for a different hash).
pub fn verify_store_anchored(
    store: &mut dyn Store,
    key: Option<&ChainKey>,
    threads: usize,
    progress: &mut dyn FnMut(Progress),
    anchors: &[AnchorCheck],
) -> Verdict {
    verify_impl(store, key, threads, progress, None, anchors)
}

/// Verification with everything optional, of one snapshot of the store (see
/// [`verify_snapshot`]).
fn verify_impl(
    store: &mut dyn Store,
    key: Option<&ChainKey>,
    threads: usize,
    progress: &mut dyn FnMut(Progress),
    observe: Option<&mut dyn FnMut(&RecordView<'_>)>,
    anchors: &[AnchorCheck],
) -> Verdict {
    let Some(key) = key else {
        return no_secret();
    };
    let readers = if threads > 1 && observe.is_none() {
        threads
    } else {
        1
    };
    let location = store.location().to_owned();
    let mut observe = observe;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut snapshot = match store.snapshot(readers) {
            Ok(snapshot) => snapshot,
            Err(e) => return verdict_of_store_error(&e),
        };
        // An observer sees the records as they are read: it gets one read.
        let once = observe.take();
        let retry = once.is_none() && attempts < 3;
        let verified = read_and_verify(
            &location,
            &mut snapshot,
            key,
            threads,
            progress,
            once,
            anchors,
        );
        match verified {
            // Read without locks while a writer wrote: read again (then with locks).
            Err(StoreError::ChangedWhileRead { .. }) if retry => {}
            Ok(verdict) => return verdict,
            Err(e) => return verdict_of_store_error(&e),
        }
    }
}

/// Verifies one consistent snapshot of a store: its state (start, retention log, key id) and
/// its records all come from the same moment, so that nothing written meanwhile (an append, a
/// prune, a policy) can mix two states into one verdict. Without an observer, and when the
/// snapshot has several readers, they read seq ranges side by side ([`verify_ranges`]);
/// otherwise one reader's scan feeds the content checks to worker threads
/// ([`verify_parallel`]), or, with one thread, everything runs on the calling thread. The
/// snapshot's readers stay usable afterwards (a caller that decides on what it verified reads
/// the same snapshot again).
pub(crate) fn verify_snapshot(
    location: &str,
    snapshot: &mut Snapshot<'_>,
    key: &ChainKey,
    threads: usize,
    progress: &mut dyn FnMut(Progress),
    observe: Option<&mut dyn FnMut(&RecordView<'_>)>,
    anchors: &[AnchorCheck],
) -> Verdict {
    read_and_verify(location, snapshot, key, threads, progress, observe, anchors)
        .unwrap_or_else(|e| verdict_of_store_error(&e))
}

/// [`verify_snapshot`], with the error that stopped reading the store.
fn read_and_verify(
    location: &str,
    snapshot: &mut Snapshot<'_>,
    key: &ChainKey,
    threads: usize,
    progress: &mut dyn FnMut(Progress),
    mut observe: Option<&mut dyn FnMut(&RecordView<'_>)>,
    anchors: &[AnchorCheck],
) -> Result<Verdict, StoreError> {
    let state = &snapshot.state;
    let total_hint = state.record_count_hint;
    let resolved = match resolve_start(key, &state.start, &state.retention) {
        Ok(resolved) => resolved,
        Err(t) => return Ok(wrong_secret_of_log(key, state).unwrap_or(Verdict::Tampered(t))),
    };
    let end = match state
        .archive_of
        .as_deref()
        .map(|text| sealed_end(key, text, &resolved))
        .transpose()
    {
        Ok(end) => end,
        Err(verdict) => return Ok(verdict),
    };
    let expectations = match anchor_expectations(key, anchors, &resolved) {
        Ok(e) => e,
        Err(verdict) => return Ok(verdict),
    };
    let mut verifier = Verifier::from_resolved(key, resolved, state.key_id);
    if let Some(end) = end {
        verifier.expect_end(end);
    }
    for e in expectations {
        verifier.expect_record(e);
    }
    let mut report = |checked: u64| {
        progress(Progress {
            records_checked: checked,
            total_hint,
        })
    };
    let mut no_observer = |_: &RecordView<'_>| {};
    let ranged = observe.is_none() && snapshot.readers.len() > 1;
    let observe = observe.take().unwrap_or(&mut no_observer);
    let everything = SeqRange {
        from: None,
        until: None,
    };
    let scanned = if ranged {
        let readers = std::mem::take(&mut snapshot.readers);
        let (scanned, readers) = verify_ranges(
            location,
            readers,
            &snapshot.state,
            key,
            &mut verifier,
            &mut report,
        );
        snapshot.readers = readers;
        scanned
    } else {
        match snapshot.readers.first_mut() {
            None => Err(reader_lost(location)),
            Some(reader) if threads <= 1 => {
                let mut checker = ContentChecker::new();
                reader.scan_range(everything, &mut |item| {
                    let flow = verifier.feed(key, &mut checker, item);
                    if let (Flow::Continue, ScanItem::Record(r)) = (flow, item) {
                        observe(r);
                    }
                    if verifier.records_checked().is_multiple_of(BATCH as u64 * 16) {
                        report(verifier.records_checked());
                    }
                    flow
                })
            }
            Some(reader) => verify_parallel(
                reader.as_mut(),
                key,
                threads,
                &mut verifier,
                &mut report,
                observe,
            ),
        }
    };
    scanned?;
    let verdict = verifier.finish();
    report(verdict.records_checked());
    Ok(verdict)
}

#[derive(Debug)]
enum Entry {
    Record {
        seq: u64,
        prev_hash: Range<usize>,
        record_hash: Range<usize>,
        trace: Range<usize>,
        encoding: TraceEncoding,
        columns: Option<(Range<usize>, Range<usize>)>,
    },
    Malformed(MalformedRecord),
}

/// Records copied out of the store's read buffer: one byte buffer, many ranges.
#[derive(Debug, Default)]
struct Batch {
    id: u64,
    buf: Vec<u8>,
    entries: Vec<Entry>,
}

impl Batch {
    fn push_bytes(&mut self, bytes: &[u8]) -> Range<usize> {
        let start = self.buf.len();
        self.buf.extend_from_slice(bytes);
        start..self.buf.len()
    }

    fn push(&mut self, item: &ScanItem<'_>) {
        let entry = match item {
            ScanItem::Record(r) => Entry::Record {
                seq: r.seq,
                prev_hash: self.push_bytes(r.prev_hash),
                record_hash: self.push_bytes(r.record_hash),
                trace: self.push_bytes(r.trace),
                encoding: r.encoding,
                columns: r
                    .columns
                    .map(|c| (self.push_bytes(c.action_id), self.push_bytes(c.invoked_at))),
            },
            ScanItem::Malformed(m) => Entry::Malformed(m.clone()),
        };
        self.entries.push(entry);
    }

    fn bytes(&self, r: &Range<usize>) -> &[u8] {
        self.buf.get(r.clone()).unwrap_or_default()
    }

    fn view(&self, entry: &Entry) -> Option<RecordView<'_>> {
        match entry {
            Entry::Record {
                seq,
                prev_hash,
                record_hash,
                trace,
                encoding,
                columns,
            } => Some(RecordView {
                seq: *seq,
                prev_hash: self.bytes(prev_hash),
                record_hash: self.bytes(record_hash),
                trace: self.bytes(trace),
                encoding: *encoding,
                columns: columns.as_ref().map(|(a, i)| Columns {
                    action_id: self.bytes(a),
                    invoked_at: self.bytes(i),
                }),
            }),
            Entry::Malformed(_) => None,
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.entries.clear();
    }
}

type Checked = (Batch, Vec<ContentCheck>);

fn worker(
    key: &ChainKey,
    jobs: &Mutex<Receiver<Batch>>,
    results: &std::sync::mpsc::Sender<Checked>,
) {
    let mut checker = ContentChecker::new();
    loop {
        // Hold the lock only to take one batch.
        let next = jobs.lock().map(|rx| rx.recv());
        let Ok(Ok(batch)) = next else {
            return;
        };
        let checks = batch
            .entries
            .iter()
            .map(|e| match batch.view(e) {
                Some(view) => checker.check(key, &view),
                None => ContentCheck::Ok,
            })
            .collect();
        if results.send((batch, checks)).is_err() {
            return;
        }
    }
}

/// Feeds finished batches to the verifier in order; returns `Stop` once it has a verdict.
struct Feeder<'v, 'p> {
    verifier: &'v mut Verifier,
    report: &'p mut dyn FnMut(u64),
    observe: &'p mut dyn FnMut(&RecordView<'_>),
    next_id: u64,
    waiting: BTreeMap<u64, Checked>,
    free: Vec<Batch>,
    stopped: bool,
}

impl Feeder<'_, '_> {
    fn accept(&mut self, (batch, checks): Checked) {
        self.waiting.insert(batch.id, (batch, checks));
        while let Some((mut batch, checks)) = self.waiting.remove(&self.next_id) {
            self.next_id += 1;
            if !self.stopped {
                for (entry, check) in batch.entries.iter().zip(checks) {
                    let flow = match (batch.view(entry), entry) {
                        (Some(view), _) => {
                            let flow = self.verifier.feed_checked(&view, check);
                            if flow == Flow::Continue {
                                (self.observe)(&view);
                            }
                            flow
                        }
                        (None, Entry::Malformed(m)) => self.verifier.feed_malformed(m),
                        (None, Entry::Record { .. }) => Flow::Continue,
                    };
                    if flow == Flow::Stop {
                        self.stopped = true;
                        break;
                    }
                }
                (self.report)(self.verifier.records_checked());
            }
            batch.clear();
            self.free.push(batch);
        }
    }
}

fn verify_parallel(
    reader: &mut dyn SnapshotReader,
    key: &ChainKey,
    threads: usize,
    verifier: &mut Verifier,
    report: &mut dyn FnMut(u64),
    observe: &mut dyn FnMut(&RecordView<'_>),
) -> Result<(), StoreError> {
    std::thread::scope(|scope| {
        let (job_tx, job_rx): (SyncSender<Batch>, Receiver<Batch>) = sync_channel(threads * 2);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (result_tx, result_rx) = channel::<Checked>();
        for _ in 0..threads {
            let jobs = Arc::clone(&job_rx);
            let results = result_tx.clone();
            scope.spawn(move || worker(key, &jobs, &results));
        }
        drop(result_tx);

        let mut feeder = Feeder {
            verifier,
            report,
            observe,
            next_id: 0,
            waiting: BTreeMap::new(),
            free: Vec::new(),
            stopped: false,
        };
        let mut sent = 0u64;
        let mut current = Batch::default();
        let everything = SeqRange {
            from: None,
            until: None,
        };
        let scanned = reader.scan_range(everything, &mut |item| {
            current.push(item);
            if current.entries.len() < BATCH {
                return Flow::Continue;
            }
            let mut batch = std::mem::replace(&mut current, feeder.free.pop().unwrap_or_default());
            batch.id = sent;
            sent += 1;
            if job_tx.send(batch).is_err() {
                return Flow::Stop;
            }
            while let Ok(done) = result_rx.try_recv() {
                feeder.accept(done);
            }
            if feeder.stopped {
                Flow::Stop
            } else {
                Flow::Continue
            }
        });
        if !current.entries.is_empty() && !feeder.stopped {
            current.id = sent;
            sent += 1;
            let _ = job_tx.send(current);
        }
        drop(job_tx);
        while feeder.next_id < sent {
            match result_rx.recv() {
                Ok(done) => feeder.accept(done),
                Err(_) => break,
            }
        }
        scanned
    })
}

/// Seqs per range in [`verify_ranges`].
const RANGE: u64 = 8192;

/// The consecutive seq ranges [`verify_ranges`] reads: `count` ranges of [`RANGE`] seqs from
/// `lo`, the first also taking everything below, the last everything above.
#[derive(Debug, Clone, Copy)]
struct RangePlan {
    lo: u64,
    count: u64,
}

impl RangePlan {
    fn new(state: &StoreState) -> Self {
        match &state.head {
            None => RangePlan { lo: 0, count: 1 },
            Some((head, _)) => {
                let lo = state
                    .record_count_hint
                    .map_or(0, |n| head.saturating_sub(n.saturating_sub(1)));
                RangePlan {
                    lo,
                    count: (head - lo) / RANGE + 1,
                }
            }
        }
    }

    fn boundary(&self, i: u64) -> u64 {
        self.lo.saturating_add(i.saturating_mul(RANGE))
    }

    fn range(&self, i: u64) -> SeqRange {
        SeqRange {
            from: (i > 0).then(|| self.boundary(i)),
            until: (i + 1 < self.count).then(|| self.boundary(i + 1)),
        }
    }
}

/// One record of a range, as the sequential checks need it.
#[derive(Debug)]
enum CheckedEntry {
    Record {
        seq: u64,
        prev_hash: Range<usize>,
        record_hash: Range<usize>,
        check: ContentCheck,
    },
    Malformed(MalformedRecord),
}

/// A range's records with their content checked; the stored hashes in one buffer.
#[derive(Debug, Default)]
struct CheckedRange {
    buf: Vec<u8>,
    entries: Vec<CheckedEntry>,
}

impl CheckedRange {
    fn push(&mut self, key: &ChainKey, checker: &mut ContentChecker, item: &ScanItem<'_>) {
        let entry = match item {
            ScanItem::Record(r) => {
                let check = checker.check(key, r);
                let at = self.buf.len();
                self.buf.extend_from_slice(r.prev_hash);
                self.buf.extend_from_slice(r.record_hash);
                let mid = at + r.prev_hash.len();
                CheckedEntry::Record {
                    seq: r.seq,
                    prev_hash: at..mid,
                    record_hash: mid..self.buf.len(),
                    check,
                }
            }
            ScanItem::Malformed(m) => CheckedEntry::Malformed(m.clone()),
        };
        self.entries.push(entry);
    }

    /// Feeds the records to `verifier` in order, leaving the range empty for reuse; `Stop`
    /// once it has a verdict.
    fn feed(&mut self, verifier: &mut Verifier) -> Flow {
        let buf = std::mem::take(&mut self.buf);
        let mut flow = Flow::Continue;
        for entry in self.entries.drain(..) {
            flow = match entry {
                CheckedEntry::Record {
                    seq,
                    prev_hash,
                    record_hash,
                    check,
                } => {
                    let bytes = |r: Range<usize>| buf.get(r).unwrap_or_default();
                    verifier.feed_hashes(seq, bytes(prev_hash), bytes(record_hash), check)
                }
                CheckedEntry::Malformed(m) => verifier.feed_malformed(&m),
            };
            if flow == Flow::Stop {
                break;
            }
        }
        self.buf = buf;
        self.buf.clear();
        flow
    }
}

type RangeResult = (u64, Result<CheckedRange, StoreError>);

/// Reads ranges of the snapshot and checks their contents, until the plan runs out or
/// verification stops; gives the reader back. Each range is read into an empty
/// [`CheckedRange`] taken from `permits`: the verifier hands them back as it consumes them,
/// which keeps the readers at most a few ranges ahead and the memory bounded.
#[allow(clippy::too_many_arguments)]
fn range_worker<'s>(
    location: &str,
    mut reader: Box<dyn SnapshotReader + 's>,
    key: &ChainKey,
    plan: RangePlan,
    next: &AtomicU64,
    stop: &AtomicBool,
    permits: &Mutex<Receiver<CheckedRange>>,
    results: &std::sync::mpsc::Sender<RangeResult>,
) -> Box<dyn SnapshotReader + 's> {
    let mut checker = ContentChecker::new();
    loop {
        let permit = permits.lock().map(|rx| rx.recv());
        let Ok(Ok(mut out)) = permit else {
            return reader;
        };
        if stop.load(Ordering::Relaxed) {
            return reader;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= plan.count {
            return reader;
        }
        // A reader that panics still delivers range `i` (as an error): the feeding thread
        // waits for the ranges in order and must not wait for one that never comes.
        let read = std::panic::catch_unwind(AssertUnwindSafe(|| {
            reader.scan_range(plan.range(i), &mut |item| {
                if stop.load(Ordering::Relaxed) {
                    return Flow::Stop;
                }
                out.push(key, &mut checker, item);
                Flow::Continue
            })
        }))
        .unwrap_or_else(|_| Err(reader_lost(location)));
        if results.send((i, read.map(|()| out))).is_err() {
            return reader;
        }
    }
}

/// Verifies a snapshot with one thread per reader, each reading consecutive seq ranges and
/// checking their contents, while the calling thread feeds the ranges, in order, to the
/// sequential [`Verifier`]. The records it sees, in order, are those of a whole-store scan, so
/// the verdict is the sequential one.
///
/// A range with no record before the last one means a gap of at least [`RANGE`] seqs (a
/// tampered store): the rest is then read by one reader, so a huge gap costs no time. Gives
/// the readers back.
fn verify_ranges<'s>(
    location: &str,
    readers: Vec<Box<dyn SnapshotReader + 's>>,
    state: &StoreState,
    key: &ChainKey,
    verifier: &mut Verifier,
    report: &mut dyn FnMut(u64),
) -> (Result<(), StoreError>, Vec<Box<dyn SnapshotReader + 's>>) {
    let plan = RangePlan::new(state);
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let (permit_tx, permit_rx) = channel::<CheckedRange>();
    for _ in 0..readers.len() * 2 {
        let _ = permit_tx.send(CheckedRange::default());
    }
    let permits = Mutex::new(permit_rx);
    let (result_tx, result_rx) = channel::<RangeResult>();
    let (outcome, resume, mut readers) = std::thread::scope(|scope| {
        let handles: Vec<_> = readers
            .into_iter()
            .map(|reader| {
                let (next, stop, permits, results) = (&next, &stop, &permits, result_tx.clone());
                scope.spawn(move || {
                    range_worker(location, reader, key, plan, next, stop, permits, &results)
                })
            })
            .collect();
        drop(result_tx);
        let mut waiting = BTreeMap::new();
        let mut fed = 0u64;
        let mut outcome = Ok(());
        let mut resume = None;
        let mut stopped = false;
        'feeding: while fed < plan.count {
            let Ok((i, read)) = result_rx.recv() else {
                // Every reader is gone before the plan was read (cannot happen unless a
                // thread died): never let that pass as a shorter chain.
                outcome = Err(reader_lost(location));
                break;
            };
            waiting.insert(i, read);
            while let Some(read) = waiting.remove(&fed) {
                fed += 1;
                let mut range = match read {
                    Ok(range) => range,
                    Err(e) => {
                        outcome = Err(e);
                        break 'feeding;
                    }
                };
                if range.entries.is_empty() && fed < plan.count {
                    resume = Some(plan.boundary(fed));
                    break 'feeding;
                }
                let flow = range.feed(verifier);
                let _ = permit_tx.send(range);
                report(verifier.records_checked());
                if flow == Flow::Stop {
                    stopped = true;
                    break 'feeding;
                }
            }
        }
        debug_assert!(outcome.is_err() || stopped || resume.is_some() || fed == plan.count);
        stop.store(true, Ordering::Relaxed);
        drop(permit_tx);
        let readers: Vec<_> = handles.into_iter().filter_map(|h| h.join().ok()).collect();
        (outcome, resume, readers)
    });
    if outcome.is_err() {
        return (outcome, readers);
    }
    let Some(from) = resume else {
        return (Ok(()), readers);
    };
    let Some(reader) = readers.first_mut() else {
        return (Err(reader_lost(location)), readers);
    };
    let mut checker = ContentChecker::new();
    let scanned = reader.scan_range(
        SeqRange {
            from: Some(from),
            until: None,
        },
        &mut |item| verifier.feed(key, &mut checker, item),
    );
    (scanned, readers)
}

/// The error for a reader thread that ended without finishing its work.
fn reader_lost(location: &str) -> StoreError {
    StoreError::Io {
        location: location.to_owned(),
        action: "verify",
        source: std::io::Error::other("a reader thread ended early"),
    }
}
