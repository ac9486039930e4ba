//! `jsonl_line`: the bytes as a JSONL store file, read, verified and repaired.

use super::*;

/// `jsonl_line`: the bytes as a JSONL store file, read the way every command reads one —
/// [`JsonlStore`] opened read-only, its state (header line, first key id, head from the tail),
/// a scan (the record line parser), a lookup, and full verification (header retention
/// receipts, archive receipt, every record) on one thread and on two, which must agree.
pub fn jsonl_line(data: &[u8]) {
    let file = Scratch(scratch_path("jsonl"));
    let written = std::fs::File::create(&file.0).and_then(|mut f| f.write_all(data));
    assert!(
        written.is_ok(),
        "cannot write the scratch file {:?}",
        file.0
    );
    let Ok(mut store) = JsonlStore::open(&file.0, OpenMode::Read) else {
        return;
    };
    let _ = store.state();
    let mut items = 0u64;
    let scanned = store.scan(0, &mut |item| {
        items += 1;
        if let ScanItem::Record(r) = item
            && r.encoding == TraceEncoding::Canonical
        {
            assert_eq!(
                python_canonical(r.trace).as_deref(),
                Some(r.trace),
                "a trace the reader re-canonicalised is canonical"
            );
        }
        Flow::Continue
    });
    let _ = store.find("act-0");
    let key = &fixtures().key;
    let one =
        trailseal::verify::verify(&mut store, Some(key), &mut VerifyOptions::new().threads(1));
    let two =
        trailseal::verify::verify(&mut store, Some(key), &mut VerifyOptions::new().threads(2));
    assert_eq!(one, two, "parallel verification gives another verdict");
    if let (Verdict::Verified(v), Ok(())) = (&one, scanned) {
        assert_eq!(
            v.records_checked, items,
            "a verified store's every line was checked"
        );
    }
    drop(store);
    repair_removes_only_a_torn_tail(&file.0, data);
}

/// `repair` on the file removes at most its last line, only when that has no line end, is not
/// a complete value and begins as a record does, and only when the rest verifies; whatever it
/// does not remove stays byte for byte.
fn repair_removes_only_a_torn_tail(path: &std::path::Path, data: &[u8]) {
    let Ok(store) = JsonlStore::open(path, OpenMode::Write { create: false }) else {
        return;
    };
    let mut log = trailseal::AuditLog::from_store(Box::new(store)).with_key(fixtures().key.clone());
    let report = log.repair(false);
    drop(log);
    let now = std::fs::read(path).ok();
    match report {
        Ok(r) if r.removed => {
            let offset = r.torn.map_or(0, |t| t.offset) as usize;
            assert_eq!(
                now.as_deref(),
                data.get(..offset),
                "repair left other bytes"
            );
            let removed = data.get(offset..).unwrap_or_default();
            assert!(
                !removed.contains(&b'\n') && !removed.contains(&b'\r'),
                "repair removed a line end"
            );
            assert!(
                removed.starts_with(b"{") && json::parse(removed).is_err(),
                "repair removed a complete value or a line that does not start as a record"
            );
            assert!(
                r.verdict.is_verified(),
                "repair removed a tail of a store that does not verify"
            );
        }
        _ => assert_eq!(
            now.as_deref(),
            Some(data),
            "a repair that removed nothing changed the file"
        ),
    }
}
