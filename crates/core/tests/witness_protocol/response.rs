//! Witness answers classified by status and body.

use proptest::prelude::*;
use trailseal_core::witness::{MAX_RESPONSE_LEN, Outcome, ResponseError, classify_response};

use super::common::{Tree, body, witness, wkey};

const SIZE_TYPE: Option<&str> = Some("text/x.tlog.size");

#[test]
fn a_200_holds_only_valid_cosignatures_by_the_witness() {
    let mut tree = Tree::new("leaf");
    let note = tree.note(5);
    let w = witness(1);
    let line = w.cosign(body(&note), 1_700_000_000).unwrap();
    let out = classify_response(200, None, line.as_bytes(), &note, &wkey(1)).unwrap();
    let Outcome::Cosigned { lines, cosigned } = out else {
        panic!("{out:?}")
    };
    assert_eq!(lines, line);
    assert_eq!(cosigned.timestamp, 1_700_000_000);
    assert_eq!(cosigned.key_id, wkey(1).key_id());
    // Two lines by the witness: both verified, the latest timestamp reported.
    let later = w.cosign(body(&note), 1_700_000_009).unwrap();
    let two = format!("{line}{later}");
    match classify_response(200, None, two.as_bytes(), &note, &wkey(1)).unwrap() {
        Outcome::Cosigned { cosigned, .. } => assert_eq!(cosigned.timestamp, 1_700_000_009),
        other => panic!("{other:?}"),
    }

    let other_body = tree.note(6);
    let wrong_body = w.cosign(body(&other_body), 1_700_000_000).unwrap();
    let by_other = witness(2).cosign(body(&note), 1_700_000_000).unwrap();
    let mut flipped = line.clone().into_bytes();
    let at = flipped.len() - 6;
    flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for (text, what) in [
        (String::new(), "empty"),
        (wrong_body, "another checkpoint's cosignature"),
        (by_other.clone(), "another witness's line"),
        (
            format!("{line}{by_other}"),
            "a foreign line beside a good one",
        ),
        (flipped, "an altered signature"),
        (line.trim_end().to_owned(), "no final newline"),
        (line.replace('\n', "\r\n"), "a carriage return"),
        (format!("{line}\n"), "a blank line"),
        (line.replacen('\u{2014}', "-", 1), "no em dash"),
        (format!("x{line}"), "text before the line"),
    ] {
        let r = classify_response(200, None, text.as_bytes(), &note, &wkey(1));
        assert!(r.is_err(), "{what}: {r:?}");
    }
    let r = classify_response(200, None, &[0xff, b'\n'], &note, &wkey(1));
    assert!(matches!(r, Err(ResponseError::BadLines { .. })), "{r:?}");
    let big = line.repeat(MAX_RESPONSE_LEN / line.len() + 1);
    let r = classify_response(200, None, big.as_bytes(), &note, &wkey(1));
    assert!(
        matches!(r, Err(ResponseError::TooLarge { status: 200, .. })),
        "{r:?}"
    );
}

#[test]
fn a_409_is_the_witness_size_in_strict_decimal() {
    let mut tree = Tree::new("leaf");
    let note = tree.note(5);
    for (ct, body, size) in [
        (SIZE_TYPE, "0\n", 0),
        (SIZE_TYPE, "17\n", 17),
        (Some("Text/X.Tlog.Size; charset=utf-8"), "3\n", 3),
        (SIZE_TYPE, "9223372036854775807\n", i64::MAX as u64),
    ] {
        assert_eq!(
            classify_response(409, ct, body.as_bytes(), &note, &wkey(1)).unwrap(),
            Outcome::Conflict { witness_size: size }
        );
    }
    for (ct, body) in [
        (None, "17\n"),
        (Some("text/plain"), "17\n"),
        (Some("text/x.tlog.sizes"), "17\n"),
        (SIZE_TYPE, "17"),
        (SIZE_TYPE, "017\n"),
        (SIZE_TYPE, "+17\n"),
        (SIZE_TYPE, " 17\n"),
        (SIZE_TYPE, "17\n\n"),
        (SIZE_TYPE, "17\r\n"),
        (SIZE_TYPE, "\n"),
        (SIZE_TYPE, ""),
        (SIZE_TYPE, "9223372036854775808\n"),
        (SIZE_TYPE, "18446744073709551616\n"),
    ] {
        let r = classify_response(409, ct, body.as_bytes(), &note, &wkey(1));
        assert!(
            matches!(
                r,
                Err(ResponseError::ConflictType { .. } | ResponseError::ConflictBody { .. })
            ),
            "{ct:?} {body:?}: {r:?}"
        );
    }
}

#[test]
fn other_statuses_are_typed_outcomes_with_a_printable_excerpt() {
    let mut tree = Tree::new("leaf");
    let note = tree.note(5);
    let detail = "consistency proof does not verify\n".as_bytes();
    let k = wkey(1);
    let classify = |status| classify_response(status, None, detail, &note, &k).unwrap();
    let d = "consistency proof does not verify".to_owned();
    assert_eq!(classify(422), Outcome::BadProof { detail: d.clone() });
    assert_eq!(classify(403), Outcome::Forbidden { detail: d.clone() });
    assert_eq!(classify(404), Outcome::UnknownLog { detail: d.clone() });
    assert_eq!(classify(400), Outcome::BadRequest { detail: d.clone() });
    assert_eq!(
        classify(503),
        Outcome::Other {
            status: 503,
            detail: d
        }
    );
    let hostile = b"\x1b[31mred\x1b[0m\r\nline\xff";
    match classify_response(422, None, hostile, &note, &k).unwrap() {
        Outcome::BadProof { detail } => {
            assert!(
                detail.chars().all(|c| c.is_ascii_graphic() || c == ' '),
                "{detail:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let long = vec![b'a'; 1 << 20];
    match classify_response(500, None, &long, &note, &k).unwrap() {
        Outcome::Other { detail, .. } => assert!(detail.len() <= 200),
        other => panic!("{other:?}"),
    }
}

proptest! {
    #[test]
    fn classifying_never_panics(
        status in prop_oneof![Just(200u16), Just(409u16), any::<u16>()],
        ct in proptest::option::of("[ -~]{0,30}"),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut tree = Tree::new("leaf");
        let note = tree.note(5);
        let _ = classify_response(status, ct.as_deref(), &body, &note, &wkey(1));
        let _ = classify_response(status, ct.as_deref(), &body, "not a note", &wkey(1));
    }
}
