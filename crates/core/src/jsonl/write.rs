//! Writing record lines.

use crate::KeyId;
use crate::json;

fn write_hash_field(out: &mut Vec<u8>, value: &[u8]) {
    if value.iter().all(|b| b.is_ascii_alphanumeric()) {
        out.push(b'"');
        out.extend_from_slice(value);
        out.push(b'"');
    } else {
        json::write_json_string(&String::from_utf8_lossy(value), out);
    }
}

/// Appends one record line in the layout trailseal writes, with its newline. `trace` must be
/// the canonical form.
pub fn write_record_line(
    out: &mut Vec<u8>,
    seq: u64,
    prev_hash: &[u8],
    record_hash: &[u8],
    kid: Option<KeyId>,
    trace: &[u8],
) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(crate::chain::format_u64(seq, &mut buf));
    out.extend_from_slice(b",\"prev_hash\":");
    write_hash_field(out, prev_hash);
    out.extend_from_slice(b",\"record_hash\":");
    write_hash_field(out, record_hash);
    if let Some(kid) = kid {
        out.extend_from_slice(b",\"kid\":\"");
        out.extend_from_slice(kid.as_str().as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b",\"trace\":");
    out.extend_from_slice(trace);
    out.extend_from_slice(b"}\n");
}
