//! Fixtures the test suites share: traces in weaver-kernel's export shape, chain keys and
//! signers, the weaver-kernel vectors' secret.

use std::fmt;

use trailseal_core::ChainKey;
use trailseal_core::note::NoteSigner;

/// The chain secret the weaver-kernel 0.12.0 vectors (`vectors/weaver-0.12.0`) are written
/// with (weaver-kernel's fixture: short and word-like, so commands warn about it).
pub const VECTOR_SECRET: &str = "fixture-secret-11-é";

/// The chain key of `secret`.
pub fn key(secret: &str) -> ChainKey {
    ChainKey::from_secret(secret.as_bytes()).unwrap()
}

/// An Ed25519 note signer named `name` whose seed is 32 bytes of `seed` (deterministic, so a
/// test can make the same key, or another one, again).
pub fn signer(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::from_seed(name, &[seed; 32]).unwrap()
}

/// A trace in weaver-kernel's export shape, written as JSON text with its members in this
/// order: `action_id`, `capability_id`, `principal_id`, `token_id`, `invoked_at`, `args`,
/// `response_mode`, `driver_id`, then any [`extra`](Trace::extra) text. Every field but
/// `action_id` has a default (see [`Trace::new`] and [`Trace::minimal`]); values are written
/// as given, without escaping (tests pass plain text), and `args` is JSON text.
#[derive(Debug, Clone)]
pub struct Trace {
    action_id: String,
    capability_id: String,
    principal_id: String,
    token_id: String,
    invoked_at: String,
    args: String,
    response_mode: String,
    driver_id: String,
    extra: String,
}

impl Trace {
    /// A typical agent action: capability `crm.search`, principal `agent-7`, token `tok-1`,
    /// invoked at `2026-03-01T09:30:00+00:00`, args `{"q":"acme"}`, response mode `summary`,
    /// driver `http`.
    pub fn new(action_id: impl Into<String>) -> Self {
        Self {
            action_id: action_id.into(),
            capability_id: "crm.search".into(),
            principal_id: "agent-7".into(),
            token_id: "tok-1".into(),
            invoked_at: "2026-03-01T09:30:00+00:00".into(),
            args: r#"{"q":"acme"}"#.into(),
            response_mode: "summary".into(),
            driver_id: "http".into(),
            extra: String::new(),
        }
    }

    /// The shortest valid trace: capability `c`, principal `p`, token `t`, invoked at
    /// `2026-01-01T00:00:00Z`, args `{}`, response mode `raw`, driver `d`.
    pub fn minimal(action_id: impl Into<String>) -> Self {
        Self {
            capability_id: "c".into(),
            principal_id: "p".into(),
            token_id: "t".into(),
            invoked_at: "2026-01-01T00:00:00Z".into(),
            args: "{}".into(),
            response_mode: "raw".into(),
            driver_id: "d".into(),
            ..Self::new(action_id)
        }
    }

    pub fn capability(mut self, capability_id: impl Into<String>) -> Self {
        self.capability_id = capability_id.into();
        self
    }

    pub fn principal(mut self, principal_id: impl Into<String>) -> Self {
        self.principal_id = principal_id.into();
        self
    }

    pub fn token(mut self, token_id: impl Into<String>) -> Self {
        self.token_id = token_id.into();
        self
    }

    pub fn invoked_at(mut self, invoked_at: impl Into<String>) -> Self {
        self.invoked_at = invoked_at.into();
        self
    }

    /// `args` as JSON text.
    pub fn args(mut self, args: impl Into<String>) -> Self {
        self.args = args.into();
        self
    }

    /// JSON text written after the last member, before the closing brace: more members, each
    /// starting with a comma (`,"error":"boom"`).
    pub fn extra(mut self, members: impl Into<String>) -> Self {
        self.extra = members.into();
        self
    }

    /// The trace as one line of JSON (no line end).
    pub fn json(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            r#"{{"action_id":"{}","capability_id":"{}","principal_id":"{}","token_id":"{}","invoked_at":"{}","args":{},"response_mode":"{}","driver_id":"{}"{}}}"#,
            self.action_id,
            self.capability_id,
            self.principal_id,
            self.token_id,
            self.invoked_at,
            self.args,
            self.response_mode,
            self.driver_id,
            self.extra
        )
    }
}

/// What an append interrupted while writing its record line leaves in a JSONL store's tree
/// file (`<store>.tree`): nothing of that record, since the tree hashes are written after the
/// record lines. Tests that make a torn tail by cutting the last line of a complete store call
/// this too, so the store looks like one whose last append was interrupted.
pub fn unwrite_last_tree_hashes(store: &std::path::Path) {
    let mut side = store.as_os_str().to_owned();
    side.push(".tree");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&side)
        .unwrap_or_else(|e| panic!("{}: {e}", std::path::Path::new(&side).display()));
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let hashes = len.saturating_sub(24) / 32;
    let size = trailseal_core::tree::tree_size_for_count(hashes);
    let keep = trailseal_core::tree::stored_hash_count(size.saturating_sub(1)).unwrap_or(0);
    file.set_len(24 + 32 * keep)
        .unwrap_or_else(|e| panic!("cut the tree file: {e}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_documented_traces() {
        assert_eq!(
            Trace::new("a-1").json(),
            r#"{"action_id":"a-1","capability_id":"crm.search","principal_id":"agent-7","token_id":"tok-1","invoked_at":"2026-03-01T09:30:00+00:00","args":{"q":"acme"},"response_mode":"summary","driver_id":"http"}"#
        );
        assert_eq!(
            Trace::minimal("x1").extra(r#","error":"boom""#).json(),
            r#"{"action_id":"x1","capability_id":"c","principal_id":"p","token_id":"t","invoked_at":"2026-01-01T00:00:00Z","args":{},"response_mode":"raw","driver_id":"d","error":"boom"}"#
        );
    }

    #[test]
    fn every_default_trace_is_valid() {
        for t in [Trace::new("a"), Trace::minimal("b")] {
            trailseal_core::PreparedTrace::parse(t.json().as_bytes(), &Default::default()).unwrap();
        }
    }
}
