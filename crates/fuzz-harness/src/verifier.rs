//! `verifier`: the streaming verifier driven by a small text language.

use super::*;

/// The content check an input asks for (`feed_hashes` op `h`).
fn wanted_check(spec: &[u8]) -> Option<ContentCheck> {
    match spec.split_first() {
        Some((b'o', _)) => Some(ContentCheck::Ok),
        Some((b'm', _)) => Some(ContentCheck::Mismatch),
        Some((b'x', rest)) => Some(ContentCheck::Malformed(
            String::from_utf8_lossy(rest).into_owned(),
        )),
        Some((b'a', _)) => Some(ContentCheck::ColumnMismatch("action_id")),
        Some((b'i', _)) => Some(ContentCheck::ColumnMismatch("invoked_at")),
        _ => None,
    }
}

/// A non-empty field of a command line.
fn field<'a>(fields: &[&'a [u8]], i: usize) -> Option<&'a [u8]> {
    fields.get(i).copied().filter(|f| !f.is_empty())
}

fn decimal_field(field: Option<&[u8]>) -> Option<u64> {
    std::str::from_utf8(field?).ok()?.parse().ok()
}

/// What [`ContentChecker::check`] must return for a record whose `record_hash` is the MAC of
/// its trace's canonical form, when the trace is a JSON object that has one; `None` otherwise.
fn expected_check(record: &RecordView<'_>) -> Option<ContentCheck> {
    let doc = json::parse(record.trace).ok()?;
    let root = doc.root();
    if root.kind() != Kind::Object {
        return None;
    }
    let mut canonical = Vec::new();
    root.write_canonical(&mut canonical, Mode::Python).ok()?;
    if record.encoding == TraceEncoding::Canonical && canonical != record.trace {
        // Canonical input is MAC'd as it is, never re-canonicalised.
        return Some(ContentCheck::Mismatch);
    }
    let Some(cols) = record.columns else {
        return Some(ContentCheck::Ok);
    };
    let field = |name: &str| root.get(name).and_then(|n| n.as_str()).map(str::as_bytes);
    // The column check finds the members by their text in the MAC-verified payload and relies
    // on the export shape: a payload without them (which only a holder of the secret can
    // write) may match a nested member of that name.
    if field("action_id").is_none() || field("invoked_at").is_none() {
        return None;
    }
    Some(if field("action_id") != Some(cols.action_id) {
        ContentCheck::ColumnMismatch("action_id")
    } else if field("invoked_at") != Some(cols.invoked_at) {
        ContentCheck::ColumnMismatch("invoked_at")
    } else {
        ContentCheck::Ok
    })
}

/// `verifier`: the streaming [`Verifier`] and [`ContentChecker`] driven by a small text
/// language, one command a line, fields separated by tabs:
///
/// - line 1, the start: `kind seq prev_hash key_id` — kind `g` (genesis, the default), `u`
///   (unauthenticated checkpoint) or `c` (authenticated checkpoint); an empty prev_hash is the
///   genesis value; key_id empty for none, `=` for the fixture key's, else the text;
/// - before the first record: `e seq hash` (an anchor's expectation), `s seq hash` (a sealed
///   end);
/// - `r`/`c`/`k`/`h seq prev_hash record_hash trace [action_id invoked_at]`: a record, fed
///   with its trace as stored (`r`), as canonical (`c`), through `feed_checked` (`k`) or
///   `feed_hashes` with the content check the trace field names (`h`: `o`k, `m`ismatch,
///   `x` malformed, `a`/`i` column mismatch; anything else: checked). An empty seq is the next
///   one, an empty prev_hash the previous record's hash, an empty record_hash the MAC of the
///   trace's canonical form (so inputs can build valid chains); two more fields are index
///   columns;
/// - `m seq torn problem`: a record that could not be read (`torn` when the field is `t`).
///
/// Checked: the content check of a record whose hash is the MAC of its canonical form is what
/// the payload implies, whatever the checker saw before; a verified verdict counted every
/// item and covers the seqs from the start on.
pub fn verifier(data: &[u8]) {
    let key = &fixtures().key;
    let mut lines = data.split(|b| *b == b'\n');
    let config: Vec<&[u8]> = lines
        .next()
        .unwrap_or_default()
        .split(|b| *b == b'\t')
        .collect();
    let kind = match field(&config, 0) {
        Some(b"u") => StartKind::UnauthenticatedCheckpoint,
        Some(b"c") => StartKind::Checkpoint,
        _ => StartKind::Genesis,
    };
    let start = ChainStart {
        next_seq: decimal_field(field(&config, 1)).unwrap_or(0),
        prev_hash: field(&config, 2)
            .unwrap_or(GENESIS_HASH.as_bytes())
            .to_vec(),
        kind,
    };
    let stored_key_id = match field(&config, 3) {
        None => StoredKeyId::Absent,
        Some(b"=") => StoredKeyId::Present(key.key_id()),
        Some(text) => KeyId::parse(text).map_or(StoredKeyId::Absent, StoredKeyId::Present),
    };
    let mut v = Verifier::new(key, start.clone(), stored_key_id);
    let mut checker = ContentChecker::new();
    let mut fed = 0u64;
    let mut next_seq = start.next_seq;
    let mut prev = start.prev_hash.clone();
    for line in lines {
        let fields: Vec<&[u8]> = line.split(|b| *b == b'\t').collect();
        let (Some(op), rest) = fields
            .split_first()
            .map_or((None, &[][..]), |(op, rest)| (op.first(), rest))
        else {
            continue;
        };
        let seq_field = decimal_field(field(rest, 0));
        let hash_field = field(rest, 1).unwrap_or_default().to_vec();
        let flow = match op {
            b'e' | b's' if fed == 0 => {
                let seq = seq_field.unwrap_or(0);
                if *op == b'e' {
                    v.expect_record(Expectation {
                        seq,
                        record_hash: hash_field,
                        source: "the fuzz input".into(),
                    });
                } else {
                    v.expect_end(SealedEnd {
                        last_seq: seq,
                        last_hash: hash_field,
                        source: "the fuzz input".into(),
                    });
                }
                continue;
            }
            b'm' => {
                fed += 1;
                v.feed_malformed(&MalformedRecord {
                    seq: seq_field,
                    location: format!("line {fed}"),
                    problem: String::from_utf8_lossy(field(rest, 2).unwrap_or_default())
                        .into_owned(),
                    torn: field(rest, 1) == Some(b"t"),
                })
            }
            b'r' | b'c' | b'k' | b'h' => {
                fed += 1;
                let seq = seq_field.unwrap_or(next_seq);
                let prev_hash = field(rest, 1).map_or_else(|| prev.clone(), <[u8]>::to_vec);
                let trace = rest.get(3).copied().unwrap_or_default();
                let sealed = field(rest, 2).is_none();
                let record_hash = match field(rest, 2) {
                    Some(h) => h.to_vec(),
                    None => {
                        let canonical =
                            python_canonical(trace).map_or(Cow::Borrowed(trace), Cow::Owned);
                        key.record_hash(seq, &prev_hash, &canonical)
                            .as_bytes()
                            .to_vec()
                    }
                };
                let record = RecordView {
                    seq,
                    prev_hash: &prev_hash,
                    record_hash: &record_hash,
                    trace,
                    encoding: if *op == b'c' {
                        TraceEncoding::Canonical
                    } else {
                        TraceEncoding::Stored
                    },
                    columns: match (rest.get(4), rest.get(5)) {
                        (Some(action_id), Some(invoked_at)) => Some(Columns {
                            action_id,
                            invoked_at,
                        }),
                        _ => None,
                    },
                };
                next_seq = seq.saturating_add(1);
                prev.clone_from(&record_hash);
                let wanted = if *op == b'h' {
                    wanted_check(trace)
                } else {
                    None
                };
                match wanted {
                    Some(content) => v.feed_hashes(seq, &prev_hash, &record_hash, content),
                    None => {
                        let content = checker.check(key, &record);
                        let fresh = ContentChecker::new().check(key, &record);
                        if let (true, Some(expected)) = (sealed, expected_check(&record)) {
                            assert_eq!(content, expected, "a sealed record's content check");
                            assert_eq!(fresh, expected, "a sealed record's content check");
                        }
                        if *op == b'k' || *op == b'h' {
                            v.feed_checked(&record, content)
                        } else {
                            v.feed(key, &mut checker, &ScanItem::Record(record))
                        }
                    }
                }
            }
            _ => continue,
        };
        if flow == Flow::Stop {
            break;
        }
    }
    let verdict = v.finish();
    if let Verdict::Verified(ok) = &verdict {
        assert_eq!(
            ok.records_checked, fed,
            "a verified verdict counted every item"
        );
        if fed > 0 {
            assert_eq!(
                ok.first_seq,
                Some(start.next_seq),
                "verified from the start"
            );
            assert_eq!(
                ok.last_seq,
                start.next_seq.checked_add(fed - 1),
                "verified seqs are consecutive"
            );
        }
    }
}
