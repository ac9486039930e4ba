//! The retention log: authenticated receipts for pruning and for the retention policy.
//!
//! Each receipt is a canonical JSON object MAC'd with the chain key (with a domain prefix, so
//! a receipt can never be mistaken for a record) and chained to the previous receipt by its
//! MAC. A **prune** receipt states exactly what was removed — the seq range, the last removed
//! record's hash (the checkpoint the retained suffix links to), the count, the cutoff and when —
//! so the retained records verify from an authenticated start. A **policy** receipt records a
//! minimum retention. A **rotate** receipt moves the chain to another key: MAC'd by the old key
//! and, as `new_mac`, by the new one (proof that its writer held both). Every receipt also fixes
//! where the chain started when it was written, so a forged weaver-kernel checkpoint, a deleted
//! or replayed receipt, or a rollback of the log against the records is detected.

use crate::chain::{ChainKey, GENESIS_HASH, Hash32, KeyId};
use crate::json::{self, Kind, Mode, NodeRef};
use crate::keyring::Keyring;
use crate::start::{ChainStart, StartKind};
use crate::time::{Offset, Timestamp};

/// The receipt format this code writes and reads.
pub const RECEIPT_FORMAT: u64 = 1;

const DOMAIN: &[u8] = b"trailseal receipt v1\n";

/// What the new key's MAC of a `rotate` receipt starts with: no other MAC of a chain key does.
const ROTATION_DOMAIN: &[u8] = b"trailseal rotation v1\n";

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
    /// Records from `first_seq` on are MAC'd with `new_key_id`, and so are the receipts after
    /// this one. `head` is the last record before it (`None` for a chain with no record since
    /// `from`); `from` is where the chain started, unchanged by the rotation (for a segment
    /// rotation, the checkpoint at `first_seq` the prune before it left). The minimum retention
    /// in force is restated, so that the new key authenticates it. `new_mac` is the new key's
    /// MAC of the receipt without `mac` and `new_mac`.
    Rotate {
        from: ChainStart,
        first_seq: u64,
        head: Option<(u64, Hash32)>,
        new_key_id: KeyId,
        min_retention_micros: Option<i64>,
        new_mac: Hash32,
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

    /// A new `rotate` receipt from `old` to `new`: MAC'd with the old key (`mac`, which covers
    /// `new_mac` too) and with the new one (`new_mac`). Its `first_seq` is the seq after
    /// `head`, or `from`'s for a chain with no record since `from`.
    #[allow(clippy::too_many_arguments)]
    pub fn seal_rotate(
        old: &ChainKey,
        new: &ChainKey,
        index: u64,
        at: Timestamp,
        from: ChainStart,
        head: Option<(u64, Hash32)>,
        min_retention_micros: Option<i64>,
        prev_mac: Hash32,
    ) -> Receipt {
        let first_seq = head.map_or(from.next_seq, |(seq, _)| seq.saturating_add(1));
        let mut r = Receipt {
            index,
            at,
            key_id: old.key_id(),
            body: ReceiptBody::Rotate {
                from,
                first_seq,
                head,
                new_key_id: new.key_id(),
                min_retention_micros,
                new_mac: Hash32::GENESIS,
            },
            prev_mac,
            mac: Hash32::GENESIS,
        };
        let new_mac = new.mac_parts(&[ROTATION_DOMAIN, &r.json(false, false)]);
        if let ReceiptBody::Rotate { new_mac: m, .. } = &mut r.body {
            *m = new_mac;
        }
        r.mac = old.mac_parts(&[DOMAIN, &r.body_json()]);
        r
    }

    /// The canonical JSON of everything but the MAC (what the MAC covers, after the domain
    /// prefix).
    pub fn body_json(&self) -> Vec<u8> {
        self.json(false, true)
    }

    /// The receipt as stored: canonical JSON including `mac`.
    pub fn to_json(&self) -> String {
        String::from_utf8_lossy(&self.json(true, true)).into_owned()
    }

    /// The one encoding of a receipt: every member sorted, `mac` only when `with_mac`, a
    /// rotation's `new_mac` only when `with_new_mac`.
    fn json(&self, with_mac: bool, with_new_mac: bool) -> Vec<u8> {
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
                ReceiptBody::Rotate {
                    from,
                    first_seq,
                    head,
                    new_key_id,
                    min_retention_micros,
                    new_mac,
                } => {
                    o.u64("first_seq", *first_seq)
                        .object("from", |f| from.write_json(f));
                    match head {
                        Some((seq, hash)) => o.object("head", |h| {
                            h.str("record_hash", hash.as_str()).u64("seq", *seq);
                        }),
                        None => o.null("head"),
                    };
                    match min_retention_micros {
                        Some(m) => o.i64("min_retention_micros", *m),
                        None => o.null("min_retention_micros"),
                    };
                    o.str("new_key_id", new_key_id.as_str());
                    if with_new_mac {
                        o.str("new_mac", new_mac.as_str());
                    }
                }
            }
        });
        out
    }

    /// For a `rotate` receipt: whether `new_mac` holds with `key` (`None` for another kind).
    pub fn new_mac_holds(&self, key: &ChainKey) -> Option<bool> {
        let ReceiptBody::Rotate { new_mac, .. } = &self.body else {
            return None;
        };
        Some(
            key.mac_parts(&[ROTATION_DOMAIN, &self.json(false, false)])
                .ct_eq_stored(new_mac.as_bytes()),
        )
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
            ReceiptBody::Policy { start, .. } | ReceiptBody::Rotate { from: start, .. } => {
                start.clone()
            }
        }
    }

    /// The chain start this receipt was written against.
    pub fn start_before(&self) -> &ChainStart {
        match &self.body {
            ReceiptBody::Prune { from, .. } | ReceiptBody::Rotate { from, .. } => from,
            ReceiptBody::Policy { start, .. } => start,
        }
    }

    /// `"prune"`, `"policy"` or `"rotate"`.
    pub fn kind(&self) -> &'static str {
        match self.body {
            ReceiptBody::Prune { .. } => "prune",
            ReceiptBody::Policy { .. } => "policy",
            ReceiptBody::Rotate { .. } => "rotate",
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
        let min_of = || -> Result<Option<i64>, ReceiptError> {
            let min = field("min_retention_micros")?;
            if min.is_null() {
                return Ok(None);
            }
            min.int_text()
                .and_then(|t| t.parse().ok())
                .map(Some)
                .ok_or_else(|| bad("min_retention_micros is not an integer".into()))
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
            "policy" => ReceiptBody::Policy {
                start: start_of("start")?,
                min_retention_micros: min_of()?,
            },
            "rotate" => {
                let head = field("head")?;
                let head = if head.is_null() {
                    None
                } else {
                    let seq = head
                        .get("seq")
                        .and_then(|n| n.as_u64())
                        .ok_or_else(|| bad("head.seq is not a non-negative integer".into()))?;
                    let hash = head
                        .get("record_hash")
                        .and_then(|h| h.as_str())
                        .and_then(|h| Hash32::parse(h.as_bytes()))
                        .ok_or_else(|| bad("head.record_hash is not a hash".into()))?;
                    Some((seq, hash))
                };
                ReceiptBody::Rotate {
                    from: start_of("from")?,
                    first_seq: u64_of("first_seq")?,
                    head,
                    new_key_id: KeyId::parse(str_of("new_key_id")?.as_bytes())
                        .ok_or_else(|| bad("new_key_id is not a key id".into()))?,
                    min_retention_micros: min_of()?,
                    new_mac: hash_of("new_mac")?,
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
    /// The receipts (by index) that no key held checked: written before a rotation, under a
    /// key the verifier does not hold. Their MACs and contents are unverified; nothing is
    /// taken from them but their place in the chain of `prev_mac` links.
    pub not_checked: Vec<u64>,
}

impl RetentionLog {
    /// Reads and checks a stored log with `key` (see [`RetentionLog::check_ring`]).
    pub fn check(key: &ChainKey, stored: &[String]) -> Result<RetentionLog, LogProblem> {
        Self::check_ring(&Keyring::single(key.clone()), stored)
    }

    /// Reads and checks a stored log with the keys of `ring`: each receipt parses, carries its
    /// position, links to the previous receipt's MAC, is written with the key that covers the
    /// log at its place (the first receipt's, then each rotation's new key), has a valid MAC
    /// when the ring holds that key (and, for a rotation, a valid `new_mac` when it holds the
    /// new key), and starts where the previous one left the chain; prune and rotate receipts
    /// are internally consistent. Receipts under a key the ring does not hold are listed in
    /// [`RetentionLog::not_checked`]; a log of which no held key checked anything is a wrong
    /// secret (an error naming the key ids).
    pub fn check_ring(ring: &Keyring, stored: &[String]) -> Result<RetentionLog, LogProblem> {
        let mut receipts: Vec<Receipt> = Vec::with_capacity(stored.len());
        let mut not_checked = Vec::new();
        let mut covering: Option<KeyId> = None;
        let mut checked_any = false;
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
            if let Some(covering) = covering
                && r.key_id != covering
            {
                return Err(problem(format!(
                    "written with key id {}, but key id {covering} covers the log here (a key change no rotate receipt names)",
                    r.key_id
                )));
            }
            let mut checked = false;
            if let Some(key) = ring.get(r.key_id) {
                if !r.mac_holds(key) {
                    return Err(problem(
                        "MAC does not match (the receipt was edited)".into(),
                    ));
                }
                checked = true;
            }
            if let ReceiptBody::Rotate { new_key_id, .. } = &r.body
                && let Some(new) = ring.get(*new_key_id)
            {
                if r.new_mac_holds(new) != Some(true) {
                    return Err(problem(format!(
                        "new_mac does not match under key id {new_key_id} (the receipt was edited, or not written by a holder of the new key)"
                    )));
                }
                checked = true;
            }
            if !checked {
                not_checked.push(r.index);
            }
            checked_any |= checked;
            if let Some(prev) = receipts.last()
                && *r.start_before() != prev.start_after()
            {
                return Err(problem(format!(
                    "it starts from seq {} but the previous receipt left the chain starting at seq {}",
                    r.start_before().next_seq,
                    prev.start_after().next_seq
                )));
            }
            match &r.body {
                ReceiptBody::Prune {
                    from,
                    last_pruned_seq,
                    count,
                    ..
                } if *last_pruned_seq < from.next_seq
                    || (last_pruned_seq - from.next_seq).checked_add(1) != Some(*count) =>
                {
                    return Err(problem(format!(
                        "count {count} does not match seqs {} to {last_pruned_seq}",
                        from.next_seq
                    )));
                }
                ReceiptBody::Rotate {
                    from,
                    first_seq,
                    head,
                    new_key_id,
                    ..
                } => {
                    rotation_is_consistent(from, *first_seq, *head, r.key_id, *new_key_id)
                        .map_err(problem)?;
                    covering = Some(*new_key_id);
                }
                _ => {}
            }
            if covering.is_none() {
                covering = Some(r.key_id);
            }
            receipts.push(r);
        }
        if let Some(first) = receipts.first()
            && !checked_any
        {
            let problem = match ring.len() {
                1 => format!(
                    "retention receipt 0: written with key id {}, not this secret's {}",
                    first.key_id,
                    ring.entries()
                        .map(|(_, id)| id.to_string())
                        .collect::<String>()
                ),
                _ => format!(
                    "retention receipt 0: written with key id {}, which the keyring does not hold ({}), and no later receipt is under one it holds",
                    first.key_id,
                    ring.entries()
                        .map(|(_, id)| id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(LogProblem {
                position: 0,
                detail: problem,
            });
        }
        Ok(RetentionLog {
            receipts,
            not_checked,
        })
    }

    /// Whether the receipt at `index` was checked by a held key.
    pub fn is_checked(&self, index: u64) -> bool {
        !self.not_checked.contains(&index)
    }

    /// The key the chain's records are MAC'd with from the last rotation on (its new key),
    /// with the rotation's first seq; `None` when the log names no rotation.
    pub fn last_rotation(&self) -> Option<(u64, KeyId)> {
        self.receipts.iter().rev().find_map(|r| match &r.body {
            ReceiptBody::Rotate {
                first_seq,
                new_key_id,
                ..
            } => Some((*first_seq, *new_key_id)),
            _ => None,
        })
    }

    /// The key the log's next receipt must be written with: the last rotation's new key, else
    /// the first receipt's; `None` for an empty log.
    pub fn current_key_id(&self) -> Option<KeyId> {
        self.last_rotation()
            .map(|(_, id)| id)
            .or_else(|| self.receipts.first().map(|r| r.key_id))
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
            }
            | ReceiptBody::Rotate {
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
    resolve_start_ring(&Keyring::single(key.clone()), raw, stored)
}

/// [`resolve_start`] with the keys of `ring` (see [`RetentionLog::check_ring`]).
pub fn resolve_start_ring(
    ring: &Keyring,
    raw: &ChainStart,
    stored: &[String],
) -> Result<ResolvedStart, StartProblem> {
    let seq = raw.next_seq;
    let log = RetentionLog::check_ring(ring, stored)
        .map_err(|problem| StartProblem::Log { seq, problem })?;
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

/// Whether a rotation's members agree: it moves to another key; its first seq follows its head
/// (or, with no head, is where the chain starts); a segment rotation (the chain starts at its
/// first seq) starts from its head's hash.
fn rotation_is_consistent(
    from: &ChainStart,
    first_seq: u64,
    head: Option<(u64, Hash32)>,
    old: KeyId,
    new: KeyId,
) -> Result<(), String> {
    if old == new {
        return Err(format!("it rotates key id {old} to itself"));
    }
    let follows = head.map_or(from.next_seq, |(seq, _)| seq.saturating_add(1));
    if head.is_some_and(|(seq, _)| seq == u64::MAX) || follows != first_seq {
        return Err(format!(
            "first_seq {first_seq} does not follow its head (seq {})",
            head.map_or_else(|| "none".to_owned(), |(seq, _)| seq.to_string())
        ));
    }
    if first_seq < from.next_seq {
        return Err(format!(
            "first_seq {first_seq} is before the chain's start (seq {})",
            from.next_seq
        ));
    }
    if let Some((_, hash)) = head
        && from.next_seq == first_seq
        && from.prev_hash != hash.as_bytes()
    {
        return Err("head.record_hash is not the hash the chain starts from".into());
    }
    Ok(())
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
