//! PostgreSQL columns a DBA retyped or filled with NULL under an open handle: no call of the
//! `Store` trait panics, whatever the stored types and values; reads and writes through the
//! handle fail with an error (the schema check names the column), nothing is written, and a
//! new handle refuses the store as a schema problem.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use trailseal_core::Hash32;
use trailseal_core::start::{ChainStart, StoredKeyId};
use trailseal_core::verify::Flow;
use trailseal_store::StoreExt;
use trailseal_store::conformance::{test_key, traces};
use trailseal_store::{ImportMeta, OpenMode, PrunePlan, SeqRange, Store, StoreError};

/// (what, SQL with `{t}` for the traces table, the column the schema check must name)
const DAMAGE: [(&str, &str, &str); 7] = [
    (
        "a NULL payload",
        "ALTER TABLE {t} ALTER COLUMN payload DROP NOT NULL; UPDATE {t} SET payload = NULL WHERE seq = 2",
        "trailseal_traces.payload",
    ),
    (
        "payload retyped jsonb",
        "ALTER TABLE {t} ALTER COLUMN payload TYPE jsonb USING payload::jsonb",
        "trailseal_traces.payload",
    ),
    (
        "seq retyped integer",
        "ALTER TABLE {t} ALTER COLUMN seq TYPE integer",
        "trailseal_traces.seq",
    ),
    (
        "prev_hash retyped bytea",
        "ALTER TABLE {t} ALTER COLUMN prev_hash TYPE bytea USING prev_hash::bytea",
        "trailseal_traces.prev_hash",
    ),
    (
        "record_hash retyped bytea",
        "ALTER TABLE {t} ALTER COLUMN record_hash TYPE bytea USING record_hash::bytea",
        "trailseal_traces.record_hash",
    ),
    (
        "a NULL action_id",
        "ALTER TABLE {t} ALTER COLUMN action_id DROP NOT NULL; UPDATE {t} SET action_id = NULL WHERE seq = 1",
        "trailseal_traces.action_id",
    ),
    (
        "invoked_at retyped timestamptz",
        "ALTER TABLE {t} ALTER COLUMN invoked_at TYPE timestamptz USING invoked_at::timestamptz",
        "trailseal_traces.invoked_at",
    ),
];

/// A call's outcome: `Err(())` if it panicked.
type Outcome = Result<Result<(), StoreError>, ()>;

/// Every call of the trait on `store`, each caught if it panics: (call, outcome).
fn every_call(store: &mut dyn Store) -> Vec<(&'static str, Outcome)> {
    let key = test_key();
    let mut out = Vec::new();
    let mut call =
        |name: &'static str, f: &mut dyn FnMut(&mut dyn Store) -> Result<(), StoreError>| {
            let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut *store))).map_err(|_| ());
            out.push((name, outcome));
        };
    call("state", &mut |s| s.state().map(|_| ()));
    call("scan", &mut |s| s.scan(0, &mut |_| Flow::Continue));
    call("find", &mut |s| s.find("act-000001").map(|_| ()));
    call("snapshot", &mut |s| {
        let mut snap = s.snapshot(3)?;
        for r in &mut snap.readers {
            r.scan_range(
                SeqRange {
                    from: None,
                    until: None,
                },
                &mut |_| Flow::Continue,
            )?;
        }
        Ok(())
    });
    call("append", &mut |s| {
        s.append(&key, &traces(50, 2)).map(|_| ())
    });
    call("add_receipt", &mut |s| s.add_receipt(0, "{}"));
    call("prune", &mut |s| {
        s.prune(
            &PrunePlan {
                from_seq: 0,
                last_seq: 1,
                last_hash: Hash32::GENESIS,
                log_len: 0,
            },
            "{}",
        )
    });
    call("import", &mut |s| {
        s.import(&ImportMeta {
            start: ChainStart::genesis(),
            retention: Vec::new(),
            key_id: StoredKeyId::Absent,
            archive_of: None,
        })
        .map(drop)
    });
    out
}

#[test]
fn retyped_and_null_columns_panic_nothing_and_are_refused() {
    let mut admin =
        postgres::Client::connect(&trailseal_testkit::pg_url(), postgres::NoTls).unwrap();
    for (what, sql, column) in DAMAGE {
        let url = trailseal_testkit::pg_fresh_schema_url();
        let schema = url.rsplit("schema=").next().unwrap().to_owned();
        let table = format!("{schema}.trailseal_traces");
        let mut store =
            trailseal_store::open(&url, None, OpenMode::Write { create: true }).unwrap();
        store.append(&test_key(), &traces(0, 5)).unwrap();
        let dump = |admin: &mut postgres::Client| -> String {
            let row = admin
                .query_one(
                    &format!(
                        "SELECT (SELECT count(*) FROM {table}), (SELECT count(*) FROM {schema}.trailseal_retention), (SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM {schema}.trailseal_meta)"
                    ),
                    &[],
                )
                .unwrap();
            format!(
                "{:?} {:?} {:?}",
                row.try_get::<_, i64>(0),
                row.try_get::<_, i64>(1),
                row.try_get::<_, Option<String>>(2)
            )
        };
        admin.batch_execute(&sql.replace("{t}", &table)).unwrap();
        let before = dump(&mut admin);
        for (call, outcome) in every_call(store.as_mut()) {
            match outcome {
                Err(()) => panic!("{what}: {call} panicked"),
                Ok(Ok(())) => panic!("{what}: {call} succeeded on a damaged store"),
                // Every call, writes included, names the column.
                Ok(Err(e)) => assert!(
                    matches!(&e, StoreError::Schema { problem, .. } if problem.contains(column)),
                    "{what}: {call}: {e}"
                ),
            }
        }
        drop(store);
        assert_eq!(dump(&mut admin), before, "{what}: a call changed the store");
        // A new handle refuses the store, naming the column.
        for mode in [OpenMode::Read, OpenMode::Write { create: false }] {
            let Err(err) = trailseal_store::open(&url, None, mode) else {
                panic!("{what}: the store was opened");
            };
            assert!(
                matches!(&err, StoreError::Schema { problem, .. } if problem.contains(column)),
                "{what}: {err}"
            );
        }
    }
}
