//! Extreme `invoked_at` strings for the differential test against `datetime.fromisoformat`:
//! the first and last instants Python represents under every extreme offset (where converting
//! to UTC overflows), fractions of 0 to 40 digits (all nines, all zeros, rounding edges), the
//! ISO 8601 forms Python 3.11 reads besides the extended one (basic format, week dates, hour
//! only, `+HH`, `+HHMM`, offsets with seconds and microseconds), every kind of separator
//! (control characters, non-ASCII, digits that are not ASCII), leap days and impossible dates,
//! hour 24, leap seconds, and strings far longer than any timestamp.

use std::fmt::Write as _;

use super::Rng;

const DATES: [&str; 16] = [
    "0001-01-01",
    "0001-01-02",
    "9999-12-31",
    "9999-12-30",
    "0000-01-01",
    "2024-02-29",
    "2023-02-29",
    "1900-02-29",
    "2000-02-29",
    "2026-04-31",
    "2026-13-01",
    "2026-00-10",
    "20260101",
    "2026-W01-1",
    "2026W537",
    "2026-W53",
];

const TIMES: [&str; 18] = [
    "00:00:00",
    "23:59:59",
    "23:59:59.999999",
    "00:00:00.000001",
    "24:00:00",
    "23:59:60",
    "23:60:00",
    "10",
    "1030",
    "103000",
    "10:30",
    "103000.5",
    "10:30:00,5",
    "10:30:00.",
    "10:30:00.9999995",
    "1:30:00",
    "10:3:00",
    "10:30:0",
];

const OFFSETS: [&str; 22] = [
    "",
    "Z",
    "z",
    "+00:00",
    "-00:00",
    "+23:59",
    "-23:59",
    "+23:59:59",
    "-23:59:59",
    "+23:59:59.999999",
    "-23:59:59.999999",
    "+00:00:00.000001",
    "-00:00:00.000001",
    "+24:00",
    "+05",
    "+0530",
    "-053015",
    "+05:30:15.123",
    "+05:3",
    "+5:30",
    "Z+00:00",
    "+00:00Z",
];

const SEPARATORS: [&str; 12] = [
    "T",
    "t",
    " ",
    "_",
    "\u{0}",
    "\n",
    "\u{e9}",
    "\u{660}",
    "\u{1F600}",
    "TT",
    "",
    "\u{2028}",
];

/// Every date with the extreme times and offsets, then `count` random combinations of all
/// the pieces, fractions and paddings.
pub(crate) fn timestamps(rng: &mut Rng, count: usize) -> Vec<String> {
    let mut out = Vec::new();
    for date in DATES {
        for time in ["00:00:00", "23:59:59.999999"] {
            for offset in OFFSETS {
                out.push(format!("{date}T{time}{offset}"));
            }
        }
        out.push(date.to_owned());
    }
    for digits in 0..=40usize {
        for fill in ['0', '9', '5'] {
            let fraction: String = std::iter::repeat_n(fill, digits).collect();
            out.push(format!("2026-01-01T00:00:00.{fraction}+00:00"));
            out.push(format!("9999-12-31T23:59:59.{fraction}Z"));
        }
    }
    for _ in 0..count {
        let mut s = String::new();
        s.push_str(rng.pick::<&str>(&DATES));
        s.push_str(rng.pick::<&str>(&SEPARATORS));
        s.push_str(rng.pick::<&str>(&TIMES));
        if rng.chance(20) {
            let n = *rng.pick(&[1usize, 6, 7, 12, 100, 4000]);
            s.push('.');
            for _ in 0..n {
                s.push(char::from(b'0' + rng.below(10) as u8));
            }
        }
        s.push_str(rng.pick::<&str>(&OFFSETS));
        match rng.below(20) {
            0 => s = format!(" {s}"),
            1 => s.push(' '),
            2 => s.push('\u{0}'),
            3 => {
                let _ = write!(s, "{}", "0".repeat(10_000));
            }
            _ => {}
        }
        out.push(s);
    }
    out.extend(["", "T", "Z", "+00:00", "-", "2026", "2026-01", "2026-1-1"].map(String::from));
    out
}
