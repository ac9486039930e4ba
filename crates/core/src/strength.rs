//! How guessable a chain secret is.
//!
//! Everything public that pairs content with a MAC (the key id in anchors and bundles, a
//! bundle's disclosed records with their hashes) lets anyone test guesses of the secret
//! offline, as fast as they can compute HMAC-SHA256. Only a secret drawn at random, long
//! enough, resists that. This module judges a secret by two honest, simple tests: its length,
//! and whether it looks like something a person chose (see [`looks_like_a_word`]). It keeps
//! no part of the secret, not even its exact length.

/// A new store is refused with a secret shorter than this (bytes).
pub const MIN_NEW_STORE_SECRET_BYTES: usize = 16;
/// A secret shorter than this (bytes) gets a warning: 32 random bytes is the advice.
pub const RECOMMENDED_SECRET_BYTES: usize = 32;

/// The verdict on a secret. Holds no part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretStrength {
    /// Shorter than [`MIN_NEW_STORE_SECRET_BYTES`].
    too_short: bool,
    /// Shorter than [`RECOMMENDED_SECRET_BYTES`].
    short: bool,
    word_like: bool,
}

impl SecretStrength {
    /// Judges `secret` (the bytes the chain is keyed with).
    pub fn assess(secret: &[u8]) -> Self {
        Self {
            too_short: secret.len() < MIN_NEW_STORE_SECRET_BYTES,
            short: secret.len() < RECOMMENDED_SECRET_BYTES,
            word_like: looks_like_a_word(secret),
        }
    }

    /// Too short to start a new store with (under 16 bytes).
    pub fn too_short_for_new_store(&self) -> bool {
        self.too_short
    }

    /// Shorter than the recommended 32 bytes.
    pub fn shorter_than_recommended(&self) -> bool {
        self.short
    }

    /// Looks like something a person chose ([`looks_like_a_word`]).
    pub fn looks_like_a_word(&self) -> bool {
        self.word_like
    }

    /// Deserves a warning: short, or word-like.
    pub fn is_weak(&self) -> bool {
        self.short || self.word_like
    }
}

/// Common password words and keyboard or alphabet runs, at least 5 letters each (shorter ones
/// would turn up by chance in random hex). Matched after lowercasing and [`unleet`].
const COMMON: &[&str] = &[
    "secret",
    "passw",
    "admin",
    "audit",
    "trailseal",
    "weaver",
    "kernel",
    "letmein",
    "welcome",
    "changeme",
    "default",
    "qwerty",
    "asdfg",
    "zxcvb",
    "12345",
    "23456",
    "34567",
    "45678",
    "56789",
    "67890",
    "09876",
    "98765",
    "abcde",
    "dragon",
    "monkey",
    "master",
    "hunter",
    "shadow",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "iloveyou",
    "superman",
    "batman",
    "trustno",
    "freedom",
    "whatever",
    "qazwsx",
    "access",
    "login",
    "summer",
    "winter",
    "spring",
    "autumn",
    "hello",
    "private",
    "token",
    "signing",
    "production",
    "staging",
    "company",
    "example",
    "sample",
    "dummy",
    "fixture",
    "canary",
    "chain",
];

/// Undoes the usual letter-for-digit substitutions (`s3cr3t` → `secret`).
fn unleet(c: char) -> char {
    match c {
        '0' => 'o',
        '1' | '!' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        other => other,
    }
}

/// Whether `secret` looks like something a person chose rather than random bytes. True when
/// any of these holds:
///
/// 1. it has fewer than 8 distinct characters (`aaaa…`, `abab…`, `1212…`);
/// 2. lowercased, with `0 1 3 4 5 7 @ $ !` read as `o i e a s t a s i`, it contains one of a
///    short built-in list of common password words and keyboard or alphabet runs (`secret`,
///    `passw…`, `admin`, `qwerty`, `12345`, …);
/// 3. it is made of words: runs of letters, each all lowercase, all uppercase or capitalised,
///    separated by spaces or `-_.,'`, with at most 4 digits or symbols at the end
///    (`correct horse battery staple`, `Summer2024!`).
///
/// Random text (64 hex digits, 43 characters of base64url, a UUID) passes all three except
/// by a chance too small to matter; a person's choice seldom does. Not UTF-8 is judged as
/// the characters it decodes to, lossily.
pub fn looks_like_a_word(secret: &[u8]) -> bool {
    let text = String::from_utf8_lossy(secret);
    few_distinct(&text) || has_common(&text) || made_of_words(&text)
}

fn few_distinct(text: &str) -> bool {
    let mut seen: Vec<char> = Vec::with_capacity(8);
    for c in text.chars() {
        if !seen.contains(&c) {
            seen.push(c);
            if seen.len() >= 8 {
                return false;
            }
        }
    }
    true
}

fn has_common(text: &str) -> bool {
    let folded: String = text.chars().flat_map(char::to_lowercase).collect();
    let plain: String = folded.chars().map(unleet).collect();
    COMMON
        .iter()
        .any(|word| folded.contains(word) || plain.contains(word))
}

fn made_of_words(text: &str) -> bool {
    // At most 4 digits or symbols at the end.
    let body = text.trim_end_matches(|c: char| !c.is_alphabetic() && !c.is_whitespace());
    if text.chars().count() - body.chars().count() > 4 || body.is_empty() {
        return false;
    }
    body.split(|c: char| c.is_whitespace() || "-_.,'".contains(c))
        .filter(|run| !run.is_empty())
        .all(|run| {
            run.chars().all(char::is_alphabetic)
                && (run.chars().skip(1).all(char::is_lowercase)
                    || run.chars().all(char::is_uppercase))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        let s = SecretStrength::assess(b"fifteen-bytes!!");
        assert!(s.too_short_for_new_store() && s.shorter_than_recommended() && s.is_weak());
        let s = SecretStrength::assess(b"xK9#mQ2$vL7!pR4@");
        assert!(!s.too_short_for_new_store() && s.shorter_than_recommended() && s.is_weak());
        let s = SecretStrength::assess(b"Gq7ZtY2vKp9XwR4mNc8LbJ5hDf3SaE6uT1oPiWyQ0zA");
        assert!(!s.too_short_for_new_store() && !s.is_weak());
    }

    #[test]
    fn words_are_recognised() {
        for weak in [
            "s3cret",
            "S3CR3T-value-for-the-audit-log-2026",
            "password123",
            "P@ssw0rd!",
            "correct horse battery staple",
            "Correct-Horse-Battery-Staple",
            "Summer2024!",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "abababababababababababababababab12",
            "qwertyuiopqwertyuiopqwertyuiop12",
            "1234567890123456789012345678901234",
            "tamper-secret",
            "fixture-secret-11-é",
            "interop-secret-ü-😀",
            "Überwachungsprotokollschlüsselwort",
        ] {
            assert!(looks_like_a_word(weak.as_bytes()), "{weak}");
        }
    }

    #[test]
    fn random_text_is_not_a_word() {
        for strong in [
            // 64 hex digits, base64url of 32 bytes, standard base64, a UUID.
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "Gq7ZtY2vKp9XwR4mNc8LbJ5hDf3SaE6uT1oPiWyQ0zA",
            "u7Rk-2_xQv9LmZ4pW0tYbN8cJf6HsD3aEgK1oViXyTe",
            "3q2+7w9Lm0pZxV/8tYbN1cJf6HsD3aEgK4oViXyTuR0=",
            "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
        ] {
            assert!(!looks_like_a_word(strong.as_bytes()), "{strong}");
        }
    }
}
