//! Signed anchors to check a store against: opened with their public key, then turned into
//! what the verifier must find (the record each anchor pinned, the retention receipt it saw).

use trailseal_core::anchor::{Anchor, AnchorError};
use trailseal_core::note::{NoteError, NoteVerifier};
use trailseal_core::retention::ResolvedStart;
use trailseal_core::verify::Expectation;
use trailseal_core::{
    KeySchedule, TamperKind, Tampered, Unverifiable, UnverifiableReason, Verdict,
};

/// A signed anchor to check the store against, already opened with its public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorCheck {
    pub anchor: Anchor,
    /// Where it came from, for messages (a file name).
    pub label: String,
}

/// Opens an anchor note with `public`: a note signed by another key, or altered, is an
/// unverifiable verdict (the anchor cannot be used), not tampering of the store.
pub fn open_anchor(label: &str, note: &str, public: &NoteVerifier) -> Result<AnchorCheck, Verdict> {
    let unusable = |detail: String| {
        Verdict::Unverifiable(Unverifiable {
            reason: UnverifiableReason::WrongKey,
            detail,
        })
    };
    match Anchor::open(note, public) {
        Ok(anchor) => Ok(AnchorCheck {
            anchor,
            label: label.to_owned(),
        }),
        Err(AnchorError::Note(NoteError::NotSignedBy { .. })) => Err(unusable(format!(
            "anchor {label} is not signed by {} (another key)",
            public.to_key_string()
        ))),
        Err(e) => Err(unusable(format!("anchor {label} cannot be used: {e}"))),
    }
}

/// Checks what anchors say about the store before reading records: the chain key they name,
/// and the retention receipt they saw.
pub(super) fn anchor_expectations(
    schedule: &KeySchedule,
    anchors: &[AnchorCheck],
    resolved: &ResolvedStart,
) -> Result<Vec<Expectation>, Verdict> {
    let mut out = Vec::new();
    for a in anchors {
        let source = format!("anchor {} (signed {})", a.label, a.anchor.time);
        // The key of the chain's head when it was signed: any key of the schedule.
        if !schedule.names(a.anchor.key_id) {
            let ids: Vec<String> = schedule.ranges().map(|r| r.key_id.to_string()).collect();
            let whose = if schedule.is_single() {
                "this secret's key id is"
            } else {
                "this chain's key ids are"
            };
            return Err(Verdict::Unverifiable(Unverifiable {
                reason: UnverifiableReason::WrongSecret,
                detail: format!(
                    "{source} is for a chain keyed with key id {}, but {whose} {}",
                    a.anchor.key_id,
                    ids.join(", ")
                ),
            }));
        }
        if let Some((index, mac)) = a.anchor.retention {
            let held = usize::try_from(index)
                .ok()
                .and_then(|i| resolved.log.receipts.get(i));
            if held.is_none_or(|r| r.mac != mac) {
                let seq = resolved.start.next_seq;
                return Err(Verdict::Tampered(Tampered {
                    first_bad_seq: seq,
                    kind: TamperKind::Checkpoint,
                    records_checked: 0,
                    detail: format!(
                        "seq {seq}: retention receipt {index}, which {source} vouches for, is missing or different (the retention log was rolled back)"
                    ),
                }));
            }
        }
        if let Some(seq) = a.anchor.head_seq() {
            out.push(Expectation {
                seq,
                record_hash: a.anchor.head_hash.as_bytes().to_vec(),
                source,
            });
        }
    }
    Ok(out)
}
