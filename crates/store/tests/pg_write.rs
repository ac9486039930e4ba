//! The PostgreSQL write transaction against a real server, where the server can refuse what
//! the protocol asked: a commit the server refuses leaves nothing behind, not even a cached
//! belief that the key id is stored; a copy whose records failed cannot be finished as if it
//! had succeeded; a wait for a table lock is not reported as the chain's lock; seqs stop
//! where a bigint does.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use trailseal_core::start::{ChainStart, StartKind, StoredKeyId};
use trailseal_core::{ChainKey, Hash32, Head, seal_batch};
use trailseal_store::conformance::{test_key, traces};
use trailseal_store::{
    ImportMeta, ImportRecord, OpenMode, Store, StoreError, StoreExt, WriteTx, open,
};

fn schema_of(url: &str) -> String {
    url.rsplit("schema=").next().unwrap().to_owned()
}

fn admin() -> postgres::Client {
    postgres::Client::connect(&trailseal_testkit::pg_url(), postgres::NoTls).unwrap()
}

fn fresh() -> (String, Box<dyn Store>) {
    let url = trailseal_testkit::pg_fresh_schema_url();
    let store = open(&url, None, OpenMode::Write { create: true }).unwrap();
    (url, store)
}

/// Rows in the traces and retention tables, and the meta table, as text.
fn dump(admin: &mut postgres::Client, schema: &str) -> String {
    let row = admin
        .query_one(
            &format!(
                "SELECT (SELECT count(*) FROM {schema}.trailseal_traces), (SELECT count(*) FROM {schema}.trailseal_retention), \
                 (SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM {schema}.trailseal_meta)"
            ),
            &[],
        )
        .unwrap();
    format!(
        "{} {} {:?}",
        row.get::<_, i64>(0),
        row.get::<_, i64>(1),
        row.get::<_, Option<String>>(2)
    )
}

#[test]
fn a_commit_the_server_refuses_leaves_the_key_id_to_be_recorded_by_the_next_append() {
    let (url, mut store) = fresh();
    let schema = schema_of(&url);
    let mut admin = admin();
    // A deferred foreign key (internal triggers, not a schema problem) makes the server
    // refuse the COMMIT of a record whose action_id is not allowed yet.
    admin
        .batch_execute(&format!(
            "CREATE TABLE {schema}.allowed (id TEXT PRIMARY KEY);
             ALTER TABLE {schema}.trailseal_traces ADD CONSTRAINT only_allowed FOREIGN KEY (action_id)
               REFERENCES {schema}.allowed (id) DEFERRABLE INITIALLY DEFERRED;"
        ))
        .unwrap();
    let before = dump(&mut admin, &schema);
    let key = test_key();
    let err = store.append(&key, &traces(0, 2)).unwrap_err();
    assert!(err.to_string().contains("(23503)"), "{err}");
    assert_eq!(dump(&mut admin, &schema), before, "nothing was written");
    assert_eq!(store.state().unwrap().key_id, StoredKeyId::Absent);

    admin
        .batch_execute(&format!(
            "INSERT INTO {schema}.allowed VALUES ('act-000000'), ('act-000001')"
        ))
        .unwrap();
    // The same handle: its next append records the key id the refused one did not.
    store.append(&key, &traces(0, 2)).unwrap();
    assert_eq!(
        store.state().unwrap().key_id,
        StoredKeyId::Present(key.key_id())
    );
    let fresh_handle = open(&url, None, OpenMode::Write { create: false })
        .unwrap()
        .state()
        .unwrap();
    assert_eq!(fresh_handle.key_id, StoredKeyId::Present(key.key_id()));
}

/// Records copied from a chain sealed here, with `action_id`s as given.
fn copied(ids: &[&str]) -> Vec<ImportRecord> {
    let batch = traces(0, ids.len() as u64);
    let mut head = Head::GENESIS;
    seal_batch(&test_key(), &mut head, &batch)
        .iter()
        .zip(ids)
        .map(|(r, id)| ImportRecord {
            seq: r.seq,
            prev_hash: r.prev_hash,
            record_hash: r.record_hash,
            trace: r.trace.canonical().to_owned(),
            action_id: (*id).to_owned(),
            invoked_at: r.trace.invoked_at().to_owned(),
        })
        .collect()
}

#[test]
fn a_copy_whose_records_failed_cannot_be_finished() {
    let (url, mut store) = fresh();
    let schema = schema_of(&url);
    let mut admin = admin();
    let before = dump(&mut admin, &schema);
    let meta = ImportMeta {
        start: ChainStart {
            next_seq: 0,
            prev_hash: Hash32::GENESIS.as_str().as_bytes().to_vec(),
            kind: StartKind::Genesis,
        },
        retention: vec!["{}".into()],
        key_id: StoredKeyId::Present(test_key().key_id()),
        archive_of: None,
    };
    let mut import = store.import(&meta).unwrap();
    // The server refuses the repeated action_id; the transaction is aborted.
    let err = import.records(&copied(&["a", "a"])).unwrap_err();
    assert!(
        matches!(&err, StoreError::DuplicateActionId { action_id, .. } if action_id == "a"),
        "{err}"
    );
    // More records, then finishing: both refused (a COMMIT of the aborted transaction would
    // answer as if it had committed, having written nothing).
    assert!(import.records(&copied(&["b"])).is_err());
    let err = import.finish().unwrap_err();
    assert!(
        matches!(err, StoreError::CopyGivenUp { .. })
            && err.to_string().contains("nothing was copied"),
        "{err}"
    );
    assert_eq!(dump(&mut admin, &schema), before, "nothing was written");
    // The handle is usable again, outside any transaction.
    store.append(&test_key(), &traces(0, 1)).unwrap();
    assert_eq!(store.state().unwrap().head.map(|h| h.0), Some(0));
}

#[test]
fn a_wait_for_a_table_lock_is_the_servers_error_not_the_chains_lock() {
    let (url, _) = fresh();
    let schema = schema_of(&url);
    let mut store = open(
        &format!("{url}&lock_timeout=300ms"),
        None,
        OpenMode::Write { create: false },
    )
    .unwrap();
    let mut admin = admin();
    // An index build (SHARE) blocks writers but is not the chain's lock.
    admin
        .batch_execute(&format!(
            "BEGIN; LOCK TABLE {schema}.trailseal_traces IN SHARE MODE"
        ))
        .unwrap();
    let err = store.append(&test_key(), &traces(0, 1)).unwrap_err();
    match &err {
        StoreError::Postgres { action, detail, .. } => {
            assert_eq!(*action, "lock the chain's tables", "{err}");
            assert!(detail.contains("55P03"), "{err}");
        }
        other => panic!("{other:?}"),
    }
    admin.batch_execute("ROLLBACK").unwrap();
    store.append(&test_key(), &traces(0, 1)).unwrap();
}

#[test]
fn seqs_stop_before_the_largest_bigint() {
    let (url, mut store) = fresh();
    let schema = schema_of(&url);
    let mut admin = admin();
    let set_start = |admin: &mut postgres::Client, seq: i64| {
        admin
            .execute(
                &format!(
                    "INSERT INTO {schema}.trailseal_meta (key, value) VALUES ('checkpoint_seq', $1), ('checkpoint_hash', $2), ('checkpoint_kind', 'checkpoint') \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                &[&seq.to_string(), &Hash32::GENESIS.as_str()],
            )
            .unwrap();
    };
    set_start(&mut admin, i64::MAX - 1);
    let before = dump(&mut admin, &schema);
    let err = store.append(&test_key(), &traces(0, 2)).unwrap_err();
    assert!(matches!(err, StoreError::SeqOverflow { .. }), "{err}");
    assert_eq!(dump(&mut admin, &schema), before, "nothing was written");
    // Above what a bigint holds (a checkpoint is text): refused too, nothing written.
    admin
        .execute(
            &format!("UPDATE {schema}.trailseal_meta SET value = $1 WHERE key = 'checkpoint_seq'"),
            &[&(u64::MAX / 2 + 7).to_string()],
        )
        .unwrap();
    let before = dump(&mut admin, &schema);
    let err = store.append(&test_key(), &traces(0, 1)).unwrap_err();
    assert!(matches!(err, StoreError::SeqOverflow { .. }), "{err}");
    assert_eq!(dump(&mut admin, &schema), before, "nothing was written");
    set_start(&mut admin, i64::MAX - 1);
    let appended = store.append(&test_key(), &traces(0, 1)).unwrap();
    assert_eq!(appended[0].seq, i64::MAX as u64 - 1);
}

/// A write made in an open transaction.
type Write = fn(&mut dyn WriteTx) -> Result<(), StoreError>;

#[test]
fn what_is_created_on_the_tables_during_a_write_waits_for_it_or_refuses_its_commit() {
    let (url, mut store) = fresh();
    // Prepares the handle's statements, whose parsing would lock the tables by itself.
    store.append(&test_key(), &traces(0, 1)).unwrap();
    let schema = schema_of(&url);
    let mut admin = admin();
    admin.batch_execute("SET lock_timeout = '300ms'").unwrap();
    let trigger = |table: &str| {
        format!(
            "CREATE FUNCTION {schema}.drop_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
             CREATE TRIGGER drop_rows BEFORE INSERT ON {schema}.trailseal_{table} FOR EACH ROW EXECUTE FUNCTION {schema}.drop_{table}();"
        )
    };
    // The records' table is locked by the transaction from its start: the trigger waits.
    {
        let tx = store.write().unwrap();
        let err = admin.batch_execute(&trigger("traces")).unwrap_err();
        assert_eq!(
            err.as_db_error().map(|d| d.code().code()),
            Some("55P03"),
            "{err}"
        );
        drop(tx);
    }
    // The retention log and the meta table are not locked against it; a write that touched
    // them is refused at its commit, nothing written.
    let before = dump(&mut admin, &schema);
    let writes: [(&str, Write); 2] = [
        ("retention", |tx| tx.push_receipt("{}")),
        ("meta", |tx| {
            let other = ChainKey::from_secret(b"another secret").unwrap();
            tx.record_key_id(&other.key_id())
        }),
    ];
    for (table, write) in writes {
        let mut tx = store.write().unwrap();
        admin.batch_execute(&trigger(table)).unwrap();
        write(tx.as_mut()).unwrap();
        let err = tx.commit().unwrap_err();
        assert!(
            matches!(&err, StoreError::Schema { problem, .. } if problem.contains("drop_rows")),
            "{table}: {err}"
        );
        assert_eq!(
            dump(&mut admin, &schema),
            before,
            "{table}: nothing written"
        );
        admin
            .batch_execute(&format!(
                "DROP TRIGGER drop_rows ON {schema}.trailseal_{table}"
            ))
            .unwrap();
    }
}

/// The xid of the row at `seq`, and whether its commit record is in the WAL flushed so far
/// (read from the WAL itself with `pg_walinspect`, from `since` on).
fn commit_flushed(admin: &mut postgres::Client, schema: &str, seq: i64, since: &str) -> bool {
    let xid: String = admin
        .query_one(
            &format!("SELECT xmin::text FROM {schema}.trailseal_traces WHERE seq = $1"),
            &[&seq],
        )
        .unwrap()
        .get(0);
    let reached: bool = admin
        .query_one(
            "SELECT $1::text::pg_lsn <= pg_current_wal_flush_lsn()",
            &[&since],
        )
        .unwrap()
        .get(0);
    if !reached {
        return false;
    }
    let found: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_get_wal_records_info($1::text::pg_lsn, pg_current_wal_flush_lsn()) \
             WHERE xid::text = $2 AND resource_manager = 'Transaction' AND record_type LIKE 'COMMIT%'",
            &[&since, &xid],
        )
        .unwrap()
        .get(0);
    found == 1
}

/// An append commits without waiting for the WAL flush (so the chain's lock is not held
/// through it), then waits for a later commit's flush: when it returns, its own commit record
/// is in the flushed WAL. Also when the session's `synchronous_commit` is `off`. Read from
/// the WAL at once, before the WAL writer (every 200 ms) would have flushed it anyway.
#[test]
fn an_append_returns_only_once_its_commit_record_is_flushed() {
    let mut admin = admin();
    admin
        .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        .unwrap();
    for session in ["", "&options=-c%20synchronous_commit%3Doff"] {
        let url = format!("{}{session}", trailseal_testkit::pg_fresh_schema_url());
        let mut store = open(&url, None, OpenMode::Write { create: true }).unwrap();
        let schema = schema_of(&url.replace(session, ""));
        let key = test_key();
        for round in 0..20u64 {
            let since: String = admin
                .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
                .unwrap()
                .get(0);
            let batch = traces(round * 10, 1);
            let done = store.append(&key, &batch).unwrap();
            let seq = i64::try_from(done[0].seq).unwrap();
            assert!(
                commit_flushed(&mut admin, &schema, seq, &since),
                "session {session:?}, round {round}: seq {seq} acknowledged before its commit was flushed"
            );
        }
    }
}
