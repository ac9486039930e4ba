//! The trace payload: weaver-kernel's `ActionTrace` export shape.
//!
//! [`PreparedTrace::parse`] validates a trace before it is appended (every field
//! weaver-kernel's decoder needs, with the right types, `status` consistent with `error`, no
//! duplicate or unknown keys, within size and depth limits) and produces its canonical bytes
//! with every optional field filled in, exactly as `export_action_trace` would have written it;
//! `invoked_at` is sealed as the UTC instant in `datetime.isoformat()` spelling.
//! [`TraceSummary`] reads the fields used for listing and retention from any stored payload.

use crate::json::{self, Doc, JsonError, Kind, Mode, NodeRef, ParseOptions};
use crate::time::{Offset, Timestamp};

/// Default limit on the size of one trace's JSON text.
pub const DEFAULT_MAX_TRACE_BYTES: usize = 1 << 20;

/// Default limit on the size of one stored record as read back (a JSONL line, a bundle
/// line), in bytes: larger records are reported as malformed without being read into memory.
/// 8 times the append limit, so that every record appended within the default limits fits:
/// its canonical form is at most 4.5 times the JSON text it came from (`1e15` becomes
/// `1000000000000000.0`, `é` becomes `\u00e9`), and the envelope adds a few hundred bytes.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 8 * DEFAULT_MAX_TRACE_BYTES;

/// Default limit on the nesting depth of one trace (weaver-kernel's Python reader handles
/// roughly 990 levels, less the depth of its own call stack).
pub const DEFAULT_MAX_TRACE_DEPTH: usize = 128;

/// The `ActionTrace` export fields, in canonical (sorted) order.
pub const FIELDS: [&str; 16] = [
    "action_id",
    "args",
    "capability_id",
    "correction",
    "driver_id",
    "error",
    "event_type",
    "handle_id",
    "invoked_at",
    "principal_id",
    "reason_code",
    "response_mode",
    "result_summary",
    "sensitivity",
    "status",
    "token_id",
];

/// Accepted values of `response_mode`.
pub const RESPONSE_MODES: [&str; 4] = ["summary", "table", "handle_only", "raw"];
/// Accepted values of `sensitivity`.
pub const SENSITIVITIES: [&str; 5] = ["NONE", "PII", "PCI", "SECRETS", "MEMORY"];
/// Accepted values of `event_type`.
pub const EVENT_TYPES: [&str; 3] = ["invoke", "expand", "deny"];

/// Limits on one trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceLimits {
    /// Largest JSON text accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting accepted.
    pub max_depth: usize,
}

impl Default for TraceLimits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_TRACE_BYTES,
            max_depth: DEFAULT_MAX_TRACE_DEPTH,
        }
    }
}

/// Why a trace cannot be appended. Messages name the field; the caller adds the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    #[error("trace is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("not valid JSON: {0}")]
    Json(#[from] JsonError),
    /// A JSON problem inside one field's value (invalid UTF-8, nesting too deep, a NaN, ...).
    #[error("field `{field}`: not valid JSON: {source}")]
    FieldJson {
        field: &'static str,
        #[source]
        source: JsonError,
    },
    #[error("a trace must be a JSON object, found {found}")]
    NotObject { found: &'static str },
    #[error("key {key} appears twice in one object")]
    DuplicateKey { key: String },
    #[error("field `{field}` is missing")]
    Missing { field: &'static str },
    #[error("field `{field}` must be {expected}, found {found}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error("field `{field}`: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    #[error("unknown field {field} (the export shape has exactly the 16 ActionTrace fields)")]
    UnknownField { field: String },
    #[error("field `status` is {found:?} but `error` is {error_state}, so it must be {expected:?}")]
    StatusMismatch {
        found: String,
        expected: &'static str,
        error_state: &'static str,
    },
}

/// Shows a key from untrusted input safely: JSON-quoted, ASCII, at most 80 characters.
fn show_key(key: &str) -> String {
    let mut out = Vec::new();
    let short: String = key.chars().take(64).collect();
    json::write_json_string(&short, &mut out);
    let mut s = String::from_utf8_lossy(&out).into_owned();
    if short.len() < key.len() {
        s.push('…');
    }
    s
}

/// A JSON error, naming the export field whose value holds it when there is one.
fn json_error(text: &[u8], e: JsonError) -> TraceError {
    match field_at(text, e.offset) {
        Some(field) => TraceError::FieldJson { field, source: e },
        None => TraceError::Json(e),
    }
}

/// The export field whose value holds byte `offset` of `text`, found by scanning the bytes
/// before it (which the parser read as valid JSON): strings skipped, brackets counted. `None`
/// when the root is not an object, or the offset is in a key, between members or outside.
fn field_at(text: &[u8], offset: usize) -> Option<&'static str> {
    let mut depth = 0usize;
    let (mut in_string, mut escaped, mut string_start) = (false, false, 0);
    // At depth 1: reading a key; inside a value (after its `:`); that value has ended.
    let (mut expect_key, mut in_value, mut value_done) = (false, false, false);
    let mut key: Option<&[u8]> = None;
    for (i, &b) in text.iter().enumerate().take(offset) {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                if depth == 1 && expect_key {
                    key = text.get(string_start..i);
                    expect_key = false;
                } else if depth == 1 && in_value {
                    value_done = true;
                }
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                string_start = i + 1;
            }
            b'{' | b'[' => {
                expect_key = depth == 0 && b == b'{';
                depth += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                value_done = depth == 1;
            }
            b':' if depth == 1 => (in_value, value_done) = (true, false),
            b',' if depth == 1 => (expect_key, in_value, key) = (true, false, None),
            // Whitespace after a scalar member value ends it.
            b' ' | b'\t' | b'\n' | b'\r' if depth == 1 && in_value => {
                value_done |= text
                    .get(i.wrapping_sub(1))
                    .is_some_and(|p| !matches!(p, b':' | b' ' | b'\t' | b'\n' | b'\r'));
            }
            _ => {}
        }
    }
    let inside = depth >= 2 || (depth == 1 && in_value && !value_done);
    let key = key.filter(|_| inside)?;
    FIELDS.iter().copied().find(|f| f.as_bytes() == key)
}

/// A validated trace, ready to be sealed into a record.
#[derive(Clone, PartialEq, Eq)]
pub struct PreparedTrace {
    canonical: String,
    action_id: String,
    invoked_at: String,
    invoked_at_ts: Timestamp,
}

impl std::fmt::Debug for PreparedTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedTrace")
            .field("action_id", &self.action_id)
            .field("invoked_at", &self.invoked_at)
            .field("bytes", &self.canonical.len())
            .finish()
    }
}

fn expect_string<'d>(field: &'static str, node: NodeRef<'d>) -> Result<&'d str, TraceError> {
    node.as_str().ok_or(TraceError::WrongType {
        field,
        expected: "a string",
        found: node.kind().name(),
    })
}

fn expect_kind(field: &'static str, node: NodeRef<'_>, kinds: &[Kind]) -> Result<(), TraceError> {
    if kinds.contains(&node.kind()) {
        return Ok(());
    }
    let expected = match kinds {
        [Kind::Object] => "an object",
        [Kind::Object, Kind::Null] => "an object or null",
        [Kind::String, Kind::Null] => "a string or null",
        _ => "another type",
    };
    Err(TraceError::WrongType {
        field,
        expected,
        found: node.kind().name(),
    })
}

fn expect_one_of(field: &'static str, value: &str, allowed: &[&str]) -> Result<(), TraceError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(TraceError::Invalid {
            field,
            problem: format!("{} is not one of {}", show_key(value), allowed.join(", ")),
        })
    }
}

impl PreparedTrace {
    /// Validates a trace in the export shape and builds its canonical form.
    pub fn parse(text: &[u8], limits: &TraceLimits) -> Result<Self, TraceError> {
        if text.len() > limits.max_bytes {
            return Err(TraceError::TooLarge {
                size: text.len(),
                limit: limits.max_bytes,
            });
        }
        let doc = json::parse_with(
            text,
            &ParseOptions {
                max_depth: limits.max_depth,
            },
        )
        .map_err(|e| json_error(text, e))?;
        Self::from_doc(&doc).map_err(|e| match e {
            TraceError::Json(e) => json_error(text, e),
            other => other,
        })
    }

    fn from_doc(doc: &Doc) -> Result<Self, TraceError> {
        let root = doc.root();
        if root.kind() != Kind::Object {
            return Err(TraceError::NotObject {
                found: root.kind().name(),
            });
        }
        if let Some(key) = doc.find_duplicate_key() {
            return Err(TraceError::DuplicateKey {
                key: show_key(&key),
            });
        }
        doc.check_strict()?;
        let mut present: [Option<NodeRef<'_>>; 16] = [None; 16];
        for (key, value) in root.members() {
            match FIELDS.iter().position(|f| *f == key) {
                Some(i) => {
                    if let Some(slot) = present.get_mut(i) {
                        *slot = Some(value);
                    }
                }
                None => {
                    return Err(TraceError::UnknownField {
                        field: show_key(key),
                    });
                }
            }
        }
        let get = |name: &str| -> Option<NodeRef<'_>> {
            FIELDS
                .iter()
                .position(|f| *f == name)
                .and_then(|i| present.get(i).copied().flatten())
        };
        let required = |name: &'static str| get(name).ok_or(TraceError::Missing { field: name });

        let action_id = expect_string("action_id", required("action_id")?)?;
        if action_id.is_empty() {
            return Err(TraceError::Invalid {
                field: "action_id",
                problem: "must not be empty".into(),
            });
        }
        for field in ["capability_id", "principal_id", "token_id", "driver_id"] {
            expect_string(field, required(field)?)?;
        }
        let invoked_at = expect_string("invoked_at", required("invoked_at")?)?;
        let invoked_at_ts =
            Timestamp::parse(invoked_at, Offset::Required).map_err(|e| TraceError::Invalid {
                field: "invoked_at",
                problem: format!("{}: {e}", show_key(invoked_at)),
            })?;
        if !invoked_at_ts.in_python_range() {
            return Err(TraceError::Invalid {
                field: "invoked_at",
                problem: format!(
                    "{}: in UTC this is outside the years 1 to 9999 that weaver-kernel can hold",
                    show_key(invoked_at)
                ),
            });
        }
        // Sealed in UTC, spelled as weaver-kernel writes it, so that string order (which
        // weaver-kernel's `prune` compares) is the order of the instants.
        let invoked_at = invoked_at_ts.to_python_isoformat();
        expect_kind("args", required("args")?, &[Kind::Object])?;
        let mode = expect_string("response_mode", required("response_mode")?)?;
        expect_one_of("response_mode", mode, &RESPONSE_MODES)?;
        for field in ["handle_id", "error", "reason_code"] {
            if let Some(node) = get(field) {
                expect_kind(field, node, &[Kind::String, Kind::Null])?;
            }
        }
        for field in ["result_summary", "correction"] {
            if let Some(node) = get(field) {
                expect_kind(field, node, &[Kind::Object, Kind::Null])?;
            }
        }
        if let Some(node) = get("sensitivity") {
            expect_one_of(
                "sensitivity",
                expect_string("sensitivity", node)?,
                &SENSITIVITIES,
            )?;
        }
        if let Some(node) = get("event_type") {
            expect_one_of(
                "event_type",
                expect_string("event_type", node)?,
                &EVENT_TYPES,
            )?;
        }
        let failed = get("error").is_some_and(|n| !n.is_null());
        let status = if failed { "failed" } else { "succeeded" };
        if let Some(node) = get("status") {
            let found = expect_string("status", node)?;
            if found != status {
                return Err(TraceError::StatusMismatch {
                    found: found.chars().take(64).collect(),
                    expected: status,
                    error_state: if failed { "set" } else { "null" },
                });
            }
        }

        let mut out = Vec::with_capacity(256);
        let mut failed_at: Option<JsonError> = None;
        json::write_object(&mut out, |o| {
            for field in FIELDS {
                match (get(field), field) {
                    (Some(_), "invoked_at") => {
                        o.str(field, &invoked_at);
                    }
                    (Some(node), _) => {
                        if let Err(e) = o.node(field, node, Mode::Strict) {
                            failed_at.get_or_insert(e);
                        }
                    }
                    (None, "sensitivity") => {
                        o.str(field, "NONE");
                    }
                    (None, "event_type") => {
                        o.str(field, "invoke");
                    }
                    (None, "status") => {
                        o.str(field, status);
                    }
                    (None, _) => {
                        o.null(field);
                    }
                }
            }
        });
        if let Some(e) = failed_at {
            return Err(e.into());
        }
        Ok(Self {
            canonical: String::from_utf8_lossy(&out).into_owned(),
            action_id: action_id.to_owned(),
            invoked_at,
            invoked_at_ts,
        })
    }

    /// The canonical JSON of the trace (ASCII).
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// The trace's `action_id`.
    pub fn action_id(&self) -> &str {
        &self.action_id
    }

    /// The trace's `invoked_at` as sealed: the instant in UTC, spelled as Python's
    /// `datetime.isoformat()` spells it (`2026-01-01T00:00:00+00:00`, `.ffffff` only when the
    /// microseconds are not zero), whatever offset and precision were submitted.
    pub fn invoked_at(&self) -> &str {
        &self.invoked_at
    }

    /// The trace's `invoked_at`, parsed.
    pub fn invoked_at_timestamp(&self) -> Timestamp {
        self.invoked_at_ts
    }
}

/// The fields of a stored trace used for listing, filtering and retention. Read leniently:
/// a field that is missing or of the wrong type is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TraceSummary {
    pub action_id: Option<String>,
    pub capability_id: Option<String>,
    pub principal_id: Option<String>,
    pub invoked_at: Option<String>,
    pub invoked_at_ts: Option<Timestamp>,
    /// What happened: a denial, a failure or a success.
    pub outcome: Outcome,
}

/// What happened to an action, as listed: weaver-kernel's `status` (`"failed"` when `error` is
/// set, else `"succeeded"`), with denials (`event_type` `"deny"`) told apart: weaver-kernel
/// stores a denial with its reason in `error`, but nothing was run and nothing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Outcome {
    /// Ran, no error.
    #[default]
    Succeeded,
    /// Ran (or was expanded) and recorded an error.
    Failed,
    /// Refused by the policy: `event_type` is `"deny"`.
    Denied,
}

impl Outcome {
    /// `"succeeded"`, `"failed"` or `"denied"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Denied => "denied",
        }
    }
}

impl TraceSummary {
    /// Reads the summary fields of a parsed payload.
    pub fn from_node(root: NodeRef<'_>) -> Self {
        let s = |k: &str| root.get(k).and_then(|n| n.as_str()).map(str::to_owned);
        let invoked_at = s("invoked_at");
        let invoked_at_ts = invoked_at
            .as_deref()
            .and_then(|t| Timestamp::parse(t, Offset::DefaultUtc).ok());
        Self {
            action_id: s("action_id"),
            capability_id: s("capability_id"),
            principal_id: s("principal_id"),
            invoked_at,
            invoked_at_ts,
            outcome: if root.get("event_type").and_then(|n| n.as_str()) == Some("deny") {
                Outcome::Denied
            } else if root.get("error").is_some_and(|n| !n.is_null()) {
                Outcome::Failed
            } else {
                Outcome::Succeeded
            },
        }
    }

    /// `"succeeded"`, `"failed"` or `"denied"`.
    pub fn status(&self) -> &'static str {
        self.outcome.as_str()
    }
}

#[cfg(test)]
mod tests;
