//! The bundle writer and verifier together.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use sha2::{Digest, Sha256};

use super::lines::hex;
use super::*;
use crate::chain::ChainKey;
use crate::note::{NoteSigner, NoteVerifier};
use crate::time::Timestamp;
use crate::trace::{PreparedTrace, TraceLimits};
use crate::verdict::{TamperKind, Tampered, Verdict};
use crate::verify::Flow;
use crate::{Head, seal_batch};

fn bundle(n: u64, key: &ChainKey, signer: &NoteSigner) -> Vec<String> {
    let traces: Vec<PreparedTrace> = (0..n)
        .map(|i| {
            let t = format!(r#"{{"action_id":"a{i}","capability_id":"c","principal_id":"p{}","token_id":"t","invoked_at":"2026-01-01T00:00:00Z","args":{{}},"response_mode":"raw","driver_id":"d"}}"#, i % 2);
            PreparedTrace::parse(t.as_bytes(), &TraceLimits::default()).unwrap()
        })
        .collect();
    let mut head = Head::GENESIS;
    let records = seal_batch(key, &mut head, &traces);
    let created = Timestamp::parse("2026-11-27T00:00:00Z", crate::time::Offset::Required).unwrap();
    let (mut w, header) = BundleWriter::new(
        signer,
        "test/log",
        created,
        key.key_id(),
        "{}",
        WithheldReasons::Hidden,
    );
    let mut text = header;
    for r in &records {
        let content = if r.seq % 3 == 2 {
            EntryContent::Withheld(Withheld::Filter)
        } else {
            EntryContent::Disclosed(r.trace.canonical().as_bytes())
        };
        text.push_str(
            &w.entry(
                r.seq,
                r.prev_hash.as_bytes(),
                r.record_hash.as_bytes(),
                content,
            )
            .unwrap(),
        );
    }
    text.push_str(&w.finish().unwrap());
    text.lines().map(|l| format!("{l}\n")).collect()
}

fn verify(lines: &[String], public: &NoteVerifier, key: Option<&ChainKey>) -> BundleVerdict {
    let mut v = BundleVerifier::new(public, key);
    for l in lines {
        if v.feed(l.as_bytes()) == Flow::Stop {
            break;
        }
    }
    v.finish()
}

#[test]
fn round_trip_at_both_levels() {
    let key = ChainKey::from_secret(b"bundle").unwrap();
    let signer = NoteSigner::from_seed("exporter", &[5; 32]).unwrap();
    let lines = bundle(150, &key, &signer);
    let public = signer.verifier();
    let v = verify(&lines, &public, None);
    assert!(v.verdict.is_verified(), "{v:?}");
    assert_eq!(
        (v.entries, v.withheld, v.level),
        (150, 50, BundleLevel::Signature)
    );
    let v = verify(&lines, &public, Some(&key));
    assert!(v.verdict.is_verified(), "{v:?}");
    assert_eq!(v.level, BundleLevel::SignatureAndMac);
    let other = NoteSigner::from_seed("exporter", &[6; 32])
        .unwrap()
        .verifier();
    assert!(matches!(
        verify(&lines, &other, None).verdict,
        Verdict::Unverifiable(_)
    ));
    let wrong = ChainKey::from_secret(b"other").unwrap();
    assert!(!verify(&lines, &public, Some(&wrong)).verdict.is_verified());
}

#[test]
fn every_single_byte_change_is_caught() {
    let key = ChainKey::from_secret(b"bundle").unwrap();
    let signer = NoteSigner::from_seed("exporter", &[5; 32]).unwrap();
    let lines = bundle(70, &key, &signer);
    let public = signer.verifier();
    let text: String = lines.concat();
    for at in (0..text.len()).step_by(7) {
        let mut bytes = text.clone().into_bytes();
        bytes[at] ^= 0x01;
        let changed: Vec<String> = String::from_utf8_lossy(&bytes)
            .split_inclusive('\n')
            .map(str::to_owned)
            .collect();
        let v = verify(&changed, &public, None);
        assert!(
            !v.verdict.is_verified(),
            "byte {at} changed, still verified"
        );
    }
}

fn tampered(v: &BundleVerdict) -> &Tampered {
    match &v.verdict {
        Verdict::Tampered(t) => t,
        other => panic!("expected tampered, got {other:?}"),
    }
}

/// Withholds the disclosed entry at `line` and returns the block digest of lines
/// `block` (entry lines only) afterwards.
fn withhold(lines: &mut [String], line: usize, block: std::ops::Range<usize>) -> String {
    let entry = lines[line].clone();
    let at = entry.find(",\"trace\":").unwrap();
    lines[line] = format!("{},\"withheld\":true}}\n", &entry[..at]);
    let mut h = Sha256::new();
    for l in &lines[block] {
        h.update(l.as_bytes());
    }
    hex(&h.finalize().into())
}

#[test]
fn a_trailer_rewritten_around_its_signature_names_the_altered_block() {
    // Block 0 is lines 1..=64, its trailer line 65; block 1 follows.
    let key = ChainKey::from_secret(b"bundle").unwrap();
    let signer = NoteSigner::from_seed("exporter", &[5; 32]).unwrap();
    let public = signer.verifier();
    let clean = bundle(150, &key, &signer);
    assert!(clean[65].starts_with("{\"block\":0,"));
    // Members after the signature, before it but outside the signed text, or a second
    // signature: the signature still verifies over the original bytes, so only reading the
    // fields from exactly those bytes (and refusing the rest) catches it at block 0.
    type Rewrite<'f> = &'f dyn Fn(&str, &str) -> String;
    let rewrites: [Rewrite<'_>; 4] = [
        &|t: &str, d: &str| t.replacen("\"}\n", &format!("\",\"digest\":\"{d}\"}}\n"), 1),
        &|t: &str, d: &str| {
            let (head, tail) = t.rsplit_once(",\"sig\":").unwrap();
            format!(
                "{head},\"sig\":{},\"digest\":\"{d}\"}}\n",
                tail.trim_end().trim_end_matches('}')
            )
        },
        &|t: &str, d: &str| t.replacen("\"}\n", &format!("\" ,\"digest\":\"{d}\"}}\n"), 1),
        &|t: &str, d: &str| {
            let sig = t
                .rsplit_once(",\"sig\":")
                .unwrap()
                .1
                .trim_end()
                .trim_end_matches('}')
                .to_owned();
            t.replacen(
                ",\"sig\":",
                &format!(",\"sig\":{sig},\"digest\":\"{d}\",\"sig\":"),
                1,
            )
        },
    ];
    for (i, rewrite) in rewrites.iter().enumerate() {
        let mut lines = clean.clone();
        let digest = withhold(&mut lines, 2, 1..65);
        lines[65] = rewrite(&lines[65], &digest);
        for level in [None, Some(&key)] {
            let v = verify(&lines, &public, level);
            let t = tampered(&v);
            assert!(
                t.detail.starts_with("block 0 ") || t.detail.starts_with("block 0:"),
                "rewrite {i}: {t:?}"
            );
            assert!(t.first_bad_seq < 64, "rewrite {i}: {t:?}");
        }
    }
    // The same withholding without touching the trailer: block 0's digest differs.
    let mut lines = clean.clone();
    withhold(&mut lines, 2, 1..65);
    let t = tampered(&verify(&lines, &public, None)).clone();
    assert!(t.detail.starts_with("block 0 "), "{t:?}");
    assert_eq!(t.kind, TamperKind::Content);
}

#[test]
fn a_manifest_line_is_the_signed_note_and_nothing_else() {
    let key = ChainKey::from_secret(b"bundle").unwrap();
    let signer = NoteSigner::from_seed("exporter", &[5; 32]).unwrap();
    let public = signer.verifier();
    let clean = bundle(10, &key, &signer);
    let last = clean.len() - 1;
    assert!(clean[last].starts_with("{\"manifest\":"));
    for changed in [
        clean[last].replacen("}\n", ",\"entries\":10}\n", 1),
        clean[last].replacen("{", "{\"x\":1,", 1),
        clean[last].replacen("}\n", &format!(",{}", &clean[last][1..]), 1),
    ] {
        let mut lines = clean.clone();
        lines[last] = changed;
        let v = verify(&lines, &public, None);
        assert_eq!(tampered(&v).kind, TamperKind::Malformed, "{v:?}");
    }
    assert!(verify(&clean, &public, None).verdict.is_verified());
}

#[test]
fn trailer_framing_is_exact() {
    let ok = b"{\"block\":0,\"x\":1,\"sig\":\"AAAA+/==\"}\n";
    let t = SignedTrailer::split(ok).unwrap();
    assert_eq!(
        (t.unsigned, t.sig),
        (&b"{\"block\":0,\"x\":1"[..], "AAAA+/==")
    );
    for bad in [
        &b"{\"block\":0,\"sig\":\"AAAA\"}"[..],
        b"{\"block\":0,\"sig\":\"AAAA\"} \n",
        b"{\"block\":0,\"sig\":\"AAAA\"}\r\n",
        b"{\"block\":0,\"sig\":\"AA\",\"x\":\"AA\"}\n",
        b"{\"block\":0,\"sig\": \"AAAA\"}\n",
        b"{\"block\":0,\"sig\":\"AA\\u0041A\"}\n",
        b"{\"block\":0}\n",
    ] {
        assert_eq!(
            SignedTrailer::split(bad),
            None,
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

/// A witness quorum over a bundle without a tree checkpoint (format 2), or one that cannot be
/// met (0, more than the distinct keys), never verifies; a tampered bundle stays tampered.
#[test]
fn a_witness_quorum_without_a_tree_checkpoint_is_unverifiable() {
    use crate::cosignature::WitnessSigner;
    use crate::verdict::UnverifiableReason;
    let key = ChainKey::from_secret(b"bundle").unwrap();
    let signer = NoteSigner::from_seed("exporter", &[5; 32]).unwrap();
    let public = signer.verifier();
    let lines = bundle(10, &key, &signer);
    let w = WitnessSigner::from_seed("w.example", &[1; 32]).unwrap();
    let witnesses = [w.witness_key().clone()];
    let check = |lines: &[String], quorum: usize| {
        let mut v = BundleVerifier::new(&public, None).with_witness_quorum(&witnesses, quorum);
        for l in lines {
            if v.feed(l.as_bytes()) == Flow::Stop {
                break;
            }
        }
        v.finish()
    };
    assert!(verify(&lines, &public, None).verdict.is_verified());
    for quorum in [0, 1, 2] {
        let v = check(&lines, quorum);
        match &v.verdict {
            Verdict::Unverifiable(u) => {
                assert_eq!(u.reason, UnverifiableReason::WitnessQuorum, "{u:?}");
            }
            other => panic!("quorum {quorum}: {other:?}"),
        }
        assert_eq!(v.cosignatures, None);
    }
    let mut bad = lines.clone();
    bad[1] = bad[1].replacen("\"a0\"", "\"a9\"", 1);
    assert!(matches!(check(&bad, 1).verdict, Verdict::Tampered(_)));
}
