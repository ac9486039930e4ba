//! The sequential half of verification: seqs, links, the start, anchors and the verdict.

use crate::chain::{ChainKey, KeyId};
use crate::retention::{Receipt, ReceiptBody, ResolvedStart, StartProblem};
use crate::schedule::KeySchedule;
use crate::start::{ChainStart, StartKind, StoredKeyId};
use crate::verdict::{
    AnchorChecked, AnchorConfirmation, Caveat, TamperKind, Tampered, Unverifiable,
    UnverifiableReason, Verdict, Verified,
};

use super::{ContentCheck, ContentChecker, Flow, MalformedRecord, RecordView, ScanItem};

#[derive(Debug)]
enum State {
    Running,
    /// The first record failed its MAC and the store has no key id: keep going to learn
    /// whether every record fails while the links hold (a wrong secret).
    Probing(Tampered),
    Failed(Tampered),
    WrongSecret(String),
}

/// The sequential half of verification.
#[derive(Debug)]
pub struct Verifier {
    start: ChainStart,
    stored_key_id: StoredKeyId,
    /// The key id the store must record: the key of its newest seqs.
    key_id: KeyId,
    /// Whether a record has verified yet (the store's key id is checked at the first).
    verified_one: bool,
    /// Which key covers which seqs, when the chain was rotated (for the `keys-not-held`
    /// caveat's key ids).
    schedule: Option<KeySchedule>,
    /// The ranges of records whose key is not held (their MACs are not checked).
    not_held: Vec<(u64, u64)>,
    expected_seq: u64,
    expected_prev: Vec<u8>,
    checked: u64,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    state: State,
    retention: Vec<Receipt>,
    unauthenticated_origin: Option<u64>,
    sealed_end: Option<SealedEnd>,
    expectations: Vec<Expectation>,
    next_expectation: usize,
    /// The anchors checked so far.
    anchors: Vec<AnchorChecked>,
    /// An anchored record just before an unauthenticated start: checked once the first
    /// record's link verifies.
    awaiting_link: Option<Expectation>,
    /// The first anchored record that nothing left in the store can check.
    unchecked_anchor: Option<Expectation>,
}

/// A record the chain must still hold, as a signed anchor states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub seq: u64,
    pub record_hash: Vec<u8>,
    /// What vouches for it, for messages ("anchor head.anchor").
    pub source: String,
}

/// An authenticated statement of where the chain ends (an archive's prune receipt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEnd {
    /// The last record's seq.
    pub last_seq: u64,
    /// The last record's `record_hash`.
    pub last_hash: Vec<u8>,
    /// What states it, for messages ("the archive's prune receipt").
    pub source: String,
}

/// A store whose start and retention log do not agree is damaged at its start: `tampered`,
/// kind `checkpoint`, at the seq the store says its chain starts at, before any record.
impl From<StartProblem> for Tampered {
    fn from(problem: StartProblem) -> Self {
        Tampered {
            first_bad_seq: problem.seq(),
            kind: TamperKind::Checkpoint,
            records_checked: 0,
            detail: problem.to_string(),
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl Verifier {
    /// A verifier for a chain that begins at `start`, checked with `key`.
    pub fn new(key: &ChainKey, start: ChainStart, stored_key_id: StoredKeyId) -> Self {
        Self {
            expected_seq: start.next_seq,
            expected_prev: start.prev_hash.clone(),
            start,
            stored_key_id,
            key_id: key.key_id(),
            verified_one: false,
            schedule: None,
            not_held: Vec::new(),
            checked: 0,
            first_seq: None,
            last_seq: None,
            state: State::Running,
            retention: Vec::new(),
            unauthenticated_origin: None,
            sealed_end: None,
            expectations: Vec::new(),
            next_expectation: 0,
            anchors: Vec::new(),
            awaiting_link: None,
            unchecked_anchor: None,
        }
    }

    /// Requires the chain to hold `e.seq` with `e.record_hash`. Checked as records are fed; an
    /// expectation beyond the chain's end is truncation, a different hash a fork.
    ///
    /// An expectation before the chain's start is checked against what authenticates the
    /// removal of its record: a retention receipt that states that record's hash (the last
    /// record a prune removed, or the checkpoint a receipt started from) must state the same
    /// one; otherwise a prune receipt whose range covers it accounts for it. Without either —
    /// the record went with an unauthenticated checkpoint — the checkpoint hash can stand in
    /// only for the record just before the start, and only once the first record, whose MAC
    /// covers its `prev_hash`, has verified. Any other expectation cannot be checked: the
    /// verdict is then `unverifiable`, never `verified`.
    pub fn expect_record(&mut self, e: Expectation) {
        if e.seq >= self.start.next_seq {
            let at = self.expectations.partition_point(|x| x.seq <= e.seq);
            self.expectations.insert(at, e);
            return;
        }
        let start = self.start.next_seq;
        if let Some((index, hash)) = self.receipt_hash_of(e.seq) {
            if hash != e.record_hash.as_slice() {
                self.fail(
                    start,
                    TamperKind::Link,
                    format!(
                        "seq {start}: retention receipt {index} states another record_hash for seq {} than {} signed (the chain was rewritten or forked)",
                        e.seq, e.source
                    ),
                );
                return;
            }
            self.pinned(e, AnchorConfirmation::Receipt);
        } else if e.seq + 1 == start {
            if e.record_hash != self.start.prev_hash {
                self.fail(
                    start,
                    TamperKind::Link,
                    format!("seq {start}: the checkpoint hash differs from the record_hash {} signed for seq {}", e.source, e.seq),
                );
                return;
            }
            // The checkpoint hash is not authenticated by itself: the first record's link is.
            self.awaiting_link = Some(e);
        } else if self.pruned_by_receipt(e.seq) {
            self.pinned(e, AnchorConfirmation::Receipt);
        } else if self.unchecked_anchor.is_none() {
            self.unchecked_anchor = Some(e);
        }
    }

    /// Notes an anchored record as confirmed.
    fn pinned(&mut self, e: Expectation, by: AnchorConfirmation) {
        self.anchors.push(AnchorChecked {
            source: e.source,
            seq: e.seq,
            by,
        });
    }

    /// The hash a verified retention receipt states for the record at `seq`, with the
    /// receipt's index.
    fn receipt_hash_of(&self, seq: u64) -> Option<(u64, &[u8])> {
        self.retention.iter().find_map(|r| {
            if let ReceiptBody::Prune {
                last_pruned_seq,
                last_pruned_hash,
                ..
            } = &r.body
                && *last_pruned_seq == seq
            {
                return Some((r.index, last_pruned_hash.as_bytes().as_slice()));
            }
            let from = r.start_before();
            (from.kind != StartKind::Genesis && from.next_seq.checked_sub(1) == Some(seq))
                .then_some((r.index, from.prev_hash.as_slice()))
        })
    }

    /// Whether a verified prune receipt removed the record at `seq`.
    fn pruned_by_receipt(&self, seq: u64) -> bool {
        self.retention.iter().any(|r| {
            matches!(&r.body, ReceiptBody::Prune { from, last_pruned_seq, .. }
                if from.next_seq <= seq && seq <= *last_pruned_seq)
        })
    }

    /// Requires the chain to end exactly at `end`: then no truncation caveat is needed, and a
    /// chain that ends elsewhere is tampered (kind `checkpoint`).
    pub fn expect_end(&mut self, end: SealedEnd) {
        self.sealed_end = Some(end);
    }

    /// A verifier for a chain whose start comes from a verified retention log.
    pub fn from_resolved(
        key: &ChainKey,
        resolved: ResolvedStart,
        stored_key_id: StoredKeyId,
    ) -> Self {
        let mut v = Self::new(key, resolved.start, stored_key_id);
        // Only what a held key checked vouches for anything.
        let log = resolved.log;
        v.retention = log
            .receipts
            .into_iter()
            .filter(|r| !log.not_checked.contains(&r.index))
            .collect();
        v.unauthenticated_origin = resolved.unauthenticated_origin;
        v
    }

    /// Checks the chain against `schedule`: the store must record its newest key, and records
    /// under a key it does not hold are reported in the `keys-not-held` caveat (feed them as
    /// [`ContentCheck::NotHeld`], as [`KeySchedule::check`] gives it).
    pub fn with_schedule(mut self, schedule: KeySchedule) -> Self {
        if let Some(id) = schedule.last_key_id() {
            self.key_id = id;
        }
        self.schedule = Some(schedule);
        self
    }

    /// Records examined so far.
    pub fn records_checked(&self) -> u64 {
        self.checked
    }

    /// Checks the next item, computing its content check here.
    pub fn feed(
        &mut self,
        key: &ChainKey,
        checker: &mut ContentChecker,
        item: &ScanItem<'_>,
    ) -> Flow {
        match item {
            ScanItem::Record(record) => {
                if self.is_done() {
                    return Flow::Stop;
                }
                let content = match &self.schedule {
                    Some(schedule) => schedule.check(checker, record),
                    None => checker.check(key, record),
                };
                self.feed_checked(record, content)
            }
            ScanItem::Malformed(bad) => self.feed_malformed(bad),
        }
    }

    /// Whether the verdict is decided (a failure, or a wrong secret): feeding more changes
    /// nothing.
    pub fn is_finished(&self) -> bool {
        self.is_done()
    }

    fn is_done(&self) -> bool {
        matches!(self.state, State::Failed(_) | State::WrongSecret(_))
    }

    fn fail(&mut self, seq: u64, kind: TamperKind, detail: String) -> Flow {
        let tampered = Tampered {
            first_bad_seq: seq,
            kind,
            records_checked: self.checked,
            detail,
        };
        self.state = match std::mem::replace(&mut self.state, State::Running) {
            // While probing, any failure other than another MAC mismatch ends the probe: the
            // first record's MAC failure stands as tampering.
            State::Probing(first) => State::Failed(first),
            _ => State::Failed(tampered),
        };
        Flow::Stop
    }

    /// Checks the next record given its content check (computed elsewhere, e.g. in parallel).
    pub fn feed_checked(&mut self, record: &RecordView<'_>, content: ContentCheck) -> Flow {
        self.feed_hashes(record.seq, record.prev_hash, record.record_hash, content)
    }

    /// [`Verifier::feed_checked`] given only what the sequential checks read: the record's
    /// seq and stored hashes, and its content check.
    pub fn feed_hashes(
        &mut self,
        seq: u64,
        prev_hash: &[u8],
        record_hash: &[u8],
        content: ContentCheck,
    ) -> Flow {
        if self.is_done() {
            return Flow::Stop;
        }
        self.checked += 1;
        let at_checkpoint = self.checked == 1 && self.start.kind == StartKind::Checkpoint;
        if at_checkpoint && seq != self.expected_seq {
            let expected = self.expected_seq;
            let detail = if seq > expected {
                format!(
                    "seq {seq}: the authenticated checkpoint says the chain resumes at seq {expected}; records {expected} to {} are missing (deleted, or the retention log was rolled back)",
                    seq - 1
                )
            } else {
                format!(
                    "seq {seq}: records before the authenticated checkpoint at seq {expected} are present (the records were rolled back to before the prune)"
                )
            };
            return self.fail(seq, TamperKind::Checkpoint, detail);
        }
        if at_checkpoint && prev_hash != self.expected_prev.as_slice() {
            return self.fail(
                seq,
                TamperKind::Checkpoint,
                format!("seq {seq}: prev_hash does not match the authenticated checkpoint's hash"),
            );
        }
        if self.last_seq == Some(u64::MAX) {
            // The expected seq saturates at the end of the seq space: nothing may follow it.
            return self.fail(
                seq,
                TamperKind::Sequence,
                format!(
                    "seq {seq}: no record can follow seq {} (the last seq)",
                    u64::MAX
                ),
            );
        }
        if seq != self.expected_seq {
            return self.fail(
                seq,
                TamperKind::Sequence,
                format!(
                    "seq {seq}: expected seq {} here (a record was inserted, deleted or reordered)",
                    self.expected_seq
                ),
            );
        }
        if prev_hash != self.expected_prev.as_slice() {
            let what = if self.checked == 1 {
                match self.start.kind {
                    StartKind::Genesis => "the genesis value",
                    StartKind::UnauthenticatedCheckpoint | StartKind::Checkpoint => {
                        "the checkpoint hash"
                    }
                }
            } else {
                "the previous record's record_hash"
            };
            return self.fail(
                seq,
                TamperKind::Link,
                format!(
                    "seq {seq}: prev_hash does not match {what} (a record was inserted, deleted or reordered)"
                ),
            );
        }
        match content {
            ContentCheck::Ok => {
                if let State::Probing(first) = std::mem::replace(&mut self.state, State::Running) {
                    // A later record verifies, so the key is right and the first one was altered.
                    self.state = State::Failed(first);
                    return Flow::Stop;
                }
                let first = !std::mem::replace(&mut self.verified_one, true);
                if first
                    && matches!(self.stored_key_id, StoredKeyId::Present(id) if id != self.key_id)
                {
                    return self.fail(
                        seq,
                        TamperKind::Metadata,
                        format!(
                            "seq {seq}: the store's key id was altered (the records verify with this secret, whose key id is {})",
                            self.key_id
                        ),
                    );
                }
            }
            ContentCheck::Mismatch => {
                if let State::Probing(_) = self.state {
                    // Still consistent with a wrong secret: keep probing.
                } else if self.checked == 1 {
                    let tampered = Tampered {
                        first_bad_seq: seq,
                        kind: TamperKind::Content,
                        records_checked: 1,
                        detail: format!("seq {seq}: content does not match its record_hash"),
                    };
                    match self.stored_key_id {
                        StoredKeyId::Present(id) if id != self.key_id => {
                            self.state = State::WrongSecret(format!(
                                "the store was written with key id {id}, but this secret has key id {}",
                                self.key_id
                            ));
                            return Flow::Stop;
                        }
                        StoredKeyId::Present(_) => {
                            self.state = State::Failed(tampered);
                            return Flow::Stop;
                        }
                        StoredKeyId::Absent => self.state = State::Probing(tampered),
                    }
                } else {
                    return self.fail(
                        seq,
                        TamperKind::Content,
                        format!("seq {seq}: content does not match its record_hash"),
                    );
                }
            }
            ContentCheck::NotHeld => {
                if let State::Probing(first) = std::mem::replace(&mut self.state, State::Running) {
                    // Only a rotation leaves records under a key not held, and the rotate
                    // receipt authenticates which key the first record is under: it is altered.
                    self.state = State::Failed(first);
                    return Flow::Stop;
                }
                match self.not_held.last_mut() {
                    Some((_, last)) if last.checked_add(1) == Some(seq) => *last = seq,
                    _ => self.not_held.push((seq, seq)),
                }
            }
            ContentCheck::Malformed(problem) => {
                return self.fail(seq, TamperKind::Malformed, format!("seq {seq}: {problem}"));
            }
            ContentCheck::ColumnMismatch(column) => {
                return self.fail(
                    seq,
                    TamperKind::Content,
                    format!(
                        "seq {seq}: the {column} column does not match the authenticated payload"
                    ),
                );
            }
        }
        while let Some(e) = self.expectations.get(self.next_expectation)
            && e.seq <= seq
        {
            if e.seq == seq && e.record_hash != record_hash {
                let detail = format!(
                    "seq {seq}: record_hash differs from the one {} signed (the chain was rewritten or forked after it)",
                    e.source
                );
                return self.fail(seq, TamperKind::Link, detail);
            }
            let e = e.clone();
            self.pinned(e, AnchorConfirmation::Record);
            self.next_expectation += 1;
        }
        if let Some(e) = self.awaiting_link.take() {
            // This record's MAC covers its prev_hash: the checkpoint hash it links to stands.
            self.pinned(e, AnchorConfirmation::Checkpoint);
        }
        self.first_seq.get_or_insert(seq);
        self.last_seq = Some(seq);
        self.expected_seq = seq.saturating_add(1);
        self.expected_prev.clear();
        self.expected_prev.extend_from_slice(record_hash);
        Flow::Continue
    }

    /// Reports a record that could not be read.
    pub fn feed_malformed(&mut self, bad: &MalformedRecord) -> Flow {
        if self.is_done() {
            return Flow::Stop;
        }
        self.checked += 1;
        let seq = bad.seq.unwrap_or(self.expected_seq);
        let torn = if bad.torn {
            " (an interrupted write: the last record is incomplete)"
        } else {
            ""
        };
        self.fail(
            seq,
            TamperKind::Malformed,
            format!("seq {seq} ({}): {}{torn}", bad.location, bad.problem),
        )
    }

    /// The verdict once the store has been read to its end (or feeding stopped).
    pub fn finish(self) -> Verdict {
        match self.state {
            State::Failed(t) => Verdict::Tampered(t),
            State::WrongSecret(detail) => Verdict::Unverifiable(Unverifiable {
                reason: UnverifiableReason::WrongSecret,
                detail,
            }),
            State::Probing(_) => Verdict::Unverifiable(Unverifiable {
                reason: UnverifiableReason::WrongSecret,
                detail: format!(
                    "all {} record{} fail their MAC while every link holds: the secret is not the one this store was written with (or every record was rewritten)",
                    self.checked,
                    plural(self.checked)
                ),
            }),
            State::Running => {
                let mut caveats = Vec::new();
                for &(first, last) in &self.not_held {
                    let key_id = self.schedule.as_ref().and_then(|s| s.key_id_for(first));
                    if let Some(key_id) = key_id {
                        caveats.push(Caveat::KeysNotHeld {
                            key_id,
                            receipts: 0,
                            first_seq: Some(first),
                            last_seq: Some(last),
                        });
                    }
                }
                if self.checked == 0 {
                    if let StoredKeyId::Present(id) = self.stored_key_id
                        && id != self.key_id
                    {
                        return Verdict::Unverifiable(Unverifiable {
                            reason: UnverifiableReason::WrongSecret,
                            detail: format!(
                                "the store was written with key id {id}, but this secret has key id {}",
                                self.key_id
                            ),
                        });
                    }
                    caveats.push(Caveat::EmptyStore);
                }
                if self.start.kind == StartKind::UnauthenticatedCheckpoint {
                    caveats.push(Caveat::UnauthenticatedCheckpoint {
                        seq: self.start.next_seq,
                    });
                } else if let Some(seq) = self.unauthenticated_origin {
                    caveats.push(Caveat::UnauthenticatedCheckpoint { seq });
                }
                if let Some(e) = self
                    .unchecked_anchor
                    .as_ref()
                    .or(self.awaiting_link.as_ref())
                {
                    let start = self.start.next_seq;
                    return Verdict::Unverifiable(Unverifiable {
                        reason: UnverifiableReason::AnchorUnchecked,
                        detail: format!(
                            "seq {start}: {} vouches for seq {}, but the store no longer holds it and no retention receipt accounts for its removal (records before seq {} were removed without a receipt): the anchor cannot be checked",
                            e.source,
                            e.seq,
                            self.unauthenticated_origin.unwrap_or(start),
                        ),
                    });
                }
                let last = self.last_seq.or(self.start.next_seq.checked_sub(1));
                if let Some(e) = self.expectations.get(self.next_expectation) {
                    let missing = last.map_or(self.start.next_seq, |l| l + 1);
                    return Verdict::Tampered(Tampered {
                        first_bad_seq: missing,
                        kind: TamperKind::Truncated,
                        records_checked: self.checked,
                        detail: format!(
                            "seq {missing}: {} vouches for seq {}, but the chain ends {}: records {missing} to {} were removed (truncation, or a rollback to an older copy)",
                            e.source,
                            e.seq,
                            last.map_or_else(
                                || "before any record".to_owned(),
                                |l| format!("at seq {l}")
                            ),
                            e.seq
                        ),
                    });
                }
                match &self.sealed_end {
                    Some(end)
                        if last == Some(end.last_seq) && self.expected_prev == end.last_hash => {}
                    Some(end) => {
                        let seq = last.map_or(self.start.next_seq, |l| {
                            l.saturating_add(1).min(end.last_seq)
                        });
                        return Verdict::Tampered(Tampered {
                            first_bad_seq: seq,
                            kind: TamperKind::Checkpoint,
                            records_checked: self.checked,
                            detail: format!(
                                "seq {seq}: {} says the chain ends at seq {}, but it ends at {} (records were removed or added)",
                                end.source,
                                end.last_seq,
                                last.map_or_else(|| "no record".to_owned(), |l| format!("seq {l}"))
                            ),
                        });
                    }
                    None => match (self.anchors.iter().map(|a| a.seq).max(), last) {
                        (Some(a), Some(l)) if a >= l => {}
                        (Some(anchored), Some(last_seq)) => {
                            caveats.push(Caveat::AnchorBehind { anchored, last_seq })
                        }
                        (Some(_), None) => {}
                        (None, last) => caveats.push(Caveat::NoAnchor { last_seq: last }),
                    },
                }
                Verdict::Verified(Verified {
                    records_checked: self.checked,
                    first_seq: self.first_seq,
                    last_seq: self.last_seq,
                    caveats,
                    retention: self.retention,
                    anchors: self.anchors,
                })
            }
        }
    }
}
