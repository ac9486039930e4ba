use super::*;

fn key() -> ChainKey {
    ChainKey::from_secret(b"retention-test").unwrap()
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s, Offset::Required).unwrap()
}

fn log() -> Vec<Receipt> {
    let k = key();
    let policy = Receipt::seal(
        &k,
        0,
        t("2026-01-01T00:00:00Z"),
        ReceiptBody::Policy {
            start: genesis_start(),
            min_retention_micros: Some(183 * 86_400 * 1_000_000),
        },
        Hash32::GENESIS,
    );
    let prune = Receipt::seal(
        &k,
        1,
        t("2026-09-01T00:00:00Z"),
        ReceiptBody::Prune {
            from: genesis_start(),
            last_pruned_seq: 9,
            last_pruned_hash: Hash32::from_bytes(&[7; 32]),
            count: 10,
            cutoff: Cutoff::OlderThan {
                micros: 200 * 86_400 * 1_000_000,
                before: t("2026-02-13T00:00:00Z"),
            },
        },
        policy.mac,
    );
    vec![policy, prune]
}

#[test]
fn round_trips_and_checks() {
    let receipts = log();
    let stored: Vec<String> = receipts.iter().map(Receipt::to_json).collect();
    for (i, text) in stored.iter().enumerate() {
        assert_eq!(Receipt::parse(text.as_bytes(), i).unwrap(), receipts[i]);
        // The stored form is canonical.
        assert_eq!(json::canonicalize(text.as_bytes()).unwrap(), *text);
    }
    let checked = RetentionLog::check(&key(), &stored).unwrap();
    assert_eq!(checked.start().unwrap().next_seq, 10);
    assert_eq!(checked.start().unwrap().kind, StartKind::Checkpoint);
    assert_eq!(
        checked.min_retention_micros(),
        Some(183 * 86_400 * 1_000_000)
    );
}

#[test]
fn detects_edits_deletions_reorders_and_replays() {
    let stored: Vec<String> = log().iter().map(Receipt::to_json).collect();
    let edited = vec![
        stored[0].clone(),
        stored[1]
            .replace("\"count\":10", "\"count\":11")
            .replace("\"last_pruned_seq\":9", "\"last_pruned_seq\":10"),
    ];
    assert!(
        RetentionLog::check(&key(), &edited)
            .unwrap_err()
            .detail
            .contains("MAC does not match")
    );
    let deleted = vec![stored[1].clone()];
    assert!(
        RetentionLog::check(&key(), &deleted)
            .unwrap_err()
            .detail
            .contains("says it is receipt 1")
    );
    let reordered = vec![stored[1].clone(), stored[0].clone()];
    assert_eq!(
        RetentionLog::check(&key(), &reordered)
            .unwrap_err()
            .position,
        0
    );
    let replayed = vec![stored[0].clone(), stored[1].clone(), stored[0].clone()];
    assert_eq!(
        RetentionLog::check(&key(), &replayed).unwrap_err().position,
        2
    );
    let other = ChainKey::from_secret(b"other").unwrap();
    assert!(
        RetentionLog::check(&other, &stored)
            .unwrap_err()
            .detail
            .contains("key id")
    );
    let extra = vec![stored[0].replace("\"v\":1", "\"v\":1,\"z\":1")];
    assert!(
        RetentionLog::check(&key(), &extra)
            .unwrap_err()
            .detail
            .contains("members")
    );
}

#[test]
fn a_prune_of_every_seq_is_refused_without_overflow() {
    // Seqs 0 to u64::MAX are 2^64 records: no count says so; the check must not overflow.
    let receipt = Receipt::seal(
        &key(),
        0,
        t("2026-09-01T00:00:00Z"),
        ReceiptBody::Prune {
            from: genesis_start(),
            last_pruned_seq: u64::MAX,
            last_pruned_hash: Hash32::from_bytes(&[7; 32]),
            count: 0,
            cutoff: Cutoff::KeepLast(0),
        },
        Hash32::GENESIS,
    );
    let problem = RetentionLog::check(&key(), &[receipt.to_json()]).unwrap_err();
    assert!(
        problem.detail.contains("count 0 does not match"),
        "{problem:?}"
    );
}

#[test]
fn a_repeated_member_is_refused() {
    // The canonical form the MAC covers keeps only the last of repeated members: the
    // first would be stored text no MAC covers.
    let stored = log()[0].to_json();
    let repeated = stored.replacen("{", "{\"index\":7,", 1);
    let e = Receipt::parse(repeated.as_bytes(), 0).unwrap_err();
    assert!(e.problem.contains("appears twice"), "{e:?}");
    assert!(Receipt::parse(stored.as_bytes(), 0).is_ok());
}

fn new_key() -> ChainKey {
    ChainKey::from_secret(b"rotation-new-secret").unwrap()
}

/// The log of `log()` (under `key()`), then a segment rotation from `key()` to `new_key()`
/// at seq 10 and a policy under the new key.
fn rotated_log() -> Vec<Receipt> {
    let mut receipts = log();
    let from = receipts[1].start_after();
    let rotate = Receipt::seal_rotate(
        &key(),
        &new_key(),
        2,
        t("2026-10-01T00:00:00Z"),
        from.clone(),
        Some((9, Hash32::from_bytes(&[7; 32]))),
        Some(5),
        receipts[1].mac,
    );
    let policy = Receipt::seal(
        &new_key(),
        3,
        t("2026-10-02T00:00:00Z"),
        ReceiptBody::Policy {
            start: from,
            min_retention_micros: Some(6),
        },
        rotate.mac,
    );
    receipts.push(rotate);
    receipts.push(policy);
    receipts
}

fn texts(receipts: &[Receipt]) -> Vec<String> {
    receipts.iter().map(Receipt::to_json).collect()
}

fn ring(keys: &[ChainKey]) -> Keyring {
    Keyring::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| (format!("k{i}"), k.clone()))
            .collect(),
    )
    .unwrap()
}

#[test]
fn a_rotate_receipt_round_trips_and_is_macd_by_both_keys() {
    let receipts = rotated_log();
    let rotate = &receipts[2];
    let text = rotate.to_json();
    assert_eq!(Receipt::parse(text.as_bytes(), 2).unwrap(), *rotate);
    assert!(rotate.mac_holds(&key()));
    assert_eq!(rotate.new_mac_holds(&new_key()), Some(true));
    assert_eq!(rotate.new_mac_holds(&key()), Some(false));
    assert_eq!(receipts[0].new_mac_holds(&key()), None);
    assert_eq!(rotate.kind(), "rotate");
    for member in [
        "first_seq",
        "from",
        "head",
        "new_key_id",
        "new_mac",
        "min_retention_micros",
    ] {
        assert!(text.contains(&format!("\"{member}\":")), "{member}: {text}");
    }
    // The old key's MAC covers new_mac; the new key's MAC covers everything else.
    let ReceiptBody::Rotate { new_mac, .. } = &rotate.body else {
        panic!()
    };
    let swapped = text.replace(new_mac.as_str(), &"0".repeat(64));
    let swapped = Receipt::parse(swapped.as_bytes(), 2).unwrap();
    assert!(!swapped.mac_holds(&key()));
    assert_eq!(swapped.new_mac_holds(&new_key()), Some(false));
    let moved = text.replace("\"first_seq\":10", "\"first_seq\":11");
    let moved = Receipt::parse(moved.as_bytes(), 2).unwrap();
    assert_eq!(moved.new_mac_holds(&new_key()), Some(false));
    assert!(!moved.mac_holds(&key()));
}

#[test]
fn a_rotated_log_checks_each_receipt_with_its_key() {
    let stored = texts(&rotated_log());
    // Both keys: everything checked.
    let both = RetentionLog::check_ring(&ring(&[key(), new_key()]), &stored).unwrap();
    assert!(both.not_checked.is_empty());
    assert_eq!(both.last_rotation(), Some((10, new_key().key_id())));
    assert_eq!(both.current_key_id(), Some(new_key().key_id()));
    assert_eq!(both.min_retention_micros(), Some(6));
    // The new key only: the receipts before the rotation are not checked; the rotation is,
    // by its new_mac.
    let new_only = RetentionLog::check_ring(&ring(&[new_key()]), &stored).unwrap();
    assert_eq!(new_only.not_checked, [0, 1]);
    // The old key only: the receipt after the rotation is not checked.
    let old_only = RetentionLog::check_ring(&ring(&[key()]), &stored).unwrap();
    assert_eq!(old_only.not_checked, [3]);
    // Neither: a wrong secret.
    let other = ChainKey::from_secret(b"another secret").unwrap();
    let err = RetentionLog::check_ring(&ring(&[other]), &stored).unwrap_err();
    assert!(err.detail.contains("not this secret's"), "{err}");
}

#[test]
fn a_key_change_no_rotation_names_and_a_rotation_by_one_key_are_refused() {
    let mut receipts = log();
    // A receipt under another key, without a rotation.
    let stray = Receipt::seal(
        &new_key(),
        2,
        t("2026-10-02T00:00:00Z"),
        ReceiptBody::Policy {
            start: receipts[1].start_after(),
            min_retention_micros: None,
        },
        receipts[1].mac,
    );
    receipts.push(stray);
    let err = RetentionLog::check_ring(&ring(&[key(), new_key()]), &texts(&receipts)).unwrap_err();
    assert_eq!(err.position, 2);
    assert!(err.detail.contains("no rotate receipt names"), "{err}");

    // A rotation whose new_mac is not the new key's (a writer that held only the old key).
    let mut receipts = rotated_log();
    receipts.truncate(3);
    let impostor = ChainKey::from_secret(b"not the new key").unwrap();
    let mut forged = Receipt::seal_rotate(
        &key(),
        &impostor,
        2,
        t("2026-10-01T00:00:00Z"),
        receipts[1].start_after(),
        Some((9, Hash32::from_bytes(&[7; 32]))),
        None,
        receipts[1].mac,
    );
    if let ReceiptBody::Rotate { new_key_id, .. } = &mut forged.body {
        *new_key_id = new_key().key_id();
    }
    forged.mac = key().mac_parts(&[DOMAIN, &forged.body_json()]);
    receipts[2] = forged;
    let err = RetentionLog::check_ring(&ring(&[key(), new_key()]), &texts(&receipts)).unwrap_err();
    assert!(err.detail.contains("new_mac does not match"), "{err}");
    // Holding only the old key, the forged rotation's MAC holds: what comes after it is the
    // new key's, which the verdict then says it cannot check.
    assert!(RetentionLog::check_ring(&ring(&[key()]), &texts(&receipts)).is_ok());

    // A rotation whose first_seq does not follow its head, or to the same key.
    let receipts = rotated_log();
    let text = receipts[2]
        .to_json()
        .replace("\"first_seq\":10", "\"first_seq\":12");
    let mut stored = texts(&receipts[..2]);
    stored.push(text);
    let err = RetentionLog::check_ring(&ring(&[key()]), &stored).unwrap_err();
    assert!(err.detail.contains("MAC does not match"), "{err}");
    let same = Receipt::seal_rotate(
        &key(),
        &key(),
        2,
        t("2026-10-01T00:00:00Z"),
        receipts[1].start_after(),
        Some((9, Hash32::from_bytes(&[7; 32]))),
        None,
        receipts[1].mac,
    );
    let mut stored = texts(&receipts[..2]);
    stored.push(same.to_json());
    let err = RetentionLog::check_ring(&ring(&[key()]), &stored).unwrap_err();
    assert!(err.detail.contains("to itself"), "{err}");
}
