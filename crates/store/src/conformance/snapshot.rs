//! Conformance checks: snapshot readers.

use super::*;

/// Snapshot readers: consecutive ranges read by different readers give exactly what one scan
/// gives, the state is the store's, and appends, receipts and prunes made through another
/// handle while the snapshot is open neither block nor show up in it (its state and its
/// records stay those of one moment).
pub fn snapshot_ranges_equal_scan(b: &dyn Backend) {
    use crate::SeqRange;
    use trailseal_core::Hash32;
    let mut f = b.fresh();
    let key = test_key();
    f.store.append(&key, &traces(0, 25)).unwrap();
    let who = name(&*f.store);
    let before = f.store.state().unwrap();
    let recs = records(&mut *f.store);
    let mut other = b.reopen(&f);
    let mut snapshot = f.store.snapshot(3).unwrap();
    assert!(
        (1..=3).contains(&snapshot.readers.len()),
        "{who}: {} readers",
        snapshot.readers.len()
    );
    assert_eq!(snapshot.state, before, "{who}");
    if let Some(other) = other.as_mut() {
        other.append(&key, &traces(100, 5)).unwrap();
        other.add_receipt(0, "{\"receipt\":0}").unwrap();
        let plan = crate::PrunePlan {
            from_seq: 0,
            last_seq: 2,
            last_hash: Hash32::parse(recs[2].2.as_bytes()).unwrap(),
            log_len: 1,
        };
        other.prune(&plan, "{\"receipt\":1}").unwrap();
    }
    let collect = |item: &ScanItem<'_>, out: &mut Vec<(u64, Vec<u8>)>| {
        if let ScanItem::Record(r) = item {
            out.push((r.seq, r.record_hash.to_vec()));
        }
        Flow::Continue
    };
    let ranges = [
        SeqRange {
            from: None,
            until: Some(5),
        },
        SeqRange {
            from: Some(5),
            until: Some(12),
        },
        SeqRange {
            from: Some(12),
            until: Some(13),
        },
        SeqRange {
            from: Some(13),
            until: None,
        },
    ];
    let mut from_ranges = Vec::new();
    let n = snapshot.readers.len();
    for (i, range) in ranges.into_iter().enumerate() {
        let reader = &mut snapshot.readers[i % n];
        reader
            .scan_range(range, &mut |item| collect(item, &mut from_ranges))
            .unwrap();
    }
    let mut whole = Vec::new();
    snapshot
        .scan(0, &mut |item| collect(item, &mut whole))
        .unwrap();
    drop(snapshot);
    let expected: Vec<(u64, Vec<u8>)> = recs
        .iter()
        .map(|r| (r.0, r.2.as_bytes().to_vec()))
        .collect();
    assert_eq!(from_ranges, expected, "{who}: ranges of the snapshot");
    assert_eq!(whole, expected, "{who}: the snapshot read whole");
    if other.is_some() {
        let mut scanned = Vec::new();
        f.store
            .scan(0, &mut |item| collect(item, &mut scanned))
            .unwrap();
        assert_eq!(
            scanned.len(),
            27,
            "{who}: the changes made meanwhile are stored"
        );
        assert_eq!(f.store.state().unwrap().retention.len(), 2, "{who}");
    }
}
