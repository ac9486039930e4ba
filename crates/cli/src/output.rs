//! Output helpers: a small JSON writer (traces are embedded as their exact canonical text,
//! so big integers and floats are never reformatted), verdict rendering and a progress line.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use trailseal::core::AnchorConfirmation;
use trailseal::core::json::write_json_string;
use trailseal::{Progress, Verdict};

/// Builds one JSON object.
#[derive(Debug, Default)]
pub(crate) struct JsonObject {
    buf: Vec<u8>,
}

impl JsonObject {
    pub(crate) fn new() -> Self {
        Self { buf: vec![b'{'] }
    }

    fn key(&mut self, key: &str) {
        if self.buf.len() > 1 {
            self.buf.push(b',');
        }
        write_json_string(key, &mut self.buf);
        self.buf.push(b':');
    }

    pub(crate) fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        write_json_string(value, &mut self.buf);
        self
    }

    pub(crate) fn opt_str(mut self, key: &str, value: Option<&str>) -> Self {
        self.key(key);
        match value {
            Some(v) => write_json_string(v, &mut self.buf),
            None => self.buf.extend_from_slice(b"null"),
        }
        self
    }

    pub(crate) fn bool(mut self, key: &str, value: bool) -> Self {
        self.key(key);
        self.buf
            .extend_from_slice(if value { b"true" } else { b"false" });
        self
    }

    pub(crate) fn num(mut self, key: &str, value: u64) -> Self {
        self.key(key);
        self.buf.extend_from_slice(value.to_string().as_bytes());
        self
    }

    pub(crate) fn opt_num(mut self, key: &str, value: Option<u64>) -> Self {
        self.key(key);
        match value {
            Some(v) => self.buf.extend_from_slice(v.to_string().as_bytes()),
            None => self.buf.extend_from_slice(b"null"),
        }
        self
    }

    pub(crate) fn strs(mut self, key: &str, values: &[String]) -> Self {
        self.key(key);
        self.buf.push(b'[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            write_json_string(v, &mut self.buf);
        }
        self.buf.push(b']');
        self
    }

    /// Embeds JSON text as it is (it must be valid JSON).
    pub(crate) fn raw(mut self, key: &str, json: &str) -> Self {
        self.key(key);
        self.buf.extend_from_slice(json.as_bytes());
        self
    }

    pub(crate) fn finish(mut self) -> String {
        self.buf.push(b'}');
        String::from_utf8_lossy(&self.buf).into_owned()
    }
}

/// The verdict as one JSON object.
pub(crate) fn verdict_json(verdict: &Verdict) -> String {
    let (first_seq, last_seq) = match verdict {
        Verdict::Verified(v) => (v.first_seq, v.last_seq),
        _ => (None, None),
    };
    let reason = match verdict {
        Verdict::Unverifiable(u) => Some(u.reason.as_str()),
        _ => None,
    };
    let caveats: Vec<String> = verdict.caveats().iter().map(ToString::to_string).collect();
    let retention = match verdict {
        Verdict::Verified(v) => {
            let items: Vec<String> = v.retention.iter().map(|r| r.to_json()).collect();
            format!("[{}]", items.join(","))
        }
        _ => "[]".to_owned(),
    };
    let anchors = match verdict {
        Verdict::Verified(v) => {
            let items: Vec<String> = v
                .anchors
                .iter()
                .map(|a| {
                    JsonObject::new()
                        .str("source", &a.source)
                        .num("seq", a.seq)
                        .str("by", a.by.as_str())
                        .finish()
                })
                .collect();
            format!("[{}]", items.join(","))
        }
        _ => "[]".to_owned(),
    };
    JsonObject::new()
        .str("status", verdict.status())
        .num("records_checked", verdict.records_checked())
        .opt_num("first_seq", first_seq)
        .opt_num("last_seq", last_seq)
        .opt_num("first_bad_seq", verdict.first_bad_seq())
        .opt_str("kind", verdict.kind().map(|k| k.as_str()))
        .opt_str("reason", reason)
        .str("detail", &verdict.detail())
        .strs("caveats", &caveats)
        .raw("retention", &retention)
        .raw("anchors", &anchors)
        .finish()
}

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
