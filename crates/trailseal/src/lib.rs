//! # trailseal
//!
//! A tamper-evident audit log for AI-agent actions. Every record carries an HMAC-SHA256 over
//! its content and the previous record's hash (chain format "1", compatible with
//! weaver-kernel 0.12.0), so any later edit, insertion, deletion or reordering is detected and
//! the first bad record is named.
//!
//! ```no_run
//! use trailseal::{AuditLog, OpenOptions, OpenMode, secret};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = secret::key_from_env()?.ok_or("set WEAVER_KERNEL_SECRET")?;
//! let options = OpenOptions { mode: OpenMode::Write { create: true }, ..OpenOptions::default() };
//! let mut log = AuditLog::open("audit.db", &options)?.with_key(key);
//! log.append_json(br#"{"action_id":"a1","capability_id":"crm.search","principal_id":"agent-7",
//!   "token_id":"tok-1","invoked_at":"2026-11-27T10:00:00+00:00","args":{"q":"acme"},
//!   "response_mode":"summary","driver_id":"http"}"#)?;
//! let verdict = log.verify();
//! assert!(verdict.is_verified());
//! # Ok(()) }
//! ```

// The README's library example is compiled as a doc test, so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

mod anchor_file;
mod archive;
mod bundle;
mod bundle_tree;
mod clock;
mod error;
mod export;
mod group;
mod keys;
mod log;
mod migrate;
pub mod query;
mod redact;
mod repair;
mod retention;
mod rotate;
pub mod seal;
pub mod secret;
pub mod signing;
pub mod tlog;
pub mod transitions;
pub mod verify;
pub mod witness;

pub use anchor_file::{AnchorWrite, anchor_file_name, size_of_anchor_file_name, write_anchor_once};
pub use bundle::{
    BundleReport, BundleSelection, BundleVerifyOptions, verify_bundle, verify_bundle_with,
    verify_bundle_with_options,
};
pub use clock::now;
pub use error::{
    BundleProblem, Error, KeyError, PolicyBreach, PolicyError, RetentionError, WrongKey,
};
pub use export::write_atomically;
pub use group::{GroupStats, SharedLog};
pub use log::{AuditLog, OpenOptions};
pub use migrate::MigrateReport;
pub use query::{Filter, TraceEntry};
pub use redact::{Reach, RedactError, RedactPath};
pub use repair::RepairReport;
pub use retention::{CutoffSpec, PruneReport, PruneRequest, RetentionStatus};
pub use rotate::{RotateReport, RotateRequest};
pub use verify::{
    AnchorCheck, CheckpointCheck, Progress, VerifyOptions, default_threads, no_secret,
    verdict_of_store_error,
};

pub use trailseal_core as core;
pub use trailseal_core::{
    Caveat, ChainKey, KeyId, Keyring, KeyringError, PreparedTrace, TamperKind, Timestamp,
    TraceLimits, Verdict,
};
pub use trailseal_store as store;
pub use trailseal_store::{Appended, Format, OpenMode, Store, StoreError, StoredRecord, TornTail};
