//! Every JSON document the CLI prints is assembled here, and only here: verdicts (with their
//! caveats as objects), command results, list items and progress lines. Traces and receipts
//! are embedded as their exact canonical text (so big integers and floats are never
//! reformatted). Everything is written by the core's one object writer
//! (`trailseal_core::json`), members in the order documented for each output. The Python
//! package returns the same documents (verdicts, prune reports, receipts), parsed.

use trailseal::core::bundle::BundleVerdict;
use trailseal::core::json::{ObjectWriter, write_object_in_order};
use trailseal::core::retention::Receipt;
use trailseal::{Caveat, PruneReport, RepairReport, RotateReport, StoredRecord, TornTail, Verdict};

/// One JSON object, members in the order `build` adds them (the CLI's published order), by
/// the core's one object writer.
fn object(build: impl FnOnce(&mut ObjectWriter<'_>)) -> String {
    let mut out = Vec::new();
    write_object_in_order(&mut out, build);
    // Keys and strings are escaped to ASCII; raw values are canonical JSON texts.
    String::from_utf8_lossy(&out).into_owned()
}

/// A caveat as `{"code", "message", ...fields}`: the stable code, the sentence the text output
/// shows, then the variant's fields.
fn write_caveat(o: &mut ObjectWriter<'_>, caveat: &Caveat) {
    o.str("code", caveat.code())
        .str("message", &caveat.to_string());
    for (name, value) in caveat.fields() {
        o.opt_u64(name, value);
    }
    if let Some(key_id) = caveat.key_id() {
        o.str("key_id", key_id.as_str());
    }
}

fn write_verdict(o: &mut ObjectWriter<'_>, verdict: &Verdict) {
    let (first_seq, last_seq) = match verdict {
        Verdict::Verified(v) => (v.first_seq, v.last_seq),
        _ => (None, None),
    };
    let reason = match verdict {
        Verdict::Unverifiable(u) => Some(u.reason.as_str()),
        _ => None,
    };
    o.str("status", verdict.status())
        .u64("records_checked", verdict.records_checked())
        .opt_u64("first_seq", first_seq)
        .opt_u64("last_seq", last_seq)
        .opt_u64("first_bad_seq", verdict.first_bad_seq())
        .opt_str("kind", verdict.kind().map(|k| k.as_str()))
        .opt_str("reason", reason)
        .str("detail", &verdict.detail())
        .array("caveats", |list| {
            for c in verdict.caveats() {
                list.object(|o| write_caveat(o, c));
            }
        });
    let verified = match verdict {
        Verdict::Verified(v) => Some(v),
        _ => None,
    };
    o.array("retention", |list| {
        for receipt in verified.iter().flat_map(|v| &v.retention) {
            list.raw(receipt.to_json().as_bytes());
        }
    })
    .array("anchors", |list| {
        for a in verified.iter().flat_map(|v| &v.anchors) {
            list.object(|o| {
                o.str("source", &a.source)
                    .u64("seq", a.seq)
                    .str("by", a.by.as_str());
            });
        }
    });
}

/// The verdict as one JSON object (`verify --json`).
pub fn verdict(verdict: &Verdict) -> String {
    object(|o| write_verdict(o, verdict))
}

/// A bundle's verdict (`verify-bundle --json`): the verdict's members, then the bundle's.
pub fn bundle_verdict(result: &BundleVerdict) -> String {
    object(|o| {
        write_verdict(o, &result.verdict);
        o.str("level", result.level.as_str())
            .opt_str("origin", result.origin.as_deref())
            .u64("entries", result.entries)
            .u64("disclosed", result.disclosed)
            .u64("withheld", result.withheld)
            .bool("withheld_reasons", result.withheld_reasons.is_some());
        if let Some(counts) = &result.withheld_reasons {
            o.u64("withheld_filter", counts.filter)
                .u64("withheld_redacted", counts.redacted);
        }
        // Format 3: the tree checkpoint the bundle embeds and what was checked against it.
        if let Some(c) = &result.checkpoint {
            o.object("checkpoint", |t| {
                t.str("origin", c.origin())
                    .str("root", &trailseal::core::base64::encode(c.root()))
                    .u64("size", c.size());
            })
            .u64("tree_checked", result.tree_checked);
        }
        if let Some(n) = result.cosignatures {
            o.u64("cosignatures", n as u64);
        }
    })
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
    object(|o| {
        o.u64("committed", committed)
            .u64("total", total)
            .u64("first_seq", first_seq)
            .u64("last_seq", last_seq)
            .str("head_hash", head_hash)
            .opt_str("last_action_id", last_action_id);
    })
}

/// `append --json`: what was appended.
pub(crate) fn appended(
    count: u64,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    head_hash: Option<&str>,
) -> String {
    object(|o| {
        o.u64("appended", count)
            .opt_u64("first_seq", first_seq)
            .opt_u64("last_seq", last_seq)
            .opt_str("head_hash", head_hash);
    })
}

/// One element of `list --json`'s array; `trace` is the stored trace's JSON text.
pub(crate) fn list_item(seq: u64, status: &str, trace: &str) -> String {
    object(|o| {
        o.u64("seq", seq)
            .str("status", status)
            .raw("trace", trace.as_bytes());
    })
}

/// `show --json`; `canonical` is the trace's canonical JSON text.
pub(crate) fn shown(record: &StoredRecord, canonical: &str) -> String {
    object(|o| {
        o.u64("seq", record.seq)
            .str("prev_hash", &record.prev_hash)
            .str("record_hash", &record.record_hash)
            .raw("trace", canonical.as_bytes());
    })
}

/// `prune --json`.
pub fn pruned(report: &PruneReport) -> String {
    let (from, last) = report
        .range
        .map_or((None, None), |(f, l)| (Some(f), Some(l)));
    object(|o| {
        o.bool("dry_run", report.dry_run)
            .u64("pruned", report.pruned)
            .opt_u64("from_seq", from)
            .opt_u64("last_seq", last)
            .u64("first_retained_seq", report.first_retained_seq)
            .u64("records_checked", report.records_checked);
        match &report.receipt {
            Some(receipt) => o.raw("receipt", receipt.to_json().as_bytes()),
            None => o.null("receipt"),
        };
        o.opt_str(
            "archive",
            report
                .archive
                .as_ref()
                .map(|(p, _)| p.to_string_lossy())
                .as_deref(),
        );
    })
}

/// `rotate --json`: the keys, the first seq under the new key, the prune that moved the
/// old records (as `prune --json` prints it, or `null`) and the `rotate` receipt.
pub fn rotated(report: &RotateReport) -> String {
    object(|o| {
        o.str("from_key_id", report.from_key.as_str())
            .str("to_key_id", report.to_key.as_str())
            .u64("first_seq", report.first_seq)
            .str(
                "mode",
                if report.in_place {
                    "in-place"
                } else {
                    "segment"
                },
            );
        match &report.prune {
            Some(prune) => o.raw("prune", pruned(prune).as_bytes()),
            None => o.null("prune"),
        };
        o.raw("receipt", report.receipt.to_json().as_bytes());
    })
}

/// `seal --json`: what a seal run did.
pub fn sealed(report: &trailseal::seal::SealReport) -> String {
    object(|o| {
        o.opt_u64("sealed", report.sealed)
            .u64("epoch", report.epoch)
            .u64("tree_size", report.tree_size);
        match report.reason {
            Some(r) => o.str("reason", r),
            None => o.null("reason"),
        };
    })
}

/// `policy --json` without a change: the minimum retention in force.
pub fn policy_status(min_retention_micros: Option<i64>, verified: bool) -> String {
    object(|o| {
        o.opt_u64(
            "min_retention_micros",
            min_retention_micros.and_then(|m| u64::try_from(m).ok()),
        )
        .bool("verified", verified);
    })
}

/// One receipt (`policy --json` after a change).
pub fn receipt(receipt: &Receipt) -> String {
    receipt.to_json()
}

/// `retention --json`: the receipts as an array.
pub fn receipts(receipts: &[Receipt]) -> String {
    let texts: Vec<String> = receipts.iter().map(Receipt::to_json).collect();
    format!("[{}]", texts.join(","))
}

/// `repair --json`; `status` is what was done ("repaired", "would repair", ...).
pub(crate) fn repaired(report: &RepairReport, status: &str) -> String {
    let (first, last) = match &report.verdict {
        Verdict::Verified(v) => (v.first_seq, v.last_seq),
        _ => (None, None),
    };
    object(|o| {
        o.str("status", status)
            .bool("dry_run", report.dry_run)
            .bool("removed", report.removed);
        match &report.torn {
            Some(tail) => o.object("torn_tail", |t| write_torn_tail(t, tail)),
            None => o.null("torn_tail"),
        };
        o.u64("records_checked", report.verdict.records_checked())
            .opt_u64("first_seq", first)
            .opt_u64("last_seq", last);
    })
}

fn write_torn_tail(o: &mut ObjectWriter<'_>, tail: &TornTail) {
    o.u64("line", tail.line)
        .u64("offset", tail.offset)
        .u64("bytes", tail.bytes)
        .opt_u64("claimed_seq", tail.claimed_seq);
}

/// A proof file's verdict (`verify-proof --json`): `status`, `kind` (tampered) or `reason`
/// (unverifiable), `detail`, then for a verified proof what it showed.
pub fn proof_verdict(verdict: &trailseal::tlog::ProofVerdict) -> String {
    use trailseal::tlog::ProofVerdict;
    let (kind, reason) = match verdict {
        ProofVerdict::Tampered { kind, .. } => (Some(kind.as_str()), None),
        ProofVerdict::Unverifiable { reason, .. } => (None, Some(reason.as_str())),
        _ => (None, None),
    };
    object(|o| {
        o.str("status", verdict.status())
            .opt_str("kind", kind)
            .opt_str("reason", reason)
            .str("detail", &verdict.to_string());
        if let ProofVerdict::Verified(c) = verdict {
            o.str("origin", &c.origin)
                .u64("size", c.size)
                .str("root", &c.root.to_base64())
                .u64("index", c.index)
                .u64("seq", c.seq)
                .bool("trace_checked", c.trace_checked)
                .opt_u64("cosignatures", c.cosignatures.map(|n| n as u64));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caveat(c: &Caveat) -> String {
        object(|o| write_caveat(o, c))
    }

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
