//! The write transaction of a JSONL store.
//!
//! It holds the file's exclusive lock from [`crate::Store::write`] until it is committed or
//! dropped. What it writes goes one of two ways:
//!
//! - records inserted into a store whose header does not change are buffered, and written at
//!   commit with one `write` and `fsync` at the end of the file; a write that fails part way is
//!   cut back off, so the store is as before ([`StoreError::AppendFailed`]);
//! - a change to the header (a receipt, a new start) or a removal of records, and a copy into
//!   an empty store, write a whole new file beside the store — the header, the lines kept, the
//!   records inserted — which replaces the store (rename, directory `fsync`) at commit.
//!
//! A change to the header after records went into the new file begins it again (the records
//! written so far are copied over). Dropping the transaction writes nothing (the new file, if
//! any, is removed). Reads answer for the store as the transaction leaves it, with two limits: records removed by
//! [`WriteTx::delete_through`] are those stored before the transaction, and records copied
//! into a new file ([`WriteTx::insert_copied`]) are not searched by
//! [`WriteTx::record_hash_at`] and [`WriteTx::find_stored_action_id`] (the protocols never ask).

use std::collections::HashSet;
use std::fs::{File, Metadata};
use std::io::{Read, Seek, SeekFrom, Write};

use trailseal_core::jsonl::{Header, claimed_seq, parse_line, split_lines, write_record_line};
use trailseal_core::start::{ChainStart, StoredKeyId};
use trailseal_core::verify::Flow;
use trailseal_core::{Hash32, Head, KeyId, SealedRecord};

use super::JsonlStore;
use super::cache::AppendCache;
use super::read::key_id_of;
use super::tree::{self, Sidecar};
use crate::atomic::{AtomicFile, Perms};
use crate::{Holdings, ImportRecord, StoreError, StoredTree, WriteTx};
use trailseal_core::tree::MerkleHash;

/// A write transaction on a [`JsonlStore`]; see the [module documentation](self).
#[derive(Debug)]
pub struct JsonlTx<'a> {
    store: &'a mut JsonlStore,
    /// The store file, holding its exclusive lock (released when it closes).
    file: File,
    /// The file as it was when the transaction began.
    meta: Metadata,
    /// The handle's append cache; checked against the file once `cache_valid`.
    cache: Option<AppendCache>,
    cache_valid: bool,
    /// The header as the transaction leaves it, and the records it removes, once it changes
    /// either: then the whole file is rewritten.
    rewrite: Option<Rewrite>,
    /// The new file being written (header, lines kept, then records), once records go there,
    /// and the offset of its first record.
    out: Option<(AtomicFile, u64)>,
    /// The header or the records kept changed after `out` was begun: it is begun again,
    /// with the records written into it so far, before anything more is written.
    out_stale: bool,
    /// Record lines not yet written, each with its line end.
    pending: Vec<u8>,
    /// How many bytes at the start of `pending` are a line end for a last line that had none
    /// (not written into a new file, which ends every line).
    lead: usize,
    /// The `action_id`s of the records inserted.
    pending_ids: Vec<String>,
    /// The first and last record inserted: seq and `record_hash`.
    first_inserted: Option<(u64, Hash32)>,
    last_inserted: Option<(u64, Hash32)>,
    /// The key id on the first line inserted.
    first_inserted_kid: Option<StoredKeyId>,
    /// The key id written on copied lines ([`WriteTx::record_key_id`]).
    copy_kid: Option<KeyId>,
    /// The tree file as read by this transaction (`Some(None)`: there is none), once read.
    tree_file: Option<Option<Sidecar>>,
    /// Tree hashes to append after the records are written: the base, the index of the
    /// first, the hashes.
    tree_pending: Option<(u64, u64, Vec<MerkleHash>)>,
}

/// A record line's bytes besides its trace, at most (seq, hashes, key id, member names).
const LINE_OVERHEAD: usize = 200;

#[derive(Debug)]
struct Rewrite {
    header: Header,
    /// Records with `seq <=` this are not written back.
    drop_through: Option<u64>,
}

impl<'a> JsonlTx<'a> {
    /// Begins a transaction on `store` with its file `file`, locked.
    pub(super) fn begin(store: &'a mut JsonlStore, file: File) -> Result<Self, StoreError> {
        let meta = file
            .metadata()
            .map_err(StoreError::io(&store.location, "stat"))?;
        let cache = store.cache.take();
        Ok(Self {
            store,
            file,
            meta,
            cache,
            cache_valid: false,
            rewrite: None,
            out: None,
            out_stale: false,
            pending: Vec::new(),
            lead: 0,
            pending_ids: Vec::new(),
            first_inserted: None,
            last_inserted: None,
            first_inserted_kid: None,
            copy_kid: None,
            tree_file: None,
            tree_pending: None,
        })
    }

    fn tree_file(&mut self) -> Result<Option<&Sidecar>, StoreError> {
        if self.tree_file.is_none() {
            let (path, location) = (&self.store.path, &self.store.location);
            self.tree_file = Some(match self.store.tree_file.take() {
                Some(kept) => kept.reuse(path, location)?,
                None => Sidecar::open_writable(path, location)?,
            });
        }
        Ok(self.tree_file.as_ref().and_then(Option::as_ref))
    }

    /// Writes the tree hashes of the transaction, after its records.
    fn write_tree(&mut self) -> Result<(), StoreError> {
        let Some((base, first, hashes)) = self.tree_pending.take() else {
            return Ok(());
        };
        let sync = self.store.tree_unsynced.saturating_add(1) >= tree::SYNC_EVERY;
        let opened = self.tree_file.take().flatten();
        self.store.tree_file = tree::append(
            &self.store.path,
            &self.store.location,
            (base, first, &hashes),
            sync,
            opened,
        )?;
        self.store.tree_unsynced = if sync {
            0
        } else {
            self.store.tree_unsynced.saturating_add(1)
        };
        Ok(())
    }

    fn len(&self) -> u64 {
        self.meta.len()
    }

    /// The append cache, checked against the file (and so its tail: a torn tail is refused).
    fn cache(&mut self) -> Result<&mut AppendCache, StoreError> {
        let cache = match self.cache.take() {
            Some(c) if self.cache_valid => c,
            stale => {
                let c = AppendCache::load(self.store, &mut self.file, &self.meta, stale)?;
                self.cache_valid = true;
                c
            }
        };
        Ok(self.cache.insert(cache))
    }

    /// The header as the transaction leaves it, read from the file until the transaction
    /// changes it.
    fn header(&mut self) -> Result<Header, StoreError> {
        match &self.rewrite {
            Some(r) => Ok(r.header.clone()),
            None => Ok(self
                .store
                .header_of(&mut self.file)?
                .unwrap_or_else(|| Header::starting_at(ChainStart::genesis()))),
        }
    }

    /// The rewrite, begun from the file's header if need be.
    fn rewrite(&mut self) -> Result<&mut Rewrite, StoreError> {
        self.out_stale = self.out.is_some();
        if self.rewrite.is_none() {
            let header = self.header()?;
            self.rewrite = Some(Rewrite {
                header,
                drop_through: None,
            });
        }
        self.rewrite
            .as_mut()
            .ok_or_else(|| self.store.conflict("no rewrite"))
    }

    fn drop_through(&self) -> Option<u64> {
        self.rewrite.as_ref().and_then(|r| r.drop_through)
    }

    /// Every record line kept from the file: `f` gets each parsed record (and stops the scan
    /// with [`Flow::Stop`]).
    fn kept_records(
        &self,
        f: &mut dyn FnMut(&trailseal_core::jsonl::LineRecord<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        if self.len() == 0 {
            return Ok(());
        }
        let drop = self.drop_through();
        self.store.for_each_line(0, &mut |item| {
            if let Ok(text) = item.text
                && let Ok(record) = parse_line(text)
                && drop.is_none_or(|d| record.seq > d)
            {
                return f(&record);
            }
            Flow::Continue
        })
    }

    /// Whether records inserted now go into a new file rather than at the end of this one.
    fn streams(&self, copied: bool) -> bool {
        self.out.is_some() || self.rewrite.is_some() || (copied && self.len() == 0)
    }

    /// Starts the new file: the header (if the transaction set one), every line kept, then the
    /// records inserted so far.
    fn materialise(&mut self) -> Result<(), StoreError> {
        let location = self.store.location.clone();
        // Lines are written back with their line end: an interrupted write at the end would
        // become a complete corrupt line, which `repair` could no longer remove.
        let len = self.len();
        self.store.refuse_torn_tail(&mut self.file, len)?;
        if self.out.is_none() {
            // The lock is held: a copy or rewrite that was killed left what is beside it.
            crate::atomic::remove_stale(&self.store.path);
            crate::atomic::remove_stale(&tree::sidecar_path(&self.store.path));
        }
        // The new file gets the mode and owner of the one it replaces, or is not written.
        let mut out = AtomicFile::create(&self.store.path, Perms::SameAs(&self.meta))
            .map_err(StoreError::write(&location))?;
        let io = |e| StoreError::io(&location, "write")(e);
        if let Some(r) = &self.rewrite {
            out.write_all(r.header.to_line().as_bytes()).map_err(io)?;
        }
        if self.len() > 0 {
            let drop = self.drop_through();
            let mut failed = None;
            self.store.for_each_line(0, &mut |item| {
                let text = match &item.text {
                    Ok(text) => *text,
                    // What was not read cannot be written back.
                    Err(problem) => {
                        failed = Some(StoreError::Conflict {
                            location: location.clone(),
                            detail: format!("line {} cannot be rewritten: {problem}", item.number),
                        });
                        return Flow::Stop;
                    }
                };
                let dropped = drop.is_some_and(|d| parse_line(text).is_ok_and(|r| r.seq <= d));
                if !dropped && let Err(e) = out.write_all(text).and_then(|()| out.write_all(b"\n"))
                {
                    failed = Some(StoreError::io(&location, "write")(e));
                    return Flow::Stop;
                }
                Flow::Continue
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
        }
        let records_at = out.writer().stream_position().map_err(io)?;
        if let Some((mut old, at)) = self.out.take() {
            // Begun again: the records already written into the old file follow.
            let copied = old.writer().flush().and_then(|()| {
                let file = old.writer().get_mut();
                file.seek(SeekFrom::Start(at))?;
                std::io::copy(file, &mut out)
            });
            copied.map_err(io)?;
        }
        out.write_all(self.pending.get(self.lead..).unwrap_or_default())
            .map_err(io)?;
        self.pending.clear();
        self.lead = 0;
        self.out = Some((out, records_at));
        self.out_stale = false;
        Ok(())
    }

    /// Whether the file's last byte ends a line (`\r` does, as in universal newlines).
    fn ends_with_line_end(&mut self) -> Result<bool, StoreError> {
        let len = self.len();
        if len == 0 {
            return Ok(true);
        }
        let mut last = [0u8; 1];
        self.file
            .seek(SeekFrom::Start(len - 1))
            .and_then(|_| self.file.read_exact(&mut last))
            .map_err(StoreError::io(&self.store.location, "read"))?;
        Ok(matches!(last, [b'\n' | b'\r']))
    }

    /// Writes record lines made by `write` (one call per record: seq, `record_hash`,
    /// `action_id`, and the line appended to the buffer given), refusing any over the record
    /// limit; `kid` is the key id on the lines.
    fn put_lines<T>(
        &mut self,
        records: &[T],
        kid: Option<KeyId>,
        copied: bool,
        mut write: impl FnMut(&T, &mut Vec<u8>) -> (u64, Hash32, String),
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let streams = self.streams(copied);
        if streams && (self.out.is_none() || self.out_stale) {
            self.materialise()?;
        }
        if !streams && self.pending.is_empty() && !self.ends_with_line_end()? {
            // A complete last line without its line end (hand-edited) gets one first.
            self.pending.push(b'\n');
            self.lead = 1;
        }
        let mark = self.pending.len();
        let mut ids = Vec::with_capacity(records.len());
        let mut ends = None;
        for r in records {
            let before = self.pending.len();
            let (seq, hash, id) = write(r, &mut self.pending);
            let size = (self.pending.len() - before).saturating_sub(1);
            if let Err(e) = self.store.refuse_oversized(seq, size) {
                self.pending.truncate(mark);
                if mark == 0 {
                    self.lead = 0;
                }
                return Err(e);
            }
            ids.push(id);
            let first = ends.map_or((seq, hash), |(f, _)| f);
            ends = Some((first, (seq, hash)));
        }
        if let Some((out, _)) = self.out.as_mut() {
            let written = out.write_all(&self.pending);
            self.pending.clear();
            written.map_err(StoreError::io(&self.store.location, "write"))?;
        }
        if let Some((first, last)) = ends {
            self.first_inserted.get_or_insert(first);
            self.last_inserted = Some(last);
        }
        self.first_inserted_kid
            .get_or_insert(kid.map_or(StoredKeyId::Absent, StoredKeyId::Present));
        self.pending_ids.extend(ids);
        Ok(())
    }

    /// Writes `bytes` at the end of the file and syncs them. When that fails part way, the
    /// file is cut back to its length (and synced) so the store is exactly as before
    /// ([`StoreError::AppendFailed`]); if even that fails, [`StoreError::AppendTorn`].
    fn write_or_undo(&mut self) -> Result<(), StoreError> {
        let location = &self.store.location;
        let (action, source) = match self.file.write_all(&self.pending) {
            Err(e) => ("write", e),
            Ok(()) => match self.file.sync_data() {
                Err(e) => ("fsync", e),
                Ok(()) => return Ok(()),
            },
        };
        match self
            .file
            .set_len(self.meta.len())
            .and_then(|()| self.file.sync_all())
        {
            Ok(()) => Err(StoreError::AppendFailed {
                location: location.clone(),
                action,
                source,
            }),
            Err(cleanup) => Err(StoreError::AppendTorn {
                location: location.clone(),
                action,
                source,
                cleanup,
            }),
        }
    }
}

impl Drop for JsonlTx<'_> {
    fn drop(&mut self) {
        // What the cache says is still true of the file: a rollback wrote nothing, a commit
        // left the cache it made (or none).
        if let Some(cache) = self.cache.take() {
            self.store.cache = Some(cache);
        }
    }
}

impl WriteTx for JsonlTx<'_> {
    fn location(&self) -> &str {
        &self.store.location
    }

    fn head(&mut self) -> Result<Head, StoreError> {
        if let Some((seq, hash)) = self.last_inserted {
            let next_seq = seq.checked_add(1).ok_or_else(|| StoreError::SeqOverflow {
                location: self.store.location.clone(),
            })?;
            return Ok(Head {
                next_seq,
                prev_hash: hash,
            });
        }
        let drop = self.drop_through();
        let cache = self.cache()?;
        let (head, last_seq) = (cache.head, cache.last_seq);
        match &self.rewrite {
            None => Ok(head),
            Some(_) if last_seq.is_some_and(|s| drop.is_none_or(|d| s > d)) => Ok(head),
            Some(r) => self.store.start_head(&r.header.start),
        }
    }

    fn find_stored_action_id(&mut self, action_ids: &[&str]) -> Result<Option<usize>, StoreError> {
        // Only a transaction that asks after inserting gets here with any (not the protocols).
        let pending = &self.pending_ids;
        if let Some(i) = action_ids
            .iter()
            .position(|id| pending.iter().any(|p| p == id))
        {
            return Ok(Some(i));
        }
        if self.drop_through().is_none() {
            let ids = &self.cache()?.ids;
            return Ok(action_ids.iter().position(|id| ids.contains(*id)));
        }
        let mut stored = HashSet::new();
        self.kept_records(&mut |r| {
            if let Some(id) = trailseal_core::jsonl::action_id_of(r) {
                stored.insert(id);
            }
            Flow::Continue
        })?;
        Ok(action_ids.iter().position(|id| stored.contains(*id)))
    }

    fn holdings(&mut self) -> Result<Option<Holdings>, StoreError> {
        let len = self.len();
        let header = self.header()?;
        let inserted = self.last_inserted.map(|(s, _)| s);
        if len > 0 {
            let last_seq = match inserted {
                Some(seq) => Some(seq),
                None => self
                    .store
                    .last_line(&mut self.file, len)
                    .ok()
                    .flatten()
                    .and_then(|last| claimed_seq(&last.bytes)),
            };
            return Ok(Some(Holdings {
                last_seq,
                bytes: Some(len),
                ..Holdings::default()
            }));
        }
        let untouched = inserted.is_none()
            && header.retention.is_empty()
            && header.archive_of.is_none()
            && header.start == ChainStart::genesis();
        if untouched {
            return Ok(None);
        }
        Ok(Some(Holdings {
            first_seq: self.first_inserted.map(|(s, _)| s),
            last_seq: inserted,
            receipts: Some(header.retention.len() as u64),
            ..Holdings::default()
        }))
    }

    fn first_seq(&mut self) -> Result<Option<u64>, StoreError> {
        let mut first = None;
        self.kept_records(&mut |r| {
            first = Some(r.seq);
            Flow::Stop
        })?;
        Ok(first.or(self.first_inserted.map(|(s, _)| s)))
    }

    fn record_hash_at(&mut self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let mut found = None;
        self.kept_records(&mut |r| {
            if r.seq == seq {
                found = Some(r.record_hash.to_vec());
                return Flow::Stop;
            }
            Flow::Continue
        })?;
        if found.is_none() {
            let pending = self.pending.get(self.lead..).unwrap_or_default();
            found = split_lines(pending, trailseal_core::jsonl::Terminators::LineFeed)
                .filter_map(|l| parse_line(l.bytes).ok())
                .find(|r| r.seq == seq)
                .map(|r| r.record_hash.to_vec());
        }
        Ok(found)
    }

    fn insert(&mut self, records: &[SealedRecord<'_>], key_id: &KeyId) -> Result<(), StoreError> {
        let kid = Some(*key_id);
        self.pending.reserve(
            records
                .iter()
                .map(|r| r.trace.canonical().len() + LINE_OVERHEAD)
                .sum(),
        );
        self.put_lines(records, kid, false, |r, out| {
            write_record_line(
                out,
                r.seq,
                r.prev_hash.as_bytes(),
                r.record_hash.as_bytes(),
                kid,
                r.trace.canonical().as_bytes(),
            );
            (r.seq, r.record_hash, r.trace.action_id().to_owned())
        })
    }

    fn insert_copied(&mut self, records: &[ImportRecord]) -> Result<(), StoreError> {
        let kid = self.copy_kid;
        self.pending
            .reserve(records.iter().map(|r| r.trace.len() + LINE_OVERHEAD).sum());
        self.put_lines(records, kid, true, |r, out| {
            write_record_line(
                out,
                r.seq,
                r.prev_hash.as_bytes(),
                r.record_hash.as_bytes(),
                kid,
                r.trace.as_bytes(),
            );
            (r.seq, r.record_hash, r.action_id.clone())
        })
    }

    fn retention_len(&mut self) -> Result<u64, StoreError> {
        Ok(self.header()?.retention.len() as u64)
    }

    fn push_receipt(&mut self, receipt: &str) -> Result<(), StoreError> {
        self.rewrite()?.header.retention.push(receipt.to_owned());
        Ok(())
    }

    fn delete_through(&mut self, last_seq: u64) -> Result<(), StoreError> {
        let rewrite = self.rewrite()?;
        rewrite.drop_through = Some(rewrite.drop_through.map_or(last_seq, |d| d.max(last_seq)));
        // What is left is no longer an archive of a prune.
        rewrite.header.archive_of = None;
        Ok(())
    }

    fn set_start(&mut self, start: &ChainStart) -> Result<(), StoreError> {
        self.rewrite()?.header.start = start.clone();
        Ok(())
    }

    fn key_id(&mut self) -> Result<StoredKeyId, StoreError> {
        // A rotated store is under the key its last rotation names (a rotation in place
        // leaves the lines before it under the old key).
        if let Some(id) = crate::rotated_to(&self.header()?.retention) {
            return Ok(StoredKeyId::Present(id));
        }
        let first_line = if self.drop_through().is_some() {
            let mut kid = None;
            let drop = self.drop_through();
            self.store.for_each_line(0, &mut |item| {
                let kept = item
                    .text
                    .as_ref()
                    .ok()
                    .and_then(|t| parse_line(t).ok())
                    .is_none_or(|r| drop.is_none_or(|d| r.seq > d));
                if !kept {
                    return Flow::Continue;
                }
                kid = Some(key_id_of(item));
                Flow::Stop
            })?;
            kid
        } else if self.len() == 0 {
            None
        } else {
            self.cache()?.first_kid
        };
        let known = first_line
            .or(self.first_inserted_kid)
            .or(self.copy_kid.map(StoredKeyId::Present));
        if let Some(known) = known {
            return Ok(known);
        }
        Ok(StoredKeyId::Absent)
    }

    fn record_key_id(&mut self, key_id: &KeyId) -> Result<(), StoreError> {
        self.copy_kid = Some(*key_id);
        Ok(())
    }

    fn set_archive_of(&mut self, receipt: &str) -> Result<(), StoreError> {
        self.rewrite()?.header.archive_of = Some(receipt.to_owned());
        Ok(())
    }

    fn tree(&mut self) -> Result<Option<StoredTree>, StoreError> {
        let stored = self.tree_file()?.map(Sidecar::tree);
        Ok(match (&self.tree_pending, stored) {
            (Some((_, _, pending)), Some(t)) => Some(StoredTree {
                base: t.base,
                hashes: t.hashes + pending.len() as u64,
            }),
            (Some((base, _, pending)), None) => Some(StoredTree {
                base: *base,
                hashes: pending.len() as u64,
            }),
            (None, stored) => stored,
        })
    }

    fn read_tree_hashes(&mut self, first: u64, out: &mut [MerkleHash]) -> Result<(), StoreError> {
        let location = self.store.location.clone();
        let in_file = self.tree_file()?.map_or(0, |s| s.tree().hashes);
        let (from_file, from_pending) = out.split_at_mut(
            usize::try_from(in_file.saturating_sub(first))
                .unwrap_or(usize::MAX)
                .min(out.len()),
        );
        if let Some(side) = self.tree_file()? {
            side.read(&location, first, from_file)?;
        } else if !from_file.is_empty() {
            return Err(crate::tree::tree_error(&location, first, "missing"));
        }
        if from_pending.is_empty() {
            return Ok(());
        }
        let start = first.saturating_add(from_file.len() as u64) - in_file;
        let pending = self
            .tree_pending
            .as_ref()
            .map_or(&[][..], |(_, _, p)| p.as_slice());
        let run = usize::try_from(start)
            .ok()
            .and_then(|s| pending.get(s..s.checked_add(from_pending.len())?))
            .ok_or_else(|| crate::tree::tree_error(&location, first, "missing"))?;
        from_pending.copy_from_slice(run);
        Ok(())
    }

    fn append_tree(
        &mut self,
        base: u64,
        first: u64,
        hashes: &[MerkleHash],
    ) -> Result<(), StoreError> {
        let holds = self.tree()?.map_or(0, |t| t.hashes);
        if first != holds {
            return Err(crate::tree::tree_error(
                &self.store.location,
                first,
                format!("written where the store holds {holds} hashes"),
            ));
        }
        match &mut self.tree_pending {
            Some((_, _, pending)) => pending.extend_from_slice(hashes),
            None => self.tree_pending = Some((base, first, hashes.to_vec())),
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        if self.rewrite.is_some() || self.out.is_some() {
            if self.out.is_none() || self.out_stale {
                self.materialise()?;
            }
            // Whatever happens now, the file this handle knew may be gone.
            self.cache = None;
            let Some((out, _)) = self.out.take() else {
                return Ok(());
            };
            // The lock on the replaced file is released only after the rename, when `file`
            // closes.
            out.replace()
                .map_err(StoreError::write(&self.store.location))?;
            // The records are stored: a tree that cannot be written now is caught up later.
            let _ = self.write_tree();
            return Ok(());
        }
        if self.pending.is_empty() {
            return self.write_tree();
        }
        // Checks the tail (refusing a torn one) if nothing did yet.
        self.cache()?;
        self.write_or_undo()?;
        let len = self.len() + self.pending.len() as u64;
        let head = self.head()?;
        let last_seq = self.last_inserted.map(|(s, _)| s);
        let inserted_kid = self.first_inserted_kid;
        let ids = std::mem::take(&mut self.pending_ids);
        let cache = self.cache()?;
        cache.len = len;
        cache.head = head;
        cache.last_seq = last_seq.or(cache.last_seq);
        cache.ids.extend(ids);
        if cache.first_kid.is_none() {
            cache.first_kid = inserted_kid;
        }
        // The records are stored and durable: a tree that cannot be written now is brought up
        // by a later write (see the `tree` module).
        let _ = self.write_tree();
        Ok(())
    }
}
