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

mod anchor;
mod bundle;
mod canonical;
mod jsonl_format;
mod jsonl_line;
mod number;
mod tlog;
mod verifier;
pub use anchor::anchor;
pub use bundle::bundle;
pub use canonical::canonical;
pub use jsonl_format::jsonl_format;
pub use jsonl_line::jsonl_line;
pub use number::number;
pub use tlog::tlog;
pub use verifier::verifier;

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
    ("tlog", tlog),
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

/// The Python-mode canonical form of a JSON text, if it has one.
pub(crate) fn python_canonical(text: &[u8]) -> Option<Vec<u8>> {
    let doc = json::parse(text).ok()?;
    let mut out = Vec::new();
    doc.root().write_canonical(&mut out, Mode::Python).ok()?;
    Some(out)
}
