//! `bundle`: the bytes as an export bundle.

use super::*;

/// `bundle`: the bytes as an export bundle, verified line by line with the public key alone
/// and with the chain key too. Whatever the key adds, a bundle it verifies also verifies
/// without it.
pub fn bundle(data: &[u8]) {
    let f = fixtures();
    let run = |key: Option<&ChainKey>| {
        let mut input = data;
        trailseal::verify_bundle(&mut input, &f.public, key, &mut |_| {})
    };
    let (Ok(with_key), Ok(public_only)) = (run(Some(&f.key)), run(None)) else {
        unreachable!("reading a byte slice cannot fail");
    };
    if with_key.verdict.is_verified() {
        assert!(
            public_only.verdict.is_verified()
                && public_only.entries == with_key.entries
                && public_only.disclosed == with_key.disclosed
                && public_only.withheld == with_key.withheld
                && public_only.origin == with_key.origin,
            "verified with the chain key but not without it: {with_key:?} / {public_only:?}"
        );
    }
    if public_only.verdict.is_verified() {
        trailer_is_read_from_its_signed_bytes(data);
    }
}

/// For a bundle that verifies: its first block trailer with a member added after the
/// signature (outside the signed bytes, repeating a signed value) makes the bundle tampered at
/// that block — the trailer
/// is refused, not read from a parse of the whole line (which would blame a later block).
fn trailer_is_read_from_its_signed_bytes(data: &[u8]) {
    let f = fixtures();
    let mut at = 0;
    for line in data.split_inclusive(|&b| b == b'\n') {
        let start = at;
        at += line.len();
        let Some(rest) = line.strip_prefix(b"{\"block\":") else {
            continue;
        };
        let digits: Vec<u8> = rest
            .iter()
            .copied()
            .take_while(u8::is_ascii_digit)
            .collect();
        let block = String::from_utf8_lossy(&digits).into_owned();
        let Some(signed) = line.strip_suffix(b"}\n") else {
            return;
        };
        let mut altered = Vec::with_capacity(data.len() + 16);
        altered.extend_from_slice(data.get(..start).unwrap_or_default());
        altered.extend_from_slice(signed);
        // The value it already signs: only where the field is read from can tell.
        altered.extend_from_slice(format!(",\"block\":{block}}}\n").as_bytes());
        altered.extend_from_slice(data.get(at..).unwrap_or_default());
        let mut input = altered.as_slice();
        let Ok(v) = trailseal::verify_bundle(&mut input, &f.public, None, &mut |_| {}) else {
            unreachable!("reading a byte slice cannot fail");
        };
        let blamed = match &v.verdict {
            Verdict::Tampered(t) => Some(t),
            _ => None,
        };
        assert!(
            blamed.is_some_and(|t| t.detail.starts_with(&format!("block {block} "))
                || t.detail.starts_with(&format!("block {block}:"))),
            "a member after block {block}'s signature is not blamed on it: {:?}",
            v.verdict
        );
        return;
    }
}
