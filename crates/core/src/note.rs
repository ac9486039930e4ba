//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys, as Go's
//! `golang.org/x/mod/sumdb/note` reads and writes them.
//!
//! A note is UTF-8 text ending in a newline, a blank line, and one or more signature lines
//! `— <key name> <base64(key hash ‖ signature)>`. The key hash is the first 4 bytes of
//! `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`. Keys are written as Go writes them:
//! `PRIVATE+KEY+<name>+<hash>+<base64(0x01 ‖ seed)>` and `<name>+<hash>+<base64(0x01 ‖ public key)>`.
//!
//! The signing key is separate from the chain's HMAC secret: whoever holds the secret can
//! write records; whoever holds the signing key can vouch for a chain's head to anyone with the
//! public key, who needs no secret to check it.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::base64;

const ALG_ED25519: u8 = 1;
/// At most this many signature lines, as in Go's note.Open.
const MAX_SIGNATURES: usize = 100;

/// A problem with a key string or a note.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    #[error("malformed key: {0}")]
    Key(String),
    #[error("malformed note: {0}")]
    Note(String),
    #[error("the note has no signature by key {name} ({hash:08x})")]
    NotSignedBy { name: String, hash: u32 },
    #[error("the signature by key {name} ({hash:08x}) does not verify: the note was altered")]
    BadSignature { name: String, hash: u32 },
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('+')
        && name.chars().all(|c| !c.is_whitespace() && !c.is_control())
}

fn key_hash(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    let mut first = [0u8; 4];
    first.copy_from_slice(d.get(..4).unwrap_or(&[0; 4]));
    u32::from_be_bytes(first)
}

/// The public half: checks signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    hash: u32,
    key: VerifyingKey,
}

impl std::fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoteVerifier({})", self.to_key_string())
    }
}

/// The private half: signs notes. `Debug` shows only the public key.
pub struct NoteSigner {
    name: String,
    hash: u32,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("verifier", &self.verifier().to_key_string())
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer named `name` from a 32-byte Ed25519 seed (the caller draws it at random).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::Key(format!(
                "key name {name:?} must be non-empty, without spaces or '+'"
            )));
        }
        let key = SigningKey::from_bytes(seed);
        let hash = key_hash(name, &key.verifying_key().to_bytes());
        Ok(Self {
            name: name.to_owned(),
            hash,
            key,
        })
    }

    /// Reads `PRIVATE+KEY+<name>+<hash>+<base64(0x01 ‖ seed)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = |why: &str| NoteError::Key(format!("not a signing key ({why})"));
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("no PRIVATE+KEY+ prefix"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hash), Some(data), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected name+hash+key"));
        };
        // Decoded in constant time into a buffer that is wiped on drop: no copy of the seed
        // is left behind.
        let mut buf = Zeroizing::new([0u8; 33]);
        let mut raw = Zeroizing::new([0u8; 32]);
        match base64::decode_into(data, buf.as_mut()) {
            Ok([ALG_ED25519, seed @ ..]) if seed.len() == 32 => raw.copy_from_slice(seed),
            _ => return Err(bad("key data is not an Ed25519 seed")),
        }
        let signer = Self::from_seed(name, &raw)?;
        if u32::from_str_radix(hash, 16).ok() != Some(signer.hash) {
            return Err(bad("the key hash does not match the key"));
        }
        Ok(signer)
    }

    /// The key in Go's private-key format. Handle with care: it is the secret.
    pub fn to_key_string(&self) -> String {
        let seed = Zeroizing::new(self.key.to_bytes());
        let mut data = Zeroizing::new(Vec::with_capacity(33));
        data.push(ALG_ED25519);
        data.extend_from_slice(seed.as_slice());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.hash,
            base64::encode(&data)
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            hash: self.hash,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `body` (which must end in a newline and contain no blank line at its end): the
    /// body, a blank line, and this key's signature line.
    pub fn sign(&self, body: &str) -> Result<String, NoteError> {
        check_body(body)?;
        let sig = self.key.sign(body.as_bytes()).to_bytes();
        let mut data = Vec::with_capacity(68);
        data.extend_from_slice(&self.hash.to_be_bytes());
        data.extend_from_slice(&sig);
        Ok(format!(
            "{body}\n\u{2014} {} {}\n",
            self.name,
            base64::encode(&data)
        ))
    }

    /// Signs raw bytes (for signatures that are not notes).
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

pub(crate) fn check_body(body: &str) -> Result<(), NoteError> {
    if !body.ends_with('\n') {
        return Err(NoteError::Note("the text must end with a newline".into()));
    }
    if body.contains("\n\n") || body.starts_with('\n') {
        return Err(NoteError::Note(
            "the text must not contain a blank line".into(),
        ));
    }
    if body.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Note(
            "the text must not contain control characters".into(),
        ));
    }
    Ok(())
}

/// Adds `signer`'s signature to a signed note: its signature over the note's signed text,
/// after the lines already there. A note that already carries a signature by the key is
/// refused (which one counts must not be a question).
pub fn add_signature(note: &str, signer: &NoteSigner) -> Result<String, NoteError> {
    let (body, lines) = split_signed(note)?;
    if lines
        .iter()
        .any(|l| l.name == signer.name && l.key_hash == signer.hash)
    {
        return Err(NoteError::Note(
            "the note already holds a signature by this key".into(),
        ));
    }
    let signed = signer.sign(body)?;
    let line = signed.get(body.len() + 1..).unwrap_or_default();
    Ok(format!("{note}{line}"))
}

/// One signature line of a note: `— <name> base64(key hash ‖ signature)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLine<'n> {
    /// The key name.
    pub name: &'n str,
    /// The 4-byte key hash (key id).
    pub key_hash: u32,
    /// What follows the key hash (at least one byte).
    pub signature: Vec<u8>,
}

/// Splits a signed note into its signed text and its signature lines, as Go's `note.Open`
/// does (the last blank line separates them; every line after it is a signature line), and
/// checks the syntax of both. Nothing is verified: the caller checks the signatures it knows.
pub fn split_signed(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), NoteError> {
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| NoteError::Note("no blank line before the signatures".into()))?;
    let (body, sigs) = note.split_at(split + 1);
    check_body(body)?;
    let sigs = sigs.strip_prefix('\n').unwrap_or(sigs);
    if !sigs.ends_with('\n') {
        return Err(NoteError::Note(
            "the signature block must end with a newline".into(),
        ));
    }
    if sigs.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Note(
            "the signature block must not contain control characters".into(),
        ));
    }
    let mut lines = Vec::new();
    // Every line of the block is a signature line, as Go's note.Open requires; the signed
    // text is `body` alone.
    for (n, line) in sigs.split_terminator('\n').enumerate() {
        if n >= MAX_SIGNATURES {
            return Err(NoteError::Note(format!(
                "more than {MAX_SIGNATURES} signatures"
            )));
        }
        // The line itself is not quoted: a file given by mistake (a key) must not be echoed.
        let rest = line.strip_prefix("\u{2014} ").ok_or_else(|| {
            NoteError::Note(format!(
                "signature line {} does not start with an em dash",
                n + 1
            ))
        })?;
        let (name, data) = rest
            .split_once(' ')
            .filter(|(name, data)| valid_name(name) && !data.is_empty())
            .ok_or_else(|| NoteError::Note(format!("signature line {} is malformed", n + 1)))?;
        let data = base64::decode(data)
            .map_err(|_| NoteError::Note("a signature is not base64".into()))?;
        let Some((hash, sig)) = data.split_first_chunk::<4>().filter(|(_, s)| !s.is_empty()) else {
            return Err(NoteError::Note("a signature is too short".into()));
        };
        lines.push(SignatureLine {
            name,
            key_hash: u32::from_be_bytes(*hash),
            signature: sig.to_vec(),
        });
    }
    Ok((body, lines))
}

impl NoteVerifier {
    /// Reads `<name>+<hash>+<base64(0x01 ‖ public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = |why: &str| NoteError::Key(format!("not a public key ({why})"));
        let text = text.trim();
        if text.starts_with("PRIVATE+KEY+") {
            return Err(bad("this is a signing key; give the .pub file"));
        }
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(hash), Some(data), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected name+hash+key"));
        };
        if !valid_name(name) {
            return Err(bad("bad key name"));
        }
        let public = base64::decode(data)
            .ok()
            .and_then(|d| {
                let (alg, key) = d.split_first()?;
                (*alg == ALG_ED25519)
                    .then(|| <[u8; 32]>::try_from(key).ok())
                    .flatten()
            })
            .ok_or_else(|| bad("key data is not an Ed25519 public key"))?;
        let key =
            VerifyingKey::from_bytes(&public).map_err(|_| bad("not a valid Ed25519 point"))?;
        let expected = key_hash(name, &public);
        if u32::from_str_radix(hash, 16).ok() != Some(expected) {
            return Err(bad("the key hash does not match the key"));
        }
        Ok(Self {
            name: name.to_owned(),
            hash: expected,
            key,
        })
    }

    /// The key in Go's verifier-key format.
    pub fn to_key_string(&self) -> String {
        let mut data = vec![ALG_ED25519];
        data.extend_from_slice(&self.key.to_bytes());
        format!("{}+{:08x}+{}", self.name, self.hash, base64::encode(&data))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key hash.
    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    /// Checks a raw signature made with [`NoteSigner::sign_bytes`].
    pub fn verify_bytes(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.key
            .verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
            .is_ok()
    }

    /// Opens a signed note: returns its body if it carries a valid signature by this key.
    /// A note without a signature by this key is [`NoteError::NotSignedBy`] (a wrong key); one
    /// whose signature by this key fails is [`NoteError::BadSignature`] (an altered note).
    pub fn open<'n>(&self, note: &'n str) -> Result<&'n str, NoteError> {
        let (body, lines) = split_signed(note)?;
        let mut ours = None;
        for line in lines {
            if line.name == self.name && line.key_hash == self.hash {
                if ours.is_some() {
                    // Go uses the first and drops the rest; which one counts must not be a
                    // question.
                    return Err(NoteError::Note(
                        "the note holds more than one signature by this key".into(),
                    ));
                }
                ours = Some(
                    <[u8; 64]>::try_from(line.signature.as_slice())
                        .map_err(|_| NoteError::Note("an Ed25519 signature has 64 bytes".into()))?,
                );
            }
        }
        let Some(sig) = ours else {
            return Err(NoteError::NotSignedBy {
                name: self.name.clone(),
                hash: self.hash,
            });
        };
        if self
            .key
            .verify_strict(body.as_bytes(), &ed25519_dalek::Signature::from_bytes(&sig))
            .is_err()
        {
            return Err(NoteError::BadSignature {
                name: self.name.clone(),
                hash: self.hash,
            });
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> NoteSigner {
        NoteSigner::from_seed("audit.example/log", &[7u8; 32]).unwrap()
    }

    #[test]
    fn a_signing_key_holds_exactly_an_ed25519_seed() {
        let s = signer();
        let private = s.to_key_string();
        let (head, data) = private.rsplit_once('+').unwrap();
        let mut seed = vec![ALG_ED25519];
        seed.extend_from_slice(&[7u8; 32]);
        assert_eq!(base64::decode(data).unwrap(), seed);
        let with = |raw: &[u8]| NoteSigner::parse(&format!("{head}+{}", base64::encode(raw)));
        assert!(with(&seed).is_ok());
        for bad in [
            [&[2u8][..], &[7u8; 32]].concat(),
            [&[ALG_ED25519][..], &[7u8; 31]].concat(),
            [&[ALG_ED25519][..], &[7u8; 33]].concat(),
            vec![ALG_ED25519],
            Vec::new(),
        ] {
            let e = with(&bad).unwrap_err();
            assert!(e.to_string().contains("not an Ed25519 seed"), "{e}");
        }
        // Not canonical base64: a stray bit under the padding, a missing pad.
        let stray = format!("{}B", data.strip_suffix('A').unwrap_or(data));
        for text in [
            format!("{head}+{stray}"),
            format!("{head}+{}", &data[..data.len() - 1]),
        ] {
            if text != private {
                assert!(NoteSigner::parse(&text).is_err(), "{text}");
            }
        }
    }

    #[test]
    fn keys_round_trip_in_go_format() {
        let s = signer();
        let private = s.to_key_string();
        assert!(private.starts_with("PRIVATE+KEY+audit.example/log+"));
        let again = NoteSigner::parse(&private).unwrap();
        assert_eq!(again.verifier(), s.verifier());
        let public = s.verifier().to_key_string();
        assert_eq!(NoteVerifier::parse(&public).unwrap(), s.verifier());
        // Base64 may contain '+': only the first two separate fields.
        for seed in 0..64u8 {
            let k = NoteSigner::from_seed("n", &[seed; 32]).unwrap();
            assert_eq!(
                NoteVerifier::parse(&k.verifier().to_key_string()).unwrap(),
                k.verifier()
            );
            assert_eq!(
                NoteSigner::parse(&k.to_key_string()).unwrap().verifier(),
                k.verifier()
            );
        }
        assert!(NoteVerifier::parse(&private).is_err());
        assert!(!format!("{s:?}").contains(&private[30..]));
        let mut tampered = public.clone();
        tampered.replace_range(
            public.find('+').unwrap() + 1..public.find('+').unwrap() + 3,
            "ff",
        );
        assert!(NoteVerifier::parse(&tampered).is_err() || tampered == public);
    }

    #[test]
    fn sign_and_open() {
        let s = signer();
        let note = s.sign("audit.example/log\n42\nAAAA\n").unwrap();
        assert!(note.ends_with('\n'));
        assert!(note.contains("\n\n\u{2014} audit.example/log "));
        let v = s.verifier();
        assert_eq!(v.open(&note).unwrap(), "audit.example/log\n42\nAAAA\n");
        let altered = note.replace("\n42\n", "\n43\n");
        assert!(matches!(
            v.open(&altered),
            Err(NoteError::BadSignature { .. })
        ));
        let other = NoteSigner::from_seed("other", &[9u8; 32])
            .unwrap()
            .verifier();
        assert!(matches!(
            other.open(&note),
            Err(NoteError::NotSignedBy { .. })
        ));
        assert!(s.sign("no newline").is_err());
        assert!(s.sign("a\n\nb\n").is_err());
        for cut in 0..note.len() {
            if note.is_char_boundary(cut) {
                assert!(v.open(&note[..cut]).is_err());
            }
        }
    }

    #[test]
    fn the_signature_block_is_read_strictly() {
        let s = signer();
        let v = s.verifier();
        let note = s.sign("audit.example/log\n42\n").unwrap();
        let sig_line = note.rsplit_once("\n\n").unwrap().1.to_owned();
        // The same line twice.
        let repeated = sig_line.clone();
        let other = s.sign("audit.example/log\n43\n").unwrap();
        let bad_line = other.rsplit_once("\n\n").unwrap().1.to_owned();
        // Two signatures by this key, in either order: refused (Go takes the first only).
        for twice in [
            format!("{note}{bad_line}"),
            format!("audit.example/log\n42\n\n{bad_line}{sig_line}"),
            format!("{note}{repeated}"),
        ] {
            assert!(v.open(&twice).is_err(), "{twice}");
        }
        // A carriage return, a bad key name or an empty signature in any signature line.
        let foreign = NoteSigner::from_seed("other", &[9u8; 32]).unwrap();
        let theirs = foreign.sign("audit.example/log\n42\n").unwrap();
        let their_line = theirs.rsplit_once("\n\n").unwrap().1.to_owned();
        assert_eq!(
            v.open(&format!("{note}{their_line}")).unwrap(),
            "audit.example/log\n42\n",
            "another key's signature is allowed"
        );
        for bad in [
            note.replace("=\n", "=\r\n"),
            format!("{note}{}", their_line.replacen("other", "ot+her", 1)),
            format!("{note}\u{2014} other \n"),
            format!("{note}\u{2014} other AAAAAA==\n"),
        ] {
            assert!(v.open(&bad).is_err(), "{bad:?}");
        }
    }
}
