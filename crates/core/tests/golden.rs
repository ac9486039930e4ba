//! The bytes trailseal writes in its own formats (retention receipts, bundles) are pinned:
//! moving their encoders onto the canonical object writer must not change one byte (bundles
//! are signed, receipts MAC'd, and both are read by earlier releases). The expected files were
//! written by the code before that move; `TRAILSEAL_BLESS=1` rewrites them (only do that for a
//! deliberate, documented format change).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use trailseal_core::bundle::{BundleWriter, EntryContent, Withheld, WithheldReasons};
use trailseal_core::note::NoteSigner;
use trailseal_core::retention::{Cutoff, Receipt, ReceiptBody};
use trailseal_core::time::{Offset, Timestamp};
use trailseal_core::{
    ChainKey, ChainStart, Hash32, Head, PreparedTrace, StartKind, TraceLimits, seal_batch,
};

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s, Offset::Required).unwrap()
}

fn check(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("TRAILSEAL_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert!(expected == actual, "{name}: the bytes written changed");
}

#[test]
fn receipts_are_written_as_before() {
    let key = ChainKey::from_secret(b"golden").unwrap();
    let odd = ChainStart {
        next_seq: 5,
        prev_hash: b"not \"a\" hash \\ \xc3\xa9".to_vec(),
        kind: StartKind::UnauthenticatedCheckpoint,
    };
    let bodies = [
        ReceiptBody::Policy {
            start: ChainStart::genesis(),
            min_retention_micros: Some(183 * 86_400 * 1_000_000),
        },
        ReceiptBody::Policy {
            start: odd.clone(),
            min_retention_micros: None,
        },
        ReceiptBody::Policy {
            start: odd.clone(),
            min_retention_micros: Some(-1),
        },
        ReceiptBody::Prune {
            from: odd.clone(),
            last_pruned_seq: 9,
            last_pruned_hash: Hash32::from_bytes(&[7; 32]),
            count: 5,
            cutoff: Cutoff::Before(t("2026-02-13T00:00:00.123456+02:00")),
        },
        ReceiptBody::Prune {
            from: ChainStart::checkpoint(9, Hash32::from_bytes(&[7; 32])),
            last_pruned_seq: 20,
            last_pruned_hash: Hash32::from_bytes(&[8; 32]),
            count: 11,
            cutoff: Cutoff::OlderThan {
                micros: 200 * 86_400 * 1_000_000,
                before: t("2026-02-13T00:00:00Z"),
            },
        },
        ReceiptBody::Prune {
            from: ChainStart::genesis(),
            last_pruned_seq: u64::MAX,
            last_pruned_hash: Hash32::from_bytes(&[9; 32]),
            count: 0,
            cutoff: Cutoff::KeepLast(u64::MAX),
        },
    ];
    let mut prev = Hash32::GENESIS;
    let mut text = String::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let r = Receipt::seal(&key, i as u64, t("2026-09-01T12:34:56.5Z"), body, prev);
        prev = r.mac;
        text.push_str(&r.to_json());
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(&r.body_json()));
        text.push('\n');
    }
    check("receipts.txt", &text);
}

fn bundle(reasons: WithheldReasons, selection: &str) -> String {
    let key = ChainKey::from_secret(b"golden").unwrap();
    let signer = NoteSigner::from_seed("golden/exporter", &[3; 32]).unwrap();
    let traces: Vec<PreparedTrace> = (0..130)
        .map(|i| {
            let t = format!(
                r#"{{"action_id":"a{i}","capability_id":"c","principal_id":"p\u00e9{}","token_id":"t","invoked_at":"2026-01-01T00:00:00Z","args":{{"n":{i},"s":"x\"y"}},"response_mode":"raw","driver_id":"d"}}"#,
                i % 2
            );
            PreparedTrace::parse(t.as_bytes(), &TraceLimits::default()).unwrap()
        })
        .collect();
    let mut head = Head::GENESIS;
    let records = seal_batch(&key, &mut head, &traces);
    let (mut w, header) = BundleWriter::new(
        &signer,
        "golden/log \"quoted\" \u{e9}",
        t("2026-11-27T01:02:03.000004Z"),
        key.key_id(),
        selection,
        reasons,
    );
    let mut text = header;
    for r in &records {
        let content = match r.seq % 5 {
            1 => EntryContent::Withheld(Withheld::Filter),
            3 => EntryContent::Withheld(Withheld::Redacted),
            _ => EntryContent::Disclosed(r.trace.canonical().as_bytes()),
        };
        let line = w
            .entry(
                r.seq,
                r.prev_hash.as_bytes(),
                r.record_hash.as_bytes(),
                content,
            )
            .unwrap();
        text.push_str(&line);
    }
    text.push_str(&w.finish().unwrap());
    text
}

#[test]
fn bundles_are_written_as_before() {
    check(
        "bundle-hidden.jsonl",
        &bundle(WithheldReasons::Hidden, "{}"),
    );
    check(
        "bundle-disclosed.jsonl",
        &bundle(
            WithheldReasons::Disclosed,
            r#"{"capability":"c","from_seq":0,"redact":["args.s"]}"#,
        ),
    );
}

/// A `rotate` receipt (format.md §7.5), pinned: its members, their order, and both MACs,
/// for the secrets `golden` (old) and `golden-new` (new).
#[test]
fn rotate_receipts_are_written_as_pinned() {
    let old = ChainKey::from_secret(b"golden").unwrap();
    let new = ChainKey::from_secret(b"golden-new").unwrap();
    let segment = Receipt::seal_rotate(
        &old,
        &new,
        2,
        t("2026-10-01T00:00:00Z"),
        ChainStart::checkpoint(9, Hash32::from_bytes(&[7; 32])),
        Some((9, Hash32::from_bytes(&[7; 32]))),
        Some(86_400_000_000),
        Hash32::from_bytes(&[1; 32]),
    );
    let empty = Receipt::seal_rotate(
        &old,
        &new,
        0,
        t("2026-10-01T00:00:00Z"),
        ChainStart::genesis(),
        None,
        None,
        Hash32::GENESIS,
    );
    let text = format!("{}\n{}\n", segment.to_json(), empty.to_json());
    check("rotate-receipts.txt", &text);
}
