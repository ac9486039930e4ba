//! Telling an interrupted write from damage: is a last line a strict prefix of a record line?
//!
//! Both writers put one record on a line, in one layout: trailseal
//! `{"seq":N,"prev_hash":"…","record_hash":"…","kid":"…","trace":{…}}`, weaver-kernel
//! `json.dumps` of `{"seq", "prev_hash", "record_hash", "trace"}` (the same keys in the same
//! order, `", "` and `": "` between them, no `kid`). Both write ASCII only (`ensure_ascii`),
//! the hashes as 64 lowercase hex digits, and the seq as a plain integer. An append that dies
//! mid-write leaves a strict prefix of such a line: a viable beginning of it that is not yet
//! complete. Anything else at the end of a file — a complete value with bytes after it, two
//! records on one line, a byte no writer writes, keys in another order — is damage.

use crate::json::DEFAULT_MAX_DEPTH;

/// How a prefix ended.
enum Step {
    /// The input ended inside the value: it can still be completed.
    More,
    /// The input cannot begin such a value.
    Bad,
}

type Parse = Result<(), Step>;

struct Prefix<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Prefix<'_> {
    fn peek(&self) -> Result<u8, Step> {
        self.input.get(self.pos).copied().ok_or(Step::More)
    }

    fn spaces(&mut self) -> Parse {
        while self.peek()? == b' ' {
            self.pos += 1;
        }
        Ok(())
    }

    fn expect(&mut self, text: &[u8]) -> Parse {
        for &want in text {
            if self.peek()? != want {
                return Err(Step::Bad);
            }
            self.pos += 1;
        }
        Ok(())
    }

    /// `"key"`, then `:`.
    fn key(&mut self, key: &[u8]) -> Parse {
        self.spaces()?;
        self.expect(b"\"")?;
        self.expect(key)?;
        self.expect(b"\"")?;
        self.spaces()?;
        self.expect(b":")?;
        self.spaces()
    }

    /// `,` between members.
    fn comma(&mut self) -> Parse {
        self.spaces()?;
        self.expect(b",")
    }

    fn seq(&mut self) -> Parse {
        let first = self.peek()?;
        if !first.is_ascii_digit() {
            return Err(Step::Bad);
        }
        self.pos += 1;
        let mut digits = 1;
        while self.peek()?.is_ascii_digit() {
            if first == b'0' {
                return Err(Step::Bad);
            }
            self.pos += 1;
            digits += 1;
            // u64::MAX has 20 digits.
            if digits > 20 {
                return Err(Step::Bad);
            }
        }
        Ok(())
    }

    fn hash(&mut self) -> Parse {
        self.expect(b"\"")?;
        for _ in 0..64 {
            if !matches!(self.peek()?, b'0'..=b'9' | b'a'..=b'f') {
                return Err(Step::Bad);
            }
            self.pos += 1;
        }
        self.expect(b"\"")
    }

    fn string(&mut self) -> Parse {
        self.expect(b"\"")?;
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.pos += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 1,
                        b'u' => {
                            self.pos += 1;
                            for _ in 0..4 {
                                if !self.peek()?.is_ascii_hexdigit() {
                                    return Err(Step::Bad);
                                }
                                self.pos += 1;
                            }
                        }
                        _ => return Err(Step::Bad),
                    }
                }
                // DEL is not escaped by either writer.
                0x20..=0x7f => self.pos += 1,
                _ => return Err(Step::Bad),
            }
        }
    }

    fn number(&mut self) -> Parse {
        if self.peek()? == b'-' {
            self.pos += 1;
            if self.peek()? == b'I' {
                return self.expect(b"Infinity");
            }
        }
        let first = self.peek()?;
        if !first.is_ascii_digit() {
            return Err(Step::Bad);
        }
        self.pos += 1;
        if first != b'0' {
            self.digits()?;
        }
        if self.peek()? == b'.' {
            self.pos += 1;
            self.digit()?;
            self.digits()?;
        }
        if matches!(self.peek()?, b'e' | b'E') {
            self.pos += 1;
            if matches!(self.peek()?, b'+' | b'-') {
                self.pos += 1;
            }
            self.digit()?;
            self.digits()?;
        }
        Ok(())
    }

    fn digit(&mut self) -> Parse {
        if !self.peek()?.is_ascii_digit() {
            return Err(Step::Bad);
        }
        self.pos += 1;
        Ok(())
    }

    fn digits(&mut self) -> Parse {
        while self.peek()?.is_ascii_digit() {
            self.pos += 1;
        }
        Ok(())
    }

    /// Any JSON value (with Python's `NaN`, `Infinity`, `-Infinity`), iteratively: the
    /// nesting of a hostile line must not exhaust the stack.
    fn value(&mut self) -> Parse {
        // `true` for an object, `false` for an array.
        let mut open: Vec<bool> = Vec::new();
        loop {
            // A value starts here.
            self.spaces()?;
            match self.peek()? {
                b'{' | b'[' => {
                    let object = self.peek()? == b'{';
                    self.pos += 1;
                    if open.len() >= DEFAULT_MAX_DEPTH {
                        return Err(Step::Bad);
                    }
                    open.push(object);
                    self.spaces()?;
                    let close = if object { b'}' } else { b']' };
                    if self.peek()? == close {
                        self.pos += 1;
                        open.pop();
                    } else {
                        if object {
                            self.string()?;
                            self.spaces()?;
                            self.expect(b":")?;
                        }
                        continue;
                    }
                }
                b'"' => self.string()?,
                b't' => self.expect(b"true")?,
                b'f' => self.expect(b"false")?,
                b'n' => self.expect(b"null")?,
                b'N' => self.expect(b"NaN")?,
                b'I' => self.expect(b"Infinity")?,
                _ => self.number()?,
            }
            // A value ended: close containers, or go on to the next member.
            loop {
                let Some(&object) = open.last() else {
                    return Ok(());
                };
                self.spaces()?;
                match self.peek()? {
                    b',' => {
                        self.pos += 1;
                        if object {
                            self.spaces()?;
                            self.string()?;
                            self.spaces()?;
                            self.expect(b":")?;
                        }
                        break;
                    }
                    b'}' if object => {
                        self.pos += 1;
                        open.pop();
                    }
                    b']' if !object => {
                        self.pos += 1;
                        open.pop();
                    }
                    _ => return Err(Step::Bad),
                }
            }
        }
    }

    fn record(&mut self) -> Parse {
        self.expect(b"{")?;
        self.key(b"seq")?;
        self.seq()?;
        self.comma()?;
        self.key(b"prev_hash")?;
        self.hash()?;
        self.comma()?;
        self.key(b"record_hash")?;
        self.hash()?;
        self.comma()?;
        self.spaces()?;
        self.expect(b"\"")?;
        if self.peek()? == b'k' {
            self.expect(b"kid\"")?;
            self.spaces()?;
            self.expect(b":")?;
            self.spaces()?;
            self.string()?;
            self.comma()?;
            self.key(b"trace")?;
        } else {
            self.expect(b"trace\"")?;
            self.spaces()?;
            self.expect(b":")?;
            self.spaces()?;
        }
        self.value()?;
        self.spaces()?;
        self.expect(b"}")
    }
}

/// Whether `line` (a last line without its line end, as stored: not stripped) is a strict
/// prefix of a record line in the layout trailseal or weaver-kernel writes: what an append
/// that died mid-write leaves, and nothing else.
pub fn is_strict_record_prefix(line: &[u8]) -> bool {
    if line.is_empty() {
        return false;
    }
    let mut p = Prefix {
        input: line,
        pos: 0,
    };
    // A complete record (`Ok`), with or without bytes after it, is not a strict prefix.
    matches!(p.record(), Err(Step::More))
}

/// The seq a torn line claims, when its beginning (`{"seq": N,`) was written in full.
pub fn claimed_seq(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{")?.trim_ascii_start();
    let rest = rest.strip_prefix(b"\"seq\"")?.trim_ascii_start();
    let rest = rest.strip_prefix(b":")?.trim_ascii_start();
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (num, rest) = rest.split_at(digits);
    // Without what follows the number, the number itself may have been cut short.
    if num.is_empty() || !rest.trim_ascii_start().starts_with(b",") {
        return None;
    }
    std::str::from_utf8(num).ok()?.parse().ok()
}

/// The part of its `prev_hash` a torn line holds, once the seq before it is complete.
pub fn claimed_prev_hash(line: &[u8]) -> Option<&[u8]> {
    let at = line.windows(11).position(|w| w == b"\"prev_hash\"")?;
    let rest = line.get(at + 11..)?.trim_ascii_start();
    let rest = rest.strip_prefix(b":")?.trim_ascii_start();
    let rest = rest.strip_prefix(b"\"")?;
    let end = rest.iter().position(|b| *b == b'"').unwrap_or(rest.len());
    rest.get(..end)
}

/// Whether a last line without its line end (as stored) is an interrupted write of the record
/// that follows `head` (the next seq, and the hash it links to; `None`: its place in the chain
/// is not checked): a strict prefix of a record line (see [`is_strict_record_prefix`]) whose
/// seq and `prev_hash`, as far as they were written, are that record's. A line that is
/// complete JSON, holds more than one value, has a byte no writer writes, or claims another
/// place in the chain was not left by a writer that died: it is damage, not a torn tail.
pub fn is_torn_after(line: &[u8], head: Option<(u64, &[u8])>) -> bool {
    if !is_strict_record_prefix(line) {
        return false;
    }
    let Some((next_seq, prev_hash)) = head else {
        return true;
    };
    claimed_seq(line).is_none_or(|seq| seq == next_seq)
        && claimed_prev_hash(line).is_none_or(|p| prev_hash.starts_with(p))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]

    use super::is_strict_record_prefix as torn;
    use super::{claimed_seq, is_torn_after};

    const H: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn every_strict_prefix_and_nothing_else() {
        let ours = format!(
            r#"{{"seq":12,"prev_hash":"{H}","record_hash":"{H}","kid":"ab12","trace":{{"a":[1,-2.5e+3,"x\"\u00e9",{{}},[],true,null,NaN,-Infinity],"b":{{"c":false}}}}}}"#
        );
        let weavers = format!(
            r#"{{"seq": 0, "prev_hash": "{H}", "record_hash": "{H}", "trace": {{"a": [1, 2], "b": "c"}}}}"#
        );
        for line in [&ours, &weavers] {
            let b = line.as_bytes();
            for n in 1..b.len() {
                assert!(torn(&b[..n]), "{}", &line[..n]);
            }
            assert!(!torn(b), "complete");
            assert!(!torn(format!("{line}x").as_bytes()));
            assert!(!torn(format!("{line}{line}").as_bytes()));
            assert!(!torn(format!("{line}{}", &line[..9]).as_bytes()));
            assert!(!torn(format!("{line} ").as_bytes()));
        }
        for bad in [
            "",
            " {",
            "{\"seq\":01",
            "{\"seq\":1,\"prev_hash\":\"A",
            "{\"seq\":1,\"record_hash\"",
            "{\"seq\":1\r",
            "{\"seq\":1,\0",
            "{\"seq\":1,\"prev_hash\":\"é",
            "[",
            "x",
        ] {
            assert!(!torn(bad.as_bytes()), "{bad:?}");
        }
        let long = format!("{{\"seq\":1,\"prev_hash\":\"{H}0");
        assert!(!torn(long.as_bytes()));
        let deep = format!(
            "{{\"seq\":1,\"prev_hash\":\"{H}\",\"record_hash\":\"{H}\",\"trace\":{}",
            "[".repeat(1_000_000)
        );
        assert!(!torn(deep.as_bytes()));
    }
    #[test]
    fn a_torn_line_must_claim_the_next_place_in_the_chain() {
        let line = format!("{{\"seq\":4,\"prev_hash\":\"{H}\",\"record_hash\":\"");
        assert_eq!(claimed_seq(line.as_bytes()), Some(4));
        assert_eq!(
            claimed_seq(b"{\"seq\":4"),
            None,
            "the number may be cut short"
        );
        assert!(is_torn_after(line.as_bytes(), None));
        assert!(is_torn_after(line.as_bytes(), Some((4, H.as_bytes()))));
        assert!(!is_torn_after(line.as_bytes(), Some((5, H.as_bytes()))));
        let other = H.replace('0', "1");
        assert!(!is_torn_after(line.as_bytes(), Some((4, other.as_bytes()))));
        let cut = &line.as_bytes()[..30];
        assert!(is_torn_after(cut, Some((4, H.as_bytes()))));
        assert!(!is_torn_after(cut, Some((4, other.as_bytes()))));
    }
}
