//! Micro benchmarks of the pure core, on one core: `cargo bench -p trailseal-core`.
//!
//! Each figure is the median of 5 samples of at least 0.3 s. Inputs are ~1 KiB traces like
//! the ones the side-by-side benchmarks store (`bench/side_by_side.py`). No timing is asserted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use trailseal_core::json::{self, Mode};
use trailseal_core::recanon::Recanonicalizer;
use trailseal_core::start::{ChainStart, StoredKeyId};
use trailseal_core::verify::{
    Columns, ContentChecker, RecordView, ScanItem, TraceEncoding, Verifier,
};
use trailseal_core::{ChainKey, Hash32, Head, PreparedTrace, TraceLimits, seal_batch};

/// A trace as weaver-kernel's `json.dumps` writes it (insertion order, spaces), ~1 KiB.
fn dumps_text(i: usize) -> String {
    format!(
        r#"{{"action_id": "act-1-{i:06}", "capability_id": "crm.search", "principal_id": "user-{p:04}@example.com", "token_id": "tok-{i:024x}", "invoked_at": "2026-11-27T10:00:00.{us:06}+00:00", "args": {{"query": "open invoices acme", "limit": 50, "offset": {i}, "filters": {{"status": ["open", "pending"], "region": "eu-west-1", "min_amount": 1234.5, "since": "2026-09-01"}}, "fields": ["id", "amount", "customer"], "order_by": "amount", "justification": "ticket #4711 audit", "note": "{note}"}}, "response_mode": "summary", "driver_id": "postgres", "handle_id": null, "error": null, "result_summary": {{"fact_count": 3, "row_count": 120, "warning_count": 0, "has_handle": false}}, "sensitivity": "PII", "event_type": "invoke", "status": "succeeded", "reason_code": null, "correction": null}}"#,
        p = i % 5000,
        us = i % 1_000_000,
        note = "lorem ipsum dolor sit amet ".repeat(14),
    )
}

/// Runs `f` in batches until 0.3 s pass, 5 times; the median time per call.
fn measure(mut f: impl FnMut()) -> Duration {
    let mut samples = Vec::new();
    for _ in 0..5 {
        let mut calls = 0u32;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(300) {
            for _ in 0..64 {
                f();
            }
            calls += 64;
        }
        samples.push(start.elapsed() / calls);
    }
    samples.sort();
    samples[2]
}

/// One table row: `items` records or traces per call of `bytes` bytes in all.
fn report(name: &str, per_call: Duration, bytes: usize, items: usize) {
    let ns = per_call.as_secs_f64() * 1e9 / items as f64;
    let mb_s = bytes as f64 / per_call.as_secs_f64() / 1e6;
    println!(
        "| {name} | {ns:.0} ns | {:.0} k/s | {mb_s:.0} MB/s |",
        1e6 / ns
    );
}

fn main() {
    let key = ChainKey::from_secret(b"bench-secret-0123456789").unwrap();
    let dumps = dumps_text(42);
    let canonical = json::canonicalize(dumps.as_bytes()).unwrap();
    println!(
        "trace: {} bytes as json.dumps, {} canonical",
        dumps.len(),
        canonical.len()
    );
    println!("| operation (one core) | per trace | rate | throughput |");
    println!("|---|---|---|---|");

    let prev = Hash32::GENESIS;
    report(
        "record_hash (HMAC-SHA256 of the envelope)",
        measure(|| {
            black_box(key.record_hash(1234, prev.as_bytes(), black_box(canonical.as_bytes())));
        }),
        canonical.len() + 102,
        1,
    );

    let mut out = Vec::new();
    let mut recanon = Recanonicalizer::new();
    report(
        "re-canonicalise json.dumps output, one pass",
        measure(|| {
            assert!(recanon.run(black_box(dumps.as_bytes()), &mut out));
        }),
        dumps.len(),
        1,
    );
    assert_eq!(out, canonical.as_bytes());
    report(
        "canonicalise with the general reader (tape + writer)",
        measure(|| {
            let doc = json::parse(black_box(dumps.as_bytes())).unwrap();
            out.clear();
            doc.root().write_canonical(&mut out, Mode::Python).unwrap();
        }),
        dumps.len(),
        1,
    );
    // Ordinary floats as Python prints them (json.dumps of a list): the number reader's hot path.
    let floats = {
        let mut text = String::from("[");
        for i in 0..64 {
            if i > 0 {
                text.push_str(", ");
            }
            let value = (f64::from(i) + 0.37) * 10f64.powi(i % 40 - 20);
            json::write_float_repr(value, &mut text);
        }
        text.push(']');
        text
    };
    report(
        "64 floats: re-canonicalise, one pass (per float)",
        measure(|| {
            assert!(recanon.run(black_box(floats.as_bytes()), &mut out));
        }),
        floats.len(),
        64,
    );
    report(
        "64 floats: general reader + writer (per float)",
        measure(|| {
            let doc = json::parse(black_box(floats.as_bytes())).unwrap();
            out.clear();
            doc.root().write_canonical(&mut out, Mode::Python).unwrap();
        }),
        floats.len(),
        64,
    );
    report(
        "validate a trace for appending (PreparedTrace::parse)",
        measure(|| {
            black_box(
                PreparedTrace::parse(black_box(dumps.as_bytes()), &TraceLimits::default()).unwrap(),
            );
        }),
        dumps.len(),
        1,
    );

    // Content checks as verification runs them, on stored records.
    let traces: Vec<PreparedTrace> = (0..1000)
        .map(|i| PreparedTrace::parse(dumps_text(i).as_bytes(), &TraceLimits::default()).unwrap())
        .collect();
    let mut head = Head {
        next_seq: 0,
        prev_hash: Hash32::GENESIS,
    };
    let sealed = seal_batch(&key, &mut head, &traces);
    let stored_dumps: Vec<String> = (0..1000).map(dumps_text).collect();
    let mut checker = ContentChecker::new();
    let mut i = 0;
    report(
        "content check of a canonical row (MAC + index columns)",
        measure(|| {
            let r = &sealed[i % 1000];
            let view = RecordView {
                seq: r.seq,
                prev_hash: r.prev_hash.as_bytes(),
                record_hash: r.record_hash.as_bytes(),
                trace: r.trace.canonical().as_bytes(),
                encoding: TraceEncoding::Stored,
                columns: Some(Columns {
                    action_id: r.trace.action_id().as_bytes(),
                    invoked_at: r.trace.invoked_at().as_bytes(),
                }),
            };
            black_box(checker.check(&key, &view));
            i += 1;
        }),
        canonical.len(),
        1,
    );
    let mut checker = ContentChecker::new();
    report(
        "content check of a weaver-kernel row (re-canonicalise + MAC + columns)",
        measure(|| {
            let r = &sealed[i % 1000];
            let view = RecordView {
                seq: r.seq,
                prev_hash: r.prev_hash.as_bytes(),
                record_hash: r.record_hash.as_bytes(),
                trace: stored_dumps[i % 1000].as_bytes(),
                encoding: TraceEncoding::Stored,
                columns: Some(Columns {
                    action_id: r.trace.action_id().as_bytes(),
                    invoked_at: r.trace.invoked_at().as_bytes(),
                }),
            };
            black_box(checker.check(&key, &view));
            i += 1;
        }),
        dumps.len(),
        1,
    );
    report(
        "seal 1,000 traces (seal_batch)",
        measure(|| {
            let mut head = Head {
                next_seq: 0,
                prev_hash: Hash32::GENESIS,
            };
            black_box(seal_batch(&key, &mut head, black_box(&traces)));
        }),
        canonical.len() * 1000,
        1000,
    );
    // The whole sequential verifier over 1,000 records (MACs on this thread).
    report(
        "verify 1,000 records on one thread (Verifier::feed)",
        measure(|| {
            let mut verifier = Verifier::new(&key, ChainStart::genesis(), StoredKeyId::Absent);
            let mut checker = ContentChecker::new();
            for r in &sealed {
                let view = RecordView {
                    seq: r.seq,
                    prev_hash: r.prev_hash.as_bytes(),
                    record_hash: r.record_hash.as_bytes(),
                    trace: r.trace.canonical().as_bytes(),
                    encoding: TraceEncoding::Stored,
                    columns: None,
                };
                verifier.feed(&key, &mut checker, &ScanItem::Record(view));
            }
            assert!(verifier.finish().is_verified());
        }),
        canonical.len() * 1000,
        1000,
    );
}
