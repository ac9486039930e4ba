//! Signing-key transitions: moving a log from one Ed25519 signing key to another the way TUF
//! moves from one root to the next. A **transition note** names the old and the new verifier
//! key, when the new key takes effect and until when the old one stays valid (the overlap,
//! during which anchors and checkpoints carry both signatures), and is signed by **both** keys:
//! the old key vouches for the new one, and the new key shows it is held.
//!
//! ```text
//! trailseal-key-transition 1
//! from <old verifier key>
//! to <new verifier key>
//! effective <RFC 3339: the new key signs from then on>
//! old-until <RFC 3339: the old key signs until then>
//! ```
//!
//! A verifier that trusts one key walks the transitions from it ([`walk_transitions`]): each
//! step must be signed by the key it leaves and by the key it names, and at most one may leave
//! each key (two would be a fork of the key history). Each key then has a validity window
//! ([`KeyValidity`]); an anchor signed only by keys outside theirs at its time is not vouched
//! for. Parsed only from the text both signatures cover.

use crate::note::{NoteError, NoteSigner, NoteVerifier, add_signature};
use crate::time::{Offset, Timestamp};

/// The first line of a transition note.
pub const TRANSITION_TAG: &str = "trailseal-key-transition 1";
/// The most transitions [`walk_transitions`] follows.
pub const MAX_TRANSITIONS: usize = 10_000;

/// A transition note that cannot be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("transition line {line}: {why}")]
    Body { line: usize, why: String },
    /// The note leaves another key than the one it was opened with (which signed it as the
    /// new key of an earlier step, or not at all as the old one).
    #[error("the transition leaves another key than the one it was opened with")]
    LeavesAnotherKey,
    /// The note is not signed by the new key it names (or that signature fails).
    #[error("the transition is not signed by its new key {key}: {source}")]
    NotSignedByNew { key: String, source: NoteError },
}

/// What a transition note states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: NoteVerifier,
    pub to: NoteVerifier,
    pub effective: Timestamp,
    pub old_until: Timestamp,
}

fn time(text: &str) -> Option<Timestamp> {
    let t = Timestamp::parse(text, Offset::Required).ok()?;
    (t.to_rfc3339() == text).then_some(t)
}

impl Transition {
    /// The note's body.
    pub fn body(&self) -> String {
        format!(
            "{TRANSITION_TAG}\nfrom {}\nto {}\neffective {}\nold-until {}\n",
            self.from.to_key_string(),
            self.to.to_key_string(),
            self.effective.to_rfc3339(),
            self.old_until.to_rfc3339()
        )
    }

    /// The note signed by the old key, then the new one.
    pub fn sign(&self, old: &NoteSigner, new: &NoteSigner) -> Result<String, TransitionError> {
        let note = old.sign(&self.body())?;
        Ok(add_signature(&note, new)?)
    }

    /// Verifies `note` by `from` (the key the verifier holds), reads it from the signed text,
    /// and verifies it by the new key it names.
    pub fn open(note: &str, from: &NoteVerifier) -> Result<Transition, TransitionError> {
        let body = from.open(note)?;
        let bad = |line: usize, why: &str| TransitionError::Body {
            line,
            why: why.to_owned(),
        };
        let mut lines = body.split_terminator('\n');
        if lines.next() != Some(TRANSITION_TAG) {
            return Err(bad(1, "not a key transition"));
        }
        let mut field = |n: usize, name: &str| -> Result<&str, TransitionError> {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(' '))
                .ok_or_else(|| bad(n, &format!("expected `{name} …`")))
        };
        let old = NoteVerifier::parse(field(2, "from")?)?;
        let new = NoteVerifier::parse(field(3, "to")?)?;
        let effective = time(field(4, "effective")?).ok_or_else(|| bad(4, "not a time"))?;
        let old_until = time(field(5, "old-until")?).ok_or_else(|| bad(5, "not a time"))?;
        if lines.next().is_some() {
            return Err(bad(6, "unexpected line"));
        }
        if old != *from {
            return Err(TransitionError::LeavesAnotherKey);
        }
        if new == old {
            return Err(bad(3, "it names the same key twice"));
        }
        if old_until < effective {
            return Err(bad(
                5,
                "the old key's validity ends before the new key's begins",
            ));
        }
        new.open(note)
            .map_err(|source| TransitionError::NotSignedByNew {
                key: new.to_key_string(),
                source,
            })?;
        Ok(Transition {
            from: old,
            to: new,
            effective,
            old_until,
        })
    }
}

/// A key of a walked history and when it may sign (`None`: no bound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValidity {
    pub key: NoteVerifier,
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

impl KeyValidity {
    /// Whether the key may sign at `t`.
    pub fn covers(&self, t: Timestamp) -> bool {
        self.from.is_none_or(|f| f <= t) && self.until.is_none_or(|u| t <= u)
    }

    /// The window, for messages.
    pub fn window(&self) -> String {
        let end = |t: Option<Timestamp>| t.map_or("…".to_owned(), |t| t.to_rfc3339());
        format!("{} to {}", end(self.from), end(self.until))
    }
}

/// Why a key history does not walk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionProblem {
    /// A note signed by a key of the history that is not a valid transition from it.
    #[error("{label}: {source}")]
    Invalid {
        label: String,
        source: TransitionError,
    },
    /// Two transitions leave one key.
    #[error("{first} and {second} both leave key {key}: the key history forked")]
    Fork {
        key: String,
        first: String,
        second: String,
    },
    /// A transition takes effect before the one before it.
    #[error("{label}: takes effect before the key it leaves did")]
    Backwards { label: String },
    /// The history returns to a key it left.
    #[error("{label}: returns to a key the history left before")]
    Cycle { label: String },
}

/// Walks the transition notes `notes` (`(label, note)`; any order, others ignored) from `root`:
/// the keys in order, each with its validity window. A note that `root` (or a later key of the
/// history) signed but that is not a valid transition is a problem; notes no key of the
/// history signed are not part of it.
pub fn walk_transitions(
    root: &NoteVerifier,
    notes: &[(String, String)],
) -> Result<Vec<KeyValidity>, TransitionProblem> {
    let mut keys = vec![KeyValidity {
        key: root.clone(),
        from: None,
        until: None,
    }];
    for _ in 0..MAX_TRANSITIONS.min(notes.len()) {
        let Some(current) = keys.last() else { break };
        let current_key = current.key.clone();
        let current_from = current.from;
        let mut next: Option<(&str, Transition)> = None;
        for (label, note) in notes {
            match Transition::open(note, &current_key) {
                Ok(t) => {
                    if let Some((first, _)) = &next {
                        return Err(TransitionProblem::Fork {
                            key: current_key.to_key_string(),
                            first: (*first).to_owned(),
                            second: label.clone(),
                        });
                    }
                    next = Some((label, t));
                }
                // Not signed by the current key, or signed by it as the new key of the step
                // that led to it: another step's, or no part of the history.
                Err(
                    TransitionError::Note(NoteError::NotSignedBy { .. })
                    | TransitionError::LeavesAnotherKey,
                ) => {}
                Err(source) => {
                    return Err(TransitionProblem::Invalid {
                        label: label.clone(),
                        source,
                    });
                }
            }
        }
        let Some((label, t)) = next else { break };
        if current_from.is_some_and(|f| t.effective < f) {
            return Err(TransitionProblem::Backwards {
                label: label.to_owned(),
            });
        }
        if keys.iter().any(|k| k.key == t.to) {
            return Err(TransitionProblem::Cycle {
                label: label.to_owned(),
            });
        }
        if let Some(last) = keys.last_mut() {
            last.until = Some(t.old_until);
        }
        keys.push(KeyValidity {
            key: t.to,
            from: Some(t.effective),
            until: None,
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, n: u8) -> NoteSigner {
        NoteSigner::from_seed(name, &[n; 32]).unwrap()
    }

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s, Offset::Required).unwrap()
    }

    fn transition(a: &NoteSigner, b: &NoteSigner, eff: &str, until: &str) -> String {
        Transition {
            from: a.verifier(),
            to: b.verifier(),
            effective: t(eff),
            old_until: t(until),
        }
        .sign(a, b)
        .unwrap()
    }

    #[test]
    fn a_history_walks_from_the_trusted_key() {
        let (a, b, c) = (key("ops-a", 1), key("ops-b", 2), key("ops-c", 3));
        let notes = vec![
            (
                "b-to-c".to_owned(),
                transition(&b, &c, "2026-03-01T00:00:00Z", "2026-03-08T00:00:00Z"),
            ),
            (
                "a-to-b".to_owned(),
                transition(&a, &b, "2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z"),
            ),
            ("noise".to_owned(), key("x", 9).sign("unrelated\n").unwrap()),
        ];
        let keys = walk_transitions(&a.verifier(), &notes).unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[0].until, Some(t("2026-01-08T00:00:00Z")));
        assert_eq!(keys[1].from, Some(t("2026-01-01T00:00:00Z")));
        assert_eq!(keys[2].until, None);
        assert!(keys[1].covers(t("2026-02-01T00:00:00Z")));
        assert!(!keys[0].covers(t("2026-02-01T00:00:00Z")));
        // Walked from b, a's step is not part of the history.
        assert_eq!(walk_transitions(&b.verifier(), &notes).unwrap().len(), 2);
    }

    #[test]
    fn a_transition_needs_both_signatures() {
        let (a, b) = (key("ops-a", 1), key("ops-b", 2));
        let only_old = Transition {
            from: a.verifier(),
            to: b.verifier(),
            effective: t("2026-01-01T00:00:00Z"),
            old_until: t("2026-01-02T00:00:00Z"),
        };
        let note = a.sign(&only_old.body()).unwrap();
        assert!(matches!(
            Transition::open(&note, &a.verifier()),
            Err(TransitionError::NotSignedByNew { .. })
        ));
        let r = walk_transitions(&a.verifier(), &[("t".into(), note)]);
        assert!(matches!(r, Err(TransitionProblem::Invalid { .. })), "{r:?}");
        // Signed by the new key only: not part of a's history at all.
        let note = b.sign(&only_old.body()).unwrap();
        assert_eq!(
            walk_transitions(&a.verifier(), &[("t".into(), note)])
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn two_transitions_from_one_key_are_a_fork() {
        let (a, b, c) = (key("ops-a", 1), key("ops-b", 2), key("ops-c", 3));
        let notes = vec![
            (
                "1".to_owned(),
                transition(&a, &b, "2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z"),
            ),
            (
                "2".to_owned(),
                transition(&a, &c, "2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z"),
            ),
        ];
        let r = walk_transitions(&a.verifier(), &notes);
        assert!(matches!(r, Err(TransitionProblem::Fork { .. })), "{r:?}");
        // Back to a key the history left.
        let notes = vec![
            (
                "1".to_owned(),
                transition(&a, &b, "2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z"),
            ),
            (
                "2".to_owned(),
                transition(&b, &a, "2026-02-01T00:00:00Z", "2026-02-08T00:00:00Z"),
            ),
        ];
        let r = walk_transitions(&a.verifier(), &notes);
        assert!(matches!(r, Err(TransitionProblem::Cycle { .. })), "{r:?}");
    }
}
