//! Text output: the verdict for people, plurals and a progress line. JSON output is
//! [`crate::json`]'s.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use trailseal::core::AnchorConfirmation;
use trailseal::{Progress, Verdict};

/// The verdict for people.
pub(crate) fn verdict_text(verdict: &Verdict, location: &str) -> String {
    let mut out = match verdict {
        Verdict::Verified(v) => match (v.first_seq, v.last_seq) {
            (Some(first), Some(last)) => format!(
                "VERIFIED: {} record{} (seq {first} to {last}) in {location}\n",
                v.records_checked,
                if v.records_checked == 1 { "" } else { "s" }
            ),
            _ => format!("VERIFIED: 0 records in {location}\n"),
        },
        Verdict::Tampered(t) => format!(
            "TAMPERED: {}\n  first bad seq: {}, kind: {}, records checked: {} in {location}\n",
            t.detail, t.first_bad_seq, t.kind, t.records_checked
        ),
        Verdict::Unverifiable(u) => format!("UNVERIFIABLE ({}): {}\n", u.reason, u.detail),
        other => format!("{}: {}\n", other.status(), other.detail()),
    };
    if let Verdict::Verified(v) = verdict
        && !v.retention.is_empty()
    {
        let pruned: u64 = v
            .retention
            .iter()
            .map(|r| match &r.body {
                trailseal::core::ReceiptBody::Prune { count, .. } => *count,
                _ => 0,
            })
            .sum();
        out.push_str(&format!(
            "  retention log: {} receipt{} verified{}\n",
            v.retention.len(),
            if v.retention.len() == 1 { "" } else { "s" },
            if pruned > 0 {
                format!(" ({pruned} records pruned with receipts)")
            } else {
                String::new()
            }
        ));
    }
    if let Verdict::Verified(v) = verdict {
        for a in &v.anchors {
            out.push_str(&format!(
                "  checked {}: it pins seq {} ({})\n",
                a.source,
                a.seq,
                match a.by {
                    AnchorConfirmation::Record => "the record is there with the signed hash",
                    AnchorConfirmation::Receipt => "pruned; a verified retention receipt accounts for it",
                    AnchorConfirmation::Checkpoint =>
                        "pruned; the checkpoint holds the signed hash and the next record's MAC covers it",
                    _ => "confirmed",
                }
            ));
        }
    }
    for caveat in verdict.caveats() {
        out.push_str(&format!("  caveat: {caveat}\n"));
    }
    out
}

/// The plural ending for `n` things: "" for one, "s" otherwise.
pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A progress line on stderr, shown only when stderr is a terminal.
#[derive(Debug)]
pub(crate) struct ProgressLine {
    enabled: bool,
    /// What is being done: "verifying", "appending", "exporting".
    doing: &'static str,
    started: Instant,
    last: Instant,
    drawn: bool,
}

impl ProgressLine {
    /// A progress line for verification, drawn when `enabled` and stderr is a terminal.
    pub(crate) fn new(enabled: bool) -> Self {
        Self::doing(enabled, "verifying")
    }

    /// A progress line for another job.
    pub(crate) fn doing(enabled: bool, doing: &'static str) -> Self {
        let now = Instant::now();
        Self {
            enabled: enabled && std::io::stderr().is_terminal(),
            doing,
            started: now,
            last: now,
            drawn: false,
        }
    }

    pub(crate) fn update(&mut self, p: Progress) {
        if !self.enabled || self.last.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(1e-6);
        let rate = p.records_checked as f64 / secs;
        let share = match p.total_hint {
            Some(total) if total > 0 => {
                format!(
                    " ({:.0}%)",
                    (p.records_checked as f64 / total as f64 * 100.0).min(100.0)
                )
            }
            _ => String::new(),
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{}: {} records{share}, {:.0} records/s",
            self.doing, p.records_checked, rate
        );
        let _ = err.flush();
        self.drawn = true;
    }

    /// Clears the line (also done on drop, so an error message starts on a clean line).
    pub(crate) fn finish(&mut self) {
        if self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.drawn = false;
        }
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.finish();
    }
}
