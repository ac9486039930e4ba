//! What a handle remembers between its writes, so an append need not read the whole file:
//! the ids stored, the head, the key id of the first line. Valid for one file (device and
//! inode) up to one length; when other writers appended meanwhile, only what they added is
//! read.

use std::collections::HashSet;
use std::fs::File;

use trailseal_core::Head;
use trailseal_core::jsonl::{action_id_of, parse_line};
use trailseal_core::start::StoredKeyId;
use trailseal_core::verify::Flow;

use super::read::key_id_of;
use super::{JsonlStore, identity};
use crate::StoreError;

#[derive(Debug)]
pub(super) struct AppendCache {
    pub(super) identity: (u64, u64),
    pub(super) len: u64,
    pub(super) head: Head,
    /// The seq of the last record, `None` when the file holds none (then `head` is its start).
    pub(super) last_seq: Option<u64>,
    pub(super) ids: HashSet<String>,
    /// The key id of the first line (as [`crate::StoreState::key_id`] reads it), `None` while
    /// the file holds no line but its header.
    pub(super) first_kid: Option<StoredKeyId>,
}

impl AppendCache {
    /// The cache for `file` (locked, of `len` bytes, `id` its identity): `cached` when it is
    /// still this file at this length, else `cached` brought up to date when the file only
    /// grew, else read from the whole file.
    pub(super) fn load(
        store: &JsonlStore,
        file: &mut File,
        meta: &std::fs::Metadata,
        cached: Option<AppendCache>,
    ) -> Result<AppendCache, StoreError> {
        let (id, len) = (identity(meta), meta.len());
        match cached {
            Some(c) if c.identity == id && c.len == len => Ok(c),
            Some(mut c) if c.identity == id && c.len < len && c.len > 0 => {
                // Other writers appended: learn their ids and the new head.
                let first_kid = &mut c.first_kid;
                let ids = &mut c.ids;
                store.for_each_line(c.len, &mut |item| {
                    if first_kid.is_none() {
                        *first_kid = Some(key_id_of(item));
                    }
                    if let Some(id) = item
                        .text
                        .as_ref()
                        .ok()
                        .and_then(|t| parse_line(t).ok())
                        .and_then(|r| action_id_of(&r))
                    {
                        ids.insert(id);
                    }
                    Flow::Continue
                })?;
                let (head, last_seq) = store.head_of(file, len)?;
                Ok(AppendCache {
                    len,
                    head,
                    last_seq,
                    ..c
                })
            }
            _ => Self::build(store, file, id, len),
        }
    }

    fn build(
        store: &JsonlStore,
        file: &mut File,
        identity: (u64, u64),
        len: u64,
    ) -> Result<AppendCache, StoreError> {
        let (head, last_seq) = store.head_of(file, len)?;
        let mut ids = HashSet::new();
        let mut first_kid = None;
        store.for_each_line(0, &mut |item| {
            if first_kid.is_none() {
                first_kid = Some(key_id_of(item));
            }
            if let Ok(text) = item.text
                && let Ok(record) = parse_line(text)
                && let Some(id) = action_id_of(&record)
            {
                ids.insert(id);
            }
            Flow::Continue
        })?;
        Ok(AppendCache {
            identity,
            len,
            head,
            last_seq,
            ids,
            first_kid,
        })
    }
}
