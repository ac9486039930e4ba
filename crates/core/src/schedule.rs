//! Which key covers which seqs: a chain's key schedule.
//!
//! A chain starts under one key; each `rotate` receipt of its retention log moves the records
//! from its `first_seq` on to its new key. A rotation *as a new segment* leaves no record under
//! the old key in the store (they went to an archive); a rotation *in place* leaves them where
//! they are, so one store holds records under several keys, each over one range of seqs. The
//! schedule is read from a retention log that [`RetentionLog::check_ring`] verified: which key
//! covers a seq is then authenticated by the rotate receipts, never guessed from the records.
//!
//! A key the verifier does not hold is in the schedule by its id only: records it covers are
//! not checked ([`ContentCheck::NotHeld`]), which verification reports as the `keys-not-held`
//! caveat naming their seqs. `Debug` shows key ids only.

use crate::chain::{ChainKey, KeyId};
use crate::keyring::Keyring;
use crate::retention::{ReceiptBody, RetentionLog};
use crate::verify::{ContentCheck, ContentChecker, RecordView};

/// One range of the schedule: from `first_seq` up to the next range's.
#[derive(Clone)]
struct Range {
    first_seq: u64,
    key_id: KeyId,
    key: Option<ChainKey>,
}

/// The keys of a chain by seq (see the module documentation).
#[derive(Clone)]
pub struct KeySchedule {
    /// Sorted by `first_seq` (not decreasing); the first starts at seq 0.
    ranges: Vec<Range>,
}

impl std::fmt::Debug for KeySchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        for r in &self.ranges {
            let held = if r.key.is_some() { "" } else { " (not held)" };
            list.entry(&format_args!(
                "from seq {}: key id {}{held}",
                r.first_seq, r.key_id
            ));
        }
        list.finish()
    }
}

/// A range of seqs under one key, as [`KeySchedule::ranges`] lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    /// The first seq the key covers.
    pub first_seq: u64,
    /// The first seq it no longer covers (`None`: it covers every later seq).
    pub until: Option<u64>,
    /// The key's id.
    pub key_id: KeyId,
    /// Whether the schedule holds the key.
    pub held: bool,
}

impl KeySchedule {
    /// Every seq under `key`.
    pub fn single(key: ChainKey) -> KeySchedule {
        KeySchedule {
            ranges: vec![Range {
                first_seq: 0,
                key_id: key.key_id(),
                key: Some(key),
            }],
        }
    }

    /// The schedule a verified retention log fixes, with the keys `ring` holds: the first
    /// receipt's key from seq 0, then each rotation's new key from its `first_seq`. A log
    /// without a rotation puts every seq under the key of its receipts, or, when it has none,
    /// under `records_key` (the key the store names for its records).
    pub fn from_log(log: &RetentionLog, ring: &Keyring, records_key: &ChainKey) -> KeySchedule {
        let range = |first_seq: u64, key_id: KeyId| Range {
            first_seq,
            key_id,
            key: ring.get(key_id).cloned(),
        };
        let mut ranges = vec![match log.receipts.first() {
            Some(first) => range(0, first.key_id),
            None => Range {
                first_seq: 0,
                key_id: records_key.key_id(),
                key: Some(records_key.clone()),
            },
        }];
        for r in &log.receipts {
            if let ReceiptBody::Rotate {
                first_seq,
                new_key_id,
                ..
            } = &r.body
            {
                // A checked log has rotations in chain order; a later one at the same seq
                // replaces an earlier one (two rotations with no record between them).
                while ranges
                    .last()
                    .is_some_and(|last| last.first_seq >= *first_seq)
                {
                    ranges.pop();
                }
                ranges.push(range(*first_seq, *new_key_id));
            }
        }
        if ranges.is_empty() {
            // Every range was replaced by rotations at seq 0: the last one covers everything.
            ranges.push(range(0, records_key.key_id()));
        }
        if let Some(first) = ranges.first_mut() {
            first.first_seq = 0;
        }
        KeySchedule { ranges }
    }

    fn range_of(&self, seq: u64) -> Option<&Range> {
        if let [only] = self.ranges.as_slice() {
            return Some(only);
        }
        let at = self.ranges.partition_point(|r| r.first_seq <= seq);
        self.ranges.get(at.checked_sub(1)?)
    }

    /// The key that covers `seq`, if it is held.
    pub fn key_for(&self, seq: u64) -> Option<&ChainKey> {
        self.range_of(seq).and_then(|r| r.key.as_ref())
    }

    /// The id of the key that covers `seq`.
    pub fn key_id_for(&self, seq: u64) -> Option<KeyId> {
        self.range_of(seq).map(|r| r.key_id)
    }

    /// The key that covers the newest seqs: the one new records are written with and the store
    /// records.
    pub fn last_key_id(&self) -> Option<KeyId> {
        self.ranges.last().map(|r| r.key_id)
    }

    /// The held key that covers the newest seqs.
    pub fn last_key(&self) -> Option<&ChainKey> {
        self.ranges.last().and_then(|r| r.key.as_ref())
    }

    /// Whether one key covers every seq.
    pub fn is_single(&self) -> bool {
        self.ranges.len() == 1
    }

    /// Whether some range is under the key `id`.
    pub fn names(&self, id: KeyId) -> bool {
        self.ranges.iter().any(|r| r.key_id == id)
    }

    /// The ranges, in seq order.
    pub fn ranges(&self) -> impl Iterator<Item = KeyRange> + '_ {
        self.ranges.iter().enumerate().map(|(i, r)| KeyRange {
            first_seq: r.first_seq,
            until: self.ranges.get(i + 1).map(|next| next.first_seq),
            key_id: r.key_id,
            held: r.key.is_some(),
        })
    }

    /// The first seq at or after `seq` under a held key (`None`: no later seq is).
    pub fn first_held_from(&self, seq: u64) -> Option<u64> {
        self.ranges().find_map(|r| {
            let covers_later = r.until.is_none_or(|until| until > seq);
            (r.held && covers_later).then_some(r.first_seq.max(seq))
        })
    }

    /// Checks `record` with the key that covers its seq; [`ContentCheck::NotHeld`] when that
    /// key is not held.
    pub fn check(&self, checker: &mut ContentChecker, record: &RecordView<'_>) -> ContentCheck {
        match self.key_for(record.seq) {
            Some(key) => checker.check(key, record),
            None => ContentCheck::NotHeld,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::Receipt;
    use crate::start::ChainStart;
    use crate::{Hash32, Timestamp};

    fn key(n: u8) -> ChainKey {
        ChainKey::from_secret(&[n; 32]).unwrap()
    }

    fn rotated_log(a: &ChainKey, b: &ChainKey, first_seq: u64) -> RetentionLog {
        let head = first_seq
            .checked_sub(1)
            .map(|seq| (seq, Hash32::from_bytes(&[7; 32])));
        let r = Receipt::seal_rotate(
            a,
            b,
            0,
            Timestamp::parse("2026-01-01T00:00:00+00:00", crate::time::Offset::Required).unwrap(),
            ChainStart::genesis(),
            head,
            None,
            Hash32::GENESIS,
        );
        let ring = Keyring::new(vec![("a".into(), a.clone()), ("b".into(), b.clone())]).unwrap();
        RetentionLog::check_ring(&ring, &[r.to_json()]).unwrap()
    }

    #[test]
    fn a_rotation_in_place_splits_the_seqs() {
        let (a, b) = (key(1), key(2));
        let log = rotated_log(&a, &b, 5);
        let only_b = Keyring::single(b.clone());
        let s = KeySchedule::from_log(&log, &only_b, &b);
        assert_eq!(s.key_id_for(0), Some(a.key_id()));
        assert_eq!(s.key_id_for(4), Some(a.key_id()));
        assert_eq!(s.key_id_for(5), Some(b.key_id()));
        assert_eq!(s.key_id_for(u64::MAX), Some(b.key_id()));
        assert!(s.key_for(4).is_none());
        assert!(s.key_for(5).is_some());
        assert_eq!(s.first_held_from(0), Some(5));
        assert_eq!(s.first_held_from(9), Some(9));
        assert_eq!(s.last_key_id(), Some(b.key_id()));
        let ranges: Vec<KeyRange> = s.ranges().collect();
        assert_eq!(ranges.len(), 2);
        assert_eq!(ranges[0].until, Some(5));
        assert!(!ranges[0].held && ranges[1].held);
        let debug = format!("{s:?}");
        assert!(debug.contains("not held") && !debug.contains("[1, 1"));
    }

    #[test]
    fn only_the_old_key_leaves_the_new_range_unheld() {
        let (a, b) = (key(1), key(2));
        let log = rotated_log(&a, &b, 5);
        let s = KeySchedule::from_log(&log, &Keyring::single(a.clone()), &a);
        assert!(s.key_for(4).is_some());
        assert!(s.key_for(5).is_none());
        assert_eq!(s.first_held_from(0), Some(0));
        assert_eq!(s.first_held_from(5), None);
    }

    #[test]
    fn a_log_without_rotation_is_one_key() {
        let a = key(1);
        let s = KeySchedule::from_log(&RetentionLog::default(), &Keyring::single(a.clone()), &a);
        assert!(s.is_single());
        assert!(s.key_for(123).is_some());
    }
}
