//! A prune that another writer's receipt overtakes between its plan and its commit: the
//! receipt (and the archive's header) are sealed again on the grown retention log, whose
//! policy is checked again, instead of failing with a conflict (or verifying the whole chain
//! again, which a writer of frequent receipts could outpace for ever). Run on SQLite and
//! JSONL; the receipts come from another handle, as another process would add them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};

use trailseal::core::time::Offset;
use trailseal::core::verify::{Flow, ScanItem};
use trailseal::store::{ReadBack, Snapshot, StoreState, WriteTx};
use trailseal::{
    AuditLog, ChainKey, CutoffSpec, Error, OpenMode, PruneRequest, Store, StoreError, StoredRecord,
    Timestamp, TornTail, Verdict,
};

const SECRET: &str = "prune-race-secret";
const RECORDS: u64 = 40;

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s, Offset::Required).unwrap()
}

fn key() -> ChainKey {
    ChainKey::from_secret(SECRET.as_bytes()).unwrap()
}

fn open(path: &Path) -> AuditLog {
    common::open_with(path, SECRET)
}

/// 40 records, record n invoked at minute n of 2026-01-01.
fn build(dir: &Path, ext: &str) -> PathBuf {
    let path = dir.join(format!("store.{ext}"));
    let mut log = open(&path);
    let texts: Vec<String> = (0..RECORDS)
        .map(|n| {
            trailseal_testkit::Trace::new(format!("act-{n:04}"))
                .token("tok")
                .invoked_at(format!("2026-01-01T00:{n:02}:00+00:00"))
                .json()
        })
        .collect();
    let prepared = log.prepare(texts.iter().map(String::as_bytes)).unwrap();
    log.append(&prepared).unwrap();
    path
}

/// A store that, once a prune has taken its snapshot (or at once, `armed`), lets another
/// handle add a policy receipt before each of the next `overtakes` write transactions begins.
struct Overtaken {
    inner: Box<dyn Store>,
    path: PathBuf,
    planned: bool,
    overtakes: u32,
    policy: Option<i64>,
}

impl Overtaken {
    fn log(path: &Path, overtakes: u32, policy: Option<i64>) -> AuditLog {
        Self::armed(path, false, overtakes, policy)
    }

    fn armed(path: &Path, armed: bool, overtakes: u32, policy: Option<i64>) -> AuditLog {
        let inner = trailseal::store::open(
            path.to_str().unwrap(),
            None,
            OpenMode::Write { create: false },
        )
        .unwrap();
        AuditLog::from_store(Box::new(Self {
            inner,
            path: path.to_owned(),
            planned: armed,
            overtakes,
            policy,
        }))
        .with_key(key())
    }
}

impl Store for Overtaken {
    fn location(&self) -> &str {
        self.inner.location()
    }
    fn state(&mut self) -> Result<StoreState, StoreError> {
        self.inner.state()
    }
    fn write(&mut self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
        if self.planned && self.overtakes > 0 {
            self.overtakes -= 1;
            open(&self.path)
                .set_min_retention(self.policy, t("2026-06-01T00:00:00Z"), true)
                .unwrap();
        }
        self.inner.write()
    }
    fn read_back(&mut self, first: u64, last: u64) -> Result<Option<ReadBack>, StoreError> {
        self.inner.read_back(first, last)
    }
    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        self.inner.scan(from_seq, visit)
    }
    fn find(&mut self, action_id: &str) -> Result<Option<StoredRecord>, StoreError> {
        self.inner.find(action_id)
    }
    fn snapshot(&mut self, readers: usize) -> Result<Snapshot<'_>, StoreError> {
        self.planned = true;
        self.inner.snapshot(readers)
    }
    fn repair_torn_tail(
        &mut self,
        confirm: &mut dyn FnMut(&mut dyn Store, &TornTail) -> bool,
    ) -> Result<Option<TornTail>, StoreError> {
        self.inner.repair_torn_tail(confirm)
    }
}

fn request(archive: Option<PathBuf>) -> PruneRequest {
    PruneRequest {
        cutoff: CutoffSpec::Before(t("2026-01-01T00:10:00Z")),
        now: t("2026-06-01T00:00:00Z"),
        dry_run: false,
        archive,
    }
}

const DAY: i64 = 86_400_000_000;

#[test]
fn a_prune_overtaken_by_policy_receipts_is_sealed_again_on_the_grown_log() {
    for ext in ["db", "jsonl"] {
        let dir = tempfile::tempdir().unwrap();
        let path = build(dir.path(), ext);
        let archive = dir.path().join("archive.jsonl");
        let report = Overtaken::log(&path, 3, Some(DAY))
            .prune(&request(Some(archive.clone())))
            .unwrap();
        assert_eq!(
            (report.pruned, report.first_retained_seq),
            (10, 10),
            "{ext}"
        );
        let status = open(&path).retention().unwrap();
        assert!(status.verified, "{ext}");
        let kinds: Vec<&str> = status.receipts.iter().map(|r| r.kind()).collect();
        assert_eq!(kinds, ["policy", "policy", "policy", "prune"], "{ext}");
        // The report names the receipt the store holds, and so does the archive.
        assert_eq!(report.receipt.as_ref(), status.receipts.last(), "{ext}");
        assert!(open(&path).verify().is_verified(), "{ext}");
        let verdict = open(&archive).verify();
        assert!(verdict.is_verified(), "{ext}: {verdict:?}");
        assert!(verdict.caveats().is_empty(), "{ext}: {verdict:?}");
        let archived = open(&archive).retention().unwrap();
        assert_eq!(
            archived.receipts.len(),
            3,
            "{ext}: the log before the prune"
        );
        let header = std::fs::read_to_string(&archive).unwrap();
        let header: serde_json::Value =
            serde_json::from_str(header.lines().next().unwrap()).unwrap();
        let sealed: serde_json::Value =
            serde_json::from_str(&report.receipt.as_ref().unwrap().to_json()).unwrap();
        assert_eq!(header["trailseal"]["archive_of"], sealed, "{ext}");
    }
}

#[test]
fn a_policy_that_overtakes_a_prune_and_forbids_it_refuses_it() {
    for ext in ["db", "jsonl"] {
        let dir = tempfile::tempdir().unwrap();
        let path = build(dir.path(), ext);
        let archive = dir.path().join("archive.jsonl");
        // A minimum retention of 400 days keeps everything invoked in 2026-01.
        let err = Overtaken::log(&path, 1, Some(400 * DAY))
            .prune(&request(Some(archive.clone())))
            .unwrap_err();
        assert!(matches!(err, Error::Policy(_)), "{ext}: {err:?}");
        let Verdict::Verified(v) = open(&path).verify() else {
            panic!("{ext}: not verified")
        };
        assert_eq!(
            (v.first_seq, v.last_seq),
            (Some(0), Some(RECORDS - 1)),
            "{ext}"
        );
        assert!(
            !archive.exists(),
            "{ext}: no archive of a prune that did not happen"
        );
    }
}

#[test]
fn a_prune_overtaken_without_end_gives_up_with_a_conflict_and_changes_nothing() {
    for ext in ["db", "jsonl"] {
        let dir = tempfile::tempdir().unwrap();
        let path = build(dir.path(), ext);
        let archive = dir.path().join("archive.jsonl");
        let err = Overtaken::log(&path, u32::MAX, None)
            .prune(&request(Some(archive.clone())))
            .unwrap_err();
        assert!(
            matches!(err, Error::Store(StoreError::Conflict { .. })),
            "{ext}: {err:?}"
        );
        let status = open(&path).retention().unwrap();
        assert!(
            status.receipts.iter().all(|r| r.kind() == "policy"),
            "{ext}"
        );
        let Verdict::Verified(v) = open(&path).verify() else {
            panic!("{ext}: not verified")
        };
        assert_eq!(v.first_seq, Some(0), "{ext}");
        assert!(!archive.exists(), "{ext}");
    }
}

#[test]
fn a_policy_overtaken_by_another_receipt_is_sealed_again_and_a_decrease_still_refused() {
    for ext in ["db", "jsonl"] {
        let dir = tempfile::tempdir().unwrap();
        let path = build(dir.path(), ext);
        let now = t("2026-06-01T00:00:00Z");
        let receipt = Overtaken::armed(&path, true, 2, Some(DAY))
            .set_min_retention(Some(3 * DAY), now, false)
            .unwrap();
        let status = open(&path).retention().unwrap();
        assert_eq!(status.receipts.len(), 3, "{ext}");
        assert_eq!(status.receipts.last(), Some(&receipt), "{ext}");
        assert_eq!(status.min_retention_micros, Some(3 * DAY), "{ext}");
        // The policy that overtook it is the one a decrease is judged against.
        let err = Overtaken::armed(&path, true, 1, Some(5 * DAY))
            .set_min_retention(Some(4 * DAY), now, false)
            .unwrap_err();
        assert!(matches!(err, Error::Policy(_)), "{ext}: {err:?}");
        let err = Overtaken::armed(&path, true, u32::MAX, None)
            .set_min_retention(Some(6 * DAY), now, true)
            .unwrap_err();
        assert!(
            matches!(err, Error::Store(StoreError::Conflict { .. })),
            "{ext}: {err:?}"
        );
        assert!(open(&path).verify().is_verified(), "{ext}");
    }
}
