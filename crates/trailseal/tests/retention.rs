//! Retention that stays verifiable: seq-prefix pruning with authenticated receipts, the
//! minimum-retention policy, archives, and every attack on the retention log with its verdict.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use trailseal::core::time::Offset;
use trailseal::{
    AuditLog, Caveat, ChainKey, CutoffSpec, OpenMode, OpenOptions, PruneRequest, TamperKind,
    Timestamp, Verdict,
};

const SECRET: &str = "retention-secret";
const RECORDS: u64 = 40;

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s, Offset::Required).unwrap()
}

/// Record n is invoked at 2026-01-01T00:00:00Z + n minutes (or at `times[n]`).
fn at(n: u64) -> String {
    format!("2026-01-01T{:02}:{:02}:00+00:00", n / 60, n % 60)
}

fn trace(n: u64, invoked_at: &str) -> String {
    trailseal_testkit::Trace::new(format!("act-{n:04}"))
        .principal(format!("agent-{}", n % 3))
        .token("tok")
        .invoked_at(invoked_at)
        .args(format!(r#"{{"n":{n}}}"#))
        .json()
}

fn key() -> ChainKey {
    ChainKey::from_secret(SECRET.as_bytes()).unwrap()
}

fn open(path: &Path) -> AuditLog {
    let options = OpenOptions {
        mode: OpenMode::Write { create: true },
        ..OpenOptions::default()
    };
    AuditLog::open(path.to_str().unwrap(), &options)
        .unwrap()
        .with_key(key())
}

fn verify(path: &Path) -> Verdict {
    open(path).verify()
}

fn prune(path: &Path, cutoff: CutoffSpec) -> trailseal::PruneReport {
    let request = PruneRequest {
        cutoff,
        now: t("2026-06-01T00:00:00Z"),
        dry_run: false,
        archive: None,
    };
    open(path).prune(&request).unwrap()
}

/// 40 records; a 1-day minimum retention (receipt 0); pruned before minute 10 (receipt 1) and
/// before minute 20 (receipt 2). The chain starts at seq 20. Returns copies taken along the way.
struct Built {
    path: PathBuf,
    after_first_prune: PathBuf,
    before_second_prune: PathBuf,
}

fn build(dir: &Path, ext: &str) -> Built {
    let path = dir.join(format!("store.{ext}"));
    let mut log = open(&path);
    let texts: Vec<String> = (0..RECORDS).map(|n| trace(n, &at(n))).collect();
    let batch = log.prepare(texts.iter().map(String::as_bytes)).unwrap();
    log.append(&batch).unwrap();
    log.set_min_retention(Some(86_400_000_000), t("2026-05-01T00:00:00Z"), false)
        .unwrap();
    drop(log);
    assert_eq!(
        prune(&path, CutoffSpec::Before(t("2026-01-01T00:10:00Z"))).pruned,
        10
    );
    let after_first_prune = dir.join(format!("after-first.{ext}"));
    std::fs::copy(&path, &after_first_prune).unwrap();
    let before_second_prune = after_first_prune.clone();
    assert_eq!(
        prune(&path, CutoffSpec::Before(t("2026-01-01T00:20:00Z"))).pruned,
        10
    );
    Built {
        path,
        after_first_prune,
        before_second_prune,
    }
}

fn copy(src: &Path, name: &str) -> PathBuf {
    let dst = src.with_file_name(format!(
        "{name}.{}",
        src.extension().unwrap().to_str().unwrap()
    ));
    std::fs::copy(src, &dst).unwrap();
    dst
}

fn sql(path: &Path, statement: &str) {
    Connection::open(path)
        .unwrap()
        .execute_batch(statement)
        .unwrap();
}

fn assert_tampered(what: &str, verdict: &Verdict, kind: TamperKind, seq: u64) {
    assert_eq!(
        (verdict.kind(), verdict.first_bad_seq()),
        (Some(kind), Some(seq)),
        "{what}: {verdict:?}"
    );
}

#[test]
fn a_pruned_store_verifies_from_its_authenticated_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["db", "jsonl"] {
        let built = build(dir.path(), ext);
        let v = verify(&built.path);
        let Verdict::Verified(v) = v else {
            panic!("{ext}: {v:?}")
        };
        assert_eq!(
            (v.first_seq, v.last_seq, v.records_checked),
            (Some(20), Some(39), 20)
        );
        assert_eq!(
            v.caveats,
            vec![Caveat::NoAnchor { last_seq: Some(39) }],
            "{ext}: no caveat about the checkpoint"
        );
        assert_eq!(v.retention.len(), 3);
        assert_eq!(
            v.retention.iter().map(|r| r.kind()).collect::<Vec<_>>(),
            ["policy", "prune", "prune"]
        );
        // The chain keeps growing after pruning.
        let mut log = open(&built.path);
        log.append_json(trace(100, &at(100)).as_bytes()).unwrap();
        assert_eq!(log.verify().records_checked(), 21);
    }
}

#[test]
fn attacks_on_a_trailseal_pruned_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let built = build(dir.path(), "db");
    let base = &built.path;
    let hash_of = |path: &Path, seq: u64, col: &str| -> String {
        Connection::open(path)
            .unwrap()
            .query_row(
                &format!("SELECT {col} FROM traces WHERE seq = ?1"),
                [seq as i64],
                |r| r.get(0),
            )
            .unwrap()
    };

    let p = copy(base, "delete-first-retained");
    sql(&p, "DELETE FROM traces WHERE seq = 20");
    assert_tampered(
        "first retained record deleted",
        &verify(&p),
        TamperKind::Checkpoint,
        21,
    );

    let p = copy(base, "delete-later");
    sql(&p, "DELETE FROM traces WHERE seq = 27");
    assert_tampered(
        "record after the checkpoint deleted",
        &verify(&p),
        TamperKind::Sequence,
        28,
    );

    let p = copy(base, "prefix-forge");
    let prev = hash_of(&p, 25, "prev_hash");
    sql(
        &p,
        &format!(
            "DELETE FROM traces WHERE seq < 25; UPDATE meta SET value = '{prev}' WHERE key = 'checkpoint_hash'; UPDATE meta SET value = '25' WHERE key = 'checkpoint_next_seq';"
        ),
    );
    assert_tampered(
        "prefix deleted and checkpoint forged",
        &verify(&p),
        TamperKind::Checkpoint,
        25,
    );

    let p = copy(base, "edit-receipt");
    sql(
        &p,
        "UPDATE trailseal_retention SET receipt = replace(receipt, '\"count\":10', '\"count\":11') WHERE idx = 1",
    );
    assert_tampered("receipt edited", &verify(&p), TamperKind::Checkpoint, 20);

    let p = copy(base, "delete-old-receipt");
    sql(&p, "DELETE FROM trailseal_retention WHERE idx = 0");
    assert_tampered(
        "older receipt deleted",
        &verify(&p),
        TamperKind::Checkpoint,
        20,
    );

    let p = copy(base, "reorder-receipts");
    sql(
        &p,
        "UPDATE trailseal_retention SET idx = -1 WHERE idx = 0; UPDATE trailseal_retention SET idx = 0 WHERE idx = 1; UPDATE trailseal_retention SET idx = 1 WHERE idx = -1;",
    );
    assert_tampered(
        "receipts reordered",
        &verify(&p),
        TamperKind::Checkpoint,
        20,
    );

    let p = copy(base, "replay-receipt");
    sql(
        &p,
        "INSERT INTO trailseal_retention (idx, receipt) SELECT 3, receipt FROM trailseal_retention WHERE idx = 1",
    );
    assert_tampered(
        "older receipt replayed",
        &verify(&p),
        TamperKind::Checkpoint,
        20,
    );

    let p = copy(base, "rollback-log");
    sql(&p, "DELETE FROM trailseal_retention WHERE idx = 2");
    assert_tampered(
        "retention log rolled back",
        &verify(&p),
        TamperKind::Checkpoint,
        20,
    );

    // The retention table and meta rolled back together to their pre-prune copies.
    let p = copy(base, "rollback-log-and-meta");
    let old = built
        .before_second_prune
        .to_str()
        .unwrap()
        .replace('\'', "''");
    sql(
        &p,
        &format!(
            "ATTACH '{old}' AS old; DELETE FROM trailseal_retention; INSERT INTO trailseal_retention SELECT * FROM old.trailseal_retention; DELETE FROM meta; INSERT INTO meta SELECT * FROM old.meta; DETACH old;"
        ),
    );
    assert_tampered(
        "checkpoint table rolled back",
        &verify(&p),
        TamperKind::Checkpoint,
        20,
    );

    // The records rolled back to before the last prune, the log kept.
    let p = copy(base, "rollback-records");
    let old = built
        .after_first_prune
        .to_str()
        .unwrap()
        .replace('\'', "''");
    sql(
        &p,
        &format!(
            "ATTACH '{old}' AS old; DELETE FROM traces; INSERT INTO traces SELECT * FROM old.traces; DETACH old;"
        ),
    );
    assert_tampered(
        "records rolled back",
        &verify(&p),
        TamperKind::Checkpoint,
        10,
    );

    // Removing every trailseal table downgrades the store to a weaver-kernel pruned store:
    // not detectable from the store alone (anchors catch it), but never "verified" silently.
    let p = copy(base, "downgrade");
    sql(
        &p,
        "DROP TABLE trailseal_retention; DROP TABLE trailseal_meta;",
    );
    let v = verify(&p);
    assert!(v.is_verified(), "{v:?}");
    assert!(
        v.caveats()
            .contains(&Caveat::UnauthenticatedCheckpoint { seq: 20 }),
        "{v:?}"
    );
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write(path: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = path.with_file_name(format!("{name}.jsonl"));
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn header_receipts(header: &str) -> Vec<String> {
    let doc = trailseal::core::json::parse(header.as_bytes()).unwrap();
    doc.root()
        .get("trailseal")
        .unwrap()
        .get("retention")
        .unwrap()
        .elements()
        .map(|r| format!("{r:?}"))
        .collect()
}

fn with_receipts(header: &str, receipts: &[String]) -> String {
    let start = header.find("\"retention\":[").unwrap() + "\"retention\":[".len();
    let end = header.rfind("]}}").unwrap();
    format!(
        "{}{}{}",
        &header[..start],
        receipts.join(","),
        &header[end..]
    )
}

#[test]
fn attacks_on_a_trailseal_pruned_jsonl_store() {
    let dir = tempfile::tempdir().unwrap();
    let built = build(dir.path(), "jsonl");
    let original = lines(&built.path);
    assert_eq!(original.len(), 21, "a header and 20 records");
    let receipts = header_receipts(&original[0]);
    assert_eq!(receipts.len(), 3);

    let mut l = original.clone();
    l.remove(1);
    assert_tampered(
        "first retained record deleted",
        &verify(&write(&built.path, "a", &l)),
        TamperKind::Checkpoint,
        21,
    );

    let mut l = original.clone();
    l.remove(8);
    assert_tampered(
        "record after the checkpoint deleted",
        &verify(&write(&built.path, "b", &l)),
        TamperKind::Sequence,
        28,
    );

    // Prefix deleted and the header's start forged to the next record.
    let mut l = original.clone();
    let prev = l[6].split("\"prev_hash\":\"").nth(1).unwrap()[..64].to_owned();
    let old_prev = original[0].split("\"prev_hash\":\"").nth(1).unwrap()[..64].to_owned();
    l[0] = l[0]
        .replacen("\"seq\":20", "\"seq\":25", 1)
        .replacen(&old_prev, &prev, 1);
    l.drain(1..6);
    assert_tampered(
        "prefix deleted and start forged",
        &verify(&write(&built.path, "c", &l)),
        TamperKind::Checkpoint,
        25,
    );

    let mut l = original.clone();
    let mut r = receipts.clone();
    r[1] = r[1].replace("\"count\":10", "\"count\":11");
    l[0] = with_receipts(&l[0], &r);
    assert_tampered(
        "receipt edited",
        &verify(&write(&built.path, "d", &l)),
        TamperKind::Checkpoint,
        20,
    );

    for (name, r) in [
        (
            "older receipt deleted",
            vec![receipts[1].clone(), receipts[2].clone()],
        ),
        (
            "receipts reordered",
            vec![
                receipts[1].clone(),
                receipts[0].clone(),
                receipts[2].clone(),
            ],
        ),
        (
            "older receipt replayed",
            vec![
                receipts[0].clone(),
                receipts[1].clone(),
                receipts[2].clone(),
                receipts[1].clone(),
            ],
        ),
        (
            "latest receipt removed",
            vec![receipts[0].clone(), receipts[1].clone()],
        ),
    ] {
        let mut l = original.clone();
        l[0] = with_receipts(&l[0], &r);
        assert_tampered(
            name,
            &verify(&write(&built.path, "e", &l)),
            TamperKind::Checkpoint,
            20,
        );
    }

    // The header rolled back to its pre-prune copy, the records kept.
    let mut l = original.clone();
    l[0] = lines(&built.before_second_prune)[0].clone();
    assert_tampered(
        "header rolled back",
        &verify(&write(&built.path, "f", &l)),
        TamperKind::Checkpoint,
        20,
    );

    // The records rolled back to before the last prune, the header kept.
    let mut l = lines(&built.after_first_prune);
    l[0] = original[0].clone();
    assert_tampered(
        "records rolled back",
        &verify(&write(&built.path, "g", &l)),
        TamperKind::Checkpoint,
        10,
    );
}

#[test]
fn pruning_cuts_a_seq_prefix_even_when_clocks_step_back() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["db", "jsonl"] {
        let path = dir.path().join(format!("clock.{ext}"));
        let mut log = open(&path);
        // Minutes: 0 1 2 9 3 4 5 ... the clock stepped back after seq 3.
        let minutes = [0u64, 1, 2, 9, 3, 4, 5, 6, 7, 8];
        let texts: Vec<String> = minutes
            .iter()
            .enumerate()
            .map(|(n, m)| trace(n as u64, &at(*m)))
            .collect();
        log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
            .unwrap();
        let report = prune(&path, CutoffSpec::Before(t("2026-01-01T00:05:00Z")));
        assert_eq!(
            (report.pruned, report.range),
            (3, Some((0, 2))),
            "{ext}: only the prefix before seq 3"
        );
        let v = verify(&path);
        assert_eq!(
            (v.is_verified(), v.records_checked()),
            (true, 7),
            "{ext}: {v:?}"
        );
    }
}

#[test]
fn the_minimum_retention_refuses_young_cutoffs_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["db", "jsonl"] {
        let path = dir.path().join(format!("policy.{ext}"));
        let mut log = open(&path);
        let texts: Vec<String> = (0..10).map(|n| trace(n, &at(n))).collect();
        log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
            .unwrap();
        // 183 days, set on 2026-03-01: records from January must stay until July.
        log.set_min_retention(Some(183 * 86_400_000_000), t("2026-03-01T00:00:00Z"), false)
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let now = t("2026-03-01T00:00:00Z");
        for cutoff in [
            CutoffSpec::Before(t("2026-01-01T00:05:00Z")),
            CutoffSpec::OlderThan {
                micros: 30 * 86_400_000_000,
            },
            CutoffSpec::KeepLast(2),
        ] {
            let request = PruneRequest {
                cutoff,
                now,
                dry_run: false,
                archive: None,
            };
            match log.prune(&request) {
                Err(trailseal::Error::Policy { detail }) => {
                    assert!(detail.contains("183d"), "{detail}")
                }
                other => panic!("{ext} {cutoff:?}: {other:?}"),
            }
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{ext}: a refused prune changes nothing"
        );
        // Lowering the policy must be explicit; after that, the prune goes through.
        assert!(matches!(
            log.set_min_retention(Some(86_400_000_000), now, false),
            Err(trailseal::Error::Policy { .. })
        ));
        log.set_min_retention(Some(86_400_000_000), now, true)
            .unwrap();
        let request = PruneRequest {
            cutoff: CutoffSpec::KeepLast(2),
            now,
            dry_run: false,
            archive: None,
        };
        assert_eq!(log.prune(&request).unwrap().pruned, 8);
        assert!(log.verify().is_verified());
    }
}

#[test]
fn dry_runs_change_nothing_and_keep_last_keeps_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dry.db");
    let mut log = open(&path);
    let texts: Vec<String> = (0..12).map(|n| trace(n, &at(n))).collect();
    log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
        .unwrap();
    drop(log);
    let before = std::fs::read(&path).unwrap();
    let request = PruneRequest {
        cutoff: CutoffSpec::KeepLast(5),
        now: t("2026-06-01T00:00:00Z"),
        dry_run: true,
        archive: None,
    };
    let report = open(&path).prune(&request).unwrap();
    assert_eq!(
        (report.pruned, report.range, report.first_retained_seq),
        (7, Some((0, 6)), 7)
    );
    assert!(report.receipt.is_some());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(prune(&path, CutoffSpec::KeepLast(5)).pruned, 7);
    assert_eq!(verify(&path).records_checked(), 5);
    assert_eq!(
        prune(&path, CutoffSpec::KeepLast(5)).pruned,
        0,
        "nothing more to prune"
    );
    assert_eq!(prune(&path, CutoffSpec::KeepLast(0)).pruned, 5);
    let v = verify(&path);
    assert!(
        v.is_verified() && v.caveats().contains(&Caveat::EmptyStore),
        "{v:?}"
    );
    let mut log = open(&path);
    log.append_json(trace(50, &at(50)).as_bytes()).unwrap();
    assert_eq!(log.verify().first_bad_seq(), None);
}

#[test]
fn archives_verify_on_their_own_and_are_complete() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["db", "jsonl"] {
        let built = build(dir.path(), ext);
        let archive = dir.path().join(format!("archive-{ext}.jsonl"));
        let request = PruneRequest {
            cutoff: CutoffSpec::Before(t("2026-01-01T00:30:00Z")),
            now: t("2026-06-01T00:00:00Z"),
            dry_run: false,
            archive: Some(archive.clone()),
        };
        let report = open(&built.path).prune(&request).unwrap();
        assert_eq!(
            (report.pruned, report.archive.as_ref().map(|a| a.1)),
            (10, Some(10))
        );
        let v = verify(&archive);
        let Verdict::Verified(v) = v else {
            panic!("{ext}: {v:?}")
        };
        assert_eq!((v.first_seq, v.last_seq), (Some(20), Some(29)));
        assert!(
            v.caveats.is_empty(),
            "{ext}: the receipt proves the archive complete: {:?}",
            v.caveats
        );
        assert!(verify(&built.path).is_verified());

        let original = lines(&archive);
        let mut l = original.clone();
        l.pop();
        assert_tampered(
            "archive truncated",
            &verify(&write(&archive, "archive-cut", &l)),
            TamperKind::Checkpoint,
            29,
        );
        let mut l = original.clone();
        l[3] = l[3].replace("crm.search", "crm.delete");
        assert_tampered(
            "archive edited",
            &verify(&write(&archive, "archive-edit", &l)),
            TamperKind::Content,
            22,
        );
    }
}
