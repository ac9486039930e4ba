//! Export bundles: a contiguous range of the chain in one self-contained, signed file that an
//! auditor verifies offline — with the public key alone (signature, linkage, completeness), or
//! with the chain secret as well (every disclosed record's MAC).
//!
//! A bundle is JSON lines:
//!
//! 1. a header: `{"created":…,"key_id":…,"origin":…,"selection":{…},"trailseal_bundle":2,
//!    "withheld_reasons":false}` (`true` when the exporter chose to disclose why each entry is
//!    withheld);
//! 2. one entry per record of the range, in seq order: disclosed
//!    `{"seq":N,"prev_hash":…,"record_hash":…,"trace":{…}}` or hash-only
//!    `{"seq":N,"prev_hash":…,"record_hash":…,"withheld":true}` — every hash-only entry alike,
//!    whatever withheld it — or, with `"withheld_reasons":true`, `"withheld":"filter"` or
//!    `"withheld":"redacted"`. Format 1 (no `withheld_reasons`, always the reasons) is still
//!    read;
//! 3. after every [`BLOCK_ENTRIES`] entries (and after the last), a block trailer signed with
//!    the Ed25519 key, binding the block's exact bytes, its position and the previous trailer;
//! 4. last, `{"manifest":"<signed note>"}`: origin, range, counts, the boundary hashes, the
//!    header's and the last trailer's digests.
//!
//! Writing and verifying both stream: memory does not depend on the bundle's size. A changed
//! entry is named exactly when it breaks the linkage or (with the secret) its MAC, and otherwise
//! by its block (the entries one trailer signs).

use sha2::{Digest, Sha256};

use crate::base64;
use crate::chain::{ChainKey, Hash32, KeyId};
use crate::json::{self, Kind, Mode};
use crate::note::{NoteError, NoteSigner, NoteVerifier};
use crate::time::Timestamp;
use crate::verdict::{
    Caveat, TamperKind, Tampered, Unverifiable, UnverifiableReason, Verdict, Verified,
};
use crate::verify::{ContentCheck, ContentChecker, Flow, RecordView, TraceEncoding};

/// The bundle format version written.
pub const BUNDLE_FORMAT: u64 = 2;
/// The oldest format read: format 1 always names the reason of a withheld entry.
pub const OLDEST_BUNDLE_FORMAT: u64 = 1;
/// Entries per signed block.
pub const BLOCK_ENTRIES: u64 = 64;
const BLOCK_DOMAIN: &[u8] = b"trailseal bundle block v1\n";
const MANIFEST_MARKER: &str = "trailseal-bundle v1";

/// Why an entry is hash-only. Written into the bundle only under
/// [`WithheldReasons::Disclosed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withheld {
    /// Outside the selection (principal, capability, time window).
    Filter,
    /// It holds a field the exporter redacted.
    Redacted,
}

impl Withheld {
    /// The name in the bundle.
    pub fn as_str(self) -> &'static str {
        match self {
            Withheld::Filter => "filter",
            Withheld::Redacted => "redacted",
        }
    }
}

/// Whether a bundle says why each hash-only entry is withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WithheldReasons {
    /// Every hash-only entry carries the same marker (`"withheld":true`): an auditor cannot
    /// tell a record outside the selection from one that held a redacted field.
    #[default]
    Hidden,
    /// Each hash-only entry says why (`"withheld":"filter"` or `"redacted"`), as the exporter
    /// chose: this tells the auditor which selected records held a redacted field.
    Disclosed,
}

impl WithheldReasons {
    fn header_value(self) -> &'static str {
        match self {
            WithheldReasons::Hidden => "false",
            WithheldReasons::Disclosed => "true",
        }
    }
}

/// How many hash-only entries a bundle that discloses the reasons withheld for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WithheldCounts {
    /// Outside the selection.
    pub filter: u64,
    /// Holding a redacted field (or a trace without a canonical form).
    pub redacted: u64,
}

/// An entry's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryContent<'a> {
    /// The canonical trace.
    Disclosed(&'a [u8]),
    Withheld(Withheld),
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn hex(raw: &[u8; 32]) -> String {
    Hash32::from_bytes(raw).to_string()
}

fn quoted(s: &str) -> String {
    let mut v = Vec::new();
    json::write_json_string(s, &mut v);
    String::from_utf8_lossy(&v).into_owned()
}

/// Something wrong with what is being written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    #[error("seq {seq}: entries must be contiguous (expected seq {expected})")]
    NotContiguous { seq: u64, expected: u64 },
    #[error("seq {seq}: prev_hash does not link to the previous entry")]
    NotLinked { seq: u64 },
    #[error("seq {seq}: {what} is not a hash")]
    NotAHash { seq: u64, what: &'static str },
    #[error("the bundle holds no entry")]
    Empty,
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// The members of a header, in the order they are written (format 1 lacks the last).
const HEADER_FIELDS: [&str; 6] = [
    "created",
    "key_id",
    "origin",
    "selection",
    "trailseal_bundle",
    "withheld_reasons",
];

/// The members of an entry, in the order they are written; the last is `trace` or
/// `withheld`.
const ENTRY_FIELDS: [&str; 3] = ["seq", "prev_hash", "record_hash"];

/// The members of a block trailer's signed part, in the order they are written.
const TRAILER_FIELDS: [&str; 7] = ["block", "bundle", "count", "digest", "first", "key", "prev"];

/// A trailer line taken apart: `<unsigned>,"sig":"<base64>"}` and its newline, exactly.
/// The signature covers `<unsigned>}` (after the block signature domain, `BLOCK_DOMAIN`).
#[derive(Debug, PartialEq, Eq)]
pub struct SignedTrailer<'l> {
    /// The signed object without its closing brace.
    pub unsigned: &'l [u8],
    /// The signature's base64 text.
    pub sig: &'l str,
}

impl<'l> SignedTrailer<'l> {
    /// Splits a trailer line into its signed part and signature; `None` unless the line is
    /// exactly that framing (the signature last, its base64 alone in its string, then `}` and
    /// the newline).
    pub fn split(line: &'l [u8]) -> Option<Self> {
        let rest = line.strip_suffix(b"\"}\n")?;
        let at = rest.windows(8).rposition(|w| w == b",\"sig\":\"")?;
        let (unsigned, sig) = (rest.get(..at)?, rest.get(at + 8..)?);
        if !sig
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        {
            return None;
        }
        Some(Self {
            unsigned,
            sig: std::str::from_utf8(sig).ok()?,
        })
    }
}

/// The lines of a manifest body after its marker, in the order they are written.
const MANIFEST_FIELDS: [&str; 9] = [
    "origin", "key-id", "created", "header", "entries", "range", "start", "end", "blocks",
];

/// Reads a manifest's signed body: the marker, then exactly the [`MANIFEST_FIELDS`] lines in
/// order, each once; `None` for anything else.
fn manifest_fields(body: &str) -> Option<std::collections::HashMap<&'static str, String>> {
    let mut lines = body.split_terminator('\n');
    if lines.next() != Some(MANIFEST_MARKER) {
        return None;
    }
    let mut fields = std::collections::HashMap::new();
    for name in MANIFEST_FIELDS {
        let value = lines.next()?.strip_prefix(name)?.strip_prefix(' ')?;
        fields.insert(name, value.to_owned());
    }
    lines.next().is_none().then_some(fields)
}

/// Writes a bundle, line by line.
#[derive(Debug)]
pub struct BundleWriter<'s> {
    signer: &'s NoteSigner,
    origin: String,
    created: Timestamp,
    key_id: KeyId,
    reasons: WithheldReasons,
    header_hash: [u8; 32],
    block: u64,
    block_first: u64,
    block_count: u64,
    block_hasher: Sha256,
    prev_trailer: [u8; 32],
    entries: u64,
    disclosed: u64,
    first_seq: Option<u64>,
    start: Option<Hash32>,
    last: Option<(u64, Hash32)>,
}

impl<'s> BundleWriter<'s> {
    /// Starts a bundle; returns the writer and the header line. `selection` is a JSON object
    /// describing how the entries were chosen (recorded, not interpreted); `reasons` whether
    /// hash-only entries say why they are withheld (recorded in the header).
    pub fn new(
        signer: &'s NoteSigner,
        origin: &str,
        created: Timestamp,
        key_id: KeyId,
        selection: &str,
        reasons: WithheldReasons,
    ) -> (Self, String) {
        let header = format!(
            "{{\"created\":{},\"key_id\":\"{key_id}\",\"origin\":{},\"selection\":{selection},\"trailseal_bundle\":{BUNDLE_FORMAT},\"withheld_reasons\":{}}}\n",
            quoted(&created.to_rfc3339()),
            quoted(origin),
            reasons.header_value()
        );
        let writer = Self {
            signer,
            origin: origin.to_owned(),
            created,
            key_id,
            reasons,
            header_hash: sha256(header.as_bytes()),
            block: 0,
            block_first: 0,
            block_count: 0,
            block_hasher: Sha256::new(),
            prev_trailer: [0; 32],
            entries: 0,
            disclosed: 0,
            first_seq: None,
            start: None,
            last: None,
        };
        (writer, header)
    }

    /// Adds the next entry; returns the text to write (the entry line, and a block trailer when
    /// the entry completes a block).
    pub fn entry(
        &mut self,
        seq: u64,
        prev_hash: &[u8],
        record_hash: &[u8],
        content: EntryContent<'_>,
    ) -> Result<String, BundleError> {
        let prev = Hash32::parse(prev_hash).ok_or(BundleError::NotAHash {
            seq,
            what: "prev_hash",
        })?;
        let rec = Hash32::parse(record_hash).ok_or(BundleError::NotAHash {
            seq,
            what: "record_hash",
        })?;
        if let Some((last_seq, last_hash)) = self.last {
            if last_seq.checked_add(1) != Some(seq) {
                return Err(BundleError::NotContiguous {
                    seq,
                    expected: last_seq.saturating_add(1),
                });
            }
            if prev != last_hash {
                return Err(BundleError::NotLinked { seq });
            }
        } else {
            self.first_seq = Some(seq);
            self.start = Some(prev);
        }
        let mut line =
            format!("{{\"seq\":{seq},\"prev_hash\":\"{prev}\",\"record_hash\":\"{rec}\",");
        match content {
            EntryContent::Disclosed(trace) => {
                line.push_str("\"trace\":");
                line.push_str(&String::from_utf8_lossy(trace));
                self.disclosed += 1;
            }
            EntryContent::Withheld(w) => {
                line.push_str("\"withheld\":");
                match self.reasons {
                    // The same bytes whatever the reason.
                    WithheldReasons::Hidden => line.push_str("true"),
                    WithheldReasons::Disclosed => {
                        line.push('"');
                        line.push_str(w.as_str());
                        line.push('"');
                    }
                }
            }
        }
        line.push_str("}\n");
        self.block_hasher.update(line.as_bytes());
        self.block_count += 1;
        self.entries += 1;
        self.last = Some((seq, rec));
        if self.block_count == BLOCK_ENTRIES {
            line.push_str(&self.trailer());
        }
        Ok(line)
    }

    fn trailer(&mut self) -> String {
        let digest: [u8; 32] = std::mem::take(&mut self.block_hasher).finalize().into();
        let unsigned = format!(
            "{{\"block\":{},\"bundle\":\"{}\",\"count\":{},\"digest\":\"{}\",\"first\":{},\"key\":\"{:08x}\",\"prev\":\"{}\"",
            self.block,
            hex(&self.header_hash),
            self.block_count,
            hex(&digest),
            self.block_first,
            self.signer.verifier().key_hash(),
            hex(&self.prev_trailer)
        );
        let sig = self
            .signer
            .sign_bytes(&[BLOCK_DOMAIN, unsigned.as_bytes(), b"}"].concat());
        let line = format!("{unsigned},\"sig\":\"{}\"}}\n", base64::encode(&sig));
        self.prev_trailer = sha256(line.as_bytes());
        self.block += 1;
        self.block_first = self.entries;
        self.block_count = 0;
        line
    }

    /// Ends the bundle; returns the last trailer (if a block is open) and the manifest line.
    pub fn finish(mut self) -> Result<String, BundleError> {
        let (Some(first), Some(start), Some((last_seq, end))) =
            (self.first_seq, self.start, self.last)
        else {
            return Err(BundleError::Empty);
        };
        let mut out = String::new();
        if self.block_count > 0 {
            out.push_str(&self.trailer());
        }
        let body = format!(
            "{MANIFEST_MARKER}\norigin {}\nkey-id {}\ncreated {}\nheader {}\nentries {} disclosed {} withheld {}\nrange {first} {last_seq}\nstart {start}\nend {end}\nblocks {} {}\n",
            self.origin,
            self.key_id,
            self.created.to_rfc3339(),
            hex(&self.header_hash),
            self.entries,
            self.disclosed,
            self.entries.saturating_sub(self.disclosed),
            self.block,
            hex(&self.prev_trailer),
        );
        let note = self.signer.sign(&body)?;
        out.push_str(&format!("{{\"manifest\":{}}}\n", quoted(&note)));
        Ok(out)
    }
}

/// How far a bundle could be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleLevel {
    /// Signatures, linkage and completeness, with the public key alone.
    Signature,
    /// That, and every disclosed record's MAC, with the chain secret.
    SignatureAndMac,
}

impl BundleLevel {
    /// The name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            BundleLevel::Signature => "signature, linkage and completeness (public key)",
            BundleLevel::SignatureAndMac => {
                "signature, linkage, completeness and every disclosed record's MAC (public key and secret)"
            }
        }
    }
}

/// The outcome of verifying a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleVerdict {
    pub verdict: Verdict,
    pub level: BundleLevel,
    pub origin: Option<String>,
    pub entries: u64,
    pub disclosed: u64,
    pub withheld: u64,
    /// How many entries were withheld for each reason, when the bundle's header says it
    /// discloses them (every format 1 bundle does); `None` when every hash-only entry carries
    /// the same marker (or the header was not read).
    pub withheld_reasons: Option<WithheldCounts>,
}

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
    withheld_counts: WithheldCounts,
    header_hash: [u8; 32],
    block: u64,
    block_first: u64,
    block_count: u64,
    block_hasher: Sha256,
    prev_trailer: [u8; 32],
    entries: u64,
    disclosed: u64,
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
            withheld_counts: WithheldCounts::default(),
            header_hash: [0; 32],
            block: 0,
            block_first: 0,
            block_count: 0,
            block_hasher: Sha256::new(),
            prev_trailer: [0; 32],
            entries: 0,
            disclosed: 0,
            first: None,
            last: None,
            outcome: None,
            manifest_seen: false,
            deferred_mac: None,
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
            records_checked: self.entries,
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
            Some(v @ OLDEST_BUNDLE_FORMAT..=BUNDLE_FORMAT) => v,
            Some(v) if v > BUNDLE_FORMAT => {
                return self.unverifiable(
                    UnverifiableReason::UnknownStore,
                    format!(
                        "bundle format {v} is newer than this trailseal reads ({BUNDLE_FORMAT})"
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
        let members = HEADER_FIELDS
            .iter()
            .copied()
            .take(if format == 1 { 5 } else { 6 });
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
        self.origin = root
            .get("origin")
            .and_then(|o| o.as_str())
            .map(str::to_owned);
        self.key_id = root
            .get("key_id")
            .and_then(|k| k.as_str())
            .and_then(|k| KeyId::parse(k.as_bytes()));
        self.header_hash = sha256(line);
        self.stage = Stage::Entries;
        Flow::Continue
    }

    fn entry(&mut self, line: &[u8], root: json::NodeRef<'_>) -> Flow {
        let n = self.line_no;
        let index = self.entries;
        let expected_seq = self.seq_here();
        if self.block_count == BLOCK_ENTRIES {
            return self.tamper(expected_seq, TamperKind::Sequence, format!("entry {index}: block {} has no trailer after {BLOCK_ENTRIES} entries (entries were added)", self.block));
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
        let shape_ok = names.len() == ENTRY_FIELDS.len() + 1
            && names.iter().zip(ENTRY_FIELDS).all(|(a, b)| *a == b)
            && matches!(names.last(), Some(&"trace" | &"withheld"));
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
            return self.tamper(
                seq,
                TamperKind::Malformed,
                format!("entry {index} (seq {seq}): must be exactly seq, prev_hash, record_hash and a trace or {marker}"),
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
        if let Some(trace) = trace
            && let Some(key) = self.key
            && self.deferred_mac.is_none()
        {
            let mut canonical = Vec::new();
            let ok = trace.write_canonical(&mut canonical, Mode::Python).is_ok();
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
            None => self.disclosed += 1,
            Some(Some(Withheld::Filter)) => self.withheld_counts.filter += 1,
            Some(Some(Withheld::Redacted)) => self.withheld_counts.redacted += 1,
            Some(None) => {}
        }
        self.block_hasher.update(line);
        self.block_count += 1;
        self.entries += 1;
        self.last = Some((seq, rec.as_bytes().to_vec()));
        Flow::Continue
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
        let block = self.block;
        let (first, last) = (self.block_first, self.entries.saturating_sub(1));
        let seqs = match (&self.last, self.block_count) {
            (Some((l, _)), c) if c > 0 => {
                format!("seq {} to {l}", l.saturating_add(1).saturating_sub(c))
            }
            _ => "no entries".into(),
        };
        let here = self.last.as_ref().map_or(0, |l| {
            l.0.saturating_add(1).saturating_sub(self.block_count)
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
                format!("block {block}: the trailer does not hold exactly the fields of format {BUNDLE_FORMAT}"),
            );
        }
        let digest: [u8; 32] = std::mem::take(&mut self.block_hasher).finalize().into();
        let num = |name: &str| field(name).and_then(|v| v.as_u64());
        let text_of = |name: &str| field(name).and_then(|v| v.as_str()).map(str::to_owned);
        if num("block") != Some(block)
            || text_of("bundle").as_deref() != Some(hex(&self.header_hash).as_str())
            || text_of("prev").as_deref() != Some(hex(&self.prev_trailer).as_str())
        {
            return self.tamper(here, TamperKind::Sequence, format!("block {block}: the trailer belongs elsewhere (blocks were removed, reordered or taken from another bundle)"));
        }
        if num("first") != Some(self.block_first) || num("count") != Some(self.block_count) {
            return self.tamper(here, TamperKind::Sequence, format!("block {block}: it signs {} entries from entry {}, but holds {} from entry {} (entries were removed or added)", num("count").unwrap_or(0), num("first").unwrap_or(0), self.block_count, self.block_first));
        }
        if text_of("digest").as_deref() != Some(hex(&digest).as_str()) {
            return self.tamper(here, TamperKind::Content, format!("block {block} (entries {first} to {last}, {seqs}): content differs from what its trailer signs (an entry was altered)"));
        }
        self.prev_trailer = sha256(line);
        self.block += 1;
        self.block_first = self.entries;
        self.block_count = 0;
        Flow::Continue
    }

    fn manifest(&mut self, root: json::NodeRef<'_>) -> Flow {
        let seq = self.seq_here();
        if self.block_count > 0 {
            return self.tamper(
                seq,
                TamperKind::Truncated,
                format!(
                    "block {}: its trailer is missing (the bundle was cut)",
                    self.block
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
        let disclosed = self.disclosed;
        let counts = format!(
            "{} disclosed {} withheld {}",
            self.entries,
            disclosed,
            self.entries.saturating_sub(disclosed)
        );
        if get("header") != hex(&self.header_hash) {
            return self.tamper(
                first_seq,
                TamperKind::Content,
                "line 1: the header differs from the one the manifest signs".into(),
            );
        }
        if get("blocks") != format!("{} {}", self.block, hex(&self.prev_trailer))
            || get("entries") != counts
        {
            let expected = get("entries")
                .split(' ')
                .next()
                .and_then(|c| c.parse::<u64>().ok())
                .unwrap_or(0);
            let kind = if expected > self.entries {
                TamperKind::Truncated
            } else {
                TamperKind::Sequence
            };
            return self.tamper(
                last_seq.saturating_add(1),
                kind,
                format!("the manifest signs {} entries ({}), the bundle holds {} ({counts}): entries or blocks were removed or added", expected, get("entries"), self.entries),
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
        let level = if self.key.is_some() {
            BundleLevel::SignatureAndMac
        } else {
            BundleLevel::Signature
        };
        let withheld = self.entries.saturating_sub(self.disclosed);
        let verdict = match self.outcome {
            Some(v) => v,
            None if !self.manifest_seen => Verdict::Tampered(Tampered {
                first_bad_seq: self.last.as_ref().map_or(0, |l| l.0.saturating_add(1)),
                kind: TamperKind::Truncated,
                records_checked: self.entries,
                detail: format!(
                    "the bundle ends after {} entries without its signed manifest (it was cut)",
                    self.entries
                ),
            }),
            None => {
                let mut caveats = Vec::new();
                match self.reasons {
                    _ if withheld == 0 => {}
                    WithheldReasons::Hidden => caveats.push(Caveat::Withheld { count: withheld }),
                    WithheldReasons::Disclosed => caveats.push(Caveat::WithheldWithReasons {
                        filter: self.withheld_counts.filter,
                        redacted: self.withheld_counts.redacted,
                    }),
                }
                if self.key.is_none() && self.disclosed > 0 {
                    caveats.push(Caveat::MacsNotChecked {
                        count: self.disclosed,
                    });
                }
                Verdict::Verified(Verified {
                    records_checked: self.entries,
                    first_seq: self.first.as_ref().map(|f| f.0),
                    last_seq: self.last.as_ref().map(|l| l.0),
                    caveats,
                    retention: Vec::new(),
                    anchors: Vec::new(),
                })
            }
        };
        let withheld_reasons = (self.reasons == WithheldReasons::Disclosed
            && self.stage != Stage::Header)
            .then_some(self.withheld_counts);
        BundleVerdict {
            verdict,
            level,
            origin: self.origin,
            entries: self.entries,
            disclosed: self.disclosed,
            withheld,
            withheld_reasons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{PreparedTrace, TraceLimits};
    use crate::{Head, seal_batch};

    fn bundle(n: u64, key: &ChainKey, signer: &NoteSigner) -> Vec<String> {
        let traces: Vec<PreparedTrace> = (0..n)
            .map(|i| {
                let t = format!(r#"{{"action_id":"a{i}","capability_id":"c","principal_id":"p{}","token_id":"t","invoked_at":"2026-01-01T00:00:00Z","args":{{}},"response_mode":"raw","driver_id":"d"}}"#, i % 2);
                PreparedTrace::parse(t.as_bytes(), &TraceLimits::default()).unwrap()
            })
            .collect();
        let mut head = Head::GENESIS;
        let records = seal_batch(key, &mut head, &traces);
        let created =
            Timestamp::parse("2026-11-27T00:00:00Z", crate::time::Offset::Required).unwrap();
        let (mut w, header) = BundleWriter::new(
            signer,
            "test/log",
            created,
            key.key_id(),
            "{}",
            WithheldReasons::Hidden,
        );
        let mut text = header;
        for r in &records {
            let content = if r.seq % 3 == 2 {
                EntryContent::Withheld(Withheld::Filter)
            } else {
                EntryContent::Disclosed(r.trace.canonical().as_bytes())
            };
            text.push_str(
                &w.entry(
                    r.seq,
                    r.prev_hash.as_bytes(),
                    r.record_hash.as_bytes(),
                    content,
                )
                .unwrap(),
            );
        }
        text.push_str(&w.finish().unwrap());
        text.lines().map(|l| format!("{l}\n")).collect()
    }

    fn verify(lines: &[String], public: &NoteVerifier, key: Option<&ChainKey>) -> BundleVerdict {
        let mut v = BundleVerifier::new(public, key);
        for l in lines {
            if v.feed(l.as_bytes()) == Flow::Stop {
                break;
            }
        }
        v.finish()
    }

    #[test]
    fn round_trip_at_both_levels() {
        let key = ChainKey::from_secret(b"bundle").unwrap();
        let signer = NoteSigner::from_seed("exporter", &[5; 32]).unwrap();
        let lines = bundle(150, &key, &signer);
        let public = signer.verifier();
        let v = verify(&lines, &public, None);
        assert!(v.verdict.is_verified(), "{v:?}");
        assert_eq!(
            (v.entries, v.withheld, v.level),
            (150, 50, BundleLevel::Signature)
        );
        let v = verify(&lines, &public, Some(&key));
        assert!(v.verdict.is_verified(), "{v:?}");
        assert_eq!(v.level, BundleLevel::SignatureAndMac);
        let other = NoteSigner::from_seed("exporter", &[6; 32])
            .unwrap()
            .verifier();
        assert!(matches!(
            verify(&lines, &other, None).verdict,
            Verdict::Unverifiable(_)
        ));
        let wrong = ChainKey::from_secret(b"other").unwrap();
        assert!(!verify(&lines, &public, Some(&wrong)).verdict.is_verified());
    }

    #[test]
    fn every_single_byte_change_is_caught() {
        let key = ChainKey::from_secret(b"bundle").unwrap();
        let signer = NoteSigner::from_seed("exporter", &[5; 32]).unwrap();
        let lines = bundle(70, &key, &signer);
        let public = signer.verifier();
        let text: String = lines.concat();
        for at in (0..text.len()).step_by(7) {
            let mut bytes = text.clone().into_bytes();
            bytes[at] ^= 0x01;
            let changed: Vec<String> = String::from_utf8_lossy(&bytes)
                .split_inclusive('\n')
                .map(str::to_owned)
                .collect();
            let v = verify(&changed, &public, None);
            assert!(
                !v.verdict.is_verified(),
                "byte {at} changed, still verified"
            );
        }
    }

    fn tampered(v: &BundleVerdict) -> &Tampered {
        match &v.verdict {
            Verdict::Tampered(t) => t,
            other => panic!("expected tampered, got {other:?}"),
        }
    }

    /// Withholds the disclosed entry at `line` and returns the block digest of lines
    /// `block` (entry lines only) afterwards.
    fn withhold(lines: &mut [String], line: usize, block: std::ops::Range<usize>) -> String {
        let entry = lines[line].clone();
        let at = entry.find(",\"trace\":").unwrap();
        lines[line] = format!("{},\"withheld\":true}}\n", &entry[..at]);
        let mut h = Sha256::new();
        for l in &lines[block] {
            h.update(l.as_bytes());
        }
        hex(&h.finalize().into())
    }

    #[test]
    fn a_trailer_rewritten_around_its_signature_names_the_altered_block() {
        // Block 0 is lines 1..=64, its trailer line 65; block 1 follows.
        let key = ChainKey::from_secret(b"bundle").unwrap();
        let signer = NoteSigner::from_seed("exporter", &[5; 32]).unwrap();
        let public = signer.verifier();
        let clean = bundle(150, &key, &signer);
        assert!(clean[65].starts_with("{\"block\":0,"));
        // Members after the signature, before it but outside the signed text, or a second
        // signature: the signature still verifies over the original bytes, so only reading the
        // fields from exactly those bytes (and refusing the rest) catches it at block 0.
        type Rewrite<'f> = &'f dyn Fn(&str, &str) -> String;
        let rewrites: [Rewrite<'_>; 4] = [
            &|t: &str, d: &str| t.replacen("\"}\n", &format!("\",\"digest\":\"{d}\"}}\n"), 1),
            &|t: &str, d: &str| {
                let (head, tail) = t.rsplit_once(",\"sig\":").unwrap();
                format!(
                    "{head},\"sig\":{},\"digest\":\"{d}\"}}\n",
                    tail.trim_end().trim_end_matches('}')
                )
            },
            &|t: &str, d: &str| t.replacen("\"}\n", &format!("\" ,\"digest\":\"{d}\"}}\n"), 1),
            &|t: &str, d: &str| {
                let sig = t
                    .rsplit_once(",\"sig\":")
                    .unwrap()
                    .1
                    .trim_end()
                    .trim_end_matches('}')
                    .to_owned();
                t.replacen(
                    ",\"sig\":",
                    &format!(",\"sig\":{sig},\"digest\":\"{d}\",\"sig\":"),
                    1,
                )
            },
        ];
        for (i, rewrite) in rewrites.iter().enumerate() {
            let mut lines = clean.clone();
            let digest = withhold(&mut lines, 2, 1..65);
            lines[65] = rewrite(&lines[65], &digest);
            for level in [None, Some(&key)] {
                let v = verify(&lines, &public, level);
                let t = tampered(&v);
                assert!(
                    t.detail.starts_with("block 0 ") || t.detail.starts_with("block 0:"),
                    "rewrite {i}: {t:?}"
                );
                assert!(t.first_bad_seq < 64, "rewrite {i}: {t:?}");
            }
        }
        // The same withholding without touching the trailer: block 0's digest differs.
        let mut lines = clean.clone();
        withhold(&mut lines, 2, 1..65);
        let t = tampered(&verify(&lines, &public, None)).clone();
        assert!(t.detail.starts_with("block 0 "), "{t:?}");
        assert_eq!(t.kind, TamperKind::Content);
    }

    #[test]
    fn a_manifest_line_is_the_signed_note_and_nothing_else() {
        let key = ChainKey::from_secret(b"bundle").unwrap();
        let signer = NoteSigner::from_seed("exporter", &[5; 32]).unwrap();
        let public = signer.verifier();
        let clean = bundle(10, &key, &signer);
        let last = clean.len() - 1;
        assert!(clean[last].starts_with("{\"manifest\":"));
        for changed in [
            clean[last].replacen("}\n", ",\"entries\":10}\n", 1),
            clean[last].replacen("{", "{\"x\":1,", 1),
            clean[last].replacen("}\n", &format!(",{}", &clean[last][1..]), 1),
        ] {
            let mut lines = clean.clone();
            lines[last] = changed;
            let v = verify(&lines, &public, None);
            assert_eq!(tampered(&v).kind, TamperKind::Malformed, "{v:?}");
        }
        assert!(verify(&clean, &public, None).verdict.is_verified());
    }

    #[test]
    fn trailer_framing_is_exact() {
        let ok = b"{\"block\":0,\"x\":1,\"sig\":\"AAAA+/==\"}\n";
        let t = SignedTrailer::split(ok).unwrap();
        assert_eq!(
            (t.unsigned, t.sig),
            (&b"{\"block\":0,\"x\":1"[..], "AAAA+/==")
        );
        for bad in [
            &b"{\"block\":0,\"sig\":\"AAAA\"}"[..],
            b"{\"block\":0,\"sig\":\"AAAA\"} \n",
            b"{\"block\":0,\"sig\":\"AAAA\"}\r\n",
            b"{\"block\":0,\"sig\":\"AA\",\"x\":\"AA\"}\n",
            b"{\"block\":0,\"sig\": \"AAAA\"}\n",
            b"{\"block\":0,\"sig\":\"AA\\u0041A\"}\n",
            b"{\"block\":0}\n",
        ] {
            assert_eq!(
                SignedTrailer::split(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
