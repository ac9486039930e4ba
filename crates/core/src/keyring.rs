//! A keyring of chain keys: several secrets, each known by its [`KeyId`] (labels are for
//! people only), one of them possibly chosen as the active key that new records and receipts
//! are MAC'd with. A store rotated from one key to another (a `rotate` receipt) is verified
//! with each key where it applies.
//!
//! Neither `Debug` nor any error shows a secret: only labels and key ids.

use crate::chain::{ChainKey, KeyId};

/// Why a keyring cannot be made. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// No key at all.
    #[error("the keyring holds no key")]
    Empty,
    /// A label is empty.
    #[error("a key has an empty label")]
    EmptyLabel,
    /// Two keys have one label.
    #[error("key {label:?}: the label is given twice")]
    DuplicateLabel { label: String },
    /// Two labels name one secret (one key id).
    #[error("keys {first:?} and {second:?} are the same secret (key id {key_id})")]
    DuplicateKey {
        first: String,
        second: String,
        key_id: KeyId,
    },
    /// The active key is not one of the ring's labels.
    #[error("the active key {label:?} is not in the keyring (it holds {held})")]
    UnknownActive { label: String, held: String },
}

/// Chain keys by label, at most one of them active.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<(String, ChainKey)>,
    active: Option<usize>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        for (i, (label, key)) in self.keys.iter().enumerate() {
            let active = if self.active == Some(i) {
                " (active)"
            } else {
                ""
            };
            list.entry(&format_args!("{label:?}: {}{active}", key.key_id()));
        }
        list.finish()
    }
}

impl Keyring {
    /// A keyring of one key, labelled `default`, active.
    pub fn single(key: ChainKey) -> Keyring {
        Keyring {
            keys: vec![("default".to_owned(), key)],
            active: Some(0),
        }
    }

    /// A keyring of these keys (in the order given); with one key, it is active. Refuses an
    /// empty ring, an empty or repeated label, and one secret under two labels.
    pub fn new(keys: Vec<(String, ChainKey)>) -> Result<Keyring, KeyringError> {
        if keys.is_empty() {
            return Err(KeyringError::Empty);
        }
        for (i, (label, key)) in keys.iter().enumerate() {
            if label.is_empty() {
                return Err(KeyringError::EmptyLabel);
            }
            for (other, other_key) in keys.iter().take(i) {
                if other == label {
                    return Err(KeyringError::DuplicateLabel {
                        label: label.clone(),
                    });
                }
                if other_key.key_id() == key.key_id() {
                    return Err(KeyringError::DuplicateKey {
                        first: other.clone(),
                        second: label.clone(),
                        key_id: key.key_id(),
                    });
                }
            }
        }
        let active = (keys.len() == 1).then_some(0);
        Ok(Keyring { keys, active })
    }

    /// Makes the key labelled `label` the active one.
    pub fn with_active(mut self, label: &str) -> Result<Keyring, KeyringError> {
        let i = self
            .keys
            .iter()
            .position(|(l, _)| l == label)
            .ok_or_else(|| KeyringError::UnknownActive {
                label: label.to_owned(),
                held: self.describe(),
            })?;
        self.active = Some(i);
        Ok(self)
    }

    /// The key with this id.
    pub fn get(&self, id: KeyId) -> Option<&ChainKey> {
        self.keys
            .iter()
            .find(|(_, k)| k.key_id() == id)
            .map(|(_, k)| k)
    }

    /// The key labelled `label`.
    pub fn by_label(&self, label: &str) -> Option<&ChainKey> {
        self.keys.iter().find(|(l, _)| l == label).map(|(_, k)| k)
    }

    /// The label of the key with this id.
    pub fn label_of(&self, id: KeyId) -> Option<&str> {
        self.keys
            .iter()
            .find(|(_, k)| k.key_id() == id)
            .map(|(l, _)| l.as_str())
    }

    /// The active key, if one was chosen (or the ring holds one key).
    pub fn active(&self) -> Option<&ChainKey> {
        self.keys.get(self.active?).map(|(_, k)| k)
    }

    /// The active key's label.
    pub fn active_label(&self) -> Option<&str> {
        self.keys.get(self.active?).map(|(l, _)| l.as_str())
    }

    /// Every key, in the order given.
    pub fn keys(&self) -> impl Iterator<Item = &ChainKey> {
        self.keys.iter().map(|(_, k)| k)
    }

    /// Every label with its key id, in the order given.
    pub fn entries(&self) -> impl Iterator<Item = (&str, KeyId)> {
        self.keys.iter().map(|(l, k)| (l.as_str(), k.key_id()))
    }

    /// How many keys the ring holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the ring holds no key (never, once made).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// `"label" (key id), …` for messages.
    pub fn describe(&self) -> String {
        self.keys
            .iter()
            .map(|(l, k)| format!("{l:?} ({})", k.key_id()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(s: &str) -> ChainKey {
        ChainKey::from_secret(s.as_bytes()).unwrap()
    }

    #[test]
    fn labels_and_secrets_are_unique_and_debug_shows_no_secret() {
        let ring = Keyring::new(vec![
            ("old".into(), key("secret-number-one")),
            ("new".into(), key("secret-number-two")),
        ])
        .unwrap();
        assert!(ring.active().is_none());
        let ring = ring.with_active("new").unwrap();
        assert_eq!(ring.active_label(), Some("new"));
        let shown = format!("{ring:?}");
        assert!(!shown.contains("secret-number"), "{shown}");
        assert!(shown.contains("(active)"), "{shown}");
        assert_eq!(
            Keyring::new(vec![("a".into(), key("x1")), ("a".into(), key("x2"))]).unwrap_err(),
            KeyringError::DuplicateLabel { label: "a".into() }
        );
        assert!(matches!(
            Keyring::new(vec![("a".into(), key("x1")), ("b".into(), key("x1"))]),
            Err(KeyringError::DuplicateKey { .. })
        ));
        assert_eq!(Keyring::new(vec![]).unwrap_err(), KeyringError::Empty);
        assert_eq!(
            Keyring::new(vec![(String::new(), key("x1"))]).unwrap_err(),
            KeyringError::EmptyLabel
        );
        let err = Keyring::new(vec![("a".into(), key("x1"))])
            .unwrap()
            .with_active("b")
            .unwrap_err();
        assert!(err.to_string().contains("\"a\" ("), "{err}");
        assert_eq!(
            Keyring::single(key("x1")).active().map(ChainKey::key_id),
            Some(key("x1").key_id())
        );
    }
}
