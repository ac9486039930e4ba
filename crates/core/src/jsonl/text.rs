//! Splitting bytes into lines and stripping them, as weaver-kernel's reader does.
//!
//! weaver-kernel reads its JSONL store with `open(path, encoding="utf-8")` in text mode and
//! iterates it: universal newlines, so `\n`, `\r\n` and a bare `\r` each end a line (and
//! nothing else does: not `\x0b`, `\x0c`, `\x1c`–`\x1e`, `\x85`, U+2028 or U+2029, which only
//! `str.splitlines` would split on). Each line is then `str.strip()`ped — every character
//! Python's `str.isspace` accepts, at both ends — and skipped when nothing is left; the rest
//! goes to `json.loads`. A file that is not valid UTF-8 anywhere makes its reader raise.
//! [`split_lines`] with [`Terminators::Universal`] and [`strip_line`] reproduce exactly that
//! over bytes in memory (the store's bounded-memory file reader finds line ends with the same
//! [`Terminators::find`]); [`Terminators::LineFeed`] splits on `\n` only (trailseal's own
//! bundles).

/// Which bytes end a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminators {
    /// `\n`, `\r\n` and a bare `\r` (Python's universal newlines).
    Universal,
    /// `\n` only.
    LineFeed,
}

impl Terminators {
    /// Where the first line end in `chunk` is (vectorised: this is the verifier's hot path).
    /// A `\r` found there is followed by a `\n` that belongs to the same line end when the
    /// next byte is one.
    pub fn find(self, chunk: &[u8]) -> Option<usize> {
        match self {
            Terminators::Universal => memchr::memchr2(b'\n', b'\r', chunk),
            Terminators::LineFeed => memchr::memchr(b'\n', chunk),
        }
    }
}

/// One line of bytes in memory, as [`split_lines`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceLine<'a> {
    /// The byte offset of its first byte.
    pub offset: usize,
    /// Its bytes, without the line end.
    pub bytes: &'a [u8],
    /// Whether a line end follows it (the last line may have none).
    pub ended: bool,
}

/// The lines of `data`, every one counted (blank ones too); an empty input has none, and a
/// line end at the very end starts no further line.
pub fn split_lines(data: &[u8], terminators: Terminators) -> impl Iterator<Item = SliceLine<'_>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let rest = data.get(at..).filter(|r| !r.is_empty())?;
        let offset = at;
        let line = match terminators.find(rest) {
            Some(i) => {
                let crlf = rest.get(i) == Some(&b'\r') && rest.get(i + 1) == Some(&b'\n');
                at += i + 1 + usize::from(crlf);
                SliceLine {
                    offset,
                    bytes: rest.get(..i).unwrap_or_default(),
                    ended: true,
                }
            }
            None => {
                at = data.len();
                SliceLine {
                    offset,
                    bytes: rest,
                    ended: false,
                }
            }
        };
        Some(line)
    })
}

/// Whether Python's `str.isspace` holds for `c` (Python 3.11: Unicode's White_Space, plus the
/// information separators U+001C–U+001F).
pub fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Why a line cannot be read as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineProblem {
    /// Not valid UTF-8 (weaver-kernel's reader raises on the whole file).
    NotUtf8 { at: usize },
}

/// A line (without its line end) as weaver-kernel reads it: decoded as UTF-8 and
/// `str.strip()`ped. Empty for a blank line.
pub fn strip_line(bytes: &[u8]) -> Result<&[u8], LineProblem> {
    // The common case, a record line written by either tool: ASCII, nothing to strip.
    if let (Some(b'{'), Some(b'}')) = (bytes.first(), bytes.last())
        && bytes.is_ascii()
    {
        return Ok(bytes);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| LineProblem::NotUtf8 {
        at: e.valid_up_to(),
    })?;
    Ok(text.trim_matches(is_python_space).as_bytes())
}

/// Whether the line is blank to weaver-kernel (valid UTF-8, and only whitespace).
pub fn is_blank(bytes: &[u8]) -> bool {
    strip_line(bytes).is_ok_and(<[u8]>::is_empty)
}

/// Leading whitespace (as Python strips it) removed from the valid UTF-8 beginning of a line.
pub fn lstrip(bytes: &[u8]) -> &[u8] {
    let valid = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or_default())
            .unwrap_or_default(),
    };
    valid.trim_start_matches(is_python_space).as_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn universal_newlines() {
        let data = b"a\rb\r\nc\nd\x0b\x0c\x1c\xc2\x85\xe2\x80\xa8e\r\r\n\n\rf";
        let lines: Vec<SliceLine<'_>> = split_lines(data, Terminators::Universal).collect();
        let texts: Vec<&[u8]> = lines.iter().map(|l| l.bytes).collect();
        assert_eq!(
            texts,
            [
                &b"a"[..],
                b"b",
                b"c",
                b"d\x0b\x0c\x1c\xc2\x85\xe2\x80\xa8e",
                b"",
                b"",
                b"",
                b"f"
            ]
        );
        let offsets: Vec<usize> = lines.iter().map(|l| l.offset).collect();
        assert_eq!(offsets, [0, 2, 5, 7, 18, 20, 21, 22]);
        assert!(lines[..7].iter().all(|l| l.ended) && !lines[7].ended);
        let lf: Vec<_> = split_lines(b"a\rb\n", Terminators::LineFeed).collect();
        assert_eq!((lf.len(), lf[0].bytes), (1, &b"a\rb"[..]));
        assert_eq!(split_lines(b"", Terminators::Universal).count(), 0);
        assert_eq!(split_lines(b"\r\n", Terminators::Universal).count(), 1);
    }

    #[test]
    fn strip_is_pythons() {
        assert_eq!(
            strip_line(b" \t\x0b\x0c\x1c\x1d\x1e\x1f{}\xc2\x85\xc2\xa0\xe3\x80\x80"),
            Ok(&b"{}"[..])
        );
        assert_eq!(strip_line(b"\xef\xbb\xbf{}"), Ok(&b"\xef\xbb\xbf{}"[..]));
        assert!(is_blank(b"\xe2\x80\xa8 \xe2\x80\xa9"));
        assert!(!is_blank(b"\xff"));
        assert!(!is_blank(b"\x00"));
        assert_eq!(strip_line(b"{\xff}"), Err(LineProblem::NotUtf8 { at: 1 }));
        assert_eq!(lstrip(b" \xc2\xa0{\xff"), b"{");
    }
}
