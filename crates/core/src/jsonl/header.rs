//! The header line of a JSONL store.

use crate::json::{self, Kind, Mode};
use crate::start::{ChainStart, StartJsonError};

/// The first line of a JSONL store that does not start at genesis, or that carries a
/// retention log (a pruned store, an export or archive of one):
/// `{"trailseal":{"archive_of":{…},"format":1,"retention":[…],"start":{"kind":"…","prev_hash":"…","seq":N}}}`
/// (canonical: keys sorted; `archive_of` and `retention` only when present).
/// weaver-kernel cannot read a file with this line (see docs/format.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Where the chain in the file starts.
    pub start: ChainStart,
    /// The retention log: receipts as canonical JSON texts, oldest first.
    pub retention: Vec<String>,
    /// For an archive of pruned records: the prune receipt that removed them from their store.
    pub archive_of: Option<String>,
}

/// The header format version this code writes and reads.
pub const HEADER_FORMAT: u64 = 1;

/// Why a line that begins as a header is not one this version can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// Not a header in the format: `reason` completes "the header line …".
    #[error("the header line {reason}")]
    Invalid { reason: String },
    /// A header of a newer format than [`HEADER_FORMAT`].
    #[error(
        "the header line has format {found}, newer than this version reads (up to {supported})"
    )]
    Newer { found: u64, supported: u64 },
}

impl Header {
    /// A header that only sets the start.
    pub fn starting_at(start: ChainStart) -> Header {
        Header {
            start,
            retention: Vec::new(),
            archive_of: None,
        }
    }

    /// The header as one line, with its newline: one canonical object, written by the one
    /// object writer (the start in [`ChainStart::write_json`]'s encoding).
    pub fn to_line(&self) -> String {
        let mut line = json::object(|o| {
            o.object("trailseal", |t| {
                if let Some(receipt) = &self.archive_of {
                    t.raw("archive_of", receipt.as_bytes());
                }
                t.u64("format", HEADER_FORMAT);
                if !self.retention.is_empty() {
                    t.array("retention", |list| {
                        for receipt in &self.retention {
                            list.raw(receipt.as_bytes());
                        }
                    });
                }
                t.object("start", |start| self.start.write_json(start));
            });
        });
        line.push('\n');
        line
    }

    /// Reads a line (stripped) as a header. `Ok(None)` when the line is not a header.
    pub fn parse(line: &[u8]) -> Result<Option<Header>, HeaderError> {
        if !line.starts_with(b"{\"trailseal\"") {
            return Ok(None);
        }
        let invalid = |reason: &str| HeaderError::Invalid {
            reason: reason.to_owned(),
        };
        let doc = json::parse(line).map_err(|e| invalid(&format!("is not valid JSON: {e}")))?;
        // Its receipts are MAC'd in canonical form, which drops a repeated member: refused.
        if let Some(name) = doc.find_duplicate_key() {
            return Err(invalid(&format!("repeats the member {name:?}")));
        }
        let Some(header) = doc.root().get("trailseal") else {
            return Ok(None);
        };
        let format = header
            .get("format")
            .and_then(|n| n.as_u64())
            .ok_or_else(|| invalid("has no format"))?;
        if format > HEADER_FORMAT {
            return Err(HeaderError::Newer {
                found: format,
                supported: HEADER_FORMAT,
            });
        }
        let start = header.get("start").ok_or_else(|| invalid("has no start"))?;
        let start = ChainStart::from_json(start).map_err(|e| match e {
            StartJsonError::Kind => invalid("has an unknown start.kind"),
            other => invalid(&format!("has no start.{}", other.member())),
        })?;
        let text = |node: json::NodeRef<'_>| {
            let mut out = Vec::new();
            node.write_canonical(&mut out, Mode::Python)
                .map(|()| String::from_utf8_lossy(&out).into_owned())
        };
        let retention = match header.get("retention") {
            None => Vec::new(),
            Some(list) if list.kind() == Kind::Array => list
                .elements()
                .map(text)
                .collect::<Result<_, _>>()
                .map_err(|e| invalid(&e.to_string()))?,
            Some(_) => return Err(invalid("has a retention member that is not a list")),
        };
        let archive_of = header
            .get("archive_of")
            .map(text)
            .transpose()
            .map_err(|e| invalid(&e.to_string()))?;
        Ok(Some(Header {
            start,
            retention,
            archive_of,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::start::StartKind;

    #[test]
    fn a_header_with_a_repeated_member_is_refused() {
        // Its receipts are read in canonical form, which keeps only the last of a repeated
        // member: the first would be stored text that no MAC covers.
        let line = Header::starting_at(ChainStart::genesis()).to_line();
        assert!(Header::parse(line.trim_end().as_bytes()).unwrap().is_some());
        let repeated = line.replacen("\"seq\":0", "\"seq\":5,\"seq\":0", 1);
        assert_ne!(repeated, line);
        assert!(matches!(
            Header::parse(repeated.trim_end().as_bytes()),
            Err(HeaderError::Invalid { .. })
        ));
    }

    #[test]
    fn a_header_reads_back_as_written() {
        let header = Header {
            start: ChainStart {
                next_seq: 12,
                prev_hash: b"ab\"\\".to_vec(),
                kind: StartKind::Checkpoint,
            },
            retention: vec!["{\"a\":1}".into(), "{\"b\":[2]}".into()],
            archive_of: Some("{\"c\":\"d\"}".into()),
        };
        let line = header.to_line();
        assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
        assert_eq!(Header::parse(line.trim_end().as_bytes()), Ok(Some(header)));
        let newer = line.replace("\"format\":1", "\"format\":2");
        assert_eq!(
            Header::parse(newer.trim_end().as_bytes()),
            Err(HeaderError::Newer {
                found: 2,
                supported: 1
            })
        );
        assert_eq!(Header::parse(b"{\"seq\":0}"), Ok(None));
    }
}
