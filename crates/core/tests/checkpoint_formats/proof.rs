//! `c2sp.org/tlog-proof@v1` files: the exact text, strict parsing, and the checks made when
//! the checkpoint is opened.

use proptest::prelude::*;
use trailseal_core::base64;
use trailseal_core::checkpoint::CheckpointError;
use trailseal_core::note::NoteError;
use trailseal_core::tlog_proof::{
    MAX_FILE_LEN, MAX_HASHES, TlogProof, TlogProofError, inclusion_proof_len,
};

use super::checkpoint::{checkpoint, signer, stray_bit};

fn hashes(n: usize) -> Vec<[u8; 32]> {
    (0..n).map(|i| [i as u8; 32]).collect()
}

/// RFC 6962 section 2.1.1, PATH(m, D[n]), by its recursive definition: the number of hashes.
fn rfc_path_len(m: u64, n: u64) -> usize {
    if n <= 1 {
        return 0;
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    1 + if m < k {
        rfc_path_len(m, k)
    } else {
        rfc_path_len(m - k, n - k)
    }
}

fn proof(index: u64, size: u64, extra: Option<Vec<u8>>) -> TlogProof {
    let n = inclusion_proof_len(index, size).unwrap();
    let note = checkpoint(size).sign(&signer()).unwrap();
    TlogProof::new(extra, index, hashes(n), note).unwrap()
}

#[test]
fn the_text_is_the_c2sp_layout() {
    let p = proof(5, 8, Some(b"salt".to_vec()));
    let note = checkpoint(8).sign(&signer()).unwrap();
    let expected = format!(
        "c2sp.org/tlog-proof@v1\nextra {}\nindex 5\n{}\n{}\n{}\n\n{note}",
        base64::encode(b"salt"),
        base64::encode(&[0; 32]),
        base64::encode(&[1; 32]),
        base64::encode(&[2; 32]),
    );
    assert_eq!(p.to_text(), expected);
    assert_eq!(TlogProof::parse(&expected).unwrap(), p);
    let plain = proof(0, 1, None);
    assert_eq!(
        plain.to_text(),
        format!(
            "c2sp.org/tlog-proof@v1\nindex 0\n\n{}",
            plain.checkpoint_note()
        )
    );
    assert_eq!(
        plain.open_checkpoint(&signer().verifier()).unwrap(),
        checkpoint(1)
    );
    assert_eq!(
        p.open_checkpoint(&signer().verifier()).unwrap(),
        checkpoint(8)
    );
    assert_eq!(p.extra(), Some(&b"salt"[..]));
}

#[test]
fn the_proof_length_is_rfc_6962s() {
    for n in 1..=300u64 {
        for m in 0..n {
            assert_eq!(
                inclusion_proof_len(m, n),
                Some(rfc_path_len(m, n)),
                "{m} {n}"
            );
        }
        assert_eq!(inclusion_proof_len(n, n), None);
    }
    let max = i64::MAX as u64;
    assert_eq!(
        inclusion_proof_len(max - 1, max),
        Some(rfc_path_len(max - 1, max))
    );
    assert_eq!(inclusion_proof_len(0, max), Some(63));
    assert_eq!(inclusion_proof_len(0, u64::MAX), Some(64));
    assert_eq!(inclusion_proof_len(0, 0), None);
}

#[test]
fn open_checks_the_index_and_the_number_of_hashes() {
    let v = signer().verifier();
    let note = checkpoint(8).sign(&signer()).unwrap();
    let p = |index, n| TlogProof::new(None, index, hashes(n), note.clone()).unwrap();
    assert!(p(5, 3).open_checkpoint(&v).is_ok());
    // Missing, extra and no hashes; an index outside the tree.
    for (index, n) in [(5, 2), (5, 4), (5, 0), (0, 0)] {
        assert!(
            matches!(
                p(index, n).open_checkpoint(&v),
                Err(TlogProofError::ProofLength { got, expected: 3, .. }) if got == n
            ),
            "{index} {n}"
        );
    }
    for index in [8, 9, u64::MAX] {
        assert!(matches!(
            p(index, 3).open_checkpoint(&v),
            Err(TlogProofError::IndexOutOfRange { size: 8, .. })
        ));
    }
    // An empty tree has no entries to prove.
    let empty = TlogProof::new(None, 0, Vec::new(), checkpoint(0).sign(&signer()).unwrap());
    assert!(matches!(
        empty.unwrap().open_checkpoint(&v),
        Err(TlogProofError::IndexOutOfRange { size: 0, .. })
    ));
    // A checkpoint signed by another key.
    let other = trailseal_core::note::NoteSigner::from_seed("audit.example/log", &[1; 32]).unwrap();
    assert!(matches!(
        p(5, 3).open_checkpoint(&other.verifier()),
        Err(TlogProofError::Checkpoint(CheckpointError::Note(
            NoteError::NotSignedBy { .. }
        )))
    ));
}

#[test]
fn parse_is_strict() {
    let good = proof(5, 8, Some(b"x".to_vec())).to_text();
    assert!(TlogProof::parse(&good).is_ok());
    let h0 = base64::encode(&[0; 32]);
    let bad_line = |text: &str, line: usize| match TlogProof::parse(text) {
        Err(TlogProofError::Line { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
        other => panic!("{text:?}: {other:?}"),
    };
    bad_line(
        &good.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
        1,
    );
    bad_line(
        &good.replacen("c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v1 \n", 1),
        1,
    );
    bad_line(
        &good.replacen("c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v1\r\n", 1),
        1,
    );
    bad_line(&good.replacen("\nextra eA==\n", "\nextra \n", 1), 2);
    bad_line(&good.replacen("\nextra eA==\n", "\nextra eB==\n", 1), 2);
    bad_line(&good.replacen("\nextra eA==\n", "\nextra eA\n", 1), 2);
    bad_line(&good.replacen("\nextra eA==\n", "\nextra  eA==\n", 1), 2);
    bad_line(
        &good.replacen("\nextra eA==\n", "\nextra eA==\nextra eA==\n", 1),
        3,
    );
    bad_line(&good.replacen("index 5", "index 05", 1), 3);
    bad_line(&good.replacen("index 5", "index +5", 1), 3);
    bad_line(&good.replacen("index 5", "index -5", 1), 3);
    bad_line(&good.replacen("index 5", "index  5", 1), 3);
    bad_line(&good.replacen("index 5", "index 5 ", 1), 3);
    bad_line(&good.replacen("index 5", "Index 5", 1), 3);
    bad_line(
        &good.replacen("index 5", "index 18446744073709551616", 1),
        3,
    );
    bad_line(
        &good.replacen(&format!("\n{h0}\n"), &format!("\n{}\n", stray_bit(&h0)), 1),
        4,
    );
    bad_line(
        &good.replacen(&format!("\n{h0}\n"), &format!("\n{h0} \n"), 1),
        4,
    );
    bad_line(
        &good.replacen(&format!("\n{h0}\n"), &format!("\n{h0}\r\n"), 1),
        4,
    );
    let short = base64::encode(&[0; 31]);
    bad_line(
        &good.replacen(&format!("\n{h0}\n"), &format!("\n{short}\n"), 1),
        4,
    );
    let long = base64::encode(&[0; 33]);
    bad_line(
        &good.replacen(&format!("\n{h0}\n"), &format!("\n{long}\n"), 1),
        4,
    );
    // The extra line after the index is not an extra line.
    bad_line(
        &good.replacen("extra eA==\nindex 5\n", "index 5\nextra eA==\n", 1),
        3,
    );
    // No blank line, no checkpoint.
    assert!(TlogProof::parse(good.split_once("\n\n").unwrap().0).is_err());
    bad_line(&format!("{}\n\n", good.split_once("\n\n").unwrap().0), 8);
    // Too many hashes: 63 are read, 64 are not.
    let note = checkpoint(8).sign(&signer()).unwrap();
    let with = |n: usize| {
        let lines: String = hashes(n).iter().map(|h| base64::encode(h) + "\n").collect();
        format!("c2sp.org/tlog-proof@v1\nindex 0\n{lines}\n{note}")
    };
    assert_eq!(
        TlogProof::parse(&with(MAX_HASHES)).unwrap().hashes().len(),
        63
    );
    bad_line(&with(MAX_HASHES + 1), 3 + MAX_HASHES);
    assert!(TlogProof::new(None, 0, hashes(64), note.clone()).is_err());
    assert!(TlogProof::new(Some(Vec::new()), 0, hashes(1), note.clone()).is_err());
    // Too large.
    let huge = format!("{good}{}", "a".repeat(MAX_FILE_LEN));
    assert_eq!(TlogProof::parse(&huge), Err(TlogProofError::TooLarge));
    let big_extra = format!(
        "c2sp.org/tlog-proof@v1\nextra {}\nindex 0\n\n{note}",
        base64::encode(&vec![0; (1 << 16) + 3])
    );
    bad_line(&big_extra, 2);
}

#[test]
fn junk_around_the_checkpoint_is_refused_when_opened() {
    let v = signer().verifier();
    let good = proof(5, 8, None).to_text();
    for bad in [
        format!("{good}\n"),
        format!("{good}junk"),
        format!("{good}junk\n"),
        good.replacen("\n\n", "\n\n\n", 1),
        good.trim_end_matches('\n').to_owned(),
    ] {
        let refused = TlogProof::parse(&bad).map(|p| p.open_checkpoint(&v));
        assert!(!matches!(refused, Ok(Ok(_))), "{bad:?}");
    }
}

proptest! {
    /// Any proof built reads back the same; parsing mutated proof text never panics, and
    /// whatever still parses prints back to exactly the text it was read from.
    #[test]
    fn round_trip_and_no_panic(
        size in 1u64..5000,
        at in any::<prop::sample::Index>(),
        extra in proptest::option::of(proptest::collection::vec(any::<u8>(), 1..40)),
        cut in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let index = at.index(size as usize) as u64;
        let p = proof(index, size, extra);
        let text = p.to_text();
        prop_assert_eq!(&TlogProof::parse(&text).unwrap(), &p);
        let mut bytes = text.into_bytes();
        let i = cut.index(bytes.len());
        bytes[i] = byte;
        if let Ok(mutated) = String::from_utf8(bytes)
            && let Ok(q) = TlogProof::parse(&mutated)
        {
            prop_assert_eq!(q.to_text(), mutated);
        }
    }
}
