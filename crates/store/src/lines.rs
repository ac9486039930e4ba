//! Splitting a file into lines, with bounded memory.
//!
//! Where lines end, and how they are stripped, is the JSONL format's
//! ([`trailseal_core::jsonl::text`]: Python's text mode, as weaver-kernel reads its store);
//! [`LineReader`] applies [`Terminators`] to a [`BufRead`] without holding more than a line's
//! limit in memory, and [`last_line`] finds the last line of a file reading backwards.
//!
//! A line longer than the reader's limit is not buffered: the first `max` bytes are kept, the
//! rest is skipped to the next line end, and the line is returned as [`Line::oversized`].

use std::fs::File;
use std::io::{self, BufRead, Read, Seek, SeekFrom};

pub use trailseal_core::jsonl::Terminators;
use trailseal_core::jsonl::is_blank;

/// One line as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The 1-based line number (every line counts, blank ones too).
    pub number: u64,
    /// The byte offset of its first byte.
    pub offset: u64,
    /// Its bytes without the line end; for an oversized line, only the first `max` bytes.
    pub bytes: &'a [u8],
    /// Its full length in bytes, without the line end.
    pub len: u64,
    /// Whether a line end follows it (the last line of a file may have none).
    pub ended: bool,
    /// Longer than the reader's limit: `bytes` holds only its beginning.
    pub oversized: bool,
}

impl Line<'_> {
    /// The offset just past the line's bytes (where its line end, if any, starts).
    pub fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// Reads lines from a [`BufRead`], keeping at most `max` bytes of any line in memory.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    terminators: Terminators,
    max: usize,
    buf: Vec<u8>,
    offset: u64,
    number: u64,
}

impl<R: BufRead> LineReader<R> {
    /// A reader whose first line starts at byte `offset` of the file and is line `number + 1`.
    pub fn new(inner: R, terminators: Terminators, max: usize, offset: u64, number: u64) -> Self {
        Self {
            inner,
            terminators,
            max,
            buf: Vec::with_capacity(4096.min(max)),
            offset,
            number,
        }
    }

    /// The next line, `None` at the end of the input.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut len: u64 = 0;
        let mut ended = false;
        let mut saw_cr = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            match self.terminators.find(chunk) {
                Some(i) => {
                    let part = chunk.get(..i).unwrap_or_default();
                    keep(&mut self.buf, part, self.max);
                    len += i as u64;
                    saw_cr = chunk.get(i) == Some(&b'\r');
                    self.inner.consume(i + 1);
                    ended = true;
                    break;
                }
                None => {
                    let n = chunk.len();
                    keep(&mut self.buf, chunk, self.max);
                    len += n as u64;
                    self.inner.consume(n);
                }
            }
        }
        if len == 0 && !ended {
            return Ok(None);
        }
        let mut end_len = u64::from(ended);
        // `\r\n` is one line end, also when the `\n` is in the next buffer.
        if saw_cr && self.peek()? == Some(b'\n') {
            self.inner.consume(1);
            end_len += 1;
        }
        self.number += 1;
        let offset = self.offset;
        self.offset += len + end_len;
        Ok(Some(Line {
            number: self.number,
            offset,
            bytes: &self.buf,
            len,
            ended,
            oversized: len > self.max as u64,
        }))
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.inner.fill_buf() {
                Ok(c) => return Ok(c.first().copied()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Appends as much of `part` to `buf` as keeps it within `max` bytes.
fn keep(buf: &mut Vec<u8>, part: &[u8], max: usize) {
    let room = max.saturating_sub(buf.len());
    buf.extend_from_slice(part.get(..room.min(part.len())).unwrap_or_default());
}

/// The last line of a file that is not blank, as [`last_line`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastLine {
    /// The byte offset of its first byte.
    pub offset: u64,
    /// Its bytes without the line end (for an oversized line, only the first `max`).
    pub bytes: Vec<u8>,
    /// Its full length without the line end.
    pub len: u64,
    /// Whether a line end follows it.
    pub ended: bool,
    /// Longer than `max`.
    pub oversized: bool,
}

/// The greatest offset below `before` that holds a line end (`\r` or `\n`), reading backwards
/// in chunks.
fn rfind_end(file: &mut File, before: u64, chunk: &mut Vec<u8>) -> io::Result<Option<u64>> {
    const CHUNK: u64 = 64 * 1024;
    let mut end = before;
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        file.seek(SeekFrom::Start(start))?;
        chunk.clear();
        Read::by_ref(file).take(end - start).read_to_end(chunk)?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n' || *b == b'\r') {
            return Ok(Some(start + i as u64));
        }
        end = start;
    }
    Ok(None)
}

/// The last line of the first `len` bytes of `file` that is not blank to weaver-kernel
/// (universal newlines; see [`is_blank`]); a line longer than `max` counts as not blank and
/// is not read past its first `max` bytes. Memory stays within `max` plus a 64 KiB chunk
/// however long the lines are.
pub fn last_line(file: &mut File, len: u64, max: usize) -> io::Result<Option<LastLine>> {
    let mut chunk = Vec::new();
    let mut end = len;
    loop {
        let start = rfind_end(file, end, &mut chunk)?.map_or(0, |p| p + 1);
        let line_len = end - start;
        let oversized = line_len > max as u64;
        let keep = if oversized { max as u64 } else { line_len };
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::with_capacity(usize::try_from(keep).unwrap_or(0));
        Read::by_ref(file).take(keep).read_to_end(&mut bytes)?;
        if oversized || !is_blank(&bytes) {
            return Ok(Some(LastLine {
                offset: start,
                bytes,
                len: line_len,
                ended: end < len,
                oversized,
            }));
        }
        if start == 0 {
            return Ok(None);
        }
        // Past the line end before this line.
        end = start - 1;
    }
}

/// The 1-based number of the line that starts at byte `offset` (universal newlines).
pub fn line_number_at(file: &mut File, offset: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let reader = io::BufReader::with_capacity(1 << 20, Read::by_ref(file).take(offset));
    let mut lines = LineReader::new(reader, Terminators::Universal, 0, 0, 0);
    let mut count = 0u64;
    while lines.next_line()?.is_some() {
        count += 1;
    }
    Ok(count + 1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn split(
        data: &[u8],
        t: Terminators,
        max: usize,
        chunk: usize,
    ) -> Vec<(u64, Vec<u8>, u64, bool, bool)> {
        let reader = io::BufReader::with_capacity(chunk, data);
        let mut lines = LineReader::new(reader, t, max, 0, 0);
        let mut out = Vec::new();
        while let Some(l) = lines.next_line().unwrap() {
            out.push((l.offset, l.bytes.to_vec(), l.len, l.ended, l.oversized));
        }
        out
    }

    #[test]
    fn universal_newlines_whatever_the_buffer_size() {
        let data = b"a\rb\r\nc\nd\x0b\x0c\x1c\xc2\x85\xe2\x80\xa8e\r\r\n\n\rf";
        for chunk in 1..data.len() + 2 {
            let lines = split(data, Terminators::Universal, 100, chunk);
            let texts: Vec<&[u8]> = lines.iter().map(|l| l.1.as_slice()).collect();
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
                ],
                "chunk {chunk}"
            );
            let offsets: Vec<u64> = lines.iter().map(|l| l.0).collect();
            assert_eq!(offsets, [0, 2, 5, 7, 18, 20, 21, 22], "chunk {chunk}");
            assert!(lines[..7].iter().all(|l| l.3) && !lines[7].3);
        }
        assert_eq!(
            split(b"a\rb\n", Terminators::LineFeed, 100, 8)[0].1,
            b"a\rb"
        );
        assert!(split(b"", Terminators::Universal, 100, 8).is_empty());
    }

    #[test]
    fn an_oversized_line_is_not_buffered() {
        let mut data = vec![b'x'; 1000];
        data.extend_from_slice(b"\r\nok\n");
        for chunk in [1, 7, 64, 4096] {
            let lines = split(&data, Terminators::Universal, 10, chunk);
            assert_eq!(lines[0], (0, vec![b'x'; 10], 1000, true, true));
            assert_eq!(lines[1], (1002, b"ok".to_vec(), 2, true, false));
        }
        let lines = split(b"0123456789\n", Terminators::Universal, 10, 4);
        assert!(!lines[0].4);
    }
}
