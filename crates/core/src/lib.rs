//! # trailseal-core
//!
//! The pure core of trailseal, a tamper-evident audit log for AI-agent actions: the canonical
//! JSON form, the trace payload, chain format "1", and streaming verification with a typed
//! three-way verdict. This crate does no I/O, reads no clock and draws no random numbers;
//! storage backends feed it records and it decides.
//!
//! The format is specified in `docs/format.md` of the repository; it is compatible with the
//! audit chain of weaver-kernel 0.12.0.

pub mod anchor;
pub mod base64;
pub mod bundle;
pub mod chain;
pub mod checkpoint;
pub mod cosignature;
pub mod json;
pub mod jsonl;
pub mod keyring;
pub mod leaf;
pub mod note;
pub mod number;
pub use json::recanon;
pub mod record;
pub mod retention;
pub mod schedule;
pub mod seal;
pub mod start;
pub mod strength;
pub mod time;
pub mod tlog_proof;
pub mod trace;
pub mod transition;
pub mod tree;
pub mod verdict;
pub mod verify;
pub mod witness;

pub use chain::{ChainKey, GENESIS_HASH, Hash32, KeyError, KeyId};
pub use keyring::{Keyring, KeyringError};
pub use record::{Head, SealedRecord, seal_batch};
pub use retention::{Cutoff, Receipt, ReceiptBody, ResolvedStart, RetentionLog, StartProblem};
pub use schedule::{KeyRange, KeySchedule};
pub use start::{ChainStart, StartKind, StoredKeyId};
pub use strength::SecretStrength;
pub use time::Timestamp;
pub use trace::{Outcome, PreparedTrace, TraceError, TraceLimits, TraceSummary};
pub use verdict::{
    AnchorChecked, AnchorConfirmation, Caveat, TamperKind, Tampered, Unverifiable,
    UnverifiableReason, Verdict, Verified,
};
pub use verify::{
    Columns, ContentCheck, ContentChecker, Expectation, Flow, MalformedRecord, RecordView,
    ScanItem, SealedEnd, TraceEncoding, Verifier,
};
