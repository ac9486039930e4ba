//! One reader, many checkers: the calling thread scans the store and copies records into
//! batches (one buffer each); worker threads compute each record's content check (the MAC, and
//! re-canonicalising weaver-kernel payloads); the calling thread feeds the results, in chain
//! order, to the sequential [`Verifier`], which checks seqs and links exactly as a one-by-one
//! pass would, and shows each record that passed to the observer. At most `2 × threads + 1`
//! batches exist at a time, so memory stays bounded whatever the size of the store.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};

use trailseal_core::KeySchedule;
use trailseal_core::tree::MerkleHash;
use trailseal_core::verify::{
    Columns, ContentCheck, ContentChecker, Flow, MalformedRecord, RecordView, ScanItem,
    TraceEncoding, Verifier,
};
use trailseal_store::{SeqRange, SnapshotReader, StoreError};

use super::tree::{TreeCheck, leaf_of};

/// Records per batch handed to a worker.
pub(super) const BATCH: usize = 2048;

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

type Checked = (Batch, Vec<(ContentCheck, Option<MerkleHash>)>);

fn worker(
    keys: &KeySchedule,
    jobs: &Mutex<Receiver<Batch>>,
    results: &std::sync::mpsc::Sender<Checked>,
    with_leaves: bool,
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
                Some(view) => {
                    let check = keys.check(&mut checker, &view);
                    let leaf = if with_leaves {
                        leaf_of(keys, &checker, &view, &check)
                    } else {
                        None
                    };
                    (check, leaf)
                }
                None => (ContentCheck::Ok, None),
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
    tree: &'v mut Option<TreeCheck>,
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
                for (entry, (check, leaf)) in batch.entries.iter().zip(checks) {
                    let flow = match (batch.view(entry), entry) {
                        (Some(view), _) => {
                            let not_held = check == ContentCheck::NotHeld;
                            let flow = self.verifier.feed_checked(&view, check);
                            if flow == Flow::Continue {
                                (self.observe)(&view);
                                if let Some(tree) = self.tree.as_mut() {
                                    tree.accept(view.seq, not_held, leaf);
                                }
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

pub(super) fn verify_parallel(
    reader: &mut dyn SnapshotReader,
    keys: &KeySchedule,
    threads: usize,
    verifier: &mut Verifier,
    tree: &mut Option<TreeCheck>,
    report: &mut dyn FnMut(u64),
    observe: &mut dyn FnMut(&RecordView<'_>),
) -> Result<(), StoreError> {
    let with_leaves = tree.is_some();
    std::thread::scope(|scope| {
        let (job_tx, job_rx): (SyncSender<Batch>, Receiver<Batch>) = sync_channel(threads * 2);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (result_tx, result_rx) = channel::<Checked>();
        for _ in 0..threads {
            let jobs = Arc::clone(&job_rx);
            let results = result_tx.clone();
            scope.spawn(move || worker(keys, &jobs, &results, with_leaves));
        }
        drop(result_tx);

        let mut feeder = Feeder {
            verifier,
            tree,
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
