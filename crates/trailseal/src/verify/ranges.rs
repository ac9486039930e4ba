//! Many readers: when a snapshot has several readers, each reads consecutive seq ranges and
//! checks their contents on its own thread, while the calling thread feeds the ranges, in
//! order, to the sequential [`Verifier`]. The records it sees, in order, are those of a
//! whole-store scan, so the verdict is the sequential one.

use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, channel};

use trailseal_core::KeySchedule;
use trailseal_core::tree::MerkleHash;
use trailseal_core::verify::{
    ContentCheck, ContentChecker, Flow, MalformedRecord, ScanItem, Verifier,
};
use trailseal_store::{SeqRange, SnapshotReader, StoreError, StoreState};

use super::tree::{TreeCheck, leaf_of};

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
        leaf: Option<MerkleHash>,
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
    fn push(
        &mut self,
        keys: &KeySchedule,
        checker: &mut ContentChecker,
        with_leaves: bool,
        item: &ScanItem<'_>,
    ) {
        let entry = match item {
            ScanItem::Record(r) => {
                let check = keys.check(checker, r);
                let leaf = if with_leaves {
                    leaf_of(keys, checker, r, &check)
                } else {
                    None
                };
                let at = self.buf.len();
                self.buf.extend_from_slice(r.prev_hash);
                self.buf.extend_from_slice(r.record_hash);
                let mid = at + r.prev_hash.len();
                CheckedEntry::Record {
                    seq: r.seq,
                    prev_hash: at..mid,
                    record_hash: mid..self.buf.len(),
                    check,
                    leaf,
                }
            }
            ScanItem::Malformed(m) => CheckedEntry::Malformed(m.clone()),
        };
        self.entries.push(entry);
    }

    /// Feeds the records to `verifier` in order, leaving the range empty for reuse; `Stop`
    /// once it has a verdict.
    fn feed(&mut self, verifier: &mut Verifier, tree: &mut Option<TreeCheck>) -> Flow {
        let buf = std::mem::take(&mut self.buf);
        let mut flow = Flow::Continue;
        for entry in self.entries.drain(..) {
            flow = match entry {
                CheckedEntry::Record {
                    seq,
                    prev_hash,
                    record_hash,
                    check,
                    leaf,
                } => {
                    let bytes = |r: Range<usize>| buf.get(r).unwrap_or_default();
                    let not_held = check == ContentCheck::NotHeld;
                    let flow =
                        verifier.feed_hashes(seq, bytes(prev_hash), bytes(record_hash), check);
                    if let (Flow::Continue, Some(tree)) = (flow, tree.as_mut()) {
                        tree.accept(seq, not_held, leaf);
                    }
                    flow
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
    keys: &KeySchedule,
    plan: RangePlan,
    next: &AtomicU64,
    stop: &AtomicBool,
    permits: &Mutex<Receiver<CheckedRange>>,
    results: &std::sync::mpsc::Sender<RangeResult>,
    with_leaves: bool,
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
                out.push(keys, &mut checker, with_leaves, item);
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
pub(super) fn verify_ranges<'s>(
    location: &str,
    readers: Vec<Box<dyn SnapshotReader + 's>>,
    state: &StoreState,
    keys: &KeySchedule,
    verifier: &mut Verifier,
    tree: &mut Option<TreeCheck>,
    report: &mut dyn FnMut(u64),
) -> (Result<(), StoreError>, Vec<Box<dyn SnapshotReader + 's>>) {
    let plan = RangePlan::new(state);
    let with_leaves = tree.is_some();
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
                    range_worker(
                        location,
                        reader,
                        keys,
                        plan,
                        next,
                        stop,
                        permits,
                        &results,
                        with_leaves,
                    )
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
                let flow = range.feed(verifier, tree);
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
        &mut |item| feed_one(keys, &mut checker, verifier, tree, item),
    );
    (scanned, readers)
}

/// Feeds one record to the verifier on the calling thread, and its leaf to the tree check.
pub(super) fn feed_one(
    keys: &KeySchedule,
    checker: &mut ContentChecker,
    verifier: &mut Verifier,
    tree: &mut Option<TreeCheck>,
    item: &ScanItem<'_>,
) -> Flow {
    let ScanItem::Record(r) = item else {
        if let ScanItem::Malformed(bad) = item {
            return verifier.feed_malformed(bad);
        }
        return Flow::Continue;
    };
    if verifier.is_finished() {
        return Flow::Stop;
    }
    let check = keys.check(checker, r);
    let not_held = check == ContentCheck::NotHeld;
    let flow = verifier.feed_checked(r, check);
    if let (Flow::Continue, Some(tree)) = (flow, tree.as_mut()) {
        // The verifier accepted the record: its content check passed (or its key is not held).
        tree.accept(
            r.seq,
            not_held,
            leaf_of(keys, checker, r, &ContentCheck::Ok),
        );
    }
    flow
}

/// The error for a reader thread that ended without finishing its work.
pub(super) fn reader_lost(location: &str) -> StoreError {
    StoreError::Io {
        location: location.to_owned(),
        action: "verify",
        source: std::io::Error::other("a reader thread ended early"),
    }
}
