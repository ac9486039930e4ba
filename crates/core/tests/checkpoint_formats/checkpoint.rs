//! C2SP checkpoints: the exact body, origin rules, and strict reading of the signed text only.

use trailseal_core::anchor::Anchor;
use trailseal_core::base64;
use trailseal_core::checkpoint::{
    Checkpoint, CheckpointError, MAX_SIZE, check_origin, tree_origin,
};
use trailseal_core::note::{NoteError, NoteSigner};

/// `text` (canonical base64 ending in one `=`) with a bit set under the padding: the same
/// bytes, not canonical.
pub(crate) fn stray_bit(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut r = text.as_bytes().to_vec();
    let at = r.len() - 2;
    let idx = ALPHABET.iter().position(|c| *c == r[at]).unwrap();
    r[at] = ALPHABET[idx ^ 1];
    String::from_utf8(r).unwrap()
}

pub(crate) fn signer() -> NoteSigner {
    NoteSigner::from_seed("audit.example/log", &[5u8; 32]).unwrap()
}

pub(crate) fn checkpoint(size: u64) -> Checkpoint {
    Checkpoint::new("audit.example/log/tree", size, [0xAB; 32]).unwrap()
}

#[test]
fn the_body_is_exactly_three_lines() {
    let cp = checkpoint(1_000);
    assert_eq!(
        cp.body(),
        format!(
            "audit.example/log/tree\n1000\n{}\n",
            base64::encode(&[0xAB; 32])
        )
    );
    let note = cp.sign(&signer()).unwrap();
    assert!(note.starts_with(&format!("{}\n\u{2014} audit.example/log ", cp.body())));
    assert_eq!(Checkpoint::open(&note, &signer().verifier()).unwrap(), cp);
    for size in [0, 1, 255, 256, MAX_SIZE] {
        let cp = checkpoint(size);
        let note = cp.sign(&signer()).unwrap();
        assert_eq!(Checkpoint::open(&note, &signer().verifier()).unwrap(), cp);
    }
}

#[test]
fn an_altered_or_foreign_checkpoint_is_refused() {
    let note = checkpoint(1_000).sign(&signer()).unwrap();
    let v = signer().verifier();
    for altered in [
        note.replace("\n1000\n", "\n1001\n"),
        note.replace("audit.example/log/tree\n", "audit.example/log/treE\n"),
        note.replacen("q6ur", "q6uq", 1),
    ] {
        assert!(
            matches!(
                Checkpoint::open(&altered, &v),
                Err(CheckpointError::Note(NoteError::BadSignature { .. }))
            ),
            "{altered}"
        );
    }
    let other = NoteSigner::from_seed("audit.example/log", &[6u8; 32]).unwrap();
    assert!(matches!(
        Checkpoint::open(&note, &other.verifier()),
        Err(CheckpointError::Note(NoteError::NotSignedBy { .. }))
    ));
    // Text before the signed body, or after the signatures: not the signed text.
    let forged = format!(
        "audit.example/log/tree\n9999\n{}\n\n{note}",
        base64::encode(&[0; 32])
    );
    assert!(Checkpoint::open(&forged, &v).is_err());
    assert!(Checkpoint::open(&format!("{note}\n"), &v).is_err());
    assert!(Checkpoint::open(&format!("{note}junk\n"), &v).is_err());
    // Another key's signature beside ours is allowed, and changes nothing.
    let theirs = NoteSigner::from_seed("someone", &[8u8; 32]).unwrap();
    let line = theirs.sign(&checkpoint(1_000).body()).unwrap();
    let line = line.rsplit_once("\n\n").unwrap().1;
    assert_eq!(
        Checkpoint::open(&format!("{note}{line}"), &v).unwrap(),
        checkpoint(1_000)
    );
}

/// Bodies that carry a valid signature but are not canonical checkpoints: refused after the
/// signature verified, at the line at fault.
#[test]
fn signed_but_malformed_bodies_are_refused() {
    let s = signer();
    let root = base64::encode(&[0xAB; 32]);
    let stray = {
        // The same 32 bytes with a stray bit under the padding.
        stray_bit(&root)
    };
    let cases = [
        (format!("o\n01\n{root}\n"), 2),
        (format!("o\n+1\n{root}\n"), 2),
        (format!("o\n-1\n{root}\n"), 2),
        (format!("o\n 1\n{root}\n"), 2),
        (format!("o\n1 \n{root}\n"), 2),
        (format!("o\n\u{0661}\n{root}\n"), 2),
        (format!("o\n18446744073709551616\n{root}\n"), 2),
        (format!("o\n1\n{stray}\n"), 3),
        (format!("o\n1\n{}\n", base64::encode(&[1; 31])), 3),
        (format!("o\n1\n{}\n", base64::encode(&[1; 33])), 3),
        (format!("o\n1\n{}\n", root.trim_end_matches('=')), 3),
        (format!("o\n1\n{root} \n"), 3),
        ("o\n1\n".to_owned(), 3),
        ("o\n".to_owned(), 2),
    ];
    for (body, line) in cases {
        let note = s.sign(&body).unwrap();
        match Checkpoint::open(&note, &s.verifier()) {
            Err(CheckpointError::Body { line: l, .. }) => assert_eq!(l, line, "{body:?}"),
            other => panic!("{body:?}: {other:?}"),
        }
    }
    // 2^63 is a number but too large for Go's tlog and for witnesses.
    let note = s
        .sign(&format!("o\n9223372036854775808\n{root}\n"))
        .unwrap();
    assert!(matches!(
        Checkpoint::open(&note, &s.verifier()),
        Err(CheckpointError::Size { .. })
    ));
    for origin in ["o o", "o+o", "\u{00a0}o", "o\u{2028}"] {
        let note = s.sign(&format!("{origin}\n1\n{root}\n")).unwrap();
        assert!(
            matches!(
                Checkpoint::open(&note, &s.verifier()),
                Err(CheckpointError::Origin(_))
            ),
            "{origin:?}"
        );
    }
}

#[test]
fn extension_lines_are_refused_unless_asked_for() {
    let s = signer();
    let body = format!("{}ext one\nanother\n", checkpoint(3).body());
    let note = s.sign(&body).unwrap();
    assert!(matches!(
        Checkpoint::open(&note, &s.verifier()),
        Err(CheckpointError::Body { line: 4, .. })
    ));
    let (cp, ext) = Checkpoint::open_with_extensions(&note, &s.verifier()).unwrap();
    assert_eq!(cp, checkpoint(3));
    assert_eq!(ext, ["ext one", "another"]);
}

#[test]
fn anchors_and_checkpoints_are_not_confused() {
    use trailseal_core::chain::{Hash32, KeyId};
    use trailseal_core::time::{Offset, Timestamp};
    let s = signer();
    let anchor = Anchor {
        origin: "audit.example/log".into(),
        size: 3,
        head_hash: Hash32::from_bytes(&[0xAB; 32]),
        time: Timestamp::parse("2026-11-27T10:00:00Z", Offset::Required).unwrap(),
        key_id: KeyId::parse(b"0123456789abcdef").unwrap(),
        retention: None,
        tree: None,
    };
    let anchor_note = anchor.sign(&s).unwrap();
    assert!(Checkpoint::open(&anchor_note, &s.verifier()).is_err());
    let cp_note = checkpoint(3).sign(&s).unwrap();
    assert!(Anchor::open(&cp_note, &s.verifier()).is_err());
}

#[test]
fn origin_rules() {
    assert_eq!(
        tree_origin("trailseal.local/audit.db").unwrap(),
        "trailseal.local/audit.db/tree"
    );
    assert_ne!(tree_origin("a").unwrap(), "a");
    for bad in ["", "a b", "a\nb", "a\tb", "a+b", "a\u{7f}", "a\u{3000}b"] {
        assert!(check_origin(bad).is_err(), "{bad:?}");
        assert!(Checkpoint::new(bad, 1, [0; 32]).is_err(), "{bad:?}");
    }
    assert!(tree_origin("my store.db").is_err());
    assert!(check_origin(&"a".repeat(1024)).is_ok());
    assert!(check_origin(&"a".repeat(1025)).is_err());
    assert!(check_origin("例え.jp/log").is_ok());
    assert!(matches!(
        Checkpoint::new("o", MAX_SIZE + 1, [0; 32]),
        Err(CheckpointError::Size { .. })
    ));
    let e = check_origin("a b").unwrap_err().to_string();
    assert!(e.starts_with("origin: "), "{e}");
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Near misses of each checkpoint line.
    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("audit.example/log/tree".to_owned()),
            "[a-z./+ 0-9\u{a0}]{0,12}",
            (0u64..=u64::MAX).prop_map(|n| n.to_string()),
            "[-+0 ]?[0-9]{1,20}[ ]?",
            any::<[u8; 32]>().prop_map(|r| base64::encode(&r)),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(|r| base64::encode(&r)),
            "[A-Za-z0-9+/=]{40,46}",
        ]
    }

    proptest! {
        /// Behind a valid signature, whatever opens is canonical: its body is exactly the
        /// signed text, so signing it again gives the same note; and it states what Go's
        /// reading of the three lines would.
        #[test]
        fn what_opens_is_exactly_the_signed_text(
            origin in prop_oneof![Just("audit.example/log/tree".to_owned()), line()],
            size in prop_oneof![
                (0u64..=u64::MAX).prop_map(|n| n.to_string()),
                "0[0-9]{1,3}|[+-][0-9]{1,3}| [0-9]|[0-9] |[0-9]{19,21}",
                line(),
            ],
            root in prop_oneof![any::<[u8; 32]>().prop_map(|r| base64::encode(&r)), line()],
            extra in proptest::collection::vec(line(), 0..2),
            keep in prop_oneof![Just(3usize), 0usize..6],
        ) {
            let mut lines = vec![origin, size, root];
            lines.extend(extra);
            lines.truncate(keep.max(1));
            let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let Ok(note) = signer().sign(&body) else { return Ok(()) };
            if let Ok(cp) = Checkpoint::open(&note, &signer().verifier()) {
                prop_assert_eq!(cp.body(), body);
                prop_assert_eq!(cp.sign(&signer()).unwrap(), note);
                prop_assert_eq!(lines.len(), 3);
                prop_assert!(cp.size() <= MAX_SIZE);
                prop_assert_eq!(cp.size().to_string(), lines[1].clone());
            }
        }

        /// Arbitrary text never panics the checkpoint, cosignature or vkey readers.
        #[test]
        fn arbitrary_text_never_panics(text in "[a-z0-9+/=\n \u{2014}]{0,200}") {
            let _ = Checkpoint::open(&text, &signer().verifier());
            let _ = trailseal_core::cosignature::WitnessKey::parse_vkey(&text);
            let _ = trailseal_core::cosignature::verify_cosignatures(&text, &[]);
            let _ = trailseal_core::tlog_proof::TlogProof::parse(&text);
        }
    }
}
