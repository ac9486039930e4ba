use super::*;

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s, Offset::Required).unwrap()
}

const ORIGIN: &str = "seal.example/log";
const POLICY: EpochPolicy = EpochPolicy {
    max_records: 10,
    max_seconds: 60,
};

fn signer(epoch: u64) -> NoteSigner {
    NoteSigner::from_seed(&epoch_key_name(ORIGIN, epoch), &[epoch as u8 + 1; 32]).unwrap()
}

fn cert(epoch: u64, starts: &str, start_size: u64) -> EpochCert {
    EpochCert {
        origin: ORIGIN.into(),
        epoch,
        key: signer(epoch).verifier(),
        starts: t(starts),
        start_size,
        policy: POLICY,
    }
}

fn seal(epoch: u64, size: u64, closed: &str) -> Seal {
    Seal {
        checkpoint: Checkpoint::new(ORIGIN, size, [epoch as u8; 32]).unwrap(),
        epoch,
        head: size
            .checked_sub(1)
            .map(|seq| (seq, Hash32::from_bytes(&[size as u8; 32]))),
        closed: t(closed),
    }
}

/// Epochs 0..n sealed (epoch e closes at minute e+1 with 5(e+1) leaves), epoch n open.
/// [`walk`] over notes held in lists.
fn walk_lists(
    root: &NoteVerifier,
    certs: &[(u64, String)],
    seals: &[(u64, String)],
    now: Option<Timestamp>,
    grace: i64,
) -> Result<Walked, SealProblem> {
    let highest = certs
        .iter()
        .chain(seals)
        .map(|(e, _)| *e)
        .max()
        .unwrap_or(0);
    let mut fetch = |kind: NoteKind, e: u64| {
        let list = match kind {
            NoteKind::Certificate => certs,
            NoteKind::Seal => seals,
        };
        list.iter().find(|(n, _)| *n == e).map(|(_, t)| t.clone())
    };
    walk(root, &mut fetch, highest, now, grace)
}

/// Notes by epoch.
type Notes = Vec<(u64, String)>;

fn chain(n: u64) -> (Notes, Notes) {
    let minute = |m: u64| format!("2026-01-01T00:{m:02}:00Z");
    let mut certs = vec![(0, cert(0, &minute(0), 0).sign(&signer(0)).unwrap())];
    let mut seals = Vec::new();
    for e in 0..n {
        let s = seal(e, 5 * (e + 1), &minute(e + 1));
        seals.push((e, s.sign(&signer(e)).unwrap()));
        let c = cert(e + 1, &minute(e + 1), 5 * (e + 1));
        certs.push((e + 1, c.sign(&signer(e)).unwrap()));
    }
    (certs, seals)
}

#[test]
fn a_chain_of_epochs_walks_from_the_root() {
    let (certs, seals) = chain(3);
    let w = walk_lists(&signer(0).verifier(), &certs, &seals, None, 0).unwrap();
    assert_eq!(w.seals.len(), 3);
    assert_eq!(w.open_epoch, 3);
    assert_eq!(w.open_since, t("2026-01-01T00:03:00Z"));
    assert_eq!(w.seals[2].seal.checkpoint.size(), 15);
    assert_eq!(w.seals[1].seal.head.map(|h| h.0), Some(9));
    // Bodies round-trip exactly.
    let s = seal(2, 15, "2026-01-01T00:03:00Z");
    assert_eq!(
        Seal::open(&s.sign(&signer(2)).unwrap(), &signer(2).verifier()).unwrap(),
        s
    );
    let c = cert(3, "2026-01-01T00:03:00Z", 15);
    assert_eq!(
        EpochCert::open(&c.sign(&signer(2)).unwrap(), &signer(2).verifier()).unwrap(),
        c
    );
}

#[test]
fn the_open_epoch_is_overdue_after_its_length_and_the_grace() {
    let (certs, seals) = chain(2);
    let root = signer(0).verifier();
    // Open since minute 2, 60 s long, 30 s of grace: due at minute 3, overdue after 3:30.
    assert!(
        walk_lists(
            &root,
            &certs,
            &seals,
            Some(t("2026-01-01T00:03:30Z")),
            30_000_000
        )
        .is_ok()
    );
    let late = walk_lists(
        &root,
        &certs,
        &seals,
        Some(t("2026-01-01T00:03:31Z")),
        30_000_000,
    );
    assert!(
        matches!(late, Err(SealProblem::Overdue { epoch: 2, .. })),
        "{late:?}"
    );
    // The newest seal and certificate removed: epoch 1 is then open since minute 1, overdue.
    let r = walk_lists(
        &root,
        &certs[..2],
        &seals[..1],
        Some(t("2026-01-01T00:03:00Z")),
        30_000_000,
    );
    assert!(
        matches!(r, Err(SealProblem::Overdue { epoch: 1, .. })),
        "{r:?}"
    );
}

#[test]
fn a_key_taken_at_epoch_t_forges_nothing_before_it() {
    // The thief holds epoch 2's key (the state at epoch 2) and tries every forgery.
    let (certs, seals) = chain(3);
    let root = signer(0).verifier();
    let thief = signer(2);
    // A seal of epoch 1 (another root) signed with epoch 2's key.
    let mut forged = seals.clone();
    forged[1].1 = {
        let mut s = seal(1, 10, "2026-01-01T00:02:00Z");
        s.checkpoint = Checkpoint::new(ORIGIN, 10, [99; 32]).unwrap();
        s.sign(&thief).unwrap()
    };
    let r = walk_lists(&root, &certs, &forged, None, 0);
    assert!(
        matches!(r, Err(SealProblem::Broken { epoch: 1, .. })),
        "{r:?}"
    );
    // A certificate of epoch 1 for a key of the thief's, signed with epoch 2's key.
    let mut forged = certs.clone();
    let mut c = cert(1, "2026-01-01T00:01:00Z", 5);
    c.key = thief.verifier();
    forged[1].1 = c.sign(&thief).unwrap();
    let r = walk_lists(&root, &forged, &seals, None, 0);
    assert!(
        matches!(r, Err(SealProblem::Broken { epoch: 1, .. })),
        "{r:?}"
    );
    // A new chain from epoch 0 (the root's key is long erased: signed with the thief's).
    let mut forged = certs.clone();
    forged[0].1 = cert(0, "2026-01-01T00:00:00Z", 0).sign(&thief).unwrap();
    let r = walk_lists(&root, &forged, &seals, None, 0);
    assert!(
        matches!(r, Err(SealProblem::Broken { epoch: 0, .. })),
        "{r:?}"
    );
    // A seal removed from the middle.
    let mut gap = seals.clone();
    gap.remove(1);
    let r = walk_lists(&root, &certs, &gap, None, 0);
    assert!(
        matches!(r, Err(SealProblem::Broken { epoch: 1, .. })),
        "{r:?}"
    );
    // Epoch 2's own seal re-signed with other contents is the thief's right: it verifies.
    let mut ours = seals.clone();
    ours[2].1 = seal(2, 15, "2026-01-01T00:03:00Z").sign(&thief).unwrap();
    assert!(walk_lists(&root, &certs, &ours, None, 0).is_ok());
}

#[test]
fn a_crash_between_the_seal_and_the_next_certificate_leaves_the_next_epoch_open() {
    let (mut certs, seals) = chain(2);
    certs.pop();
    let w = walk_lists(&signer(0).verifier(), &certs, &seals, None, 0).unwrap();
    assert_eq!((w.open_epoch, w.seals.len()), (2, 2));
}

#[test]
fn bodies_with_other_text_are_refused() {
    let s = seal(0, 5, "2026-01-01T00:01:00Z");
    let k = signer(0);
    for bad in [
        s.body().replace(
            "closed 2026-01-01T00:01:00Z",
            "closed 2026-01-01T00:01:00.000Z",
        ),
        s.body().replace("epoch 0", "epoch 00"),
        s.body() + "extra\n",
        s.body().replace(SEAL_TAG, "trailseal-seal 2"),
    ] {
        let note = k.sign(&bad).unwrap();
        assert!(Seal::open(&note, &k.verifier()).is_err(), "{bad}");
    }
    let c = cert(0, "2026-01-01T00:00:00Z", 0);
    for bad in [
        c.body() + "extra 1\n",
        c.body().replace("max-records 10", "max-records 0"),
        c.body().replace("/epoch/0", "/epoch/1"),
    ] {
        let note = k.sign(&bad).unwrap();
        assert!(EpochCert::open(&note, &k.verifier()).is_err(), "{bad}");
    }
}
