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
