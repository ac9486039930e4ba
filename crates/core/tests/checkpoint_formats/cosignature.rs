//! Witness cosignatures: key ids, vkeys, the signed message, and quorum counting.

use sha2::{Digest, Sha256};
use trailseal_core::base64;
use trailseal_core::cosignature::{
    CosignatureError, Cosigned, WitnessKey, WitnessSigner, open_cosigned, verify_cosignatures,
};
use trailseal_core::note::NoteSigner;

use super::checkpoint::{checkpoint, signer};

pub(crate) fn witness(name: &str, seed: u8) -> WitnessSigner {
    WitnessSigner::from_seed(name, &[seed; 32]).unwrap()
}

fn names(found: &[Cosigned]) -> Vec<&str> {
    found.iter().map(|c| c.name.as_str()).collect()
}

/// A checkpoint note signed by the log and cosigned by `witnesses` at `time`.
fn cosigned(size: u64, witnesses: &[&WitnessSigner], time: u64) -> String {
    let cp = checkpoint(size);
    let mut note = cp.sign(&signer()).unwrap();
    for w in witnesses {
        note.push_str(&w.cosign(&cp.body(), time).unwrap());
    }
    note
}

#[test]
fn key_ids_and_vkeys_follow_the_spec() {
    let w = witness("witness.example/w1", 1);
    let key = w.witness_key();
    let public = key.public_key();
    let mut h = Sha256::new();
    h.update(b"witness.example/w1\n\x04");
    h.update(public);
    let id = u32::from_be_bytes(h.finalize()[..4].try_into().unwrap());
    assert_eq!(key.key_id(), id);
    let vkey = key.to_vkey();
    assert_eq!(
        vkey,
        format!(
            "witness.example/w1+{id:08x}+{}",
            base64::encode(&[&[4u8][..], &public].concat())
        )
    );
    assert_eq!(&WitnessKey::parse_vkey(&vkey).unwrap(), key);
    // Debug shows the public key only, never the seed.
    let shown = format!("{w:?}");
    assert!(shown.contains(&vkey), "{shown}");
    assert!(
        !shown.contains(&base64::encode(&[1u8; 32])[..20]),
        "{shown}"
    );
    // The log's own key type (0x01) is not a cosignature key; nor is a wrong id, an
    // uppercase id, a short key or a missing field.
    let note_key = NoteSigner::from_seed("witness.example/w1", &[1; 32])
        .unwrap()
        .verifier()
        .to_key_string();
    let (head, data) = vkey.rsplit_once('+').unwrap();
    let (name, hex) = head.split_once('+').unwrap();
    for bad in [
        note_key,
        format!("{name}+{:08x}+{data}", id ^ 1),
        format!("{name}+{}+{data}", hex.to_uppercase()),
        format!("{name}+0{hex}+{data}"),
        format!(
            "{name}+{hex}+{}",
            base64::encode(&[&[4u8][..], &public[..31]].concat())
        ),
        format!("{name}+{hex}"),
        format!("{name}+{hex}+{data}x"),
        format!("bad name+{hex}+{data}"),
        String::new(),
    ] {
        if bad != vkey {
            assert!(WitnessKey::parse_vkey(&bad).is_err(), "{bad}");
        }
    }
}

#[test]
fn distinct_valid_witnesses_are_counted() {
    let (a, b, c) = (
        witness("w.example/a", 1),
        witness("w.example/b", 2),
        witness("w.example/c", 3),
    );
    let keys = [
        a.witness_key().clone(),
        b.witness_key().clone(),
        c.witness_key().clone(),
    ];
    let note = cosigned(10, &[&a, &c], 1_700_000_000);
    let found = verify_cosignatures(&note, &keys).unwrap();
    assert_eq!(names(&found), ["w.example/a", "w.example/c"]);
    assert!(found.iter().all(|f| f.timestamp == 1_700_000_000));
    // The log's signature is valid for the log and counts as no cosignature.
    assert_eq!(
        verify_cosignatures(&cosigned(10, &[], 1), &keys).unwrap(),
        []
    );
    // Unknown witnesses are ignored.
    let stranger = witness("w.example/stranger", 9);
    let note = cosigned(10, &[&stranger, &b], 5);
    assert_eq!(
        names(&verify_cosignatures(&note, &keys).unwrap()),
        ["w.example/b"]
    );
    // Nobody configured: nothing counts.
    assert_eq!(verify_cosignatures(&note, &[]).unwrap(), []);
}

#[test]
fn one_witness_counts_once() {
    let a = witness("w.example/a", 1);
    let body = checkpoint(10).body();
    // The same line twice, and two cosignatures at different times.
    let line = a.cosign(&body, 100).unwrap();
    let later = a.cosign(&body, 200).unwrap();
    let note = format!(
        "{}{later}{line}{line}",
        checkpoint(10).sign(&signer()).unwrap()
    );
    let found = verify_cosignatures(&note, &[a.witness_key().clone()]).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].timestamp, 200);
    // One key configured twice under the same name, or under two names: one witness. The
    // Ed25519 message does not commit to the name, so the line relabelled with the second
    // name and its key id verifies too — and must still count once.
    let seed = [1u8; 32];
    let alias = WitnessSigner::from_seed("w.example/alias", &seed).unwrap();
    let relabelled = alias.cosign(&body, 100).unwrap();
    let keys = [
        a.witness_key().clone(),
        alias.witness_key().clone(),
        a.witness_key().clone(),
    ];
    let note = format!(
        "{}{line}{relabelled}",
        checkpoint(10).sign(&signer()).unwrap()
    );
    let found = verify_cosignatures(&note, &keys).unwrap();
    assert_eq!(names(&found), ["w.example/a"]);
    let only_alias = format!("{}{relabelled}", checkpoint(10).sign(&signer()).unwrap());
    assert_eq!(
        names(&verify_cosignatures(&only_alias, &keys).unwrap()),
        ["w.example/a"]
    );
}

#[test]
fn a_bad_cosignature_by_a_known_witness_is_an_error() {
    let a = witness("w.example/a", 1);
    let keys = [a.witness_key().clone()];
    let note = cosigned(10, &[&a], 1_700_000_000);
    // The body altered (the log's signature breaks too, but cosignatures are checked alone).
    let altered = note.replace("\n10\n", "\n11\n");
    assert!(matches!(
        verify_cosignatures(&altered, &keys),
        Err(CosignatureError::BadCosignature { .. })
    ));
    // A cosignature over another checkpoint, spliced in.
    let other = a.cosign(&checkpoint(11).body(), 1_700_000_000).unwrap();
    let spliced = format!("{}{other}", checkpoint(10).sign(&signer()).unwrap());
    assert!(verify_cosignatures(&spliced, &keys).is_err());
    // The timestamp changed, the payload one byte short or long, a timestamp of 2^63.
    let line = a.cosign(&checkpoint(10).body(), 1_700_000_000).unwrap();
    let (prefix, data) = line.trim_end().rsplit_once(' ').unwrap();
    let raw = base64::decode(data).unwrap();
    let with = |raw: &[u8]| {
        format!(
            "{}{prefix} {}\n",
            checkpoint(10).sign(&signer()).unwrap(),
            base64::encode(raw)
        )
    };
    let mut retimed = raw.clone();
    retimed[11] ^= 1;
    let mut huge = raw.clone();
    huge[4] = 0x80;
    for bad in [
        retimed,
        raw[..75].to_vec(),
        [&raw[..], &[0]].concat(),
        huge,
        raw[..12].to_vec(),
    ] {
        assert!(
            matches!(
                verify_cosignatures(&with(&bad), &keys),
                Err(CosignatureError::BadCosignature { .. })
            ),
            "{} bytes",
            bad.len()
        );
    }
    assert!(verify_cosignatures(&with(&raw), &keys).is_ok());
    // A plain note signature by the witness key (no cosignature/v1 header) is not one.
    let e = verify_cosignatures(&with(&[&raw[..12], &[0; 64]].concat()), &keys).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cosignature by witness w.example/a ("),
        "{e}"
    );
    assert!(a.cosign(&checkpoint(10).body(), 1 << 63).is_err());
}

/// A timestamp above 2^63 - 1 is refused even under a signature that verifies.
#[test]
fn a_validly_signed_timestamp_above_2_63_is_refused() {
    use ed25519_dalek::{Signer as _, SigningKey};
    let a = witness("w.example/a", 1);
    let body = checkpoint(10).body();
    let key = SigningKey::from_bytes(&[1; 32]);
    let line = |t: u64| {
        let sig = key.sign(format!("cosignature/v1\ntime {t}\n{body}").as_bytes());
        let raw = [
            &a.witness_key().key_id().to_be_bytes()[..],
            &t.to_be_bytes(),
            &sig.to_bytes(),
        ]
        .concat();
        format!(
            "{}\u{2014} w.example/a {}\n",
            checkpoint(10).sign(&signer()).unwrap(),
            base64::encode(&raw)
        )
    };
    let keys = [a.witness_key().clone()];
    assert_eq!(
        verify_cosignatures(&line((1 << 63) - 1), &keys)
            .unwrap()
            .len(),
        1
    );
    for t in [1 << 63, u64::MAX] {
        assert!(matches!(
            verify_cosignatures(&line(t), &keys),
            Err(CosignatureError::BadCosignature { .. })
        ));
    }
}

#[test]
fn the_signed_message_is_the_spec_s() {
    use ed25519_dalek::{Signature, VerifyingKey};
    let a = witness("w.example/a", 1);
    let body = checkpoint(10).body();
    let line = a.cosign(&body, 1_679_315_147).unwrap();
    let raw = base64::decode(line.trim_end().rsplit_once(' ').unwrap().1).unwrap();
    assert_eq!(raw.len(), 76);
    assert_eq!(&raw[..4], &a.witness_key().key_id().to_be_bytes());
    assert_eq!(&raw[4..12], &1_679_315_147u64.to_be_bytes());
    let message = format!("cosignature/v1\ntime 1679315147\n{body}");
    let key = VerifyingKey::from_bytes(&a.witness_key().public_key()).unwrap();
    let sig = Signature::from_bytes(&raw[12..].try_into().unwrap());
    assert!(key.verify_strict(message.as_bytes(), &sig).is_ok());
}

#[test]
fn open_cosigned_checks_the_log_and_the_witnesses() {
    let (a, b) = (witness("w.example/a", 1), witness("w.example/b", 2));
    let keys = [a.witness_key().clone(), b.witness_key().clone()];
    let note = cosigned(10, &[&b], 7);
    let (cp, found) = open_cosigned(&note, &signer().verifier(), &keys).unwrap();
    assert_eq!(cp, checkpoint(10));
    assert_eq!(names(&found), ["w.example/b"]);
    // Another log key: refused before any cosignature counts.
    let other = NoteSigner::from_seed("audit.example/log", &[9; 32]).unwrap();
    assert!(matches!(
        open_cosigned(&note, &other.verifier(), &keys),
        Err(CosignatureError::Checkpoint(_))
    ));
}
