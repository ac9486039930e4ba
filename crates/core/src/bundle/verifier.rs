//! Verifying a bundle fed line by line.

use super::lines::{
    BLOCK_DOMAIN, ENTRY_FIELDS, SignedTrailer, TRAILER_FIELDS, header_fields, hex, manifest_fields,
};
use super::state::BlockState;
use super::tree::{
    EntryTreeError, OpenTree, is_bad_signature, is_other_key, parse_entry_tree, parse_tree_header,
};
use super::{
    BLOCK_ENTRIES, BundleLevel, BundleVerdict, OLDEST_BUNDLE_FORMAT, TREE_BUNDLE_FORMAT, Withheld,
    WithheldCounts, WithheldReasons,
};
use crate::base64;
use crate::chain::Hash32;
use crate::chain::{ChainKey, KeyId};
use crate::cosignature::WitnessKey;
use crate::json::{self, Kind, Mode};
use crate::note::{NoteError, NoteVerifier};
use crate::verdict::{
    Caveat, TamperKind, Tampered, Unverifiable, UnverifiableReason, Verdict, Verified,
};
use crate::verify::{ContentCheck, ContentChecker, Flow, RecordView, TraceEncoding};
use crate::witness::{Quorum, evaluate_quorum};

#[derive(Debug, PartialEq, Eq)]
enum Stage {
    Header,
    Entries,
    Done,
}

/// Verifies a bundle fed line by line (each line with its newline). Never panics.
#[derive(Debug)]
pub struct BundleVerifier<'k> {
    public: &'k NoteVerifier,
    key: Option<&'k ChainKey>,
    checker: ContentChecker,
    stage: Stage,
    line_no: u64,
    origin: Option<String>,
    key_id: Option<KeyId>,
    /// What the header says hash-only entries hold.
    reasons: WithheldReasons,
    /// The header's format, once read.
    format: Option<u64>,
    /// The tree a format 3 header embeds: disclosed entries it holds are checked against it.
    tree: Option<OpenTree>,
    /// Its checkpoint note as the header gives it, with any cosignatures.
    tree_note: Option<String>,
    /// The cosignatures the tree checkpoint must carry: at least `.1` of the distinct `.0`.
    witnesses: Option<(&'k [WitnessKey], usize)>,
    /// Disclosed entries checked against the tree.
    tree_checked: u64,
    withheld_counts: WithheldCounts,
    /// The blocks read so far (the header's digest once the header is read).
    state: BlockState,
    first: Option<(u64, Vec<u8>)>,
    last: Option<(u64, Vec<u8>)>,
    outcome: Option<Verdict>,
    manifest_seen: bool,
    /// The first entry whose MAC failed while the header named another key than the secret's:
    /// the signed manifest decides between a wrong secret and tampering.
    deferred_mac: Option<(u64, u64)>,
}

impl<'k> BundleVerifier<'k> {
    /// A verifier with the signer's public key and, optionally, the chain key.
    pub fn new(public: &'k NoteVerifier, key: Option<&'k ChainKey>) -> Self {
        Self {
            public,
            key,
            checker: ContentChecker::new(),
            stage: Stage::Header,
            line_no: 0,
            origin: None,
            key_id: None,
            reasons: WithheldReasons::Hidden,
            format: None,
            tree: None,
            tree_note: None,
            witnesses: None,
            tree_checked: 0,
            withheld_counts: WithheldCounts::default(),
            state: BlockState::default(),
            first: None,
            last: None,
            outcome: None,
            manifest_seen: false,
            deferred_mac: None,
        }
    }

    /// Requires the tree checkpoint the bundle embeds to carry valid cosignatures by at least
    /// `quorum` of the distinct `witnesses` (counted as [`evaluate_quorum`] counts: one public
    /// key once, under any name). A bundle that would otherwise verify is then `unverifiable`,
    /// reason `witness quorum not met`, when fewer cosigned, when a configured witness's
    /// cosignature line does not verify, when the bundle embeds no tree checkpoint (formats 1
    /// and 2), and for a quorum of 0 or above the number of distinct keys (which a caller
    /// should refuse first, [`crate::witness::check_quorum`]).
    pub fn with_witness_quorum(mut self, witnesses: &'k [WitnessKey], quorum: usize) -> Self {
        self.witnesses = Some((witnesses, quorum));
        self
    }

    /// The witness quorum's outcome: `Ok(None)` when none is required, `Ok(Some(count))` when
    /// it is met, else the `unverifiable` verdict.
    fn witness_quorum(&self) -> Result<Option<usize>, Verdict> {
        let Some((witnesses, quorum)) = self.witnesses else {
            return Ok(None);
        };
        let unmet = |detail: String| {
            Verdict::Unverifiable(Unverifiable {
                reason: UnverifiableReason::WitnessQuorum,
                detail,
            })
        };
        let Some(note) = &self.tree_note else {
            let format = self.format.unwrap_or(OLDEST_BUNDLE_FORMAT);
            return Err(unmet(format!(
                "witness quorum not met: the bundle (format {format}) embeds no tree checkpoint for witnesses to cosign"
            )));
        };
        match evaluate_quorum(note, self.public, witnesses, quorum) {
            Ok(Quorum::Met { count }) => Ok(Some(count)),
            Ok(Quorum::NotMet { count, needed }) => Err(unmet(format!(
                "line 1: the tree checkpoint: witness quorum not met: {count} of the configured witnesses cosigned it, {needed} needed"
            ))),
            Err(e) => Err(unmet(format!(
                "line 1: the tree checkpoint: witness quorum not met: {e}"
            ))),
        }
    }

    fn seq_here(&self) -> u64 {
        self.last
            .as_ref()
            .map_or(self.first.as_ref().map_or(0, |f| f.0), |l| {
                l.0.saturating_add(1)
            })
    }

    fn tamper(&mut self, seq: u64, kind: TamperKind, detail: String) -> Flow {
        self.outcome = Some(Verdict::Tampered(Tampered {
            first_bad_seq: seq,
            kind,
            records_checked: self.state.entries,
            detail,
        }));
        self.stage = Stage::Done;
        Flow::Stop
    }

    fn unverifiable(&mut self, reason: UnverifiableReason, detail: String) -> Flow {
        self.outcome = Some(Verdict::Unverifiable(Unverifiable { reason, detail }));
        self.stage = Stage::Done;
        Flow::Stop
    }

    /// Reports a line the reader did not read because it is longer than its `limit` (in bytes,
    /// without the newline): `malformed` at the seq the bundle has reached.
    pub fn feed_oversized(&mut self, limit: usize) -> Flow {
        if self.stage == Stage::Done {
            if self.outcome.is_none() {
                return self.tamper(
                    self.seq_here(),
                    TamperKind::Malformed,
                    format!("line {}: data after the signed manifest", self.line_no + 1),
                );
            }
            return Flow::Stop;
        }
        self.line_no += 1;
        let seq = self.seq_here();
        self.tamper(
            seq,
            TamperKind::Malformed,
            format!(
                "line {}: longer than the limit of {limit} bytes a line may have",
                self.line_no
            ),
        )
    }

    /// Checks the next line.
    pub fn feed(&mut self, line: &[u8]) -> Flow {
        if self.stage == Stage::Done {
            if self.outcome.is_none() && !line.trim_ascii().is_empty() {
                return self.tamper(
                    self.seq_here(),
                    TamperKind::Malformed,
                    format!("line {}: data after the signed manifest", self.line_no + 1),
                );
            }
            return Flow::Stop;
        }
        self.line_no += 1;
        let n = self.line_no;
        let Ok(doc) = json::parse(line.trim_ascii_end()) else {
            let seq = self.seq_here();
            return self.tamper(
                seq,
                TamperKind::Malformed,
                format!("line {n}: not a JSON object (the bundle was altered)"),
            );
        };
        let root = doc.root();
        if root.kind() != Kind::Object {
            let seq = self.seq_here();
            return self.tamper(
                seq,
                TamperKind::Malformed,
                format!("line {n}: not a JSON object"),
            );
        }
        if self.stage == Stage::Header {
            return self.header(line, root);
        }
        if root.get("manifest").is_some() {
            return self.manifest(root);
        }
        if root.get("block").is_some() {
            return self.trailer(line);
        }
        self.entry(line, root)
    }

    fn header(&mut self, line: &[u8], root: json::NodeRef<'_>) -> Flow {
        let format = match root.get("trailseal_bundle").and_then(|v| v.as_u64()) {
            Some(v @ OLDEST_BUNDLE_FORMAT..=TREE_BUNDLE_FORMAT) => v,
            Some(v) if v > TREE_BUNDLE_FORMAT => {
                return self.unverifiable(
                    UnverifiableReason::UnknownStore,
                    format!(
                        "bundle format {v} is newer than this trailseal reads ({TREE_BUNDLE_FORMAT})"
                    ),
                );
            }
            _ => {
                return self.unverifiable(
                    UnverifiableReason::UnknownStore,
                    "line 1: not a trailseal bundle".into(),
                );
            }
        };
        // Exactly the members the format writes, once each: nothing else can ride along.
        let reasons = match (format, root.get("withheld_reasons").map(|r| r.as_bool())) {
            (1, None) => Some(WithheldReasons::Disclosed),
            (_, Some(Some(false))) => Some(WithheldReasons::Hidden),
            (_, Some(Some(true))) => Some(WithheldReasons::Disclosed),
            _ => None,
        };
        let members = header_fields(format).iter().copied();
        let (Some(reasons), true) = (reasons, root.members().map(|(k, _)| k).eq(members)) else {
            return self.tamper(
                0,
                TamperKind::Malformed,
                format!(
                    "line 1: the header does not hold exactly the members of bundle format {format}"
                ),
            );
        };
        self.reasons = reasons;
        self.format = Some(format);
        self.origin = root
            .get("origin")
            .and_then(|o| o.as_str())
            .map(str::to_owned);
        self.key_id = root
            .get("key_id")
            .and_then(|k| k.as_str())
            .and_then(|k| KeyId::parse(k.as_bytes()));
        if format == TREE_BUNDLE_FORMAT {
            let Some(tree) = root.get("tree").and_then(parse_tree_header) else {
                return self.tamper(
                    0,
                    TamperKind::Malformed,
                    "line 1: the header's tree must be exactly {\"base\":SEQ,\"checkpoint\":NOTE}"
                        .into(),
                );
            };
            let origin = self.origin.clone().unwrap_or_default();
            match OpenTree::open(&tree, self.public, &origin) {
                Ok(open) => {
                    self.tree = Some(open);
                    self.tree_note = Some(tree.checkpoint);
                }
                Err(e) if is_other_key(&e) => {
                    return self.unverifiable(
                        UnverifiableReason::WrongKey,
                        format!(
                            "line 1: the tree checkpoint is not signed by {}",
                            self.public.to_key_string()
                        ),
                    );
                }
                Err(e) => {
                    let kind = if is_bad_signature(&e) {
                        TamperKind::Content
                    } else {
                        TamperKind::Malformed
                    };
                    return self.tamper(0, kind, format!("line 1: {e}"));
                }
            }
        }
        self.state = BlockState::after_header(line);
        self.stage = Stage::Entries;
        Flow::Continue
    }

    fn entry(&mut self, line: &[u8], root: json::NodeRef<'_>) -> Flow {
        let n = self.line_no;
        let index = self.state.entries;
        let expected_seq = self.seq_here();
        if self.state.block_is_full() {
            return self.tamper(expected_seq, TamperKind::Sequence, format!("entry {index}: block {} has no trailer after {BLOCK_ENTRIES} entries (entries were added)", self.state.block));
        }
        let (Some(seq), Some(prev), Some(rec)) = (
            root.get("seq").and_then(|v| v.as_u64()),
            root.get("prev_hash").and_then(|v| v.as_str()),
            root.get("record_hash").and_then(|v| v.as_str()),
        ) else {
            return self.tamper(
                expected_seq,
                TamperKind::Malformed,
                format!("line {n}: entry {index} lacks seq, prev_hash or record_hash"),
            );
        };
        let names: Vec<&str> = root.members().map(|(k, _)| k).collect();
        let in_tree = self.tree.as_ref().and_then(|t| t.index_of(seq)).is_some();
        // A disclosed record the tree holds carries its tree member; no other entry does.
        let last: &[&str] = match names.get(ENTRY_FIELDS.len()) {
            Some(&"trace") if in_tree => &["trace", "tree"],
            Some(&"trace") => &["trace"],
            _ => &["withheld"],
        };
        let shape_ok = names
            .iter()
            .copied()
            .eq(ENTRY_FIELDS.iter().chain(last).copied());
        let trace = root.get("trace");
        let withheld = root.get("withheld").map(|w| self.withheld_value(w));
        if !shape_ok || withheld == Some(None) {
            let marker = match self.reasons {
                WithheldReasons::Hidden => {
                    "`\"withheld\":true` (this bundle's header withholds the reasons)"
                }
                WithheldReasons::Disclosed => {
                    "`\"withheld\":\"filter\"` or `\"redacted\"` (this bundle's header discloses the reasons)"
                }
            };
            let tree = if in_tree {
                " (a disclosed record the bundle's tree holds also has its tree member after the trace)"
            } else if self.tree.is_some() {
                " (the bundle's tree does not hold this seq: no tree member)"
            } else {
                ""
            };
            return self.tamper(
                seq,
                TamperKind::Malformed,
                format!("entry {index} (seq {seq}): must be exactly seq, prev_hash, record_hash and a trace or {marker}{tree}"),
            );
        }
        match &self.last {
            Some((last_seq, _)) if seq != last_seq.saturating_add(1) => {
                return self.tamper(seq, TamperKind::Sequence, format!("entry {index} (seq {seq}): expected seq {} (an entry was removed, added or reordered)", last_seq.saturating_add(1)));
            }
            Some((_, last_hash)) if prev.as_bytes() != last_hash.as_slice() => {
                return self.tamper(seq, TamperKind::Link, format!("entry {index} (seq {seq}): prev_hash does not match the previous entry's record_hash"));
            }
            None => self.first = Some((seq, prev.as_bytes().to_vec())),
            _ => {}
        }
        let mut canonical = Vec::new();
        let canonical_ok =
            trace.is_some_and(|t| t.write_canonical(&mut canonical, Mode::Python).is_ok());
        if trace.is_some() && in_tree {
            if let Err((kind, problem)) = self.check_tree(
                root,
                seq,
                prev,
                rec,
                canonical_ok.then_some(canonical.as_slice()),
            ) {
                return self.tamper(seq, kind, format!("entry {index} (seq {seq}): {problem}"));
            }
            self.tree_checked += 1;
        }
        if trace.is_some()
            && let Some(key) = self.key
            && self.deferred_mac.is_none()
        {
            let ok = canonical_ok;
            let view = RecordView {
                seq,
                prev_hash: prev.as_bytes(),
                record_hash: rec.as_bytes(),
                trace: &canonical,
                encoding: TraceEncoding::Canonical,
                columns: None,
            };
            if !ok || self.checker.check(key, &view) != ContentCheck::Ok {
                if self.key_id.is_some_and(|id| id != key.key_id()) {
                    // Probably the wrong secret; the header is checked against the manifest.
                    self.deferred_mac = Some((seq, index));
                } else {
                    return self.tamper(
                        seq,
                        TamperKind::Content,
                        format!(
                            "entry {index} (seq {seq}): content does not match its record_hash"
                        ),
                    );
                }
            }
        }
        match withheld.flatten() {
            None => {}
            Some(Some(Withheld::Filter)) => self.withheld_counts.filter += 1,
            Some(Some(Withheld::Redacted)) => self.withheld_counts.redacted += 1,
            Some(None) => {}
        }
        self.state.add_entry(line, withheld.is_none());
        self.last = Some((seq, rec.as_bytes().to_vec()));
        Flow::Continue
    }

    /// Checks a disclosed entry's tree member against the entry and the checkpoint; the error
    /// gives the kind (`content` for a trace that does not match its commitment, `tree` for a
    /// leaf or proof that does not hold) and what failed.
    fn check_tree(
        &self,
        root: json::NodeRef<'_>,
        seq: u64,
        prev: &str,
        rec: &str,
        canonical: Option<&[u8]>,
    ) -> Result<(), (TamperKind, String)> {
        let malformed = |what: &str| (TamperKind::Malformed, what.to_owned());
        let Some(open) = &self.tree else {
            return Ok(());
        };
        let tree = root.get("tree").and_then(parse_entry_tree).ok_or_else(|| {
            malformed("its tree member must be exactly {\"leaf\":B64,\"proof\":[B64,...],\"salt\":B64} (a 120-byte leaf, at most 63 32-byte hashes, a 32-byte salt, canonical base64)")
        })?;
        let (Some(prev), Some(rec)) = (
            Hash32::parse(prev.as_bytes()),
            Hash32::parse(rec.as_bytes()),
        ) else {
            return Err(malformed("its prev_hash or record_hash is not a hash"));
        };
        let Some(trace) = canonical else {
            return Err((
                TamperKind::Content,
                "its trace has no canonical form".into(),
            ));
        };
        open.check_entry(seq, &prev, &rec, trace, &tree)
            .map_err(|e| {
                let kind = match e {
                    EntryTreeError::Commitment => TamperKind::Content,
                    _ => TamperKind::Tree,
                };
                (kind, e.to_string())
            })
    }

    /// What a `withheld` member says under the header's mode: `None` when it is not that
    /// mode's marker; `Some(None)` for the undifferentiated marker, `Some(Some(reason))` for a
    /// reason.
    fn withheld_value(&self, w: json::NodeRef<'_>) -> Option<Option<Withheld>> {
        match self.reasons {
            WithheldReasons::Hidden => (w.as_bool() == Some(true)).then_some(None),
            WithheldReasons::Disclosed => match w.as_str() {
                Some("filter") => Some(Some(Withheld::Filter)),
                Some("redacted") => Some(Some(Withheld::Redacted)),
                _ => None,
            },
        }
    }

    fn trailer(&mut self, line: &[u8]) -> Flow {
        let block = self.state.block;
        let (first, last) = (self.state.block_first, self.state.entries.saturating_sub(1));
        let seqs = match (&self.last, self.state.block_count) {
            (Some((l, _)), c) if c > 0 => {
                format!("seq {} to {l}", l.saturating_add(1).saturating_sub(c))
            }
            _ => "no entries".into(),
        };
        let here = self.last.as_ref().map_or(0, |l| {
            l.0.saturating_add(1).saturating_sub(self.state.block_count)
        });
        // The signed bytes first; nothing around them is accepted, and every field is read
        // from them alone.
        let Some(signed) = SignedTrailer::split(line) else {
            return self.tamper(
                here,
                TamperKind::Malformed,
                format!("block {block} (entries {first} to {last}, {seqs}): malformed trailer (a trailer is exactly its signed fields and the signature; anything else in the line is refused)"),
            );
        };
        let body = [signed.unsigned, b"}"].concat();
        let parsed = json::parse(&body).ok();
        let root = match &parsed {
            Some(doc)
                if doc.root().kind() == Kind::Object && doc.find_duplicate_key().is_none() =>
            {
                doc.root()
            }
            _ => {
                return self.tamper(
                    here,
                    TamperKind::Malformed,
                    format!("block {block} (entries {first} to {last}, {seqs}): malformed trailer"),
                );
            }
        };
        let field = |name: &str| root.get(name);
        let key_ok = field("key")
            .and_then(|k| k.as_str())
            .and_then(|k| u32::from_str_radix(k, 16).ok())
            == Some(self.public.key_hash());
        if !key_ok {
            return self.unverifiable(
                UnverifiableReason::WrongKey,
                format!(
                    "block {block} is signed by another key than {}",
                    self.public.name()
                ),
            );
        }
        let Some(sig) = base64::decode(signed.sig)
            .ok()
            .and_then(|s| <[u8; 64]>::try_from(s).ok())
        else {
            return self.tamper(
                here,
                TamperKind::Malformed,
                format!("block {block}: its signature is missing or malformed"),
            );
        };
        if !self
            .public
            .verify_bytes(&[BLOCK_DOMAIN, body.as_slice()].concat(), &sig)
        {
            return self.tamper(here, TamperKind::Content, format!("block {block} (entries {first} to {last}, {seqs}): its trailer was altered (signature does not verify)"));
        }
        if root.members().map(|(k, _)| k).ne(TRAILER_FIELDS) {
            return self.tamper(
                here,
                TamperKind::Malformed,
                format!(
                    "block {block}: the trailer does not hold exactly the fields of its format"
                ),
            );
        }
        // What this block's trailer must say, derived as the writer derives it.
        let expected = self.state.close_block(self.public.key_hash());
        let num = |name: &str| field(name).and_then(|v| v.as_u64());
        let text_of = |name: &str| field(name).and_then(|v| v.as_str()).map(str::to_owned);
        if num("block") != Some(expected.block)
            || text_of("bundle").as_deref() != Some(hex(&expected.bundle).as_str())
            || text_of("prev").as_deref() != Some(hex(&expected.prev).as_str())
        {
            return self.tamper(here, TamperKind::Sequence, format!("block {block}: the trailer belongs elsewhere (blocks were removed, reordered or taken from another bundle)"));
        }
        if num("first") != Some(expected.first) || num("count") != Some(expected.count) {
            return self.tamper(here, TamperKind::Sequence, format!("block {block}: it signs {} entries from entry {}, but holds {} from entry {} (entries were removed or added)", num("count").unwrap_or(0), num("first").unwrap_or(0), self.state.block_count, self.state.block_first));
        }
        if text_of("digest").as_deref() != Some(hex(&expected.digest).as_str()) {
            return self.tamper(here, TamperKind::Content, format!("block {block} (entries {first} to {last}, {seqs}): content differs from what its trailer signs (an entry was altered)"));
        }
        self.state.next_block(line);
        Flow::Continue
    }

    fn manifest(&mut self, root: json::NodeRef<'_>) -> Flow {
        let seq = self.seq_here();
        if self.state.block_count > 0 {
            return self.tamper(
                seq,
                TamperKind::Truncated,
                format!(
                    "block {}: its trailer is missing (the bundle was cut)",
                    self.state.block
                ),
            );
        }
        // The line is the signed note and nothing else: `{"manifest":"<note>"}`.
        let only_note = root.members().count() == 1;
        let Some(note) = root
            .get("manifest")
            .filter(|_| only_note)
            .and_then(|m| m.as_str())
        else {
            return self.tamper(
                seq,
                TamperKind::Malformed,
                "the manifest is not a signed note".into(),
            );
        };
        let body = match self.public.open(note) {
            Ok(body) => body.to_owned(),
            Err(NoteError::NotSignedBy { .. }) => {
                return self.unverifiable(
                    UnverifiableReason::WrongKey,
                    format!(
                        "the manifest is not signed by {}",
                        self.public.to_key_string()
                    ),
                );
            }
            Err(NoteError::BadSignature { .. }) => {
                return self.tamper(
                    seq,
                    TamperKind::Content,
                    "the manifest was altered (its signature does not verify)".into(),
                );
            }
            Err(e) => return self.tamper(seq, TamperKind::Malformed, format!("the manifest: {e}")),
        };
        self.manifest_seen = true;
        let Some(fields) = manifest_fields(&body) else {
            return self.tamper(
                seq,
                TamperKind::Malformed,
                "the manifest is not a trailseal bundle manifest".into(),
            );
        };
        let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
        let (first_seq, first_prev) = self.first.clone().unwrap_or((0, Vec::new()));
        let (last_seq, last_hash) = self.last.clone().unwrap_or((0, Vec::new()));
        let counts = self.state.counts();
        if get("header") != hex(&self.state.header_hash) {
            return self.tamper(
                first_seq,
                TamperKind::Content,
                "line 1: the header differs from the one the manifest signs".into(),
            );
        }
        if get("blocks") != self.state.blocks() || get("entries") != counts {
            let expected = get("entries")
                .split(' ')
                .next()
                .and_then(|c| c.parse::<u64>().ok())
                .unwrap_or(0);
            let kind = if expected > self.state.entries {
                TamperKind::Truncated
            } else {
                TamperKind::Sequence
            };
            return self.tamper(
                last_seq.saturating_add(1),
                kind,
                format!("the manifest signs {} entries ({}), the bundle holds {} ({counts}): entries or blocks were removed or added", expected, get("entries"), self.state.entries),
            );
        }
        if get("range") != format!("{first_seq} {last_seq}")
            || get("start").as_bytes() != first_prev.as_slice()
            || get("end").as_bytes() != last_hash.as_slice()
        {
            return self.tamper(
                first_seq,
                TamperKind::Link,
                "the entries' boundaries differ from the signed range".into(),
            );
        }
        if let (Some(key), Some(id)) = (self.key, KeyId::parse(get("key-id").as_bytes()))
            && id != key.key_id()
        {
            return self.unverifiable(
                UnverifiableReason::WrongSecret,
                format!(
                    "the bundle's chain has key id {id}, this secret {}",
                    key.key_id()
                ),
            );
        }
        if let Some((seq, index)) = self.deferred_mac {
            // The signed manifest names this secret's key: the header lied, the entry is bad.
            return self.tamper(
                seq,
                TamperKind::Content,
                format!("entry {index} (seq {seq}): content does not match its record_hash"),
            );
        }
        self.origin = Some(get("origin").to_owned());
        self.stage = Stage::Done;
        Flow::Continue
    }

    /// The verdict once every line was fed.
    pub fn finish(self) -> BundleVerdict {
        let quorum = self.witness_quorum();
        let mut cosignatures = None;
        let level = if self.key.is_some() {
            BundleLevel::SignatureAndMac
        } else if self.state.disclosed > 0 && self.tree_checked == self.state.disclosed {
            BundleLevel::SignatureAndTree
        } else {
            BundleLevel::Signature
        };
        let withheld = self.state.entries.saturating_sub(self.state.disclosed);
        let verdict = match self.outcome {
            Some(v) => v,
            None if !self.manifest_seen => Verdict::Tampered(Tampered {
                first_bad_seq: self.last.as_ref().map_or(0, |l| l.0.saturating_add(1)),
                kind: TamperKind::Truncated,
                records_checked: self.state.entries,
                detail: format!(
                    "the bundle ends after {} entries without its signed manifest (it was cut)",
                    self.state.entries
                ),
            }),
            // Everything else verified: the witness quorum decides (a tampered bundle stays
            // tampered whatever its cosignatures).
            None => match quorum {
                Err(unmet) => unmet,
                Ok(count) => {
                    cosignatures = count;
                    let mut caveats = Vec::new();
                    match self.reasons {
                        _ if withheld == 0 => {}
                        WithheldReasons::Hidden => {
                            caveats.push(Caveat::Withheld { count: withheld })
                        }
                        WithheldReasons::Disclosed => caveats.push(Caveat::WithheldWithReasons {
                            filter: self.withheld_counts.filter,
                            redacted: self.withheld_counts.redacted,
                        }),
                    }
                    if self.key.is_none() {
                        let unchecked = self.state.disclosed.saturating_sub(self.tree_checked);
                        if unchecked > 0 {
                            caveats.push(Caveat::MacsNotChecked { count: unchecked });
                        }
                        if let (true, Some(tree)) = (self.tree_checked > 0, &self.tree) {
                            caveats.push(Caveat::TreeChecked {
                                count: self.tree_checked,
                                tree_size: tree.checkpoint.size(),
                            });
                        }
                    }
                    Verdict::Verified(Verified {
                        records_checked: self.state.entries,
                        first_seq: self.first.as_ref().map(|f| f.0),
                        last_seq: self.last.as_ref().map(|l| l.0),
                        caveats,
                        retention: Vec::new(),
                        anchors: Vec::new(),
                    })
                }
            },
        };
        let withheld_reasons = (self.reasons == WithheldReasons::Disclosed
            && self.stage != Stage::Header)
            .then_some(self.withheld_counts);
        BundleVerdict {
            verdict,
            level,
            origin: self.origin,
            entries: self.state.entries,
            disclosed: self.state.disclosed,
            withheld,
            withheld_reasons,
            checkpoint: self.tree.map(|t| t.checkpoint),
            tree_checked: self.tree_checked,
            cosignatures,
        }
    }
}
