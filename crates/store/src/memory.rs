//! An in-memory store: for tests, and for embedding where persistence is handled elsewhere.

use std::collections::HashSet;

use trailseal_core::verify::{ChainStart, Flow, RecordView, ScanItem, StoredKeyId, TraceEncoding};
use trailseal_core::{ChainKey, Hash32, Head, PreparedTrace, seal_batch};

use crate::{
    Appended, ImportMeta, ImportRecord, PrunePlan, SeqRange, Snapshot, SnapshotReader, Store,
    StoreError, StoreState, StoredRecord,
};

/// One record as the memory store keeps it. Public so tests can damage it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryRecord {
    pub seq: u64,
    pub prev_hash: String,
    pub record_hash: String,
    pub trace: String,
}

/// An in-memory chain.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    start: ChainStart,
    key_id: StoredKeyId,
    records: Vec<MemoryRecord>,
    action_ids: HashSet<String>,
    retention: Vec<String>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty chain starting at genesis.
    pub fn new() -> Self {
        Self {
            start: ChainStart::genesis(),
            key_id: StoredKeyId::Absent,
            records: Vec::new(),
            action_ids: HashSet::new(),
            retention: Vec::new(),
        }
    }

    /// The retention log, for tests that damage it on purpose.
    pub fn retention_mut(&mut self) -> &mut Vec<String> {
        &mut self.retention
    }

    /// Where the store says the chain starts, for tests that damage it on purpose.
    pub fn start_mut(&mut self) -> &mut ChainStart {
        &mut self.start
    }

    /// The records, for tests that damage them on purpose. Changing them bypasses every check.
    pub fn records_mut(&mut self) -> &mut Vec<MemoryRecord> {
        &mut self.records
    }

    /// The records.
    pub fn records(&self) -> &[MemoryRecord] {
        &self.records
    }

    fn head(&self) -> Result<Head, StoreError> {
        match self.records.last() {
            None => Ok(Head {
                next_seq: self.start.next_seq,
                prev_hash: Hash32::parse(&self.start.prev_hash).unwrap_or(Hash32::GENESIS),
            }),
            Some(last) => {
                let bad = |problem: &str| StoreError::BadHead {
                    location: "memory".into(),
                    seq: last.seq,
                    problem: problem.into(),
                };
                let prev_hash = Hash32::parse(last.record_hash.as_bytes())
                    .ok_or_else(|| bad("its record_hash is not 64 lowercase hex characters"))?;
                let next_seq = last.seq.checked_add(1).ok_or_else(|| bad("seq overflow"))?;
                Ok(Head {
                    next_seq,
                    prev_hash,
                })
            }
        }
    }
}

impl Store for MemoryStore {
    fn location(&self) -> &str {
        "memory"
    }

    fn state(&mut self) -> Result<StoreState, StoreError> {
        Ok(StoreState {
            start: self.start.clone(),
            retention: self.retention.clone(),
            archive_of: None,
            key_id: self.key_id,
            head: self
                .records
                .last()
                .map(|r| (r.seq, r.record_hash.as_bytes().to_vec())),
            record_count_hint: Some(self.records.len() as u64),
        })
    }

    fn append(
        &mut self,
        key: &ChainKey,
        traces: &[PreparedTrace],
    ) -> Result<Vec<Appended>, StoreError> {
        if let Some(id) = traces
            .iter()
            .map(PreparedTrace::action_id)
            .find(|id| self.action_ids.contains(*id))
        {
            return Err(StoreError::DuplicateActionId {
                location: "memory".into(),
                action_id: id.into(),
            });
        }
        crate::refuse_repeated_ids("memory", traces)?;
        let mut head = self.head()?;
        let sealed = seal_batch(key, &mut head, traces);
        let mut out = Vec::with_capacity(sealed.len());
        for record in sealed {
            self.action_ids.insert(record.trace.action_id().to_owned());
            self.records.push(MemoryRecord {
                seq: record.seq,
                prev_hash: record.prev_hash.to_string(),
                record_hash: record.record_hash.to_string(),
                trace: record.trace.canonical().to_owned(),
            });
            out.push(Appended {
                seq: record.seq,
                record_hash: record.record_hash,
            });
        }
        if self.key_id == StoredKeyId::Absent {
            self.key_id = StoredKeyId::Present(key.key_id());
        }
        Ok(out)
    }

    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        let range = SeqRange {
            from: Some(from_seq),
            until: None,
        };
        scan_records(&self.records, range, visit);
        Ok(())
    }

    fn snapshot(&mut self, _readers: usize) -> Result<Snapshot<'_>, StoreError> {
        // The store cannot change while the snapshot borrows it: its reader reads it in place.
        let state = self.state()?;
        Ok(Snapshot {
            state,
            readers: vec![Box::new(MemoryReader(&self.records))],
        })
    }

    fn find(&mut self, action_id: &str) -> Result<Option<StoredRecord>, StoreError> {
        if !self.action_ids.contains(action_id) {
            return Ok(None);
        }
        Ok(self
            .records
            .iter()
            .find(|r| {
                trailseal_core::json::parse(r.trace.as_bytes())
                    .ok()
                    .is_some_and(|d| {
                        d.root().get("action_id").and_then(|n| n.as_str()) == Some(action_id)
                    })
            })
            .map(|r| StoredRecord {
                seq: r.seq,
                prev_hash: r.prev_hash.clone(),
                record_hash: r.record_hash.clone(),
                trace: r.trace.clone(),
            }))
    }

    fn add_receipt(&mut self, expected_len: u64, receipt: &str) -> Result<(), StoreError> {
        if self.retention.len() as u64 != expected_len {
            return Err(conflict("the retention log grew"));
        }
        self.retention.push(receipt.to_owned());
        Ok(())
    }

    fn prune(&mut self, plan: &PrunePlan, receipt: &str) -> Result<(), StoreError> {
        if self.retention.len() as u64 != plan.log_len {
            return Err(conflict("the retention log grew"));
        }
        let first = self.records.first().map(|r| r.seq);
        let last = self.records.iter().position(|r| r.seq == plan.last_seq);
        let (Some(first), Some(last)) = (first, last) else {
            return Err(conflict("the records to prune are gone"));
        };
        if first != plan.from_seq
            || self.records.get(last).map(|r| r.record_hash.as_bytes())
                != Some(plan.last_hash.as_bytes())
        {
            return Err(conflict("the records to prune changed"));
        }
        for r in self.records.drain(..=last) {
            if let Some(id) = trailseal_core::json::parse(r.trace.as_bytes())
                .ok()
                .and_then(|d| {
                    d.root()
                        .get("action_id")
                        .and_then(|n| n.as_str())
                        .map(str::to_owned)
                })
            {
                self.action_ids.remove(&id);
            }
        }
        self.retention.push(receipt.to_owned());
        self.start = ChainStart::checkpoint(plan.last_seq, plan.last_hash);
        Ok(())
    }

    fn import_start(&mut self, meta: &ImportMeta) -> Result<(), StoreError> {
        if !self.records.is_empty() || !self.retention.is_empty() {
            return Err(crate::not_empty(
                "memory",
                crate::Holdings {
                    records: Some(self.records.len() as u64),
                    first_seq: self.records.first().map(|r| r.seq),
                    last_seq: self.records.last().map(|r| r.seq),
                    receipts: Some(self.retention.len() as u64),
                    bytes: None,
                },
            ));
        }
        self.start = meta.start.clone();
        self.retention = meta.retention.clone();
        self.key_id = meta.key_id;
        Ok(())
    }

    fn import_records(&mut self, records: &[ImportRecord]) -> Result<(), StoreError> {
        for r in records {
            self.action_ids.insert(r.action_id.clone());
            self.records.push(MemoryRecord {
                seq: r.seq,
                prev_hash: r.prev_hash.to_string(),
                record_hash: r.record_hash.to_string(),
                trace: r.trace.clone(),
            });
        }
        Ok(())
    }
}

/// The one reader of a memory store's snapshot.
struct MemoryReader<'a>(&'a [MemoryRecord]);

impl SnapshotReader for MemoryReader<'_> {
    fn scan_range(
        &mut self,
        range: SeqRange,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        scan_records(self.0, range, visit);
        Ok(())
    }
}

fn scan_records(
    records: &[MemoryRecord],
    range: SeqRange,
    visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
) {
    let within =
        |seq: u64| range.from.is_none_or(|f| seq >= f) && range.until.is_none_or(|u| seq < u);
    for r in records.iter().filter(|r| within(r.seq)) {
        let item = ScanItem::Record(RecordView {
            seq: r.seq,
            prev_hash: r.prev_hash.as_bytes(),
            record_hash: r.record_hash.as_bytes(),
            trace: r.trace.as_bytes(),
            encoding: TraceEncoding::Stored,
            columns: None,
        });
        if visit(&item) == Flow::Stop {
            break;
        }
    }
}

fn conflict(detail: &str) -> StoreError {
    StoreError::Conflict {
        location: "memory".into(),
        detail: detail.into(),
    }
}
