//! Streaming chain verification.
//!
//! A store feeds records in chain order to a [`Verifier`]; it keeps only the expected next seq
//! and `prev_hash`, so memory does not grow with the store. Each record is checked as
//! weaver-kernel 0.12.0 checks it, in the same order (seq, then link, then MAC), so the first
//! failure — and its seq — is the same one weaver-kernel reports. On top of that trailseal
//! reports records it cannot read as `malformed` instead of raising, checks the index columns
//! a table store keeps beside the payload, and tells a wrong secret from tampering.
//!
//! The content check ([`ContentChecker`]) is independent of the sequential state, so callers
//! may run it on many records in parallel and feed the results in order with
//! [`Verifier::feed_checked`]; the verdict is the same as feeding records one by one.

use crate::chain::{ChainKey, KeyId};
use crate::json::{self, Kind};
use crate::retention::{Receipt, ReceiptBody, ResolvedStart, StartProblem};
use crate::start::{ChainStart, StartKind, StoredKeyId};
use crate::verdict::{
    AnchorChecked, AnchorConfirmation, Caveat, TamperKind, Tampered, Unverifiable,
    UnverifiableReason, Verdict, Verified,
};

/// How the trace bytes of a record were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceEncoding {
    /// Text exactly as stored; usually the canonical form, but weaver-kernel's SQLite store
    /// keeps `json.dumps` output, so it is re-canonicalised when the stored bytes do not match.
    Stored,
    /// Already canonicalised by the reader.
    Canonical,
}

/// Index columns a table store keeps beside the payload (weaver-kernel's `action_id` and
/// `invoked_at`). They are not covered by the MAC, so they are checked against the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns<'a> {
    pub action_id: &'a [u8],
    pub invoked_at: &'a [u8],
}

/// One stored record, borrowed from the store's read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub seq: u64,
    pub prev_hash: &'a [u8],
    pub record_hash: &'a [u8],
    pub trace: &'a [u8],
    pub encoding: TraceEncoding,
    pub columns: Option<Columns<'a>>,
}

/// A stored record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedRecord {
    /// The seq the record claims, when it could be read.
    pub seq: Option<u64>,
    /// Where it is, e.g. `line 40`.
    pub location: String,
    /// What is wrong, without the location.
    pub problem: String,
    /// The record is the last one and incomplete: an interrupted write, not an edit.
    pub torn: bool,
}

/// An item of a store scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanItem<'a> {
    Record(RecordView<'a>),
    Malformed(MalformedRecord),
}

/// The result of checking one record's content against its `record_hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentCheck {
    /// The MAC matches (and the index columns, if any, match the payload).
    Ok,
    /// The MAC does not match.
    Mismatch,
    /// The payload is not a JSON object.
    Malformed(String),
    /// The MAC matches but an index column differs from the authenticated payload.
    ColumnMismatch(&'static str),
}

/// Checks record contents. Keeps a scratch buffer and a hint about whether this store's
/// payloads are stored canonically, so the common case costs one MAC and no parsing.
#[derive(Debug, Default)]
pub struct ContentChecker {
    scratch: Vec<u8>,
    expect_noncanonical: bool,
    recanon: crate::recanon::Recanonicalizer,
}

impl ContentChecker {
    /// A checker with an empty scratch buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks `record` against its `record_hash` with `key`. Never panics.
    pub fn check(&mut self, key: &ChainKey, record: &RecordView<'_>) -> ContentCheck {
        let try_stored = record.encoding == TraceEncoding::Canonical || !self.expect_noncanonical;
        if try_stored {
            let mac = key.record_hash(record.seq, record.prev_hash, record.trace);
            if mac.ct_eq_stored(record.record_hash) {
                self.expect_noncanonical = false;
                return match record.columns {
                    Some(cols) => check_columns_canonical(record.trace, cols),
                    None => ContentCheck::Ok,
                };
            }
            if record.encoding == TraceEncoding::Canonical {
                return ContentCheck::Mismatch;
            }
        }
        // weaver-kernel's `json.dumps` payloads: one pass, no document, when it applies.
        if record.trace.first() == Some(&b'{') && self.recanon.run(record.trace, &mut self.scratch)
        {
            if try_stored && self.scratch == record.trace {
                return ContentCheck::Mismatch;
            }
            self.expect_noncanonical = true;
            let mac = key.record_hash(record.seq, record.prev_hash, &self.scratch);
            if !mac.ct_eq_stored(record.record_hash) {
                return ContentCheck::Mismatch;
            }
            return match record.columns {
                Some(cols) => check_columns_canonical(&self.scratch, cols),
                None => ContentCheck::Ok,
            };
        }
        let doc = match json::parse(record.trace) {
            Ok(doc) => doc,
            Err(e) => return ContentCheck::Malformed(format!("payload is not valid JSON: {e}")),
        };
        let root = doc.root();
        if root.kind() != Kind::Object {
            return ContentCheck::Malformed(format!(
                "payload is a JSON {}, not an object",
                root.kind().name()
            ));
        }
        self.scratch.clear();
        // Python mode: weaver-kernel hashed NaN, Infinity and lone surrogates as Python prints them.
        if let Err(e) = root.write_canonical(&mut self.scratch, json::Mode::Python) {
            return ContentCheck::Malformed(format!("payload cannot be canonicalised: {e}"));
        }
        if try_stored && self.scratch == record.trace {
            return ContentCheck::Mismatch;
        }
        self.expect_noncanonical = true;
        let mac = key.record_hash(record.seq, record.prev_hash, &self.scratch);
        if !mac.ct_eq_stored(record.record_hash) {
            return ContentCheck::Mismatch;
        }
        match record.columns {
            Some(cols) => {
                let field = |name: &str| root.get(name).and_then(|n| n.as_str());
                if field("action_id").map(str::as_bytes) != Some(cols.action_id) {
                    ContentCheck::ColumnMismatch("action_id")
                } else if field("invoked_at").map(str::as_bytes) != Some(cols.invoked_at) {
                    ContentCheck::ColumnMismatch("invoked_at")
                } else {
                    ContentCheck::Ok
                }
            }
            None => ContentCheck::Ok,
        }
    }
}

const ACTION_ID_NEEDLE: &[u8] = b"\"action_id\":\"";
const INVOKED_AT_NEEDLE: &[u8] = b"\"invoked_at\":\"";

/// Where a top-level string member's raw value is, in a canonical (MAC-verified) payload.
///
/// Fast paths: the payload's first member (`action_id` sorts first in the export shape), or
/// the only occurrence of `"name":"` in the payload (the top-level member exists in every
/// export-shape trace, so a lone occurrence is it). Otherwise a structural scan.
fn locate<'t>(trace: &'t [u8], name: &str, needle: &[u8]) -> Option<&'t [u8]> {
    let value_at = |start: usize| {
        let rest = trace.get(start..)?;
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        (rest.get(end) == Some(&b'"'))
            .then(|| rest.get(..end))
            .flatten()
    };
    if trace.first() == Some(&b'{')
        && trace.get(1..).is_some_and(|t| t.starts_with(needle))
        && let Some(v) = value_at(1 + needle.len())
    {
        return Some(v);
    }
    static FINDERS: std::sync::OnceLock<[memchr::memmem::Finder<'static>; 2]> =
        std::sync::OnceLock::new();
    let finders = FINDERS.get_or_init(|| {
        [
            memchr::memmem::Finder::new(ACTION_ID_NEEDLE),
            memchr::memmem::Finder::new(INVOKED_AT_NEEDLE),
        ]
    });
    let finder = if needle == ACTION_ID_NEEDLE {
        &finders[0]
    } else {
        &finders[1]
    };
    let mut hits = finder.find_iter(trace);
    if let (Some(at), None) = (hits.next(), hits.next())
        && let Some(v) = value_at(at + needle.len())
    {
        return Some(v);
    }
    json::find_top_level_string(trace, name)
}

fn check_columns_canonical(trace: &[u8], cols: Columns<'_>) -> ContentCheck {
    for (name, needle, column) in [
        ("action_id", ACTION_ID_NEEDLE, cols.action_id),
        ("invoked_at", INVOKED_AT_NEEDLE, cols.invoked_at),
    ] {
        let matches = match locate(trace, name, needle) {
            Some(raw) if !raw.contains(&b'\\') => raw == column,
            Some(raw) => {
                let mut quoted = Vec::with_capacity(raw.len() + 2);
                quoted.push(b'"');
                quoted.extend_from_slice(raw);
                quoted.push(b'"');
                json::parse(&quoted)
                    .ok()
                    .is_some_and(|d| d.root().as_str().map(str::as_bytes) == Some(column))
            }
            None => false,
        };
        if !matches {
            return ContentCheck::ColumnMismatch(name);
        }
    }
    ContentCheck::Ok
}

/// Whether to keep feeding records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

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
    key_id: KeyId,
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
        v.retention = resolved.log.receipts;
        v.unauthenticated_origin = resolved.unauthenticated_origin;
        v
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
                let content = checker.check(key, record);
                self.feed_checked(record, content)
            }
            ScanItem::Malformed(bad) => self.feed_malformed(bad),
        }
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
                if self.checked == 1
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
