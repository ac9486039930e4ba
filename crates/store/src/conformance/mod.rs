//! The conformance suite: what every [`Store`] must do, checked the same way for each backend.
//!
//! A backend's tests implement [`Backend`] and call [`conformance_tests!`](crate::conformance_tests),
//! which generates one `#[test]` per check:
//!
//! ```ignore
//! struct Sqlite;
//! impl trailseal_store::conformance::Backend for Sqlite { /* fresh(), reopen() */ }
//! trailseal_store::conformance_tests!(Sqlite);
//! ```
//!
//! Checks panic with a message naming the backend and the expectation, as tests do. They are
//! grouped by what they exercise: `chain` (appends, scans, lookups, handles), `writes` (prunes,
//! receipts, copies, dropped transactions) and `snapshot` (consistent reads).

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::any::Any;

use trailseal_core::start::StoredKeyId;
use trailseal_core::verify::{ContentChecker, Flow, ScanItem, Verifier};
use trailseal_core::{
    Caveat, ChainKey, GENESIS_HASH, PreparedTrace, TraceLimits, UnverifiableReason, Verdict,
};

use crate::{Store, StoreError, StoreExt};

/// A fresh, empty store and whatever keeps it alive (a temporary directory, a database).
pub struct Fixture {
    pub store: Box<dyn Store>,
    pub guard: Box<dyn Any + Send>,
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture")
            .field("store", &self.store.location())
            .finish_non_exhaustive()
    }
}

/// A backend under test.
pub trait Backend {
    /// A new empty store, created for writing.
    fn fresh(&self) -> Fixture;
    /// Another handle on the same store as `fixture`, or `None` when the backend cannot have
    /// two (memory).
    fn reopen(&self, fixture: &Fixture) -> Option<Box<dyn Store>>;
}

/// The key every check writes with.
pub fn test_key() -> ChainKey {
    ChainKey::from_secret("conformance-secret-é".as_bytes()).unwrap()
}

/// A valid trace in the export shape, distinct for each `n`.
pub fn trace(n: u64) -> PreparedTrace {
    let text = format!(
        r#"{{"action_id":"act-{n:06}","capability_id":"crm.search","principal_id":"agent-{p}","token_id":"tok-{n}","invoked_at":"2026-03-01T09:{m:02}:{s:02}+00:00","args":{{"q":"caf\u00e9 \ud83d\ude00 {n}","big":123456789012345678901234567890,"f":1e16,"nested":{{"b":[1,2,{{"c":null}}],"a":"\"quoted\""}}}},"response_mode":"summary","driver_id":"memory","error":{err}}}"#,
        p = n % 3,
        m = (n / 60) % 60,
        s = n % 60,
        err = if n % 5 == 4 { "\"timeout\"" } else { "null" },
    );
    PreparedTrace::parse(text.as_bytes(), &TraceLimits::default()).unwrap()
}

/// Traces `start..start + count`.
pub fn traces(start: u64, count: u64) -> Vec<PreparedTrace> {
    (start..start + count).map(trace).collect()
}

/// Verifies a whole store with the core verifier (retention log included).
pub fn verify(store: &mut dyn Store, key: &ChainKey) -> Verdict {
    let state = store.state().unwrap();
    let resolved =
        match trailseal_core::retention::resolve_start(key, &state.start, &state.retention) {
            Ok(r) => r,
            Err(p) => return Verdict::Tampered(p.into()),
        };
    let mut verifier = Verifier::from_resolved(key, resolved, state.key_id);
    let mut checker = ContentChecker::new();
    store
        .scan(0, &mut |item| verifier.feed(key, &mut checker, item))
        .unwrap();
    verifier.finish()
}

/// The (seq, prev_hash, record_hash, trace) of every record, in scan order.
pub fn records(store: &mut dyn Store) -> Vec<(u64, String, String, String)> {
    let mut out = Vec::new();
    store
        .scan(0, &mut |item| {
            match item {
                ScanItem::Record(r) => out.push((
                    r.seq,
                    String::from_utf8_lossy(r.prev_hash).into_owned(),
                    String::from_utf8_lossy(r.record_hash).into_owned(),
                    String::from_utf8_lossy(r.trace).into_owned(),
                )),
                ScanItem::Malformed(m) => panic!("unexpected malformed record: {m:?}"),
            }
            Flow::Continue
        })
        .unwrap();
    out
}

fn name(store: &dyn Store) -> String {
    store.location().to_owned()
}

mod chain;
mod snapshot;
mod tree;
mod writes;

pub use chain::*;
pub use snapshot::*;
pub use tree::*;
pub use writes::*;

/// Generates one `#[test]` per conformance check for a backend type implementing [`Backend`].
#[macro_export]
macro_rules! conformance_tests {
    ($backend:expr) => {
        $crate::conformance_tests!(@tests $backend;
            empty_store,
            append_links_and_verifies,
            traces_round_trip,
            known_answer,
            duplicate_action_id_writes_nothing,
            find_by_action_id,
            scan_bounds,
            two_handles_one_chain,
            wrong_key_is_unverifiable,
            prune_is_atomic_and_checked,
            rotate_is_atomic_and_checked,
            receipts_append_in_order,
            import_copies_a_chain,
            snapshot_ranges_equal_scan,
            dropped_write_changes_nothing,
            appends_write_the_tree,
            interleaved_handles_keep_one_tree,
            prune_keeps_the_tree,
            sync_tree_brings_records_in,
        );
    };
    (@tests $backend:expr; $($check:ident,)*) => {
        $(
            #[test]
            fn $check() {
                $crate::conformance::$check(&$backend);
            }
        )*
    };
}
