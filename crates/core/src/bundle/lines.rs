//! The lines of a bundle: one encoder for each (header, entry, trailer, manifest), written
//! through the canonical object writer, and the framing the verifier reads them back with.

use sha2::{Digest, Sha256};

use super::tree::{BundleTree, entry_tree_json, tree_header_json};
use super::{BUNDLE_FORMAT, EntryContent, TREE_BUNDLE_FORMAT, WithheldReasons};
use crate::base64;
use crate::chain::{Hash32, KeyId};
use crate::json;
use crate::time::Timestamp;

pub(super) const BLOCK_DOMAIN: &[u8] = b"trailseal bundle block v1\n";
pub(super) const MANIFEST_MARKER: &str = "trailseal-bundle v1";

/// The members of a header of each format, in key order.
pub(super) fn header_fields(format: u64) -> &'static [&'static str] {
    match format {
        1 => &[
            "created",
            "key_id",
            "origin",
            "selection",
            "trailseal_bundle",
        ],
        2 => &[
            "created",
            "key_id",
            "origin",
            "selection",
            "trailseal_bundle",
            "withheld_reasons",
        ],
        _ => &[
            "created",
            "key_id",
            "origin",
            "selection",
            "trailseal_bundle",
            "tree",
            "withheld_reasons",
        ],
    }
}

/// The members of an entry, in the order they are written; the last is `trace` or
/// `withheld`.
pub(super) const ENTRY_FIELDS: [&str; 3] = ["seq", "prev_hash", "record_hash"];

/// The members of a block trailer's signed part, in key order.
pub(super) const TRAILER_FIELDS: [&str; 7] =
    ["block", "bundle", "count", "digest", "first", "key", "prev"];

/// The lines of a manifest body after its marker, in the order they are written.
pub(super) const MANIFEST_FIELDS: [&str; 9] = [
    "origin", "key-id", "created", "header", "entries", "range", "start", "end", "blocks",
];

pub(super) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub(super) fn hex(raw: &[u8; 32]) -> String {
    Hash32::from_bytes(raw).to_string()
}

/// The header line, with its newline: `selection` must be a canonical JSON object. Format 2
/// without a tree, format 3 (with its `tree` member) with one.
pub(super) fn header_line(
    created: Timestamp,
    key_id: KeyId,
    origin: &str,
    selection: &str,
    reasons: WithheldReasons,
    tree: Option<&BundleTree>,
) -> String {
    let mut line = json::object(|o| {
        o.str("created", &created.to_rfc3339())
            .str("key_id", key_id.as_str())
            .str("origin", origin)
            .raw("selection", selection.as_bytes());
        match tree {
            None => o.u64("trailseal_bundle", BUNDLE_FORMAT),
            Some(t) => o
                .u64("trailseal_bundle", TREE_BUNDLE_FORMAT)
                .raw("tree", tree_header_json(t).as_bytes()),
        };
        o.bool("withheld_reasons", reasons == WithheldReasons::Disclosed);
    });
    line.push('\n');
    line
}

/// An entry line, with its newline. Its members keep the layout of a JSONL record line
/// (`seq, prev_hash, record_hash`, then `trace` or `withheld`), which format 1 fixed; a
/// disclosed record the tree holds has `tree` after its `trace` (format 3).
pub(super) fn entry_line(
    out: &mut Vec<u8>,
    seq: u64,
    prev: Hash32,
    rec: Hash32,
    content: EntryContent<'_>,
    reasons: WithheldReasons,
) {
    json::write_object_in_order(out, |o| {
        o.u64("seq", seq)
            .str("prev_hash", prev.as_str())
            .str("record_hash", rec.as_str());
        match (content, reasons) {
            (EntryContent::Disclosed(trace), _) => o.raw("trace", trace),
            (EntryContent::DisclosedInTree { trace, tree }, _) => o
                .raw("trace", trace)
                .raw("tree", entry_tree_json(tree).as_bytes()),
            // The same bytes whatever the reason.
            (EntryContent::Withheld(_), WithheldReasons::Hidden) => o.bool("withheld", true),
            (EntryContent::Withheld(w), WithheldReasons::Disclosed) => {
                o.str("withheld", w.as_str())
            }
        };
    });
    out.push(b'\n');
}

/// The signed fields of a block trailer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TrailerFields {
    pub(super) block: u64,
    /// SHA-256 of the header line.
    pub(super) bundle: [u8; 32],
    pub(super) count: u64,
    /// SHA-256 of the block's entry lines.
    pub(super) digest: [u8; 32],
    /// Index of the block's first entry.
    pub(super) first: u64,
    /// The signing key's hash.
    pub(super) key: u32,
    /// SHA-256 of the previous trailer line.
    pub(super) prev: [u8; 32],
}

impl TrailerFields {
    /// The trailer as a JSON object, with `sig` (the signature's base64) when given: without
    /// it, the bytes the signature covers (after [`BLOCK_DOMAIN`]).
    pub(super) fn to_json(&self, sig: Option<&str>) -> String {
        json::object(|o| {
            o.u64("block", self.block)
                .str("bundle", &hex(&self.bundle))
                .u64("count", self.count)
                .str("digest", &hex(&self.digest))
                .u64("first", self.first)
                .str("key", &format!("{:08x}", self.key))
                .str("prev", &hex(&self.prev));
            if let Some(sig) = sig {
                o.str("sig", sig);
            }
        })
    }

    /// The trailer line, with its newline, signed by `sign` over the domain and the fields.
    pub(super) fn line(&self, sign: impl FnOnce(&[u8]) -> [u8; 64]) -> String {
        let body = self.to_json(None);
        let sig = sign(&[BLOCK_DOMAIN, body.as_bytes()].concat());
        let mut line = self.to_json(Some(&base64::encode(&sig)));
        line.push('\n');
        line
    }
}

/// A trailer line taken apart: `<unsigned>,"sig":"<base64>"}` and its newline, exactly.
/// The signature covers `<unsigned>}` (after the block signature domain, `BLOCK_DOMAIN`).
#[derive(Debug, PartialEq, Eq)]
pub struct SignedTrailer<'l> {
    /// The signed object without its closing brace.
    pub unsigned: &'l [u8],
    /// The signature's base64 text.
    pub sig: &'l str,
}

impl<'l> SignedTrailer<'l> {
    /// Splits a trailer line into its signed part and signature; `None` unless the line is
    /// exactly that framing (the signature last, its base64 alone in its string, then `}` and
    /// the newline).
    pub fn split(line: &'l [u8]) -> Option<Self> {
        let rest = line.strip_suffix(b"\"}\n")?;
        let at = rest.windows(8).rposition(|w| w == b",\"sig\":\"")?;
        let (unsigned, sig) = (rest.get(..at)?, rest.get(at + 8..)?);
        if !sig
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        {
            return None;
        }
        Some(Self {
            unsigned,
            sig: std::str::from_utf8(sig).ok()?,
        })
    }
}

/// The manifest's signed body: the marker, then one line for each of [`MANIFEST_FIELDS`].
#[derive(Debug)]
pub(super) struct ManifestBody<'a> {
    pub(super) origin: &'a str,
    pub(super) key_id: KeyId,
    pub(super) created: Timestamp,
    /// SHA-256 of the header line.
    pub(super) header: [u8; 32],
    /// `N disclosed D withheld W`.
    pub(super) entries: String,
    pub(super) range: (u64, u64),
    pub(super) start: Hash32,
    pub(super) end: Hash32,
    /// The number of blocks and the last trailer's digest.
    pub(super) blocks: String,
}

impl ManifestBody<'_> {
    pub(super) fn text(&self) -> String {
        format!(
            "{MANIFEST_MARKER}\norigin {}\nkey-id {}\ncreated {}\nheader {}\nentries {}\nrange {} {}\nstart {}\nend {}\nblocks {}\n",
            self.origin,
            self.key_id,
            self.created.to_rfc3339(),
            hex(&self.header),
            self.entries,
            self.range.0,
            self.range.1,
            self.start,
            self.end,
            self.blocks,
        )
    }
}

/// Reads a manifest's signed body: the marker, then exactly the [`MANIFEST_FIELDS`] lines in
/// order, each once; `None` for anything else.
pub(super) fn manifest_fields(
    body: &str,
) -> Option<std::collections::HashMap<&'static str, String>> {
    let mut lines = body.split_terminator('\n');
    if lines.next() != Some(MANIFEST_MARKER) {
        return None;
    }
    let mut fields = std::collections::HashMap::new();
    for name in MANIFEST_FIELDS {
        let value = lines.next()?.strip_prefix(name)?.strip_prefix(' ')?;
        fields.insert(name, value.to_owned());
    }
    lines.next().is_none().then_some(fields)
}

/// The last line, with its newline: `{"manifest":"<signed note>"}`.
pub(super) fn manifest_line(note: &str) -> String {
    let mut line = json::object(|o| {
        o.str("manifest", note);
    });
    line.push('\n');
    line
}
