//! Witness cosignatures (<https://c2sp.org/tlog-cosignature>, v1, Ed25519, signature type
//! `0x04`) on checkpoints, and quorum counting.
//!
//! A cosignature is a note signature line `— <witness name> base64(key id ‖ u64 BE timestamp
//! ‖ Ed25519 signature)` (76 bytes decoded) over the message
//! `cosignature/v1\ntime <timestamp>\n<checkpoint body>`; the key id is
//! `SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4]`. Witness keys are C2SP vkeys:
//! `<name>+<8 hex digits of the key id>+<base64(0x04 ‖ 32-byte public key)>`.
//!
//! # Counting
//! [`verify_cosignatures`] counts distinct witnesses that validly cosigned the note's body:
//! - lines by keys that are not configured (another name or key id) are ignored, as signed
//!   notes require;
//! - a line by a configured key whose signature does not verify, whose payload is not 72 bytes
//!   or whose timestamp exceeds 2^63 - 1 is an error ([`CosignatureError::BadCosignature`]),
//!   never ignored: the note was altered or the witness is broken, and saying so is safer than
//!   a quietly lower count (Go's `note.Open` treats a bad signature by a known key the same
//!   way);
//! - several valid lines by one witness count once;
//! - witnesses are distinct by public key: the Ed25519 message does not commit to the
//!   witness name, so one key configured under two names would let one cosignature count
//!   twice. Keys configured twice, under any name, count once.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::base64;
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::note::{NoteError, NoteVerifier, check_body, split_signed, valid_name};

/// The signature type of Ed25519 cosignatures.
pub const COSIGNATURE_ED25519: u8 = 0x04;
/// The first line of the signed message.
pub const COSIGNATURE_HEADER: &str = "cosignature/v1";
/// The largest timestamp allowed.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// A problem with a witness key or a cosignature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CosignatureError {
    #[error("witness key: {0}")]
    Key(&'static str),
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("cosignature by witness {name} ({key_id:08x}): {why}")]
    BadCosignature {
        name: String,
        key_id: u32,
        why: &'static str,
    },
    #[error("cosignature timestamp {0}: more than 2^63 - 1")]
    Timestamp(u64),
}

fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([COSIGNATURE_ED25519]);
    h.update(public);
    let d: [u8; 32] = h.finalize().into();
    let (first, _) = d.split_first_chunk::<4>().unwrap_or((&[0; 4], &[]));
    u32::from_be_bytes(*first)
}

/// The message a v1 cosignature signs.
fn message(timestamp: u64, body: &str) -> Vec<u8> {
    format!("{COSIGNATURE_HEADER}\ntime {timestamp}\n{body}").into_bytes()
}

/// A witness's public key.
#[derive(Clone, PartialEq, Eq)]
pub struct WitnessKey {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl std::fmt::Debug for WitnessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WitnessKey({})", self.to_vkey())
    }
}

impl WitnessKey {
    /// Reads a vkey `<name>+<hex key id>+<base64(0x04 ‖ public key)>`; the key id must be the
    /// one the name and key give.
    pub fn parse_vkey(text: &str) -> Result<Self, CosignatureError> {
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(data), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CosignatureError::Key("expected name+keyid+key"));
        };
        if !valid_name(name) {
            return Err(CosignatureError::Key("bad name"));
        }
        let raw = base64::decode(data).map_err(|_| CosignatureError::Key("key is not base64"))?;
        let public = match raw.split_first() {
            Some((&COSIGNATURE_ED25519, key)) => <[u8; 32]>::try_from(key)
                .map_err(|_| CosignatureError::Key("an Ed25519 key has 32 bytes"))?,
            Some(_) => {
                return Err(CosignatureError::Key(
                    "not an Ed25519 cosignature key (type 0x04)",
                ));
            }
            None => return Err(CosignatureError::Key("empty key")),
        };
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| CosignatureError::Key("not a valid Ed25519 point"))?;
        let expected = key_id(name, &public);
        let canonical_id =
            id.len() == 8 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !canonical_id || u32::from_str_radix(id, 16).ok() != Some(expected) {
            return Err(CosignatureError::Key("the key id does not match the key"));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: expected,
            key,
        })
    }

    /// The vkey text.
    pub fn to_vkey(&self) -> String {
        let mut data = vec![COSIGNATURE_ED25519];
        data.extend_from_slice(&self.key.to_bytes());
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            base64::encode(&data)
        )
    }

    /// The witness name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The raw public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

/// A witness's signing key (for tests and for running a witness; the caller draws the seed).
pub struct WitnessSigner {
    public: WitnessKey,
    key: SigningKey,
}

impl std::fmt::Debug for WitnessSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessSigner")
            .field("key", &self.public)
            .finish_non_exhaustive()
    }
}

impl WitnessSigner {
    /// A witness named `name` with the Ed25519 key of `seed`.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, CosignatureError> {
        if !valid_name(name) {
            return Err(CosignatureError::Key("bad name"));
        }
        let key = SigningKey::from_bytes(seed);
        let verifying = key.verifying_key();
        Ok(Self {
            public: WitnessKey {
                name: name.to_owned(),
                key_id: key_id(name, &verifying.to_bytes()),
                key: verifying,
            },
            key,
        })
    }

    /// The public key.
    pub fn witness_key(&self) -> &WitnessKey {
        &self.public
    }

    /// The cosignature line (ending in a newline) over a checkpoint `body` at `timestamp`.
    pub fn cosign(&self, body: &str, timestamp: u64) -> Result<String, CosignatureError> {
        check_body(body)?;
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::Timestamp(timestamp));
        }
        let sig = self.key.sign(&message(timestamp, body)).to_bytes();
        let mut data = Vec::with_capacity(76);
        data.extend_from_slice(&self.public.key_id.to_be_bytes());
        data.extend_from_slice(&timestamp.to_be_bytes());
        data.extend_from_slice(&sig);
        Ok(format!(
            "\u{2014} {} {}\n",
            self.public.name,
            base64::encode(&data)
        ))
    }
}

/// One witness that validly cosigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The witness's name (the first configured name of its key).
    pub name: String,
    /// Its key id.
    pub key_id: u32,
    /// The latest timestamp among its valid cosignatures.
    pub timestamp: u64,
}

/// Verifies the cosignatures in a signed note against the configured witnesses and returns
/// each distinct witness that validly cosigned its body, in the order of `witnesses`. See the
/// module documentation for what counts. The note's own signature is not checked here.
pub fn verify_cosignatures(
    note: &str,
    witnesses: &[WitnessKey],
) -> Result<Vec<Cosigned>, CosignatureError> {
    let (body, lines) = split_signed(note)?;
    // One slot per distinct public key, at its first configuration.
    let mut found: Vec<Option<u64>> = vec![None; witnesses.len()];
    let slot_of = |w: &WitnessKey| {
        witnesses
            .iter()
            .position(|o| o.key == w.key)
            .unwrap_or_default()
    };
    for line in &lines {
        let Some(witness) = witnesses
            .iter()
            .find(|w| w.name == line.name && w.key_id == line.key_hash)
        else {
            continue;
        };
        let bad = |why| CosignatureError::BadCosignature {
            name: witness.name.clone(),
            key_id: witness.key_id,
            why,
        };
        let Some((time, sig)) = line.signature.split_first_chunk::<8>() else {
            return Err(bad("not a timestamped Ed25519 signature (72 bytes)"));
        };
        let sig = <[u8; 64]>::try_from(sig)
            .map_err(|_| bad("not a timestamped Ed25519 signature (72 bytes)"))?;
        let timestamp = u64::from_be_bytes(*time);
        if timestamp > MAX_TIMESTAMP {
            return Err(bad("the timestamp is more than 2^63 - 1"));
        }
        witness
            .key
            .verify_strict(
                &message(timestamp, body),
                &ed25519_dalek::Signature::from_bytes(&sig),
            )
            .map_err(|_| bad("the signature does not verify: the note was altered"))?;
        if let Some(slot) = found.get_mut(slot_of(witness)) {
            *slot = Some(slot.map_or(timestamp, |t| t.max(timestamp)));
        }
    }
    Ok(witnesses
        .iter()
        .zip(found)
        .filter_map(|(w, t)| {
            t.map(|timestamp| Cosigned {
                name: w.name.clone(),
                key_id: w.key_id,
                timestamp,
            })
        })
        .collect())
}

/// Opens a checkpoint note with the log's key ([`Checkpoint::open`]) and verifies its
/// cosignatures against `witnesses` ([`verify_cosignatures`]): the checkpoint and the distinct
/// witnesses that cosigned exactly the text the log signed. Whether they are a quorum is the
/// caller's policy.
pub fn open_cosigned(
    note: &str,
    log: &NoteVerifier,
    witnesses: &[WitnessKey],
) -> Result<(Checkpoint, Vec<Cosigned>), CosignatureError> {
    let checkpoint = Checkpoint::open(note, log)?;
    Ok((checkpoint, verify_cosignatures(note, witnesses)?))
}
