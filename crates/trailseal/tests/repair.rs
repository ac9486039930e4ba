//! `AuditLog::repair`: an interrupted write at the end of a JSONL store is removed once the
//! records before it verify; any other damage is refused and the file stays byte-identical.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};

use trailseal::{
    AuditLog, CutoffSpec, Error, OpenOptions, PruneRequest, StoreError, Timestamp, Verdict,
};

mod common;

use common::{open_with, trace};

const SECRET: &str = "repair-secret-for-tests";

fn open(path: &Path) -> AuditLog {
    open_with(path, SECRET)
}

/// A store holding traces `0..n`.
fn store(dir: &Path, name: &str, n: u64) -> PathBuf {
    let path = dir.join(name);
    let mut log = open(&path);
    for i in 0..n {
        log.append_json(trace(i).as_bytes()).unwrap();
    }
    path
}

fn verify(path: &Path) -> Verdict {
    open(path).verify()
}

/// Where the last line starts.
fn last_line_start(bytes: &[u8]) -> usize {
    let body = &bytes[..bytes.len() - 1];
    body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)
}

fn refused(path: &Path, secret: &str) -> Error {
    let before = std::fs::read(path).unwrap();
    let err = open_with(path, secret).repair(false).unwrap_err();
    assert!(
        matches!(err, Error::NotRepairable { .. }),
        "{}: {err:?}",
        path.display()
    );
    assert_eq!(
        std::fs::read(path).unwrap(),
        before,
        "{}: a refused repair changed the file",
        path.display()
    );
    err
}

#[test]
fn a_torn_tail_is_removed_once_the_records_before_it_verify() {
    let dir = tempfile::tempdir().unwrap();
    let clean = store(dir.path(), "clean.jsonl", 6);
    let bytes = std::fs::read(&clean).unwrap();
    let start = last_line_start(&bytes);
    let line_len = bytes.len() - start; // with its newline
    // Cut anywhere before the record's closing brace.
    for keep in 1..line_len - 1 {
        let path = dir.path().join(format!("cut-{keep}.jsonl"));
        std::fs::write(&path, &bytes[..start + keep]).unwrap();
        assert!(
            verify(&path).detail().contains("interrupted write"),
            "keep {keep}"
        );
        let report = open(&path).repair(false).unwrap();
        assert!(report.removed, "keep {keep}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            &bytes[..start],
            "keep {keep}"
        );
    }
    // In detail: 1 byte, the seq only, its middle, all but the closing brace (the trace's
    // own brace is then last: it must not pass for the record's).
    for keep in [1, 5, 8, line_len / 2, line_len - 2] {
        let path = dir.path().join(format!("torn-{keep}.jsonl"));
        std::fs::write(&path, &bytes[..start + keep]).unwrap();
        let torn = verify(&path);
        assert!(
            torn.detail().contains("interrupted write"),
            "keep {keep}: {torn:?}"
        );

        // A dry run reports and changes nothing.
        let dry = open(&path).repair(true).unwrap();
        assert!(dry.dry_run && !dry.removed && dry.verdict.is_verified());
        assert_eq!(std::fs::read(&path).unwrap(), &bytes[..start + keep]);

        let report = open(&path).repair(false).unwrap();
        let tail = report.torn.clone().unwrap();
        assert!(report.removed, "keep {keep}");
        assert_eq!((tail.line, tail.offset), (6, start as u64), "keep {keep}");
        assert_eq!(tail.bytes, keep as u64, "keep {keep}");
        // `{"seq":5,` must be whole for the seq to be read.
        let expect_seq = (keep > "{\"seq\":5".len()).then_some(5);
        assert_eq!(tail.claimed_seq, expect_seq, "keep {keep}");
        assert_eq!(report.verdict.records_checked(), 5);
        assert_eq!(std::fs::read(&path).unwrap(), &bytes[..start]);
        let v = verify(&path);
        assert!(v.is_verified() && v.records_checked() == 5, "{v:?}");

        // Repaired, the store takes appends again, and a second repair has nothing to do.
        open(&path).append_json(trace(5).as_bytes()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "keep {keep}");
        let again = open(&path).repair(false).unwrap();
        assert!(again.torn.is_none() && !again.removed);
    }
}

#[test]
fn appends_refuse_a_torn_tail_until_it_is_repaired() {
    let dir = tempfile::tempdir().unwrap();
    // Record 3 cut two hex digits into its prev_hash (the record_hash of record 2).
    let path = store(dir.path(), "s.jsonl", 4);
    let full = std::fs::read(&path).unwrap();
    let start = last_line_start(&full);
    let cut = start + r#"{"seq":3,"prev_hash":"ab"#.len();
    std::fs::write(&path, &full[..cut]).unwrap();
    trailseal_testkit::unwrite_last_tree_hashes(&path);
    match open(&path).append_json(trace(3).as_bytes()) {
        Err(Error::Store(StoreError::TornTail { .. })) => {}
        other => panic!("{other:?}"),
    }
    let report = open(&path).repair(false).unwrap();
    assert_eq!(report.torn.unwrap().claimed_seq, Some(3));
    open(&path).append_json(trace(3).as_bytes()).unwrap();
    assert_eq!(verify(&path).records_checked(), 4);

    // Cut just before its closing brace, the last line ends with the trace's brace: still
    // torn, never a head to link to.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 2]).unwrap();
    trailseal_testkit::unwrite_last_tree_hashes(&path);
    match open(&path).append_json(trace(4).as_bytes()) {
        Err(Error::Store(StoreError::TornTail { .. })) => {}
        other => panic!("{other:?}"),
    }
    assert!(open(&path).repair(false).unwrap().removed);
    open(&path).append_json(trace(4).as_bytes()).unwrap();
    assert_eq!(verify(&path).records_checked(), 4);
}

#[test]
fn a_receipt_is_not_added_over_a_torn_tail() {
    // Adding a receipt rewrites the file, lines with their newline: a torn tail would become a
    // complete corrupt line that repair must refuse. It is refused first instead.
    let dir = tempfile::tempdir().unwrap();
    let path = store(dir.path(), "policy.jsonl", 3);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(br#"{"seq":3,"prev"#);
    std::fs::write(&path, &bytes).unwrap();
    let now = Timestamp::from_unix_micros(1_900_000_000_000_000);
    match open(&path).set_min_retention(Some(86_400_000_000), now, false) {
        Err(Error::Store(StoreError::TornTail { .. })) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert!(open(&path).repair(false).unwrap().removed);
    open(&path)
        .set_min_retention(Some(86_400_000_000), now, false)
        .unwrap();
    assert!(verify(&path).is_verified());
}

#[test]
fn the_first_record_torn_leaves_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let clean = store(dir.path(), "one.jsonl", 1);
    let bytes = std::fs::read(&clean).unwrap();
    std::fs::write(&clean, &bytes[..bytes.len() / 2]).unwrap();
    let report = open(&clean).repair(false).unwrap();
    assert_eq!(report.torn.unwrap().offset, 0);
    assert_eq!(std::fs::metadata(&clean).unwrap().len(), 0);
    assert!(verify(&clean).is_verified());
}

#[test]
fn a_pruned_store_keeps_its_header_and_retention_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = store(dir.path(), "pruned.jsonl", 8);
    open(&path)
        .prune(&PruneRequest {
            cutoff: CutoffSpec::KeepLast(4),
            now: Timestamp::from_unix_micros(1_900_000_000_000_000),
            dry_run: false,
            archive: None,
        })
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let start = last_line_start(&bytes);
    std::fs::write(&path, &bytes[..start + 30]).unwrap();
    trailseal_testkit::unwrite_last_tree_hashes(&path);
    let report = open(&path).repair(false).unwrap();
    assert!(report.removed);
    assert_eq!(std::fs::read(&path).unwrap(), &bytes[..start]);
    let v = verify(&path);
    assert!(v.is_verified() && v.records_checked() == 3, "{v:?}");
    let Verdict::Verified(v) = v else {
        unreachable!()
    };
    assert_eq!(v.retention.len(), 1);
}

#[test]
fn weaver_kernels_torn_vector_is_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("torn.jsonl");
    std::fs::copy(
        trailseal_testkit::vector("weaver-0.12.0/tampered/torn-last-line.jsonl"),
        &path,
    )
    .unwrap();
    let secret = trailseal_testkit::VECTOR_SECRET;
    let report = open_with(&path, secret).repair(false).unwrap();
    assert_eq!(report.torn.unwrap().claimed_seq, Some(39));
    let v = open_with(&path, secret).verify();
    assert!(v.is_verified() && v.records_checked() == 39, "{v:?}");
}

#[test]
fn other_damage_is_refused_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let clean = store(dir.path(), "clean.jsonl", 6);
    let bytes = std::fs::read(&clean).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let start = last_line_start(&bytes);
    let torn = &bytes[..start + 40];
    let write = |name: &str, content: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    };

    // A malformed line in the middle, and a torn tail after it.
    let mut middle = lines[..2].join("\n") + "\n{\"seq\":2,\"garbage\n" + &lines[3..5].join("\n");
    middle.push('\n');
    let mut with_tail = middle.clone().into_bytes();
    with_tail.extend_from_slice(&bytes[start..start + 40]);
    let err = refused(&write("middle-and-tail.jsonl", &with_tail), SECRET);
    assert!(err.to_string().contains("line 3"), "{err}");
    // The same without the tail: nothing at the end to remove, and the store does not verify.
    refused(&write("middle.jsonl", middle.as_bytes()), SECRET);

    // A complete but corrupt last line (it has its newline).
    let mut corrupt = torn.to_vec();
    corrupt.push(b'\n');
    refused(&write("corrupt-last.jsonl", &corrupt), SECRET);

    // A last line without its newline that is complete JSON, or does not start as a record
    // does: not what an interrupted write leaves.
    let mut json = bytes[..start].to_vec();
    json.extend_from_slice(br#"{"seq":5}"#);
    refused(&write("json-tail.jsonl", &json), SECRET);
    let mut garbage = bytes[..start].to_vec();
    garbage.extend_from_slice(b"seq 5 garbage");
    refused(&write("garbage-tail.jsonl", &garbage), SECRET);

    // A record before the torn tail edited (its MAC fails).
    let edited = String::from_utf8(torn.to_vec())
        .unwrap()
        .replacen("\"n\":2", "\"n\":7", 1);
    let err = refused(&write("edited.jsonl", edited.as_bytes()), SECRET);
    assert!(
        matches!(&err, Error::NotRepairable { verdict, .. } if verdict.first_bad_seq() == Some(2)),
        "{err:?}"
    );

    // A whole record removed before the torn tail.
    let mut gap = lines[..2].join("\n") + "\n" + &lines[3..5].join("\n") + "\n";
    gap.push_str(std::str::from_utf8(&bytes[start..start + 40]).unwrap());
    refused(&write("gap.jsonl", gap.as_bytes()), SECRET);

    // The wrong secret: the records before the tail cannot be verified.
    let err = refused(&write("wrong-secret.jsonl", torn), "another secret");
    assert!(
        matches!(&err, Error::NotRepairable { verdict, .. } if matches!(**verdict, Verdict::Unverifiable(_))),
        "{err:?}"
    );
    assert!(!err.to_string().contains("another secret"));

    // No secret at all.
    let path = write("no-secret.jsonl", torn);
    let mut log = AuditLog::open(path.to_str().unwrap(), &OpenOptions::default()).unwrap();
    assert!(matches!(log.repair(false), Err(Error::NoSecret)));
    assert_eq!(std::fs::read(&path).unwrap(), torn);
}

#[test]
fn a_clean_store_has_nothing_to_repair() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["clean.jsonl", "clean.db"] {
        let path = store(dir.path(), name, 4);
        let report = open(&path).repair(false).unwrap();
        assert!(
            report.torn.is_none() && !report.removed && report.verdict.records_checked() == 4,
            "{name}: {report:?}"
        );
    }
    let empty = store(dir.path(), "empty.jsonl", 0);
    assert!(open(&empty).repair(false).unwrap().torn.is_none());
    // A complete last record that lacks only its newline is not damage.
    let path = store(dir.path(), "no-newline.jsonl", 3);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    let report = open(&path).repair(false).unwrap();
    assert!(report.torn.is_none() && report.verdict.records_checked() == 3);
    assert_eq!(std::fs::read(&path).unwrap(), &bytes[..bytes.len() - 1]);
}

#[test]
fn a_damaged_sqlite_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = store(dir.path(), "s.db", 4);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE traces SET payload = replace(payload, '\"n\":2', '\"n\":9') WHERE seq = 2",
        [],
    )
    .unwrap();
    drop(conn);
    let err = open(&path).repair(false).unwrap_err();
    assert!(
        matches!(&err, Error::NotRepairable { verdict, .. } if verdict.first_bad_seq() == Some(2)),
        "{err:?}"
    );
}

#[cfg(feature = "postgres")]
#[test]
fn a_postgres_store_has_nothing_to_repair() {
    let url = trailseal_testkit::pg_fresh_schema_url();
    let mut log = common::open_at(&url, SECRET);
    for i in 0..3 {
        log.append_json(trace(i).as_bytes()).unwrap();
    }
    let report = log.repair(false).unwrap();
    assert!(report.torn.is_none() && report.verdict.records_checked() == 3);
}
