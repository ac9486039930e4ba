//! The retention log: authenticated receipts for pruning and for the retention policy.
//!
//! Each receipt is a canonical JSON object MAC'd with the chain key (with a domain prefix, so
//! a receipt can never be mistaken for a record) and chained to the previous receipt by its
//! MAC. A **prune** receipt states exactly what was removed — the seq range, the last removed
//! record's hash (the checkpoint the retained suffix links to), the count, the cutoff and when —
//! so the retained records verify from an authenticated start. A **policy** receipt records a
//! minimum retention. Every receipt also fixes where the chain started when it was written, so
//! a forged weaver-kernel checkpoint, a deleted or replayed receipt, or a rollback of the log
//! against the records is detected.

use crate::chain::{ChainKey, GENESIS_HASH, Hash32, KeyId};
use crate::json::{self, Kind, Mode, NodeRef};
use crate::start::{ChainStart, StartKind};
use crate::time::{Offset, Timestamp};

/// The receipt format this code writes and reads.
pub const RECEIPT_FORMAT: u64 = 1;

const DOMAIN: &[u8] = b"trailseal receipt v1\n";

/// What a prune was asked to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cutoff {
    /// Records invoked before this time.
    Before(Timestamp),
    /// Records older than a duration at the time of pruning (`before` = that time minus it).
    OlderThan { micros: i64, before: Timestamp },
    /// All but the newest `n` records.
    KeepLast(u64),
}

/// A member of a receipt's `cutoff` that is missing or not what it must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CutoffJsonError {
    #[error("cutoff.keep_last is not a count")]
    KeepLast,
    #[error("cutoff has no before")]
    NoBefore,
    #[error("cutoff.before is not a timestamp")]
    Before,
    #[error("cutoff.older_than_micros is not an integer")]
    OlderThan,
}

impl Cutoff {
    /// Writes the cutoff's members: `{"keep_last":n}`, `{"before":t}` or
    /// `{"before":t,"older_than_micros":m}`.
    pub fn write_json(&self, o: &mut json::ObjectWriter<'_>) {
        match self {
            Cutoff::Before(t) => {
                o.str("before", &t.to_rfc3339());
            }
            Cutoff::OlderThan { micros, before } => {
                o.str("before", &before.to_rfc3339())
                    .i64("older_than_micros", *micros);
            }
            Cutoff::KeepLast(n) => {
                o.u64("keep_last", *n);
            }
        }
    }

    /// Reads a cutoff written by [`Cutoff::write_json`].
    pub fn from_json(node: NodeRef<'_>) -> Result<Cutoff, CutoffJsonError> {
        if let Some(n) = node.get("keep_last") {
            return n
                .as_u64()
                .map(Cutoff::KeepLast)
                .ok_or(CutoffJsonError::KeepLast);
        }
        let before = node
            .get("before")
            .ok_or(CutoffJsonError::NoBefore)?
            .as_str()
            .and_then(|t| Timestamp::parse(t, Offset::Required).ok())
            .ok_or(CutoffJsonError::Before)?;
        match node.get("older_than_micros") {
            Some(m) => Ok(Cutoff::OlderThan {
                micros: m
                    .int_text()
                    .and_then(|t| t.parse().ok())
                    .ok_or(CutoffJsonError::OlderThan)?,
                before,
            }),
            None => Ok(Cutoff::Before(before)),
        }
    }
}

/// What a receipt records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptBody {
    /// Records `from.next_seq ..= last_pruned_seq` were removed; the chain now starts at
    /// `last_pruned_seq + 1`, linked to `last_pruned_hash`.
    Prune {
        from: ChainStart,
        last_pruned_seq: u64,
        last_pruned_hash: Hash32,
        count: u64,
        cutoff: Cutoff,
    },
    /// The minimum retention (microseconds; `None`: no minimum), and where the chain started.
    Policy {
        start: ChainStart,
        min_retention_micros: Option<i64>,
    },
}

/// One entry of the retention log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Position in the log, from 0.
    pub index: u64,
    /// When it was written (the writer's clock).
    pub at: Timestamp,
    /// The key it is MAC'd with.
    pub key_id: KeyId,
    pub body: ReceiptBody,
    /// The previous receipt's MAC (64 `'0'` for the first).
    pub prev_mac: Hash32,
    pub mac: Hash32,
}

/// A stored receipt that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("receipt {position}: {problem}")]
pub struct ReceiptError {
    /// Its position in the stored log.
    pub position: usize,
    pub problem: String,
}

impl ChainStart {
    /// The start that follows a prune of everything up to `last_seq` (hash `last_hash`).
    pub fn checkpoint(last_seq: u64, last_hash: Hash32) -> ChainStart {
        ChainStart {
            next_seq: last_seq.saturating_add(1),
            prev_hash: last_hash.as_bytes().to_vec(),
            kind: StartKind::Checkpoint,
        }
    }
}

impl Receipt {
    /// A new receipt, MAC'd with `key`.
    pub fn seal(
        key: &ChainKey,
        index: u64,
        at: Timestamp,
        body: ReceiptBody,
        prev_mac: Hash32,
    ) -> Receipt {
        let mut r = Receipt {
            index,
            at,
            key_id: key.key_id(),
            body,
            prev_mac,
            mac: Hash32::GENESIS,
        };
        r.mac = key.mac_parts(&[DOMAIN, &r.body_json()]);
        r
    }

    /// The canonical JSON of everything but the MAC (what the MAC covers, after the domain
    /// prefix).
    pub fn body_json(&self) -> Vec<u8> {
        self.json(false)
    }

    /// The receipt as stored: canonical JSON including `mac`.
    pub fn to_json(&self) -> String {
        String::from_utf8_lossy(&self.json(true)).into_owned()
    }

    /// The one encoding of a receipt: every member sorted, `mac` only when `with_mac`.
    fn json(&self, with_mac: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        json::write_object(&mut out, |o| {
            o.str("at", &self.at.to_rfc3339())
                .u64("index", self.index)
                .str("key_id", self.key_id.as_str())
                .str("kind", self.kind())
                .str("prev_mac", self.prev_mac.as_str())
                .u64("v", RECEIPT_FORMAT);
            if with_mac {
                o.str("mac", self.mac.as_str());
            }
            match &self.body {
                ReceiptBody::Prune {
                    from,
                    last_pruned_seq,
                    last_pruned_hash,
                    count,
                    cutoff,
                } => {
                    o.u64("count", *count)
                        .object("cutoff", |c| cutoff.write_json(c))
                        .object("from", |f| from.write_json(f))
                        .str("last_pruned_hash", last_pruned_hash.as_str())
                        .u64("last_pruned_seq", *last_pruned_seq);
                }
                ReceiptBody::Policy {
                    start,
                    min_retention_micros,
                } => {
                    match min_retention_micros {
                        Some(m) => o.i64("min_retention_micros", *m),
                        None => o.null("min_retention_micros"),
                    };
                    o.object("start", |f| start.write_json(f));
                }
            }
        });
        out
    }

    /// Whether the MAC holds with `key`.
    pub fn mac_holds(&self, key: &ChainKey) -> bool {
        key.mac_parts(&[DOMAIN, &self.body_json()])
            .ct_eq_stored(self.mac.as_bytes())
    }

    /// The chain start after this receipt.
    pub fn start_after(&self) -> ChainStart {
        match &self.body {
            ReceiptBody::Prune {
                last_pruned_seq,
                last_pruned_hash,
                ..
            } => ChainStart::checkpoint(*last_pruned_seq, *last_pruned_hash),
            ReceiptBody::Policy { start, .. } => start.clone(),
        }
    }

    /// The chain start this receipt was written against.
    pub fn start_before(&self) -> &ChainStart {
        match &self.body {
            ReceiptBody::Prune { from, .. } => from,
            ReceiptBody::Policy { start, .. } => start,
        }
    }

    /// `"prune"` or `"policy"`.
    pub fn kind(&self) -> &'static str {
        match self.body {
            ReceiptBody::Prune { .. } => "prune",
            ReceiptBody::Policy { .. } => "policy",
        }
    }

    /// Reads a stored receipt. The result is re-serialised canonically for MAC checks, so a
    /// receipt stored in another serialisation of the same value still verifies.
    pub fn parse(text: &[u8], position: usize) -> Result<Receipt, ReceiptError> {
        let bad = |problem: String| ReceiptError { position, problem };
        let doc = json::parse(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let root = doc.root();
        if root.kind() != Kind::Object {
            return Err(bad("not a JSON object".into()));
        }
        // A repeated member is dropped by the canonical form the MAC covers: refused, so that
        // nothing in the stored text lies outside what the MAC authenticates.
        if let Some(name) = doc.find_duplicate_key() {
            return Err(bad(format!("member {name:?} appears twice")));
        }
        let field = |name: &'static str| root.get(name).ok_or_else(|| bad(format!("no {name}")));
        let u64_of = |name: &'static str| {
            field(name)?
                .as_u64()
                .ok_or_else(|| bad(format!("{name} is not a non-negative integer")))
        };
        let str_of = |name: &'static str| -> Result<&str, ReceiptError> {
            field(name)?
                .as_str()
                .ok_or_else(|| bad(format!("{name} is not a string")))
        };
        let hash_of = |name: &'static str| {
            Hash32::parse(str_of(name)?.as_bytes())
                .ok_or_else(|| bad(format!("{name} is not a hash")))
        };
        let time_of = |node: NodeRef<'_>, name: &str| {
            node.as_str()
                .and_then(|t| Timestamp::parse(t, Offset::Required).ok())
                .ok_or_else(|| bad(format!("{name} is not a timestamp")))
        };
        let version = u64_of("v")?;
        if version > RECEIPT_FORMAT {
            return Err(bad(format!(
                "receipt format {version} is newer than this trailseal reads ({RECEIPT_FORMAT})"
            )));
        }
        let start_of = |name: &'static str| -> Result<ChainStart, ReceiptError> {
            ChainStart::from_json(field(name)?).map_err(|e| bad(format!("{name}.{e}")))
        };
        let body = match str_of("kind")? {
            "prune" => {
                let cutoff = Cutoff::from_json(field("cutoff")?).map_err(|e| bad(e.to_string()))?;
                ReceiptBody::Prune {
                    from: start_of("from")?,
                    last_pruned_seq: u64_of("last_pruned_seq")?,
                    last_pruned_hash: hash_of("last_pruned_hash")?,
                    count: u64_of("count")?,
                    cutoff,
                }
            }
            "policy" => {
                let min = field("min_retention_micros")?;
                let min_retention_micros = if min.is_null() {
                    None
                } else {
                    Some(
                        min.int_text()
                            .and_then(|t| t.parse().ok())
                            .ok_or_else(|| bad("min_retention_micros is not an integer".into()))?,
                    )
                };
                ReceiptBody::Policy {
                    start: start_of("start")?,
                    min_retention_micros,
                }
            }
            other => return Err(bad(format!("unknown receipt kind {other:?}"))),
        };
        let key_id = KeyId::parse(str_of("key_id")?.as_bytes())
            .ok_or_else(|| bad("key_id is not a key id".into()))?;
        let receipt = Receipt {
            index: u64_of("index")?,
            at: time_of(field("at")?, "at")?,
            key_id,
            body,
            prev_mac: hash_of("prev_mac")?,
            mac: hash_of("mac")?,
        };
        // Every member must be one this format knows: the MAC only covers what is re-serialised.
        let mut canonical = Vec::new();
        root.write_canonical(&mut canonical, Mode::Strict)
            .map_err(|e| bad(format!("{e}")))?;
        if canonical != receipt.to_json().as_bytes() {
            return Err(bad("has members this receipt format does not define".into()));
        }
        Ok(receipt)
    }
}

/// A problem with the retention log, naming the receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct LogProblem {
    /// Position in the stored log.
    pub position: usize,
    pub detail: String,
}

/// A verified retention log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetentionLog {
    pub receipts: Vec<Receipt>,
}

impl RetentionLog {
    /// Reads and checks a stored log with `key`: each receipt parses, carries its position,
    /// links to the previous receipt's MAC, has a valid MAC, and starts where the previous one
    /// left the chain; prune receipts are internally consistent.
    pub fn check(key: &ChainKey, stored: &[String]) -> Result<RetentionLog, LogProblem> {
        let mut receipts: Vec<Receipt> = Vec::with_capacity(stored.len());
        for (position, text) in stored.iter().enumerate() {
            let problem = |detail: String| LogProblem {
                position,
                detail: format!("retention receipt {position}: {detail}"),
            };
            let r = Receipt::parse(text.as_bytes(), position).map_err(|e| problem(e.problem))?;
            if r.index != position as u64 {
                return Err(problem(format!(
                    "it says it is receipt {} (receipts were deleted, reordered or replayed)",
                    r.index
                )));
            }
            let expected_prev = receipts.last().map_or(Hash32::GENESIS, |p| p.mac);
            if r.prev_mac != expected_prev {
                return Err(problem("prev_mac does not match the previous receipt's MAC (receipts were deleted, reordered or replayed)".into()));
            }
            if r.key_id != key.key_id() || !r.mac_holds(key) {
                return Err(problem(if r.key_id == key.key_id() {
                    "MAC does not match (the receipt was edited)".into()
                } else {
                    format!(
                        "written with key id {}, not this secret's {}",
                        r.key_id,
                        key.key_id()
                    )
                }));
            }
            if let Some(prev) = receipts.last()
                && *r.start_before() != prev.start_after()
            {
                return Err(problem(format!(
                    "it starts from seq {} but the previous receipt left the chain starting at seq {}",
                    r.start_before().next_seq,
                    prev.start_after().next_seq
                )));
            }
            if let ReceiptBody::Prune {
                from,
                last_pruned_seq,
                count,
                ..
            } = &r.body
                && (*last_pruned_seq < from.next_seq
                    || (last_pruned_seq - from.next_seq).checked_add(1) != Some(*count))
            {
                return Err(problem(format!(
                    "count {count} does not match seqs {} to {last_pruned_seq}",
                    from.next_seq
                )));
            }
            receipts.push(r);
        }
        Ok(RetentionLog { receipts })
    }

    /// The start the log fixes for the chain, if it has any receipt.
    pub fn start(&self) -> Option<ChainStart> {
        self.receipts.last().map(Receipt::start_after)
    }

    /// The MAC the next receipt must link to.
    pub fn last_mac(&self) -> Hash32 {
        self.receipts.last().map_or(Hash32::GENESIS, |r| r.mac)
    }

    /// The current minimum retention, if a policy sets one.
    pub fn min_retention_micros(&self) -> Option<i64> {
        self.receipts.iter().rev().find_map(|r| match &r.body {
            ReceiptBody::Policy {
                min_retention_micros,
                ..
            } => Some(*min_retention_micros),
            ReceiptBody::Prune { .. } => None,
        })?
    }

    /// When records before some seq were removed without a receipt (weaver-kernel pruned the
    /// store before its first receipt): that seq.
    pub fn unauthenticated_origin(&self) -> Option<u64> {
        let first = self.receipts.first()?.start_before();
        (first.kind == StartKind::UnauthenticatedCheckpoint).then_some(first.next_seq)
    }
}

/// Where verification starts once the retention log is taken into account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedStart {
    pub start: ChainStart,
    pub log: RetentionLog,
    /// Records before this seq were removed without a receipt (weaver-kernel's prune).
    pub unauthenticated_origin: Option<u64>,
}

/// Why a store's start and its retention log do not agree: damage at the start of the chain,
/// which the verifier reports as `tampered`, kind `checkpoint`, at [`StartProblem::seq`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartProblem {
    /// The retention log does not verify.
    #[error("seq {seq}: {problem}")]
    Log { seq: u64, problem: LogProblem },
    /// The store says its start is an authenticated checkpoint, but no receipt authenticates
    /// it.
    #[error(
        "seq {seq}: the store says its chain starts at an authenticated checkpoint, but its retention log holds no receipt for it (the log was deleted)"
    )]
    NoReceipt { seq: u64 },
    /// The store's checkpoint is not where the retention log leaves the chain.
    #[error(
        "seq {seq}: the store's checkpoint (chain starting at seq {seq}) does not match its authenticated retention log (chain starting at seq {logged}): a forged or rolled-back checkpoint"
    )]
    Mismatch {
        seq: u64,
        /// Where the retention log says the chain starts.
        logged: u64,
    },
}

impl StartProblem {
    /// The seq the store says its chain starts at: where the damage is reported.
    pub fn seq(&self) -> u64 {
        match self {
            StartProblem::Log { seq, .. }
            | StartProblem::NoReceipt { seq }
            | StartProblem::Mismatch { seq, .. } => *seq,
        }
    }
}

/// Reconciles the start a store reports (`raw`: genesis, or weaver-kernel's `meta`
/// checkpoint, or a JSONL header's start) with its retention log. Without a log the raw start
/// stands. With one, the log fixes the start, and the raw start must agree with it — a
/// checkpoint forged or rolled back in `meta` does not.
pub fn resolve_start(
    key: &ChainKey,
    raw: &ChainStart,
    stored: &[String],
) -> Result<ResolvedStart, StartProblem> {
    let seq = raw.next_seq;
    let log =
        RetentionLog::check(key, stored).map_err(|problem| StartProblem::Log { seq, problem })?;
    let Some(start) = log.start() else {
        // Only a prune receipt makes a checkpoint authenticated: one that claims to be,
        // without its receipt, had the retention log deleted.
        if raw.kind == StartKind::Checkpoint {
            return Err(StartProblem::NoReceipt { seq });
        }
        return Ok(ResolvedStart {
            start: raw.clone(),
            log,
            unauthenticated_origin: None,
        });
    };
    if raw.next_seq != start.next_seq || raw.prev_hash != start.prev_hash {
        return Err(StartProblem::Mismatch {
            seq,
            logged: start.next_seq,
        });
    }
    let unauthenticated_origin = log.unauthenticated_origin();
    Ok(ResolvedStart {
        start,
        log,
        unauthenticated_origin,
    })
}

/// The genesis start as a receipt records it.
pub fn genesis_start() -> ChainStart {
    ChainStart {
        next_seq: 0,
        prev_hash: GENESIS_HASH.as_bytes().to_vec(),
        kind: StartKind::Genesis,
    }
}

#[cfg(test)]
mod tests;
