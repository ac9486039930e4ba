//! A store whose schema holds an object trailseal and weaver-kernel do not create (a trigger
//! that ignores, deletes or rewrites inserted rows, a view in place of `traces`, an altered
//! column; on PostgreSQL a trigger, rule, policy or retyped column): `append` and `prune`
//! refuse it — nothing acknowledged, the store unchanged, exit 1 — and `verify` says
//! `tampered`, kind `schema`, naming the object.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use common::{run_with, text};
use trailseal::{AuditLog, ChainKey, OpenMode, OpenOptions};

const SECRET: &str = "schema-secret-Vb3nK8qZ2xLm7RtW";

fn trace(i: usize) -> String {
    trailseal_testkit::Trace::new(format!("act-{i}"))
        .principal("u1")
        .token("tok")
        .invoked_at(format!("2026-03-01T09:30:{:02}+00:00", i % 60))
        .args(format!(r#"{{"i":{i}}}"#))
        .json()
}

/// A store at `location` with five records, written by trailseal.
fn seed(location: &str) {
    let mut log = AuditLog::open(
        location,
        &OpenOptions {
            mode: OpenMode::Write { create: true },
            ..OpenOptions::default()
        },
    )
    .unwrap()
    .with_key(ChainKey::from_secret(SECRET.as_bytes()).unwrap());
    let texts: Vec<String> = (0..5).map(trace).collect();
    log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
        .unwrap();
}

/// Runs every writing command and `verify` against the damaged store at `location`: each
/// refuses it, naming `object`, and `dump` (the store's content) does not change.
fn assert_refused(what: &str, location: &str, object: &str, dump: &mut dyn FnMut() -> String) {
    let before = dump();
    let line = format!("{}\n", trace(100));
    let writes: [(&str, Vec<&str>, &[u8]); 3] = [
        (
            "append",
            vec!["append", "--store", location],
            line.as_bytes(),
        ),
        (
            "append --json",
            vec!["append", "--store", location, "--json"],
            line.as_bytes(),
        ),
        (
            "prune",
            vec!["prune", "--store", location, "--keep-last", "2"],
            b"",
        ),
    ];
    for (name, args, stdin) in writes {
        let o = run_with(&args, Some(SECRET), stdin);
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        let context = format!(
            "{what}: {name}: exit {:?}, stdout {out:?}, stderr {err:?}",
            o.status
        );
        assert_eq!(o.status.code(), Some(1), "{context}");
        assert!(out.is_empty(), "nothing is acknowledged: {context}");
        assert!(
            err.contains("schema: ") && err.contains(object),
            "{context}"
        );
        assert_eq!(dump(), before, "the store is unchanged: {context}");
    }
    let o = run_with(
        &["verify", "--store", location, "--json"],
        Some(SECRET),
        b"",
    );
    let out = text(&o.stdout);
    let context = format!(
        "{what}: verify: exit {:?}, {out} {}",
        o.status,
        text(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(1), "{context}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["status"], "tampered", "{context}");
    assert_eq!(v["kind"], "schema", "{context}");
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("schema: ") && detail.contains(object),
        "{context}"
    );
    let o = run_with(&["verify", "--store", location], Some(SECRET), b"");
    let out = text(&o.stdout);
    assert!(
        out.contains("TAMPERED") && out.contains(object),
        "{what}: verify (text): {out}"
    );
    assert_eq!(dump(), before, "{what}: verify changed the store");
}

const TRACES: &str = "CREATE TABLE traces (seq INTEGER PRIMARY KEY, action_id TEXT UNIQUE NOT NULL, prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload TEXT NOT NULL)";

fn rebuild(columns: &str) -> String {
    format!(
        "ALTER TABLE traces RENAME TO old; CREATE TABLE traces ({columns}); INSERT INTO traces SELECT * FROM old; DROP TABLE old;"
    )
}

/// Every row of every table, as text.
fn sqlite_dump(path: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut out = String::new();
    let names: Vec<(String, String)> = conn
        .prepare(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (kind, name) in names {
        out.push_str(&format!("{kind} {name}:\n"));
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{name}\"")).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| Ok(format!("{:?}", r.get_ref(i)?)))
                    .collect::<Result<Vec<_>, rusqlite::Error>>()
            })
            .unwrap();
        for row in rows {
            out.push_str(&row.unwrap().join("|"));
            out.push('\n');
        }
    }
    out
}

#[test]
fn sqlite_schema_objects_are_refused_by_every_writer_and_verify() {
    let damage: Vec<(&str, &str, String)> = vec![
        (
            "BEFORE INSERT RAISE(IGNORE)",
            "`t_ignore` on table `traces`",
            "CREATE TRIGGER t_ignore BEFORE INSERT ON traces BEGIN SELECT RAISE(IGNORE); END;".into(),
        ),
        (
            "AFTER INSERT DELETE",
            "t_delete",
            "CREATE TRIGGER t_delete AFTER INSERT ON traces BEGIN DELETE FROM traces WHERE seq = new.seq; END;".into(),
        ),
        (
            "AFTER INSERT UPDATE payload",
            "t_rewrite",
            "CREATE TRIGGER t_rewrite AFTER INSERT ON traces BEGIN UPDATE traces SET payload = '{}' WHERE seq = new.seq; END;".into(),
        ),
        (
            "a trigger on meta",
            "`t_meta` on table `meta`",
            "CREATE TRIGGER t_meta BEFORE INSERT ON meta BEGIN SELECT RAISE(IGNORE); END;".into(),
        ),
        (
            "a view replacing traces, with an INSTEAD OF trigger",
            "traces",
            "ALTER TABLE traces RENAME TO real; CREATE TABLE traces_kept AS SELECT * FROM real; DROP TABLE real; CREATE VIEW traces AS SELECT * FROM traces_kept; CREATE TRIGGER t_instead INSTEAD OF INSERT ON traces BEGIN SELECT 1; END;"
                .into(),
        ),
        (
            "a view over traces",
            "`v_traces`",
            "CREATE VIEW v_traces AS SELECT * FROM traces;".into(),
        ),
        (
            "payload retyped BLOB",
            "payload BLOB NOT NULL",
            rebuild("seq INTEGER PRIMARY KEY, action_id TEXT UNIQUE NOT NULL, prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload BLOB NOT NULL"),
        ),
        (
            "a default on prev_hash",
            "prev_hash TEXT NOT NULL DEFAULT",
            rebuild("seq INTEGER PRIMARY KEY, action_id TEXT UNIQUE NOT NULL, prev_hash TEXT NOT NULL DEFAULT 'x', record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload TEXT NOT NULL"),
        ),
        (
            "a generated column",
            "GENERATED",
            rebuild("seq INTEGER PRIMARY KEY, action_id TEXT UNIQUE NOT NULL, prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload TEXT NOT NULL, extra TEXT GENERATED ALWAYS AS (payload) VIRTUAL"),
        ),
        (
            "an index over an expression",
            "`i_lower` on table `traces`",
            "CREATE INDEX i_lower ON traces (lower(action_id));".into(),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (what, object, sql)) in damage.iter().enumerate() {
        let path = dir.path().join(format!("s{i}.db"));
        let location = path.to_str().unwrap();
        seed(location);
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
        assert_refused(what, location, object, &mut || sqlite_dump(&path));
    }
    // The schema as created, renamed and rebuilt, still verifies (nothing but the objects above
    // is refused).
    let path = dir.path().join("rebuilt.db");
    let location = path.to_str().unwrap();
    seed(location);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&rebuild(
            &TRACES["CREATE TABLE traces (".len()..TRACES.len() - 1],
        ))
        .unwrap();
    let o = run_with(&["verify", "--store", location], Some(SECRET), b"");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_triggers_rules_policies_and_retyped_columns_are_refused() {
    let mut client =
        postgres::Client::connect(&trailseal_testkit::pg_url(), postgres::NoTls).unwrap();
    type Plant = fn(&str) -> String;
    let damage: [(&str, &str, Plant); 6] = [
        (
            "BEFORE INSERT trigger returning NULL",
            "`t_ignore` on table `trailseal_traces`",
            |t| {
                format!(
                    "CREATE FUNCTION {t}_ignore() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$; CREATE TRIGGER t_ignore BEFORE INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION {t}_ignore();"
                )
            },
        ),
        ("rule DO INSTEAD NOTHING", "`r_nothing`", |t| {
            format!("CREATE RULE r_nothing AS ON INSERT TO {t} DO INSTEAD NOTHING;")
        }),
        (
            "a policy hiding rows, with row-level security",
            "`p_hide`",
            |t| {
                format!(
                    "CREATE POLICY p_hide ON {t} USING (seq < 2); ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;"
                )
            },
        ),
        ("row-level security forced", "row-level security", |t| {
            format!("ALTER TABLE {t} FORCE ROW LEVEL SECURITY;")
        }),
        ("payload retyped jsonb", "`trailseal_traces.payload`", |t| {
            format!("ALTER TABLE {t} ALTER COLUMN payload TYPE jsonb USING payload::jsonb;")
        }),
        ("a NULL payload", "`trailseal_traces.payload`", |t| {
            format!(
                "ALTER TABLE {t} ALTER COLUMN payload DROP NOT NULL; UPDATE {t} SET payload = NULL WHERE seq = 2;"
            )
        }),
    ];
    for (what, object, plant) in damage {
        let url = trailseal_testkit::pg_fresh_schema_url();
        let schema = url.rsplit("schema=").next().unwrap().to_owned();
        seed(&url);
        let table = format!("{schema}.trailseal_traces");
        client.batch_execute(&plant(&table)).unwrap();
        let mut dump = || {
            let rows = client
                .query(
                    &format!(
                        "SELECT (SELECT coalesce(string_agg(t::text, '|' ORDER BY seq), '') FROM {table} t), (SELECT string_agg(m::text, '|' ORDER BY key) FROM {schema}.trailseal_meta m), (SELECT count(*) FROM {schema}.trailseal_retention)"
                    ),
                    &[],
                )
                .unwrap();
            format!(
                "{:?} {:?} {:?}",
                rows[0].get::<_, Option<String>>(0),
                rows[0].get::<_, Option<String>>(1),
                rows[0].get::<_, i64>(2)
            )
        };
        assert_refused(what, &url, object, &mut dump);
    }
}
