//! Writing a bundle, line by line.

use super::lines::{ManifestBody, entry_line, header_line, manifest_line};
use super::state::BlockState;
use super::tree::{BundleTree, OpenTree};
use super::{BundleError, EntryContent, WithheldReasons};
use crate::chain::{Hash32, KeyId};
use crate::note::NoteSigner;
use crate::time::Timestamp;

/// Writes a bundle, line by line.
#[derive(Debug)]
pub struct BundleWriter<'s> {
    signer: &'s NoteSigner,
    origin: String,
    created: Timestamp,
    key_id: KeyId,
    reasons: WithheldReasons,
    /// The tree the header embeds (format 3): each disclosed entry it holds is checked
    /// against it before it is written.
    tree: Option<OpenTree>,
    state: BlockState,
    first_seq: Option<u64>,
    start: Option<Hash32>,
    last: Option<(u64, Hash32)>,
}

impl<'s> BundleWriter<'s> {
    /// Starts a bundle; returns the writer and the header line. `selection` is a canonical
    /// JSON object describing how the entries were chosen (recorded, not interpreted);
    /// `reasons` whether hash-only entries say why they are withheld (recorded in the header).
    pub fn new(
        signer: &'s NoteSigner,
        origin: &str,
        created: Timestamp,
        key_id: KeyId,
        selection: &str,
        reasons: WithheldReasons,
    ) -> (Self, String) {
        let header = header_line(created, key_id, origin, selection, reasons, None);
        let writer = Self {
            signer,
            origin: origin.to_owned(),
            created,
            key_id,
            reasons,
            tree: None,
            state: BlockState::after_header(header.as_bytes()),
            first_seq: None,
            start: None,
            last: None,
        };
        (writer, header)
    }

    /// As [`BundleWriter::new`], for a bundle of format 3 that embeds `tree`: its checkpoint
    /// must be signed by `signer`, name `tree_origin(origin)` and a tree of at least one
    /// leaf. Each disclosed record the tree holds must then be given with its leaf, salt and
    /// proof ([`EntryContent::DisclosedInTree`]), which are checked before they are written.
    pub fn with_tree(
        signer: &'s NoteSigner,
        origin: &str,
        created: Timestamp,
        key_id: KeyId,
        selection: &str,
        reasons: WithheldReasons,
        tree: &BundleTree,
    ) -> Result<(Self, String), BundleError> {
        let open = OpenTree::open(tree, &signer.verifier(), origin)?;
        let header = header_line(created, key_id, origin, selection, reasons, Some(tree));
        let writer = Self {
            signer,
            origin: origin.to_owned(),
            created,
            key_id,
            reasons,
            tree: Some(open),
            state: BlockState::after_header(header.as_bytes()),
            first_seq: None,
            start: None,
            last: None,
        };
        Ok((writer, header))
    }

    /// The tree the bundle embeds, if any.
    pub fn tree(&self) -> Option<&OpenTree> {
        self.tree.as_ref()
    }

    /// Adds the next entry; returns the text to write (the entry line, and a block trailer when
    /// the entry completes a block).
    pub fn entry(
        &mut self,
        seq: u64,
        prev_hash: &[u8],
        record_hash: &[u8],
        content: EntryContent<'_>,
    ) -> Result<String, BundleError> {
        let prev = Hash32::parse(prev_hash).ok_or(BundleError::NotAHash {
            seq,
            what: "prev_hash",
        })?;
        let rec = Hash32::parse(record_hash).ok_or(BundleError::NotAHash {
            seq,
            what: "record_hash",
        })?;
        if let Some((last_seq, last_hash)) = self.last {
            if last_seq.checked_add(1) != Some(seq) {
                return Err(BundleError::NotContiguous {
                    seq,
                    expected: last_seq.saturating_add(1),
                });
            }
            if prev != last_hash {
                return Err(BundleError::NotLinked { seq });
            }
        } else {
            self.first_seq = Some(seq);
            self.start = Some(prev);
        }
        let in_tree = self.tree.as_ref().filter(|t| t.index_of(seq).is_some());
        match (content, in_tree) {
            (EntryContent::Disclosed(_), Some(_)) => return Err(BundleError::TreeMissing { seq }),
            (EntryContent::DisclosedInTree { trace, tree }, Some(open)) => open
                .check_entry(seq, &prev, &rec, trace, tree)
                .map_err(|problem| BundleError::TreeEntry { seq, problem })?,
            (EntryContent::DisclosedInTree { .. }, None) => {
                return Err(BundleError::TreeEntry {
                    seq,
                    problem: super::EntryTreeError::NotInTree,
                });
            }
            _ => {}
        }
        let mut line = Vec::new();
        entry_line(&mut line, seq, prev, rec, content, self.reasons);
        self.state.add_entry(
            &line,
            matches!(
                content,
                EntryContent::Disclosed(_) | EntryContent::DisclosedInTree { .. }
            ),
        );
        self.last = Some((seq, rec));
        let mut text = String::from_utf8_lossy(&line).into_owned();
        if self.state.block_is_full() {
            text.push_str(&self.trailer());
        }
        Ok(text)
    }

    fn trailer(&mut self) -> String {
        let fields = self.state.close_block(self.signer.verifier().key_hash());
        let line = fields.line(|bytes| self.signer.sign_bytes(bytes));
        self.state.next_block(line.as_bytes());
        line
    }

    /// Ends the bundle; returns the last trailer (if a block is open) and the manifest line.
    pub fn finish(mut self) -> Result<String, BundleError> {
        let (Some(first), Some(start), Some((last_seq, end))) =
            (self.first_seq, self.start, self.last)
        else {
            return Err(BundleError::Empty);
        };
        let mut out = String::new();
        if self.state.block_count > 0 {
            out.push_str(&self.trailer());
        }
        let body = ManifestBody {
            origin: &self.origin,
            key_id: self.key_id,
            created: self.created,
            header: self.state.header_hash,
            entries: self.state.counts(),
            range: (first, last_seq),
            start,
            end,
            blocks: self.state.blocks(),
        };
        let note = self.signer.sign(&body.text())?;
        out.push_str(&manifest_line(&note));
        Ok(out)
    }
}
