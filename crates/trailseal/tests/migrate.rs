//! `AuditLog::migrate_into`: the destination is created only once the source verifies, and a
//! source that changes between its verification and the copy never yields a copy that
//! differs from what was verified.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::Path;

use trailseal::{AuditLog, CutoffSpec, Error, OpenMode, PruneRequest, Timestamp, Verdict};

mod common;

use common::{open_with, trace};

const SECRET: &str = "migrate-secret-for-tests";

fn open(path: &Path) -> AuditLog {
    open_with(path, SECRET)
}

fn fill(path: &Path, from: u64, until: u64) {
    let mut log = open(path);
    for i in from..until {
        log.append_json(trace(i).as_bytes()).unwrap();
    }
}

fn create(path: &Path) -> Result<Box<dyn trailseal::Store>, trailseal::StoreError> {
    trailseal::store::open(
        path.to_str().unwrap(),
        None,
        OpenMode::Write { create: true },
    )
}

const PAIRS: [(&str, &str); 4] = [
    ("src.db", "dst.jsonl"),
    ("src.jsonl", "dst.db"),
    ("src.db", "dst.db"),
    ("src.jsonl", "dst.jsonl"),
];

#[test]
fn records_appended_after_the_source_verified_are_not_copied() {
    for (src, dst) in PAIRS {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join(src), dir.path().join(dst));
        fill(&src, 0, 50);
        let mut log = open(&src);
        let (to, report) = log
            .migrate_into(
                || {
                    // Another writer appends between the verification and the copy.
                    fill(&src, 50, 53);
                    create(&dst)
                },
                &mut |_| {},
            )
            .unwrap();
        drop(to);
        assert_eq!(
            (report.records, report.first_seq, report.last_seq),
            (50, Some(0), Some(49)),
            "{}",
            dst.display()
        );
        let Verdict::Verified(v) = open(&dst).verify() else {
            panic!("{}: the copy does not verify", dst.display())
        };
        assert_eq!((v.records_checked, v.last_seq), (50, Some(49)));
        assert_eq!(open(&src).verify().records_checked(), 53);
    }
}

/// The copy is of the snapshot that was verified: a prune of the source made meanwhile does
/// not show in it (every record of the snapshot is copied, and the copy verifies on its own),
/// and the source keeps its prune.
#[test]
fn a_source_pruned_during_the_copy_gives_the_snapshot_verified() {
    for (src, dst) in PAIRS {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join(src), dir.path().join(dst));
        fill(&src, 0, 50);
        let mut log = open(&src);
        let (to, report) = log
            .migrate_into(
                || {
                    open(&src)
                        .prune(&PruneRequest {
                            cutoff: CutoffSpec::KeepLast(10),
                            now: Timestamp::from_unix_micros(1_900_000_000_000_000),
                            dry_run: false,
                            archive: None,
                        })
                        .unwrap();
                    create(&dst)
                },
                &mut |_| {},
            )
            .unwrap();
        drop(to);
        assert_eq!(
            (
                report.records,
                report.receipts,
                report.first_seq,
                report.last_seq
            ),
            (50, 0, Some(0), Some(49)),
            "{}",
            dst.display()
        );
        let Verdict::Verified(v) = open(&dst).verify() else {
            panic!("{}: the destination does not verify", dst.display())
        };
        assert_eq!((v.records_checked, v.retention.len()), (50, 0));
        let Verdict::Verified(v) = open(&src).verify() else {
            panic!("{}: the source does not verify", src.display())
        };
        assert_eq!((v.records_checked, v.retention.len()), (10, 1));
    }
}

#[test]
fn a_refused_migration_does_not_create_the_destination() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    fill(&src, 0, 5);
    let dst = dir.path().join("dst.jsonl");
    let mut opened = false;
    let err = open_with(&src, "another-secret")
        .migrate_into(
            || {
                opened = true;
                create(&dst)
            },
            &mut |_| {},
        )
        .map(|(_, report)| report)
        .unwrap_err();
    assert!(matches!(err, Error::NotVerified { .. }), "{err}");
    assert!(!opened && !dst.exists());
}
