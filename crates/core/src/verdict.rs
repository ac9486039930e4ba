//! The outcome of verifying a chain: verified (with caveats saying what was not checked),
//! tampered (naming the first bad record), or unverifiable (saying why nothing could be
//! concluded).

use std::fmt;

use crate::retention::Receipt;

/// Something verification could not check. A verified verdict always lists these, so
/// "verified" never claims more than was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Caveat {
    /// The store holds no records.
    EmptyStore,
    /// The chain starts from a checkpoint that carries no MAC (written by weaver-kernel's
    /// `prune`), so records before `seq` cannot be checked and their removal is not proven
    /// legitimate.
    UnauthenticatedCheckpoint { seq: u64 },
    /// No signed anchor covers the head, so records after `last_seq` (or any records, for an
    /// empty chain) could have been removed.
    NoAnchor { last_seq: Option<u64> },
    /// Anchors were checked, but the newest covers only seq `anchored`: records after
    /// `last_seq` could have been removed.
    AnchorBehind { anchored: u64, last_seq: u64 },
    /// A bundle holds these records as hashes only (filtered or redacted, which it does not
    /// say): their content was not disclosed, so not checked.
    Withheld { count: u64 },
    /// A bundle holds these records as hashes only and, as its exporter chose, says why:
    /// `filter` outside the selection, `redacted` holding a redacted field.
    WithheldWithReasons { filter: u64, redacted: u64 },
    /// A bundle verified without the chain secret: its disclosed records' contents are vouched
    /// for by the bundle signature, not checked against their MACs.
    MacsNotChecked { count: u64 },
    /// `count` records, from `first_seq` on, are not in the store's Merkle tree (appended by a
    /// writer that does not keep it, such as weaver-kernel, or stored before the store had a
    /// tree): no checkpoint or proof covers them until a trailseal write brings them in.
    TreeIncomplete { count: u64, first_seq: u64 },
    /// A bundle verified without the chain secret: `count` disclosed records were checked
    /// against the Merkle tree of the signed checkpoint it embeds (of `tree_size` leaves) —
    /// each trace against its leaf's commitment, each leaf through its inclusion proof — but
    /// not against their MACs.
    TreeChecked { count: u64, tree_size: u64 },
    /// Part of the store is under a chain key the verifier does not hold (the store was
    /// rotated from or to it): `receipts` retention receipts and, when `first_seq` is set,
    /// the records `first_seq ..= last_seq` were not checked.
    KeysNotHeld {
        key_id: crate::chain::KeyId,
        receipts: u64,
        first_seq: Option<u64>,
        last_seq: Option<u64>,
    },
}

impl Caveat {
    /// The caveat's stable code (kebab-case, one per variant, never reused), for programs that
    /// must not match the English sentence [`Display`](fmt::Display) gives. Documented in
    /// docs/format.md, §4.
    pub fn code(&self) -> &'static str {
        match self {
            Caveat::EmptyStore => "empty-store",
            Caveat::UnauthenticatedCheckpoint { .. } => "unauthenticated-checkpoint",
            Caveat::NoAnchor { .. } => "no-anchor",
            Caveat::AnchorBehind { .. } => "anchor-behind",
            Caveat::Withheld { .. } => "withheld",
            Caveat::WithheldWithReasons { .. } => "withheld-with-reasons",
            Caveat::MacsNotChecked { .. } => "macs-not-checked",
            Caveat::TreeIncomplete { .. } => "tree-incomplete",
            Caveat::TreeChecked { .. } => "tree-checked",
            Caveat::KeysNotHeld { .. } => "keys-not-held",
        }
    }

    /// The caveat's fields by name, in declaration order (`None`: a field that holds
    /// nothing, such as `last_seq` of an empty chain), so that output carries them without
    /// matching on the variant.
    pub fn fields(&self) -> Vec<(&'static str, Option<u64>)> {
        match self {
            Caveat::EmptyStore => Vec::new(),
            Caveat::UnauthenticatedCheckpoint { seq } => vec![("seq", Some(*seq))],
            Caveat::NoAnchor { last_seq } => vec![("last_seq", *last_seq)],
            Caveat::AnchorBehind { anchored, last_seq } => {
                vec![("anchored", Some(*anchored)), ("last_seq", Some(*last_seq))]
            }
            Caveat::Withheld { count } | Caveat::MacsNotChecked { count } => {
                vec![("count", Some(*count))]
            }
            Caveat::WithheldWithReasons { filter, redacted } => {
                vec![("filter", Some(*filter)), ("redacted", Some(*redacted))]
            }
            Caveat::TreeIncomplete { count, first_seq } => {
                vec![("count", Some(*count)), ("first_seq", Some(*first_seq))]
            }
            Caveat::TreeChecked { count, tree_size } => {
                vec![("count", Some(*count)), ("tree_size", Some(*tree_size))]
            }
            Caveat::KeysNotHeld {
                receipts,
                first_seq,
                last_seq,
                ..
            } => vec![
                ("receipts", Some(*receipts)),
                ("first_seq", *first_seq),
                ("last_seq", *last_seq),
            ],
        }
    }

    /// The key id a caveat names, if any (`keys-not-held`).
    pub fn key_id(&self) -> Option<crate::chain::KeyId> {
        match self {
            Caveat::KeysNotHeld { key_id, .. } => Some(*key_id),
            _ => None,
        }
    }
}

impl fmt::Display for Caveat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caveat::EmptyStore => f.write_str("store is empty"),
            Caveat::UnauthenticatedCheckpoint { seq } => write!(
                f,
                "starts from an unauthenticated checkpoint at seq {seq}: records before it cannot be checked"
            ),
            Caveat::NoAnchor {
                last_seq: Some(seq),
            } => {
                write!(
                    f,
                    "no anchor: records after seq {seq} could have been removed"
                )
            }
            Caveat::NoAnchor { last_seq: None } => {
                f.write_str("no anchor: records could have been removed")
            }
            Caveat::Withheld { count } => write!(
                f,
                "{count} record{} withheld: only their seq and hashes are in the bundle",
                if *count == 1 { "" } else { "s" }
            ),
            Caveat::WithheldWithReasons { filter, redacted } => {
                let count = filter.saturating_add(*redacted);
                write!(
                    f,
                    "{count} record{} withheld ({filter} outside the selection, {redacted} redacted): only their seq, hashes and these reasons are in the bundle",
                    if count == 1 { "" } else { "s" }
                )
            }
            Caveat::MacsNotChecked { count } => write!(
                f,
                "no secret: the content of {count} disclosed record{} was not checked against its MAC (vouched for by the bundle signature only)",
                if *count == 1 { "" } else { "s" }
            ),
            Caveat::TreeIncomplete { count, first_seq } => write!(
                f,
                "{count} record{} from seq {first_seq} on {} not in the Merkle tree: no checkpoint or proof covers {} yet",
                if *count == 1 { "" } else { "s" },
                if *count == 1 { "is" } else { "are" },
                if *count == 1 { "it" } else { "them" }
            ),
            Caveat::TreeChecked { count, tree_size } => write!(
                f,
                "no secret: {count} disclosed record{} checked against the signed checkpoint's Merkle tree (size {tree_size}: trace, leaf and inclusion proof), not against {} MAC{}",
                if *count == 1 { "" } else { "s" },
                if *count == 1 { "its" } else { "their" },
                if *count == 1 { "" } else { "s" }
            ),
            Caveat::AnchorBehind { anchored, last_seq } => write!(
                f,
                "the newest anchor covers seq {anchored}: records after seq {last_seq} could have been removed"
            ),
            Caveat::KeysNotHeld {
                key_id,
                receipts,
                first_seq,
                last_seq,
            } => {
                let plural = if *receipts == 1 { "" } else { "s" };
                match (first_seq, last_seq, receipts) {
                    (Some(a), Some(b), 0) => write!(
                        f,
                        "key id {key_id} is not held: records {a} to {b} under it were not checked (their MACs and tree leaves)"
                    ),
                    (Some(a), Some(b), n) => write!(
                        f,
                        "key id {key_id} is not held: records {a} to {b} (their MACs and tree leaves) and {n} retention receipt{plural} under it were not checked"
                    ),
                    (_, _, n) => write!(
                        f,
                        "key id {key_id} is not held: {n} retention receipt{plural} under it {} not checked",
                        if *n == 1 { "was" } else { "were" }
                    ),
                }
            }
        }
    }
}

/// What kind of damage was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TamperKind {
    /// A record's content does not match its `record_hash` (or an index column does not match
    /// the authenticated content).
    Content,
    /// A record's `prev_hash` does not match the previous record's `record_hash`.
    Link,
    /// A record's seq is not the one expected (a record was inserted, deleted or reordered).
    Sequence,
    /// A record cannot be read at all (not JSON, missing fields, torn write).
    Malformed,
    /// Store metadata that authenticates the chain was altered.
    Metadata,
    /// The retention log (checkpoints and receipts) was altered, or does not match the
    /// records: a receipt edited, deleted, reordered or replayed, a forged checkpoint, a
    /// rollback of the log or of the records.
    Checkpoint,
    /// Records a signed anchor vouches for are gone: the tail was cut or the store rolled
    /// back to an older copy.
    Truncated,
    /// The store's schema holds an object trailseal and weaver-kernel do not create (a
    /// trigger, a view, a rule or policy, an altered column definition) that can change what
    /// is stored or read, so no record read from it can be trusted.
    Schema,
    /// The store's Merkle tree does not match its records: a stored tree hash differs from
    /// the one the records give, is missing, or the tree covers records the chain no longer
    /// holds (records removed from its end).
    Tree,
    /// A signed tree checkpoint states another tree than the store's at its size, or two
    /// signed checkpoints of one log are not consistent with each other (a split view: the
    /// log's key signed two histories).
    Fork,
    /// A forward-secure seal or epoch certificate does not verify from the root key, or does
    /// not follow the one before (forged, altered, or one removed from the middle).
    Seal,
}

impl TamperKind {
    /// The lowercase name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            TamperKind::Content => "content",
            TamperKind::Link => "link",
            TamperKind::Sequence => "sequence",
            TamperKind::Malformed => "malformed",
            TamperKind::Metadata => "metadata",
            TamperKind::Checkpoint => "checkpoint",
            TamperKind::Truncated => "truncated",
            TamperKind::Schema => "schema",
            TamperKind::Tree => "tree",
            TamperKind::Fork => "fork",
            TamperKind::Seal => "seal",
        }
    }
}

impl fmt::Display for TamperKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why nothing could be concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnverifiableReason {
    /// No secret was provided.
    NoSecret,
    /// The secret is not the one the store was written with.
    WrongSecret,
    /// The store could not be read.
    Unreadable,
    /// The file is not a store trailseal knows (or is from a newer format version).
    UnknownStore,
    /// A signature was made with another key than the public key given.
    WrongKey,
    /// A signed anchor vouches for records the store no longer holds, and nothing left in the
    /// store (no retention receipt, no record linked to them) can check it.
    AnchorUnchecked,
    /// A checkpoint given to check the store against does not carry the quorum of valid
    /// witness cosignatures asked for.
    WitnessQuorum,
}

impl UnverifiableReason {
    /// The lowercase name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            UnverifiableReason::NoSecret => "no secret",
            UnverifiableReason::WrongSecret => "wrong secret",
            UnverifiableReason::Unreadable => "unreadable store",
            UnverifiableReason::UnknownStore => "unknown store",
            UnverifiableReason::WrongKey => "wrong public key",
            UnverifiableReason::AnchorUnchecked => "anchor not checked",
            UnverifiableReason::WitnessQuorum => "witness quorum not met",
        }
    }
}

impl fmt::Display for UnverifiableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every record was checked and held.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    pub records_checked: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub caveats: Vec<Caveat>,
    /// The retention log, verified (empty when the store has none).
    pub retention: Vec<Receipt>,
    /// Each anchor that was checked: what it pinned and how (empty without anchors).
    pub anchors: Vec<AnchorChecked>,
}

impl Verified {
    /// The highest seq a checked anchor vouched for, if anchors were given.
    pub fn anchored_seq(&self) -> Option<u64> {
        self.anchors.iter().map(|a| a.seq).max()
    }
}

/// An anchor the verification checked: the record it vouches for, and how it was confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorChecked {
    /// What vouches for it, as given with the anchor ("anchor head.note (signed …)").
    pub source: String,
    /// The seq of the record it pinned (its size minus one).
    pub seq: u64,
    /// How that record was confirmed.
    pub by: AnchorConfirmation,
}

/// How an anchored record was confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnchorConfirmation {
    /// The store holds the record, with the hash the anchor signed.
    Record,
    /// The record was pruned; a verified retention receipt states its hash or its removal.
    Receipt,
    /// The record was pruned; the store's checkpoint hash is the anchored hash, and the first
    /// retained record, whose MAC covers it, verified.
    Checkpoint,
}

impl AnchorConfirmation {
    /// A stable code: `record`, `receipt` or `checkpoint`.
    pub fn as_str(self) -> &'static str {
        match self {
            AnchorConfirmation::Record => "record",
            AnchorConfirmation::Receipt => "receipt",
            AnchorConfirmation::Checkpoint => "checkpoint",
        }
    }
}

/// The first record that failed, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tampered {
    pub first_bad_seq: u64,
    pub kind: TamperKind,
    /// Records examined, including the bad one.
    pub records_checked: u64,
    /// Starts with the location: `seq 42: content does not match its record_hash`.
    pub detail: String,
}

/// Nothing could be concluded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverifiable {
    pub reason: UnverifiableReason,
    pub detail: String,
}

/// The three-way outcome of verification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    Verified(Verified),
    Tampered(Tampered),
    Unverifiable(Unverifiable),
}

impl Verdict {
    /// `"verified"`, `"tampered"` or `"unverifiable"`.
    pub fn status(&self) -> &'static str {
        match self {
            Verdict::Verified(_) => "verified",
            Verdict::Tampered(_) => "tampered",
            Verdict::Unverifiable(_) => "unverifiable",
        }
    }

    /// Whether the verdict is `verified`.
    pub fn is_verified(&self) -> bool {
        matches!(self, Verdict::Verified(_))
    }

    /// The seq of the first bad record, when tampered.
    pub fn first_bad_seq(&self) -> Option<u64> {
        match self {
            Verdict::Tampered(t) => Some(t.first_bad_seq),
            _ => None,
        }
    }

    /// The kind of damage, when tampered.
    pub fn kind(&self) -> Option<TamperKind> {
        match self {
            Verdict::Tampered(t) => Some(t.kind),
            _ => None,
        }
    }

    /// Records examined.
    pub fn records_checked(&self) -> u64 {
        match self {
            Verdict::Verified(v) => v.records_checked,
            Verdict::Tampered(t) => t.records_checked,
            Verdict::Unverifiable(_) => 0,
        }
    }

    /// A one-line description.
    pub fn detail(&self) -> String {
        match self {
            Verdict::Verified(v) => match (v.first_seq, v.last_seq) {
                (Some(first), Some(last)) => format!(
                    "verified {} record{} (seq {first} to {last})",
                    v.records_checked,
                    if v.records_checked == 1 { "" } else { "s" }
                ),
                _ => "verified 0 records".to_owned(),
            },
            Verdict::Tampered(t) => t.detail.clone(),
            Verdict::Unverifiable(u) => u.detail.clone(),
        }
    }

    /// Caveats of a verified verdict (empty otherwise).
    pub fn caveats(&self) -> &[Caveat] {
        match self {
            Verdict::Verified(v) => &v.caveats,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Caveat;

    /// One value of every variant. The match below has no wildcard, so a new variant does not
    /// compile until it is listed here (and so gets a code the tests check).
    fn every_caveat() -> Vec<Caveat> {
        let all = vec![
            Caveat::EmptyStore,
            Caveat::UnauthenticatedCheckpoint { seq: 3 },
            Caveat::NoAnchor { last_seq: Some(9) },
            Caveat::AnchorBehind {
                anchored: 4,
                last_seq: 9,
            },
            Caveat::Withheld { count: 2 },
            Caveat::WithheldWithReasons {
                filter: 1,
                redacted: 1,
            },
            Caveat::MacsNotChecked { count: 5 },
            Caveat::TreeIncomplete {
                count: 2,
                first_seq: 7,
            },
            Caveat::TreeChecked {
                count: 3,
                tree_size: 10,
            },
            Caveat::KeysNotHeld {
                key_id: crate::chain::ChainKey::from_secret(b"k")
                    .map(|k| k.key_id())
                    .unwrap_or_else(|_| unreachable!()),
                receipts: 2,
                first_seq: None,
                last_seq: None,
            },
        ];
        for c in &all {
            match c {
                Caveat::EmptyStore
                | Caveat::UnauthenticatedCheckpoint { .. }
                | Caveat::NoAnchor { .. }
                | Caveat::AnchorBehind { .. }
                | Caveat::Withheld { .. }
                | Caveat::WithheldWithReasons { .. }
                | Caveat::MacsNotChecked { .. }
                | Caveat::TreeIncomplete { .. }
                | Caveat::TreeChecked { .. }
                | Caveat::KeysNotHeld { .. } => {}
            }
        }
        all
    }

    #[test]
    fn every_caveat_has_a_distinct_kebab_case_code() {
        let all = every_caveat();
        let mut codes: Vec<&str> = all.iter().map(Caveat::code).collect();
        for code in &codes {
            assert!(
                !code.is_empty()
                    && !code.starts_with('-')
                    && !code.ends_with('-')
                    && !code.contains("--")
                    && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{code:?} is not kebab-case"
            );
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(
            codes.len(),
            all.len(),
            "two caveats share a code: {codes:?}"
        );
    }

    #[test]
    fn every_caveat_code_is_documented() {
        let format = include_str!("../../../docs/format.md");
        for c in every_caveat() {
            assert!(
                format.contains(&format!("`{}`", c.code())),
                "docs/format.md does not document the caveat code {:?}",
                c.code()
            );
        }
    }

    #[test]
    fn fields_name_what_the_variant_holds() {
        assert!(Caveat::EmptyStore.fields().is_empty());
        assert_eq!(
            Caveat::NoAnchor { last_seq: None }.fields(),
            vec![("last_seq", None)]
        );
        assert_eq!(
            Caveat::AnchorBehind {
                anchored: 4,
                last_seq: 9
            }
            .fields(),
            vec![("anchored", Some(4)), ("last_seq", Some(9))]
        );
        for c in every_caveat() {
            let names: Vec<&str> = c.fields().iter().map(|(n, _)| *n).collect();
            for reserved in ["code", "message"] {
                assert!(!names.contains(&reserved), "{c:?}: field {reserved:?}");
            }
        }
    }
}
