//! The record envelope `{seq, prev_hash, record_hash, trace}` and sealing new records onto a
//! chain head.

use crate::chain::{ChainKey, Hash32};
use crate::trace::PreparedTrace;

/// Where the next record goes: its seq and the hash it links to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The seq the next record takes.
    pub next_seq: u64,
    /// The `record_hash` of the last record (or the checkpoint / genesis value).
    pub prev_hash: Hash32,
}

impl Head {
    /// The head of an empty chain.
    pub const GENESIS: Head = Head {
        next_seq: 0,
        prev_hash: Hash32::GENESIS,
    };
}

/// A record ready to be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedRecord<'t> {
    pub seq: u64,
    pub prev_hash: Hash32,
    pub record_hash: Hash32,
    pub trace: &'t PreparedTrace,
}

/// Seals `traces` in order onto `head`, advancing it.
pub fn seal_batch<'t>(
    key: &ChainKey,
    head: &mut Head,
    traces: &'t [PreparedTrace],
) -> Vec<SealedRecord<'t>> {
    traces
        .iter()
        .map(|trace| {
            let seq = head.next_seq;
            let record_hash =
                key.record_hash(seq, head.prev_hash.as_bytes(), trace.canonical().as_bytes());
            let record = SealedRecord {
                seq,
                prev_hash: head.prev_hash,
                record_hash,
                trace,
            };
            *head = Head {
                next_seq: seq + 1,
                prev_hash: record_hash,
            };
            record
        })
        .collect()
}

/// Checks a batch for repeated `action_id`s before anything is written.
pub fn find_duplicate_action_id(traces: &[PreparedTrace]) -> Option<&str> {
    let mut ids: Vec<&str> = traces.iter().map(PreparedTrace::action_id).collect();
    ids.sort_unstable();
    ids.windows(2)
        .find(|w| w.first() == w.get(1))
        .and_then(|w| w.first().copied())
}
