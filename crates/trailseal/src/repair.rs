//! Repairing a store left with an interrupted write at its end.

use trailseal_core::Verdict;
use trailseal_store::TornTail;

use crate::error::Error;
use crate::log::AuditLog;
use crate::verify::VerifyOptions;

/// What [`AuditLog::repair`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairReport {
    /// The interrupted write found at the end of the store, if any (only a JSONL store can
    /// hold one).
    pub torn: Option<TornTail>,
    /// Whether it was removed (`false` for a dry run, or when there was none).
    pub removed: bool,
    /// Nothing was changed on purpose.
    pub dry_run: bool,
    /// The verdict (verified) of the store as it is after the repair; for a dry run, as it
    /// would be.
    pub verdict: Verdict,
}

/// The refusal for a verdict that is not `verified`: `tampered` says what `damage` says,
/// anything else that `what` cannot be verified.
fn refusal(location: &str, damage: String, what: &str, verdict: Verdict) -> Error {
    let detail = match &verdict {
        Verdict::Tampered(_) => format!("{damage}: {}", verdict.detail()),
        _ => format!(
            "{what} cannot be verified ({}): {}",
            verdict.status(),
            verdict.detail()
        ),
    };
    Error::NotRepairable {
        location: location.to_owned(),
        detail,
        verdict: Box::new(verdict),
    }
}

impl AuditLog {
    /// Removes an interrupted write — the incomplete last line an append killed mid-write
    /// leaves in a JSONL store — once every record before it verifies with the secret.
    ///
    /// Runs under the store's write lock: finds the torn tail, verifies the store without it,
    /// and only then truncates the file to where the tail starts (and fsyncs it). Any other
    /// damage is refused with [`Error::NotRepairable`], changing nothing: records before the
    /// tail that do not verify, a malformed line elsewhere, a complete but corrupt last line, a
    /// last line that is not a strict prefix of the next record's line (see
    /// [`trailseal_store::TornTail`]).
    /// A store with no torn tail (every SQLite and PostgreSQL store: their writes are
    /// transactions) is verified and reported as needing no repair. `dry_run` verifies and
    /// reports without removing anything.
    pub fn repair(&mut self, dry_run: bool) -> Result<RepairReport, Error> {
        let key = self.store_key()?;
        let threads = self.threads();
        let location = self.location().to_owned();
        let mut checked: Option<Verdict> = None;
        let torn = self.store_mut().repair_torn_tail(&mut |view, _tail| {
            let options = &mut VerifyOptions::new().threads(threads);
            let verdict = crate::verify::verify(view, Some(&key), options);
            let remove = verdict.is_verified() && !dry_run;
            checked = Some(verdict);
            remove
        })?;
        match torn {
            None => {
                let verdict = self.verify();
                if !verdict.is_verified() {
                    return Err(refusal(
                        &location,
                        "the store does not verify, and not because of an interrupted write at its end".into(),
                        "the store",
                        verdict,
                    ));
                }
                Ok(RepairReport {
                    torn: None,
                    removed: false,
                    dry_run,
                    verdict,
                })
            }
            Some(tail) => {
                // The store calls the check whenever it finds a torn tail.
                let verdict = checked.unwrap_or_else(|| self.verify());
                if !verdict.is_verified() {
                    let what = format!(
                        "the records before the interrupted write at line {}",
                        tail.line
                    );
                    return Err(refusal(
                        &location,
                        format!("{what} do not verify"),
                        &what,
                        verdict,
                    ));
                }
                Ok(RepairReport {
                    torn: Some(tail),
                    removed: !dry_run,
                    dry_run,
                    verdict,
                })
            }
        }
    }
}
