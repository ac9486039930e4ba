//! Removing an interrupted write from the end of a JSONL store ([`crate::Store::repair_torn_tail`]).

use trailseal_core::jsonl::{claimed_seq, is_torn_after};

use super::JsonlStore;
use crate::lines::line_number_at;
use crate::{Store, StoreError, TornTail};

/// Under the store's lock, finds a torn tail, lets `confirm` check the store without it (its
/// reads end before the tail, its writes are refused), and removes it when `confirm` agrees.
pub(super) fn repair_torn_tail(
    store: &mut JsonlStore,
    confirm: &mut dyn FnMut(&mut dyn Store, &TornTail) -> bool,
) -> Result<Option<TornTail>, StoreError> {
    let mut file = store.open_locked()?;
    let len = file
        .metadata()
        .map_err(StoreError::io(&store.location, "stat"))?
        .len();
    let Some(last) = store.last_line(&mut file, len)? else {
        return Ok(None);
    };
    if !store.may_be_torn(&last) {
        return Ok(None);
    }
    let offset = last.offset;
    // Only the record that would follow the lines before it can have been cut short.
    store.hide_from = Some(offset);
    let before = store.state();
    store.hide_from = None;
    let before = before?;
    let head = match &before.head {
        Some((seq, hash)) => (seq.saturating_add(1), hash.as_slice()),
        None => (before.start.next_seq, before.start.prev_hash.as_slice()),
    };
    if !is_torn_after(&last.bytes, Some(head)) {
        return Ok(None);
    }
    let tail = TornTail {
        line: line_number_at(&mut file, offset).map_err(StoreError::io(&store.location, "read"))?,
        offset,
        bytes: len - offset,
        claimed_seq: claimed_seq(&last.bytes),
    };
    // Writes wait for the lock this holds, so what `confirm` checks is what stays.
    store.hide_from = Some(offset);
    let remove = confirm(store, &tail);
    store.hide_from = None;
    if !remove {
        return Ok(Some(tail));
    }
    let now = file
        .metadata()
        .map_err(StoreError::io(&store.location, "stat"))?
        .len();
    if now != len {
        // Only a writer that ignores the lock (not trailseal) can get here.
        return Err(store.conflict("the file changed while it was being checked"));
    }
    store.cache = None;
    file.set_len(offset)
        .map_err(StoreError::io(&store.location, "truncate"))?;
    file.sync_all()
        .map_err(StoreError::io(&store.location, "fsync"))?;
    Ok(Some(tail))
}
