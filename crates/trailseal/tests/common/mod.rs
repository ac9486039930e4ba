//! Helpers shared by the integration tests of this crate.

// Each test file uses its own part of these.
#![allow(dead_code)]

pub(crate) mod rotation;

use std::path::Path;

use trailseal::{AuditLog, ChainKey, OpenMode, OpenOptions};

/// Trace `n` in the export shape (a non-ASCII argument included), action_id `t{n}`.
pub(crate) fn trace(n: u64) -> String {
    trailseal_testkit::Trace::minimal(format!("t{n}"))
        .capability("crm.search")
        .invoked_at(format!("2026-01-01T00:00:{:02}Z", n % 60))
        .args(format!(r#"{{"n":{n},"s":"é"}}"#))
        .json()
}

/// Opens (creating) the store at `path` for appending, keyed with `secret`.
pub(crate) fn open_with(path: &Path, secret: &str) -> AuditLog {
    open_at(path.to_str().unwrap(), secret)
}

/// Opens (creating) the store at `location` (a path or URL) for appending, keyed with
/// `secret`.
pub(crate) fn open_at(location: &str, secret: &str) -> AuditLog {
    AuditLog::open(
        location,
        &OpenOptions {
            mode: OpenMode::Write { create: true },
            ..OpenOptions::default()
        },
    )
    .unwrap()
    .with_key(ChainKey::from_secret(secret.as_bytes()).unwrap())
}
