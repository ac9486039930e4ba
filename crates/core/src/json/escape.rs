//! Strings in the canonical escaping, and the WTF-8 helpers the reader and writer share.

use super::canonical::Mode;

/// Appends a code point (surrogates included) as WTF-8.
pub(super) fn push_wtf8(code: u32, out: &mut Vec<u8>) {
    match code {
        0..=0x7F => out.push(code as u8),
        0x80..=0x7FF => {
            out.extend_from_slice(&[0xC0 | (code >> 6) as u8, 0x80 | (code & 0x3F) as u8])
        }
        0x800..=0xFFFF => out.extend_from_slice(&[
            0xE0 | (code >> 12) as u8,
            0x80 | ((code >> 6) & 0x3F) as u8,
            0x80 | (code & 0x3F) as u8,
        ]),
        _ => out.extend_from_slice(&[
            0xF0 | (code >> 18) as u8,
            0x80 | ((code >> 12) & 0x3F) as u8,
            0x80 | ((code >> 6) & 0x3F) as u8,
            0x80 | (code & 0x3F) as u8,
        ]),
    }
}

/// Decodes the WTF-8 sequence at the start of `bytes`: (code point, length).
fn decode_wtf8(bytes: &[u8]) -> (u32, usize) {
    let b = |i: usize| u32::from(bytes.get(i).copied().unwrap_or(0x80) & 0x3F);
    match bytes.first().copied().unwrap_or(0) {
        lead @ 0..=0x7F => (u32::from(lead), 1),
        lead @ 0xC0..=0xDF => ((u32::from(lead & 0x1F) << 6) | b(1), 2),
        lead @ 0xE0..=0xEF => ((u32::from(lead & 0x0F) << 12) | (b(1) << 6) | b(2), 3),
        lead => (
            (u32::from(lead & 0x07) << 18) | (b(1) << 12) | (b(2) << 6) | b(3),
            4,
        ),
    }
}

/// Appends `s` as a JSON string in the canonical form: ASCII only, short escapes for
/// `" \\ \n \r \t \b \f`, `\u00XX` for other controls and DEL, `\uXXXX` (lowercase, surrogate
/// pairs above U+FFFF) for everything outside printable ASCII.
pub fn write_json_string(s: &str, out: &mut Vec<u8>) {
    // A `str` holds no lone surrogates, so this cannot fail.
    let _ = write_wtf8_string(s.as_bytes(), out, Mode::Strict);
}

/// Writes a WTF-8 string; in strict mode a lone surrogate is an error (`Err(())`).
pub(super) fn write_wtf8_string(bytes: &[u8], out: &mut Vec<u8>, mode: Mode) -> Result<(), ()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    fn unit(u: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\\u");
        for shift in [12u32, 8, 4, 0] {
            out.extend(HEX.get(((u >> shift) & 0xF) as usize));
        }
    }
    out.push(b'"');
    let mut run_start = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        out.extend(bytes.get(run_start..i).unwrap_or_default());
        if b < 0x80 {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0C => out.extend_from_slice(b"\\f"),
                other => unit(u32::from(other), out),
            }
            i += 1;
        } else {
            let (code, len) = decode_wtf8(bytes.get(i..).unwrap_or_default());
            if code >= 0x10000 {
                let c = code - 0x10000;
                unit(0xD800 + (c >> 10), out);
                unit(0xDC00 + (c & 0x3FF), out);
            } else {
                if (0xD800..=0xDFFF).contains(&code) && mode == Mode::Strict {
                    return Err(());
                }
                unit(code, out);
            }
            i += len;
        }
        run_start = i;
    }
    out.extend(bytes.get(run_start..).unwrap_or_default());
    out.push(b'"');
    Ok(())
}
