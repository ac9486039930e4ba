//! Driving a [`Verifier`] over a store.

use trailseal_core::verify::{ContentChecker, Verifier};
use trailseal_core::{ChainKey, Unverifiable, UnverifiableReason, Verdict};
use trailseal_store::{Store, StoreError};

/// How far verification has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub records_checked: u64,
    /// How many records the store holds, when it can tell.
    pub total_hint: Option<u64>,
}

/// The verdict for a store that could not be read.
pub fn unverifiable_from(e: &StoreError) -> Verdict {
    let reason = if e.is_unknown_store() {
        UnverifiableReason::UnknownStore
    } else {
        UnverifiableReason::Unreadable
    };
    Verdict::Unverifiable(Unverifiable {
        reason,
        detail: e.to_string(),
    })
}

/// The verdict when no key was provided.
pub fn no_secret() -> Verdict {
    Verdict::Unverifiable(Unverifiable {
        reason: UnverifiableReason::NoSecret,
        detail: "no secret: set WEAVER_KERNEL_SECRET or pass --secret-file PATH".into(),
    })
}

const PROGRESS_EVERY: u64 = 1 << 16;

/// Verifies every record of `store` with `key`, streaming.
pub fn verify_store(
    store: &mut dyn Store,
    key: Option<&ChainKey>,
    progress: &mut dyn FnMut(Progress),
) -> Verdict {
    let Some(key) = key else {
        return no_secret();
    };
    let state = match store.state() {
        Ok(state) => state,
        Err(e) => return unverifiable_from(&e),
    };
    let total_hint = state.record_count_hint;
    let mut verifier = Verifier::new(key, state.start, state.key_id);
    let mut checker = ContentChecker::new();
    let scanned = store.scan(0, &mut |item| {
        let flow = verifier.feed(key, &mut checker, item);
        let checked = verifier.records_checked();
        if checked.is_multiple_of(PROGRESS_EVERY) {
            progress(Progress {
                records_checked: checked,
                total_hint,
            });
        }
        flow
    });
    if let Err(e) = scanned {
        return unverifiable_from(&e);
    }
    let verdict = verifier.finish();
    progress(Progress {
        records_checked: verdict.records_checked(),
        total_hint,
    });
    verdict
}
