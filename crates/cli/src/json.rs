//! Every JSON document the CLI prints is assembled here, and only here: verdicts (with their
//! caveats as objects), command results, list items and progress lines. Traces and receipts
//! are embedded as their exact canonical text (so big integers and floats are never
//! reformatted); strings are written with the core's canonical escapes.

use trailseal::core::bundle::BundleVerdict;
use trailseal::core::json::write_json_string;
use trailseal::core::retention::Receipt;
use trailseal::{Caveat, PruneReport, RepairReport, StoredRecord, TornTail, Verdict};

/// Builds one JSON object, members in the order they are added.
#[derive(Debug, Default)]
struct JsonObject {
    buf: Vec<u8>,
}

impl JsonObject {
    fn new() -> Self {
        Self { buf: vec![b'{'] }
    }

    fn key(&mut self, key: &str) {
        if self.buf.len() > 1 {
            self.buf.push(b',');
        }
        write_json_string(key, &mut self.buf);
        self.buf.push(b':');
    }

    fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        write_json_string(value, &mut self.buf);
        self
    }

    fn opt_str(mut self, key: &str, value: Option<&str>) -> Self {
        self.key(key);
        match value {
            Some(v) => write_json_string(v, &mut self.buf),
            None => self.buf.extend_from_slice(b"null"),
        }
        self
    }

    fn bool(mut self, key: &str, value: bool) -> Self {
        self.key(key);
        self.buf
            .extend_from_slice(if value { b"true" } else { b"false" });
        self
    }

    fn num(self, key: &str, value: u64) -> Self {
        self.opt_num(key, Some(value))
    }

    fn opt_num(mut self, key: &str, value: Option<u64>) -> Self {
        self.key(key);
        match value {
            Some(v) => self.buf.extend_from_slice(v.to_string().as_bytes()),
            None => self.buf.extend_from_slice(b"null"),
        }
        self
    }

    /// Embeds JSON text as it is (it must be valid JSON).
    fn raw(mut self, key: &str, json: &str) -> Self {
        self.key(key);
        self.buf.extend_from_slice(json.as_bytes());
        self
    }

    fn finish(mut self) -> String {
        self.buf.push(b'}');
        String::from_utf8_lossy(&self.buf).into_owned()
    }
}

/// A JSON array of the given JSON texts.
fn array(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    format!("[{}]", items.join(","))
}

/// A caveat as `{"code", "message", ...fields}`: the stable code, the sentence the text output
/// shows, then the variant's fields.
pub(crate) fn caveat(caveat: &Caveat) -> String {
    caveat
        .fields()
        .into_iter()
        .fold(
            JsonObject::new()
                .str("code", caveat.code())
                .str("message", &caveat.to_string()),
            |object, (name, value)| object.opt_num(name, value),
        )
        .finish()
}

fn verdict_object(verdict: &Verdict) -> JsonObject {
    let (first_seq, last_seq) = match verdict {
        Verdict::Verified(v) => (v.first_seq, v.last_seq),
        _ => (None, None),
    };
    let reason = match verdict {
        Verdict::Unverifiable(u) => Some(u.reason.as_str()),
        _ => None,
    };
    let (retention, anchors) = match verdict {
        Verdict::Verified(v) => (
            array(v.retention.iter().map(Receipt::to_json)),
            array(v.anchors.iter().map(|a| {
                JsonObject::new()
                    .str("source", &a.source)
                    .num("seq", a.seq)
                    .str("by", a.by.as_str())
                    .finish()
            })),
        ),
        _ => ("[]".to_owned(), "[]".to_owned()),
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
        .raw("caveats", &array(verdict.caveats().iter().map(caveat)))
        .raw("retention", &retention)
        .raw("anchors", &anchors)
}

/// The verdict as one JSON object (`verify --json`).
pub(crate) fn verdict(verdict: &Verdict) -> String {
    verdict_object(verdict).finish()
}

/// A bundle's verdict (`verify-bundle --json`): the verdict's members, then the bundle's.
pub(crate) fn bundle_verdict(result: &BundleVerdict) -> String {
    let object = verdict_object(&result.verdict)
        .str("level", result.level.as_str())
        .opt_str("origin", result.origin.as_deref())
        .num("entries", result.entries)
        .num("disclosed", result.disclosed)
        .num("withheld", result.withheld)
        .bool("withheld_reasons", result.withheld_reasons.is_some());
    match &result.withheld_reasons {
        Some(counts) => object
            .num("withheld_filter", counts.filter)
            .num("withheld_redacted", counts.redacted),
        None => object,
    }
    .finish()
}

/// One `append --progress-json` line: a commit that is durable.
pub(crate) fn commit_progress(
    committed: u64,
    total: u64,
    first_seq: u64,
    last_seq: u64,
    head_hash: &str,
    last_action_id: Option<&str>,
) -> String {
    JsonObject::new()
        .num("committed", committed)
        .num("total", total)
        .num("first_seq", first_seq)
        .num("last_seq", last_seq)
        .str("head_hash", head_hash)
        .opt_str("last_action_id", last_action_id)
        .finish()
}

/// `append --json`: what was appended.
pub(crate) fn appended(
    count: u64,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    head_hash: Option<&str>,
) -> String {
    JsonObject::new()
        .num("appended", count)
        .opt_num("first_seq", first_seq)
        .opt_num("last_seq", last_seq)
        .opt_str("head_hash", head_hash)
        .finish()
}

/// One element of `list --json`'s array; `trace` is the stored trace's JSON text.
pub(crate) fn list_item(seq: u64, status: &str, trace: &str) -> String {
    JsonObject::new()
        .num("seq", seq)
        .str("status", status)
        .raw("trace", trace)
        .finish()
}

/// `show --json`; `canonical` is the trace's canonical JSON text.
pub(crate) fn shown(record: &StoredRecord, canonical: &str) -> String {
    JsonObject::new()
        .num("seq", record.seq)
        .str("prev_hash", &record.prev_hash)
        .str("record_hash", &record.record_hash)
        .raw("trace", canonical)
        .finish()
}

/// `prune --json`.
pub(crate) fn pruned(report: &PruneReport) -> String {
    let (from, last) = report
        .range
        .map_or((None, None), |(f, l)| (Some(f), Some(l)));
    JsonObject::new()
        .bool("dry_run", report.dry_run)
        .num("pruned", report.pruned)
        .opt_num("from_seq", from)
        .opt_num("last_seq", last)
        .num("first_retained_seq", report.first_retained_seq)
        .num("records_checked", report.records_checked)
        .raw(
            "receipt",
            &report
                .receipt
                .as_ref()
                .map_or_else(|| "null".into(), Receipt::to_json),
        )
        .opt_str(
            "archive",
            report
                .archive
                .as_ref()
                .map(|(p, _)| p.to_string_lossy())
                .as_deref(),
        )
        .finish()
}

/// `policy --json` without a change: the minimum retention in force.
pub(crate) fn policy_status(min_retention_micros: Option<i64>, verified: bool) -> String {
    JsonObject::new()
        .opt_num(
            "min_retention_micros",
            min_retention_micros.and_then(|m| u64::try_from(m).ok()),
        )
        .bool("verified", verified)
        .finish()
}

/// One receipt (`policy --json` after a change).
pub(crate) fn receipt(receipt: &Receipt) -> String {
    receipt.to_json()
}

/// `retention --json`: the receipts as an array.
pub(crate) fn receipts(receipts: &[Receipt]) -> String {
    array(receipts.iter().map(Receipt::to_json))
}

fn torn_tail(tail: &TornTail) -> String {
    JsonObject::new()
        .num("line", tail.line)
        .num("offset", tail.offset)
        .num("bytes", tail.bytes)
        .opt_num("claimed_seq", tail.claimed_seq)
        .finish()
}

/// `repair --json`; `status` is what was done ("repaired", "would repair", ...).
pub(crate) fn repaired(report: &RepairReport, status: &str) -> String {
    let (first, last) = match &report.verdict {
        Verdict::Verified(v) => (v.first_seq, v.last_seq),
        _ => (None, None),
    };
    JsonObject::new()
        .str("status", status)
        .bool("dry_run", report.dry_run)
        .bool("removed", report.removed)
        .raw(
            "torn_tail",
            &report
                .torn
                .as_ref()
                .map_or_else(|| "null".into(), torn_tail),
        )
        .num("records_checked", report.verdict.records_checked())
        .opt_num("first_seq", first)
        .opt_num("last_seq", last)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caveat_is_an_object_with_its_code_message_and_fields() {
        assert_eq!(
            caveat(&Caveat::NoAnchor { last_seq: Some(7) }),
            r#"{"code":"no-anchor","message":"no anchor: records after seq 7 could have been removed","last_seq":7}"#
        );
        assert_eq!(
            caveat(&Caveat::NoAnchor { last_seq: None }),
            r#"{"code":"no-anchor","message":"no anchor: records could have been removed","last_seq":null}"#
        );
        assert_eq!(
            caveat(&Caveat::EmptyStore),
            r#"{"code":"empty-store","message":"store is empty"}"#
        );
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            list_item(1, "a\"b\n", "{}"),
            r#"{"seq":1,"status":"a\"b\n","trace":{}}"#
        );
    }
}
