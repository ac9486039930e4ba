//! What a proof file's `extra` line carries when trailseal writes it (format.md §12.6): one
//! canonical JSON object, `{"leaf":"<base64 of the 120-byte leaf entry>"}`, with
//! `"salt":"<base64 of 32 bytes>"` and `"trace":<the canonical trace>` when the trace is
//! disclosed. Read strictly: exactly these members, of these types, and the bytes exactly as
//! written (keys sorted, no spaces). The extra data is not authenticated: a checker uses the
//! leaf entry only by hashing it itself, and the salt and the trace only by checking them
//! against that leaf's commitment.

use trailseal_core::base64;
use trailseal_core::json::{self, Kind, Mode};
use trailseal_core::leaf::{LEAF_LEN, Salt};

/// The contents of a trailseal proof file's `extra`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProofExtra {
    /// The leaf entry (120 bytes), as the tree hashes it.
    pub leaf: [u8; LEAF_LEN],
    /// The record's salt, when disclosed.
    pub salt: Option<Salt>,
    /// The canonical trace bytes the leaf commits to, when disclosed (with the salt).
    pub trace: Option<Vec<u8>>,
}

impl std::fmt::Debug for ProofExtra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofExtra")
            .field("salt", &self.salt.is_some())
            .field("trace_bytes", &self.trace.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

/// A proof file's `extra` that is not what trailseal writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofExtraError {
    #[error("extra: not JSON: {0}")]
    Json(String),
    #[error("extra: not a JSON object")]
    NotObject,
    #[error("extra: unknown member {0:?}")]
    Unknown(String),
    #[error("extra: no `leaf`")]
    NoLeaf,
    #[error("extra: `{field}`: {why}")]
    Field {
        field: &'static str,
        why: &'static str,
    },
    #[error("extra: a `trace` without its `salt`")]
    TraceWithoutSalt,
    #[error("extra: not in canonical form (keys sorted, no spaces, members written once)")]
    NotCanonical,
}

fn bytes<const N: usize>(
    field: &'static str,
    node: Option<json::NodeRef<'_>>,
) -> Result<Option<[u8; N]>, ProofExtraError> {
    let Some(node) = node else { return Ok(None) };
    let bad = |why| ProofExtraError::Field { field, why };
    let text = node.as_str().ok_or(bad("not a string"))?;
    let raw = base64::decode(text).map_err(|_| bad("not canonical base64"))?;
    let arr = <[u8; N]>::try_from(raw).map_err(|_| bad("the wrong number of bytes"))?;
    Ok(Some(arr))
}

impl ProofExtra {
    /// The canonical JSON bytes (what goes, base64-encoded, on the `extra` line).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.trace.as_ref().map_or(0, Vec::len));
        json::write_object(&mut out, |o| {
            o.str("leaf", &base64::encode(&self.leaf));
            if let Some(salt) = &self.salt {
                o.str("salt", &base64::encode(salt.as_bytes()));
            }
            if let Some(trace) = &self.trace {
                o.raw("trace", trace);
            }
        });
        out
    }

    /// Reads `extra` as trailseal writes it (see the module documentation).
    pub fn parse(data: &[u8]) -> Result<Self, ProofExtraError> {
        let doc = json::parse(data).map_err(|e| ProofExtraError::Json(e.to_string()))?;
        let root = doc.root();
        if root.kind() != Kind::Object {
            return Err(ProofExtraError::NotObject);
        }
        if let Some((key, _)) = root
            .members()
            .find(|(k, _)| !matches!(*k, "leaf" | "salt" | "trace"))
        {
            return Err(ProofExtraError::Unknown(key.chars().take(64).collect()));
        }
        let leaf = bytes::<LEAF_LEN>("leaf", root.get("leaf"))?.ok_or(ProofExtraError::NoLeaf)?;
        let salt = bytes::<32>("salt", root.get("salt"))?.map(Salt::from_bytes);
        let trace = match root.get("trace") {
            None => None,
            Some(node) if node.kind() == Kind::Object => {
                let mut out = Vec::new();
                node.write_canonical(&mut out, Mode::Python)
                    .map_err(|e| ProofExtraError::Json(e.to_string()))?;
                Some(out)
            }
            Some(_) => {
                return Err(ProofExtraError::Field {
                    field: "trace",
                    why: "not a JSON object",
                });
            }
        };
        if trace.is_some() && salt.is_none() {
            return Err(ProofExtraError::TraceWithoutSalt);
        }
        let extra = Self { leaf, salt, trace };
        // Exactly the bytes trailseal writes: no other spelling of the same members.
        if extra.to_bytes() != data {
            return Err(ProofExtraError::NotCanonical);
        }
        Ok(extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ProofExtra {
        ProofExtra {
            leaf: [7; LEAF_LEN],
            salt: Some(Salt::from_bytes([9; 32])),
            trace: Some(br#"{"a":1,"b":"x"}"#.to_vec()),
        }
    }

    #[test]
    fn round_trips_and_refuses_every_other_spelling() {
        let e = sample();
        let bytes = e.to_bytes();
        assert_eq!(ProofExtra::parse(&bytes).unwrap(), e);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\"leaf\":\"") && text.contains(",\"salt\":\""));
        let leaf_only = ProofExtra {
            salt: None,
            trace: None,
            ..sample()
        };
        assert_eq!(ProofExtra::parse(&leaf_only.to_bytes()).unwrap(), leaf_only);
        let bad = [
            text.replacen('{', "{ ", 1),
            text.replacen("\"leaf\"", "\"leaf\":\"AA==\",\"leaf\"", 1),
            text.replacen("{\"leaf\"", "{\"extra\":1,\"leaf\"", 1),
            text.replacen("\"b\":\"x\"", "\"b\":\"\\u0078\"", 1),
            "[]".to_owned(),
            "{}".to_owned(),
            format!("{{\"leaf\":\"{}\"}}", base64::encode(&[7; 119])),
            format!(
                "{{\"leaf\":\"{}\",\"trace\":{{}}}}",
                base64::encode(&[7; 120])
            ),
            format!("{{\"leaf\":\"{}\",\"salt\":7}}", base64::encode(&[7; 120])),
            format!(
                "{{\"leaf\":\"{}\",\"salt\":\"{}\",\"trace\":[]}}",
                base64::encode(&[7; 120]),
                base64::encode(&[1; 32])
            ),
        ];
        for b in &bad {
            assert!(ProofExtra::parse(b.as_bytes()).is_err(), "{b}");
        }
    }
}
