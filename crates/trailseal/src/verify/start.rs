//! What the chain's ends must be before any record is read: the retention log checked with the
//! key (a log written with another key is a wrong secret, not tampering), and an archive's
//! prune receipt, which authenticates where the archive starts and ends.

use trailseal_core::retention::{Receipt, ReceiptBody, ResolvedStart};
use trailseal_core::start::StoredKeyId;
use trailseal_core::verify::SealedEnd;
use trailseal_core::{
    ChainKey, KeyId, Keyring, TamperKind, Tampered, Unverifiable, UnverifiableReason, Verdict,
};
use trailseal_store::StoreState;

/// A retention log that fails to verify because it was written with another key — its first
/// receipt, and the store's key id if it records one, say so: the secret is wrong. As for
/// records, `verify` tells that apart from tampering (key ids are not authenticated: altering
/// them can at most turn `tampered` into `unverifiable`).
pub(super) fn wrong_secret_of_log(ring: &Keyring, state: &StoreState) -> Option<Verdict> {
    let first = Receipt::parse(state.retention.first()?.as_bytes(), 0).ok()?;
    let theirs = match state.key_id {
        StoredKeyId::Present(id) if ring.get(id).is_some() => return None,
        StoredKeyId::Present(id) => id,
        StoredKeyId::Absent => first.key_id,
    };
    // A log that names a held key anywhere (a receipt's key, a rotation's new key) is not
    // written with another secret: its failure is damage.
    let names_a_held_key = state.retention.iter().enumerate().any(|(i, text)| {
        Receipt::parse(text.as_bytes(), i).is_ok_and(|r| {
            ring.get(r.key_id).is_some()
                || matches!(r.body, ReceiptBody::Rotate { new_key_id, .. } if ring.get(new_key_id).is_some())
        })
    });
    (!names_a_held_key).then(|| {
        Verdict::Unverifiable(Unverifiable {
            reason: UnverifiableReason::WrongSecret,
            detail: wrong_secret_detail(theirs, ring),
        })
    })
}

/// "the store was written with key id X, but this secret has key id Y" (or, for several keys,
/// names them all).
pub(crate) fn wrong_secret_detail(theirs: KeyId, ring: &Keyring) -> String {
    match ring.len() {
        1 => format!(
            "the store was written with key id {theirs}, but this secret has key id {}",
            ring.entries()
                .map(|(_, id)| id.to_string())
                .collect::<String>()
        ),
        _ => format!(
            "the store was written with key id {theirs}, which none of the keyring's keys has ({})",
            ring.describe()
        ),
    }
}

/// The verdict of a store whose archive receipt cannot be accepted.
fn archive_problem(start: u64, detail: String) -> Verdict {
    Verdict::Tampered(Tampered {
        first_bad_seq: start,
        kind: TamperKind::Checkpoint,
        records_checked: 0,
        detail,
    })
}

/// Checks an archive's prune receipt: it authenticates the archive's start and end.
pub(super) fn sealed_end(
    key: &ChainKey,
    text: &str,
    resolved: &ResolvedStart,
) -> Result<SealedEnd, Verdict> {
    let start = resolved.start.next_seq;
    let receipt = Receipt::parse(text.as_bytes(), 0).map_err(|e| {
        archive_problem(
            start,
            format!(
                "seq {start}: the archive's prune receipt cannot be read: {}",
                e.problem
            ),
        )
    })?;
    if receipt.key_id != key.key_id() {
        // Written with another key (a claim: key ids are not authenticated, so at most this
        // turns damage into `unverifiable`).
        return Err(Verdict::Unverifiable(Unverifiable {
            reason: UnverifiableReason::WrongSecret,
            detail: wrong_secret_detail(receipt.key_id, &Keyring::single(key.clone())),
        }));
    }
    if !receipt.mac_holds(key) {
        return Err(archive_problem(
            start,
            format!("seq {start}: the archive's prune receipt does not verify with this secret"),
        ));
    }
    let ReceiptBody::Prune {
        from,
        last_pruned_seq,
        last_pruned_hash,
        ..
    } = &receipt.body
    else {
        return Err(archive_problem(
            start,
            format!("seq {start}: the archive's receipt is not a prune receipt"),
        ));
    };
    let linked = receipt.index == resolved.log.receipts.len() as u64
        && receipt.prev_mac == resolved.log.last_mac();
    if *from != resolved.start || !linked {
        return Err(archive_problem(
            start,
            format!(
                "seq {start}: the archive's start does not match its prune receipt (receipt {})",
                receipt.index
            ),
        ));
    }
    Ok(SealedEnd {
        last_seq: *last_pruned_seq,
        last_hash: last_pruned_hash.as_bytes().to_vec(),
        source: format!("the archive's prune receipt {}", receipt.index),
    })
}
