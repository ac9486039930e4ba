//! Redaction paths: the fields of a trace that make a bundle withhold the record.
//!
//! A path is member names joined by `.`, each name followed by any number of `[]`, which
//! step into every element of an array: `error`, `args.email`, `args.recipients[].email`,
//! `args.matrix[][]`. A name is one or more characters other than `.`, `[` and `]` (a member
//! whose name holds one of those cannot be named), and is not `*` (there is no wildcard:
//! `[]` is the only step that fans out). Anything else — an empty path or name, a `.` at
//! either end or doubled, `[` not followed by `]`, an index such as `[0]`, a lone `]` — is
//! refused.

use trailseal_core::json::{Kind, NodeRef};

/// Why a redaction path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedactError {
    /// The path is not in the syntax above.
    #[error("redact path {path:?}: {problem}")]
    Invalid { path: String, problem: String },
    /// No record of the exported range holds the path, not even as `null`: it is probably
    /// misspelt, and would withhold nothing.
    #[error(
        "redact path {path:?}: no record of seq {from_seq} to {to_seq} holds it (not even as null), so it would redact nothing"
    )]
    NoMatch {
        path: String,
        from_seq: u64,
        to_seq: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Member(String),
    Elements,
}

/// A parsed redaction path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactPath {
    text: String,
    steps: Vec<Step>,
}

/// What a path reaches in one trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reach {
    /// The path reaches at least one value (`null` included).
    pub present: bool,
    /// The path reaches at least one value that is not `null`: the record is withheld.
    pub redacts: bool,
}

impl RedactPath {
    /// Parses `text` (see the module documentation).
    pub fn parse(text: &str) -> Result<Self, RedactError> {
        let invalid = |problem: String| RedactError::Invalid {
            path: text.to_owned(),
            problem,
        };
        if text.is_empty() {
            return Err(invalid("empty".into()));
        }
        let mut steps = Vec::new();
        let mut at = 0usize;
        for segment in text.split('.') {
            let name_len = segment.find(['[', ']']).unwrap_or(segment.len());
            let (name, mut brackets) = segment.split_at(name_len);
            if name.is_empty() {
                return Err(invalid(format!(
                    "character {}: a member name is missing (names are joined by single dots, each may be followed by [])",
                    at + 1
                )));
            }
            if name == "*" {
                return Err(invalid(format!(
                    "character {}: `*` is not a wildcard; write [] after a name to take every element of an array (args.recipients[].email)",
                    at + 1
                )));
            }
            steps.push(Step::Member(name.to_owned()));
            at += name.chars().count();
            while !brackets.is_empty() {
                let Some(rest) = brackets.strip_prefix("[]") else {
                    return Err(invalid(format!(
                        "character {}: only [] may follow a name (every element of an array; an index is not supported)",
                        at + 1
                    )));
                };
                steps.push(Step::Elements);
                brackets = rest;
                at += 2;
            }
            // The dot.
            at += 1;
        }
        Ok(Self {
            text: text.to_owned(),
            steps,
        })
    }

    /// The path as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What the path reaches in `root` (a member repeated in an object counts as its last
    /// value, as Python reads it and as the canonical form keeps it).
    pub fn reach(&self, root: NodeRef<'_>) -> Reach {
        let mut found = Reach::default();
        walk(root, &self.steps, &mut found);
        found
    }
}

fn walk(node: NodeRef<'_>, steps: &[Step], found: &mut Reach) {
    let Some((step, rest)) = steps.split_first() else {
        found.present = true;
        found.redacts |= !node.is_null();
        return;
    };
    match step {
        Step::Member(name) => {
            if node.kind() == Kind::Object
                && let Some(value) = node.get(name)
            {
                walk(value, rest, found);
            }
        }
        Step::Elements => {
            for element in node.elements() {
                if found.redacts {
                    // Nothing more to learn.
                    return;
                }
                walk(element, rest, found);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailseal_core::json;

    fn reach(path: &str, doc: &str) -> (bool, bool) {
        let doc = json::parse(doc.as_bytes()).unwrap();
        let r = RedactPath::parse(path).unwrap().reach(doc.root());
        (r.present, r.redacts)
    }

    #[test]
    fn paths_step_into_members_and_array_elements() {
        let doc = r#"{"args":{"email":null,"to":[{"n":1},{"email":"x@y"}],"m":[[{"a":1}],[]],"o":{"email":"z"}}}"#;
        assert_eq!(reach("args.email", doc), (true, false));
        assert_eq!(reach("args.to[].email", doc), (true, true));
        assert_eq!(reach("args.to[].n", doc), (true, true));
        assert_eq!(reach("args.to[].zz", doc), (false, false));
        // A name does not step into an array, nor [] into an object.
        assert_eq!(reach("args.to.email", doc), (false, false));
        assert_eq!(reach("args.o[].email", doc), (false, false));
        assert_eq!(reach("args.o.email", doc), (true, true));
        assert_eq!(reach("args.m[][].a", doc), (true, true));
        assert_eq!(reach("args.m[]", doc), (true, true));
        assert_eq!(
            reach("args.to[]", r#"{"args":{"to":[null]}}"#),
            (true, false)
        );
        assert_eq!(reach("args.to[]", r#"{"args":{"to":[]}}"#), (false, false));
        // The last of a repeated member, as the canonical form keeps it.
        assert_eq!(reach("a", r#"{"a":"secret","a":null}"#), (true, false));
        // Escaped names are matched decoded.
        assert_eq!(
            reach("args.email", r#"{"args":{"em\u0061il":"x"}}"#),
            (true, true)
        );
    }

    #[test]
    fn malformed_paths_are_refused() {
        for bad in [
            "", ".", "a.", ".a", "a..b", "a[", "a]", "a[0]", "a[]x", "a[]]", "a[[]]", "[]", "a.[]",
            "*", "a.*.b", "a[].*", "a[ ]",
        ] {
            let err = RedactPath::parse(bad).unwrap_err();
            assert!(
                matches!(&err, RedactError::Invalid { path, .. } if path == bad),
                "{bad:?}: {err:?}"
            );
            assert!(err.to_string().starts_with("redact path "), "{err}");
        }
        for good in ["error", "args.email", "a[].b", "a[][]", "a b.c-d", "é.ü[]"] {
            assert_eq!(RedactPath::parse(good).unwrap().as_str(), good);
        }
    }
}
