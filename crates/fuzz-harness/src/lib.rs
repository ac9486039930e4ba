//! The bodies of trailseal's fuzz targets.
//!
//! Each function takes arbitrary bytes, drives one of trailseal's readers of untrusted input
//! with them and asserts what must hold whatever the input: nothing panics, and where two
//! implementations of one thing exist, they agree. The cargo-fuzz targets in `fuzz/` (outside
//! the workspace, built with nightly) call these functions, and so does
//! `tests/corpus.rs`, which replays the checked-in corpus `fuzz/corpus/<target>/` as an
//! ordinary test. A failed assertion here is a bug in the library.
//!
//! The fixtures are fixed so that the corpus can hold inputs that get past MACs and
//! signatures: the chain secret [`SECRET`] and the Ed25519 signing key [`SIGNING_KEY`] (seeds
//! are made by `fuzz/seeds.py`, which runs the `trailseal` command with them).

use std::borrow::Cow;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

mod jsonl_format;
mod number;
pub use jsonl_format::jsonl_format;
pub use number::number;

use trailseal::store::jsonl::JsonlStore;
use trailseal::{OpenMode, Store as _, VerifyOptions};
use trailseal_core::anchor::Anchor;
use trailseal_core::json::{self, Kind, Mode};
use trailseal_core::note::{NoteSigner, NoteVerifier};
use trailseal_core::recanon::Recanonicalizer;
use trailseal_core::start::{ChainStart, StartKind, StoredKeyId};
use trailseal_core::verify::{
    Columns, ContentCheck, ContentChecker, Expectation, Flow, MalformedRecord, RecordView,
    ScanItem, SealedEnd, TraceEncoding, Verifier,
};
use trailseal_core::{ChainKey, GENESIS_HASH, KeyId, PreparedTrace, TraceLimits, Verdict};

/// The chain secret of the fixtures (`WEAVER_KERNEL_SECRET` when making seeds).
pub const SECRET: &str = "trailseal-fuzz-secret";

/// The Ed25519 signing key of the fixtures, in Go's signed-note format (the seed is 32 bytes
/// of `0x5a`). Not a secret: it exists so that seeds can carry valid signatures.
pub const SIGNING_KEY: &str =
    "PRIVATE+KEY+fuzz.trailseal.example+4dd7c644+AVpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpa";

/// The public half of [`SIGNING_KEY`].
pub const PUBLIC_KEY: &str =
    "fuzz.trailseal.example+4dd7c644+AQ11UHVOCACl0jfu9YJgNXZrmz5aFYaKlAqyiZWHiOOw";

/// A fuzz target's body.
pub type Harness = fn(&[u8]);

/// The fuzz targets: name (the directory under `fuzz/corpus/`) and harness.
pub const TARGETS: &[(&str, Harness)] = &[
    ("canonical", canonical),
    ("jsonl_line", jsonl_line),
    ("bundle", bundle),
    ("anchor", anchor),
    ("verifier", verifier),
    ("number", number),
    ("jsonl_format", jsonl_format),
];

struct Fixtures {
    key: ChainKey,
    signer: NoteSigner,
    public: NoteVerifier,
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let (Ok(key), Ok(signer), Ok(public)) = (
            ChainKey::from_secret(SECRET.as_bytes()),
            NoteSigner::parse(SIGNING_KEY),
            NoteVerifier::parse(PUBLIC_KEY),
        ) else {
            unreachable!("the fixed fuzzing keys parse");
        };
        assert_eq!(
            signer.verifier(),
            public,
            "PUBLIC_KEY is SIGNING_KEY's public half"
        );
        Fixtures {
            key,
            signer,
            public,
        }
    })
}

/// The Python-mode canonical form of a JSON text, if it has one.
fn python_canonical(text: &[u8]) -> Option<Vec<u8>> {
    let doc = json::parse(text).ok()?;
    let mut out = Vec::new();
    doc.root().write_canonical(&mut out, Mode::Python).ok()?;
    Some(out)
}

/// `canonical`: the general JSON reader and canonical writer in both modes, `canonicalize`,
/// `pretty`, the trace validator, and the one-pass [`Recanonicalizer`] checked against the
/// general reader (a differential oracle: whenever it succeeds its output must be the
/// reader's Python-mode canonical form).
pub fn canonical(data: &[u8]) {
    let mut recanon = Recanonicalizer::new();
    let mut fast = Vec::new();
    let fast_ok = recanon.run(data, &mut fast);
    let _ = json::find_top_level_string(data, "action_id");
    let _ = json::pretty(data, 2);
    if let Ok(trace) = PreparedTrace::parse(data, &TraceLimits::default()) {
        let stored = trace.canonical().as_bytes();
        assert_eq!(
            json::canonicalize(stored).ok().as_deref(),
            Some(trace.canonical()),
            "a validated trace is stored in canonical form"
        );
        let _ = (trace.action_id(), trace.invoked_at_timestamp());
    }
    let doc = match json::parse(data) {
        Ok(doc) => doc,
        Err(_) => {
            assert!(
                !fast_ok,
                "the recanonicalizer accepted a text the reader rejects"
            );
            assert!(json::canonicalize(data).is_err());
            return;
        }
    };
    let root = doc.root();
    let mut python = Vec::new();
    let python_ok = root.write_canonical(&mut python, Mode::Python).is_ok();
    let mut strict = Vec::new();
    let strict_ok = root.write_canonical(&mut strict, Mode::Strict).is_ok();
    if fast_ok {
        assert!(
            python_ok,
            "the recanonicalizer wrote what the reader cannot"
        );
        assert!(
            fast == python,
            "the recanonicalizer and the reader disagree:\n fast:   {}\n reader: {}",
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&python)
        );
    }
    if strict_ok {
        assert!(
            python_ok && strict == python,
            "strict and Python modes differ"
        );
    }
    match json::canonicalize(data) {
        Ok(text) => assert!(strict_ok && text.as_bytes() == strict),
        Err(_) => assert!(!strict_ok),
    }
    let _ = (doc.check_strict(), doc.find_duplicate_key(), root.kind());
    if python_ok {
        assert!(python.is_ascii(), "the canonical form is ASCII");
        assert_eq!(
            python_canonical(&python).as_deref(),
            Some(python.as_slice()),
            "the canonical form is a fixed point"
        );
        assert_eq!(
            python_canonical(json::pretty(&python, 2).as_bytes()).as_deref(),
            Some(python.as_slice()),
            "pretty-printing keeps the value"
        );
        if recanon.run(&python, &mut fast) {
            assert!(
                fast == python,
                "the recanonicalizer changed a canonical text"
            );
        }
    }
}

/// A file name no other call (of this process or another) uses, in shared memory if there is.
fn scratch_path(ext: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    };
    dir.join(format!(
        "trailseal-fuzz-{}-{}.{ext}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Removes a file when dropped, so a failed assertion leaves no scratch file behind.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `jsonl_line`: the bytes as a JSONL store file, read the way every command reads one —
/// [`JsonlStore`] opened read-only, its state (header line, first key id, head from the tail),
/// a scan (the record line parser), a lookup, and full verification (header retention
/// receipts, archive receipt, every record) on one thread and on two, which must agree.
pub fn jsonl_line(data: &[u8]) {
    let file = Scratch(scratch_path("jsonl"));
    let written = std::fs::File::create(&file.0).and_then(|mut f| f.write_all(data));
    assert!(
        written.is_ok(),
        "cannot write the scratch file {:?}",
        file.0
    );
    let Ok(mut store) = JsonlStore::open(&file.0, OpenMode::Read) else {
        return;
    };
    let _ = store.state();
    let mut items = 0u64;
    let scanned = store.scan(0, &mut |item| {
        items += 1;
        if let ScanItem::Record(r) = item
            && r.encoding == TraceEncoding::Canonical
        {
            assert_eq!(
                python_canonical(r.trace).as_deref(),
                Some(r.trace),
                "a trace the reader re-canonicalised is canonical"
            );
        }
        Flow::Continue
    });
    let _ = store.find("act-0");
    let key = &fixtures().key;
    let one =
        trailseal::verify::verify(&mut store, Some(key), &mut VerifyOptions::new().threads(1));
    let two =
        trailseal::verify::verify(&mut store, Some(key), &mut VerifyOptions::new().threads(2));
    assert_eq!(one, two, "parallel verification gives another verdict");
    if let (Verdict::Verified(v), Ok(())) = (&one, scanned) {
        assert_eq!(
            v.records_checked, items,
            "a verified store's every line was checked"
        );
    }
    drop(store);
    repair_removes_only_a_torn_tail(&file.0, data);
}

/// `repair` on the file removes at most its last line, only when that has no line end, is not
/// a complete value and begins as a record does, and only when the rest verifies; whatever it
/// does not remove stays byte for byte.
fn repair_removes_only_a_torn_tail(path: &std::path::Path, data: &[u8]) {
    let Ok(store) = JsonlStore::open(path, OpenMode::Write { create: false }) else {
        return;
    };
    let mut log = trailseal::AuditLog::from_store(Box::new(store)).with_key(fixtures().key.clone());
    let report = log.repair(false);
    drop(log);
    let now = std::fs::read(path).ok();
    match report {
        Ok(r) if r.removed => {
            let offset = r.torn.map_or(0, |t| t.offset) as usize;
            assert_eq!(
                now.as_deref(),
                data.get(..offset),
                "repair left other bytes"
            );
            let removed = data.get(offset..).unwrap_or_default();
            assert!(
                !removed.contains(&b'\n') && !removed.contains(&b'\r'),
                "repair removed a line end"
            );
            assert!(
                removed.starts_with(b"{") && json::parse(removed).is_err(),
                "repair removed a complete value or a line that does not start as a record"
            );
            assert!(
                r.verdict.is_verified(),
                "repair removed a tail of a store that does not verify"
            );
        }
        _ => assert_eq!(
            now.as_deref(),
            Some(data),
            "a repair that removed nothing changed the file"
        ),
    }
}

/// `bundle`: the bytes as an export bundle, verified line by line with the public key alone
/// and with the chain key too. Whatever the key adds, a bundle it verifies also verifies
/// without it.
pub fn bundle(data: &[u8]) {
    let f = fixtures();
    let run = |key: Option<&ChainKey>| {
        let mut input = data;
        trailseal::verify_bundle(&mut input, &f.public, key, &mut |_| {})
    };
    let (Ok(with_key), Ok(public_only)) = (run(Some(&f.key)), run(None)) else {
        unreachable!("reading a byte slice cannot fail");
    };
    if with_key.verdict.is_verified() {
        assert!(
            public_only.verdict.is_verified()
                && public_only.entries == with_key.entries
                && public_only.disclosed == with_key.disclosed
                && public_only.withheld == with_key.withheld
                && public_only.origin == with_key.origin,
            "verified with the chain key but not without it: {with_key:?} / {public_only:?}"
        );
    }
    if public_only.verdict.is_verified() {
        trailer_is_read_from_its_signed_bytes(data);
    }
}

/// For a bundle that verifies: its first block trailer with a member added after the
/// signature (outside the signed bytes, repeating a signed value) makes the bundle tampered at
/// that block — the trailer
/// is refused, not read from a parse of the whole line (which would blame a later block).
fn trailer_is_read_from_its_signed_bytes(data: &[u8]) {
    let f = fixtures();
    let mut at = 0;
    for line in data.split_inclusive(|&b| b == b'\n') {
        let start = at;
        at += line.len();
        let Some(rest) = line.strip_prefix(b"{\"block\":") else {
            continue;
        };
        let digits: Vec<u8> = rest
            .iter()
            .copied()
            .take_while(u8::is_ascii_digit)
            .collect();
        let block = String::from_utf8_lossy(&digits).into_owned();
        let Some(signed) = line.strip_suffix(b"}\n") else {
            return;
        };
        let mut altered = Vec::with_capacity(data.len() + 16);
        altered.extend_from_slice(data.get(..start).unwrap_or_default());
        altered.extend_from_slice(signed);
        // The value it already signs: only where the field is read from can tell.
        altered.extend_from_slice(format!(",\"block\":{block}}}\n").as_bytes());
        altered.extend_from_slice(data.get(at..).unwrap_or_default());
        let mut input = altered.as_slice();
        let Ok(v) = trailseal::verify_bundle(&mut input, &f.public, None, &mut |_| {}) else {
            unreachable!("reading a byte slice cannot fail");
        };
        let blamed = match &v.verdict {
            Verdict::Tampered(t) => Some(t),
            _ => None,
        };
        assert!(
            blamed.is_some_and(|t| t.detail.starts_with(&format!("block {block} "))
                || t.detail.starts_with(&format!("block {block}:"))),
            "a member after block {block}'s signature is not blamed on it: {:?}",
            v.verdict
        );
        return;
    }
}

/// `anchor`: the bytes as a key string (both kinds), as a signed note opened with the fixed
/// public key, as an anchor; and as a note body signed here, so that the anchor body parser
/// is reached behind a valid signature. An anchor that opens signs and opens to itself.
pub fn anchor(data: &[u8]) {
    let f = fixtures();
    let text = String::from_utf8_lossy(data);
    if let Ok(public) = NoteVerifier::parse(&text) {
        assert_eq!(
            NoteVerifier::parse(&public.to_key_string()).as_ref(),
            Ok(&public)
        );
        let _ = public.verify_bytes(data, &[0; 64]);
    }
    if let Ok(signer) = NoteSigner::parse(&text) {
        let again = NoteSigner::parse(&signer.to_key_string()).map(|s| s.verifier());
        assert_eq!(again, Ok(signer.verifier()));
    }
    if let Ok(body) = f.public.open(&text) {
        assert!(text.starts_with(body), "an opened note's body is its start");
        signed_bytes_alone_decide(&text, body);
    }
    let _ = Anchor::open(&text, &f.public);
    let Ok(note) = f.signer.sign(&text) else {
        return;
    };
    assert_eq!(
        f.public.open(&note),
        Ok(&*text),
        "a note signed here opens to its body"
    );
    if let Ok(anchor) = Anchor::open(&note, &f.public) {
        let _ = anchor.head_seq();
        if let Ok(resigned) = anchor.sign(&f.signer) {
            assert_eq!(
                Anchor::open(&resigned, &f.public).as_ref(),
                Ok(&anchor),
                "an anchor does not survive signing and opening"
            );
        }
    }
}

/// For a note that opens: what is read from it depends on its signed body alone — the anchor
/// it holds is the one the body signed here gives — and nothing added after its signatures
/// changes the body or the anchor (it is refused, or it is another signature line).
fn signed_bytes_alone_decide(text: &str, body: &str) {
    let f = fixtures();
    let anchor = Anchor::open(text, &f.public).ok();
    if let Ok(note) = f.signer.sign(body) {
        assert_eq!(
            Anchor::open(&note, &f.public).ok(),
            anchor,
            "an anchor is read from more than its signed body"
        );
    }
    let our_line = text
        .get(body.len()..)
        .unwrap_or_default()
        .trim_start_matches('\n');
    let suffixes = [
        "x\n".to_owned(),
        "\n\u{2014} other AAAAAAAAAA==\n".to_owned(),
        format!("{body}\n"),
        our_line.to_owned(),
    ];
    for suffix in &suffixes {
        let longer = format!("{text}{suffix}");
        if let Ok(opened) = f.public.open(&longer) {
            assert_eq!(
                opened, body,
                "text after a note's signatures changed its body"
            );
            assert_eq!(
                Anchor::open(&longer, &f.public).ok(),
                anchor,
                "text after a note's signatures changed its anchor"
            );
        }
    }
}

/// The content check an input asks for (`feed_hashes` op `h`).
fn wanted_check(spec: &[u8]) -> Option<ContentCheck> {
    match spec.split_first() {
        Some((b'o', _)) => Some(ContentCheck::Ok),
        Some((b'm', _)) => Some(ContentCheck::Mismatch),
        Some((b'x', rest)) => Some(ContentCheck::Malformed(
            String::from_utf8_lossy(rest).into_owned(),
        )),
        Some((b'a', _)) => Some(ContentCheck::ColumnMismatch("action_id")),
        Some((b'i', _)) => Some(ContentCheck::ColumnMismatch("invoked_at")),
        _ => None,
    }
}

/// A non-empty field of a command line.
fn field<'a>(fields: &[&'a [u8]], i: usize) -> Option<&'a [u8]> {
    fields.get(i).copied().filter(|f| !f.is_empty())
}

fn decimal_field(field: Option<&[u8]>) -> Option<u64> {
    std::str::from_utf8(field?).ok()?.parse().ok()
}

/// What [`ContentChecker::check`] must return for a record whose `record_hash` is the MAC of
/// its trace's canonical form, when the trace is a JSON object that has one; `None` otherwise.
fn expected_check(record: &RecordView<'_>) -> Option<ContentCheck> {
    let doc = json::parse(record.trace).ok()?;
    let root = doc.root();
    if root.kind() != Kind::Object {
        return None;
    }
    let mut canonical = Vec::new();
    root.write_canonical(&mut canonical, Mode::Python).ok()?;
    if record.encoding == TraceEncoding::Canonical && canonical != record.trace {
        // Canonical input is MAC'd as it is, never re-canonicalised.
        return Some(ContentCheck::Mismatch);
    }
    let Some(cols) = record.columns else {
        return Some(ContentCheck::Ok);
    };
    let field = |name: &str| root.get(name).and_then(|n| n.as_str()).map(str::as_bytes);
    // The column check finds the members by their text in the MAC-verified payload and relies
    // on the export shape: a payload without them (which only a holder of the secret can
    // write) may match a nested member of that name.
    if field("action_id").is_none() || field("invoked_at").is_none() {
        return None;
    }
    Some(if field("action_id") != Some(cols.action_id) {
        ContentCheck::ColumnMismatch("action_id")
    } else if field("invoked_at") != Some(cols.invoked_at) {
        ContentCheck::ColumnMismatch("invoked_at")
    } else {
        ContentCheck::Ok
    })
}

/// `verifier`: the streaming [`Verifier`] and [`ContentChecker`] driven by a small text
/// language, one command a line, fields separated by tabs:
///
/// - line 1, the start: `kind seq prev_hash key_id` — kind `g` (genesis, the default), `u`
///   (unauthenticated checkpoint) or `c` (authenticated checkpoint); an empty prev_hash is the
///   genesis value; key_id empty for none, `=` for the fixture key's, else the text;
/// - before the first record: `e seq hash` (an anchor's expectation), `s seq hash` (a sealed
///   end);
/// - `r`/`c`/`k`/`h seq prev_hash record_hash trace [action_id invoked_at]`: a record, fed
///   with its trace as stored (`r`), as canonical (`c`), through `feed_checked` (`k`) or
///   `feed_hashes` with the content check the trace field names (`h`: `o`k, `m`ismatch,
///   `x` malformed, `a`/`i` column mismatch; anything else: checked). An empty seq is the next
///   one, an empty prev_hash the previous record's hash, an empty record_hash the MAC of the
///   trace's canonical form (so inputs can build valid chains); two more fields are index
///   columns;
/// - `m seq torn problem`: a record that could not be read (`torn` when the field is `t`).
///
/// Checked: the content check of a record whose hash is the MAC of its canonical form is what
/// the payload implies, whatever the checker saw before; a verified verdict counted every
/// item and covers the seqs from the start on.
pub fn verifier(data: &[u8]) {
    let key = &fixtures().key;
    let mut lines = data.split(|b| *b == b'\n');
    let config: Vec<&[u8]> = lines
        .next()
        .unwrap_or_default()
        .split(|b| *b == b'\t')
        .collect();
    let kind = match field(&config, 0) {
        Some(b"u") => StartKind::UnauthenticatedCheckpoint,
        Some(b"c") => StartKind::Checkpoint,
        _ => StartKind::Genesis,
    };
    let start = ChainStart {
        next_seq: decimal_field(field(&config, 1)).unwrap_or(0),
        prev_hash: field(&config, 2)
            .unwrap_or(GENESIS_HASH.as_bytes())
            .to_vec(),
        kind,
    };
    let stored_key_id = match field(&config, 3) {
        None => StoredKeyId::Absent,
        Some(b"=") => StoredKeyId::Present(key.key_id()),
        Some(text) => KeyId::parse(text).map_or(StoredKeyId::Absent, StoredKeyId::Present),
    };
    let mut v = Verifier::new(key, start.clone(), stored_key_id);
    let mut checker = ContentChecker::new();
    let mut fed = 0u64;
    let mut next_seq = start.next_seq;
    let mut prev = start.prev_hash.clone();
    for line in lines {
        let fields: Vec<&[u8]> = line.split(|b| *b == b'\t').collect();
        let (Some(op), rest) = fields
            .split_first()
            .map_or((None, &[][..]), |(op, rest)| (op.first(), rest))
        else {
            continue;
        };
        let seq_field = decimal_field(field(rest, 0));
        let hash_field = field(rest, 1).unwrap_or_default().to_vec();
        let flow = match op {
            b'e' | b's' if fed == 0 => {
                let seq = seq_field.unwrap_or(0);
                if *op == b'e' {
                    v.expect_record(Expectation {
                        seq,
                        record_hash: hash_field,
                        source: "the fuzz input".into(),
                    });
                } else {
                    v.expect_end(SealedEnd {
                        last_seq: seq,
                        last_hash: hash_field,
                        source: "the fuzz input".into(),
                    });
                }
                continue;
            }
            b'm' => {
                fed += 1;
                v.feed_malformed(&MalformedRecord {
                    seq: seq_field,
                    location: format!("line {fed}"),
                    problem: String::from_utf8_lossy(field(rest, 2).unwrap_or_default())
                        .into_owned(),
                    torn: field(rest, 1) == Some(b"t"),
                })
            }
            b'r' | b'c' | b'k' | b'h' => {
                fed += 1;
                let seq = seq_field.unwrap_or(next_seq);
                let prev_hash = field(rest, 1).map_or_else(|| prev.clone(), <[u8]>::to_vec);
                let trace = rest.get(3).copied().unwrap_or_default();
                let sealed = field(rest, 2).is_none();
                let record_hash = match field(rest, 2) {
                    Some(h) => h.to_vec(),
                    None => {
                        let canonical =
                            python_canonical(trace).map_or(Cow::Borrowed(trace), Cow::Owned);
                        key.record_hash(seq, &prev_hash, &canonical)
                            .as_bytes()
                            .to_vec()
                    }
                };
                let record = RecordView {
                    seq,
                    prev_hash: &prev_hash,
                    record_hash: &record_hash,
                    trace,
                    encoding: if *op == b'c' {
                        TraceEncoding::Canonical
                    } else {
                        TraceEncoding::Stored
                    },
                    columns: match (rest.get(4), rest.get(5)) {
                        (Some(action_id), Some(invoked_at)) => Some(Columns {
                            action_id,
                            invoked_at,
                        }),
                        _ => None,
                    },
                };
                next_seq = seq.saturating_add(1);
                prev.clone_from(&record_hash);
                let wanted = if *op == b'h' {
                    wanted_check(trace)
                } else {
                    None
                };
                match wanted {
                    Some(content) => v.feed_hashes(seq, &prev_hash, &record_hash, content),
                    None => {
                        let content = checker.check(key, &record);
                        let fresh = ContentChecker::new().check(key, &record);
                        if let (true, Some(expected)) = (sealed, expected_check(&record)) {
                            assert_eq!(content, expected, "a sealed record's content check");
                            assert_eq!(fresh, expected, "a sealed record's content check");
                        }
                        if *op == b'k' || *op == b'h' {
                            v.feed_checked(&record, content)
                        } else {
                            v.feed(key, &mut checker, &ScanItem::Record(record))
                        }
                    }
                }
            }
            _ => continue,
        };
        if flow == Flow::Stop {
            break;
        }
    }
    let verdict = v.finish();
    if let Verdict::Verified(ok) = &verdict {
        assert_eq!(
            ok.records_checked, fed,
            "a verified verdict counted every item"
        );
        if fed > 0 {
            assert_eq!(
                ok.first_seq,
                Some(start.next_seq),
                "verified from the start"
            );
            assert_eq!(
                ok.last_seq,
                start.next_seq.checked_add(fed - 1),
                "verified seqs are consecutive"
            );
        }
    }
}
