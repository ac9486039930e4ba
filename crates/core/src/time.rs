//! Timestamps: parsing the ISO 8601 forms traces carry and formatting RFC 3339.
//!
//! Pure arithmetic on the proleptic Gregorian calendar; there is no clock here. Callers that
//! need "now" pass it in.

use std::fmt::Write as _;

/// A point in time, microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    micros: i64,
}

/// A timestamp that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    #[error("not an ISO 8601 timestamp (expected YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM)")]
    Syntax,
    #[error("timestamp has no UTC offset")]
    NoOffset,
    #[error("date or time field out of range")]
    Range,
}

/// Whether a timestamp without an offset is accepted (and read as UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    /// An offset (`Z` or `±HH:MM[:SS]`) must be present.
    Required,
    /// A missing offset means UTC; a bare date means its midnight UTC.
    DefaultUtc,
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn num(&mut self, width: usize) -> Result<u32, TimeError> {
        let digits = self
            .s
            .get(self.pos..self.pos + width)
            .ok_or(TimeError::Syntax)?;
        let mut v = 0u32;
        for &b in digits {
            if !b.is_ascii_digit() {
                return Err(TimeError::Syntax);
            }
            v = v * 10 + u32::from(b - b'0');
        }
        self.pos += width;
        Ok(v)
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.pos) == Some(&b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }
}

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp { micros: 0 };

    /// From microseconds since the Unix epoch.
    pub fn from_unix_micros(micros: i64) -> Self {
        Self { micros }
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(&self) -> i64 {
        self.micros
    }

    /// This timestamp moved by `micros` (saturating).
    pub fn saturating_add_micros(&self, micros: i64) -> Self {
        Self {
            micros: self.micros.saturating_add(micros),
        }
    }

    /// Parses `YYYY-MM-DD[T| ]HH:MM[:SS[.f{1,9}]]` followed by `Z` or `±HH:MM[:SS]` — a subset
    /// of what Python 3.11's `datetime.fromisoformat` accepts, so every timestamp trailseal
    /// accepts weaver-kernel can read. With [`Offset::DefaultUtc`] the offset may be left out
    /// and a bare date is accepted. Fractions beyond microseconds are truncated, as in Python.
    pub fn parse(text: &str, offset: Offset) -> Result<Self, TimeError> {
        let mut c = Cursor {
            s: text.as_bytes(),
            pos: 0,
        };
        let year = c.num(4)?;
        if !c.eat(b'-') {
            return Err(TimeError::Syntax);
        }
        let month = c.num(2)?;
        if !c.eat(b'-') {
            return Err(TimeError::Syntax);
        }
        let day = c.num(2)?;
        let year = i64::from(year);
        if year == 0 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(TimeError::Range);
        }
        let (mut hour, mut minute, mut second, mut micros) = (0u32, 0u32, 0u32, 0u32);
        let date_only = c.peek().is_none();
        if date_only {
            if offset == Offset::Required {
                return Err(TimeError::NoOffset);
            }
        } else {
            if !(c.eat(b'T') || c.eat(b' ')) {
                return Err(TimeError::Syntax);
            }
            hour = c.num(2)?;
            if !c.eat(b':') {
                return Err(TimeError::Syntax);
            }
            minute = c.num(2)?;
            if c.eat(b':') {
                second = c.num(2)?;
                if c.eat(b'.') {
                    let mut n = 0;
                    while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
                        if n < 6 {
                            micros = micros * 10 + u32::from(b - b'0');
                        }
                        n += 1;
                        c.pos += 1;
                    }
                    if n == 0 || n > 9 {
                        return Err(TimeError::Syntax);
                    }
                    for _ in n..6 {
                        micros *= 10;
                    }
                }
            }
            if hour > 23 || minute > 59 || second > 59 {
                return Err(TimeError::Range);
            }
        }
        let mut offset_secs: i64 = 0;
        match c.peek() {
            None if date_only => {}
            None => {
                if offset == Offset::Required {
                    return Err(TimeError::NoOffset);
                }
            }
            Some(b'Z') => c.pos += 1,
            Some(sign @ (b'+' | b'-')) => {
                c.pos += 1;
                let oh = c.num(2)?;
                if !c.eat(b':') {
                    return Err(TimeError::Syntax);
                }
                let om = c.num(2)?;
                let os = if c.eat(b':') { c.num(2)? } else { 0 };
                if oh > 23 || om > 59 || os > 59 {
                    return Err(TimeError::Range);
                }
                offset_secs = i64::from(oh * 3600 + om * 60 + os);
                if sign == b'-' {
                    offset_secs = -offset_secs;
                }
            }
            Some(_) => return Err(TimeError::Syntax),
        }
        if c.pos != text.len() {
            return Err(TimeError::Syntax);
        }
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
        Ok(Self {
            micros: secs * 1_000_000 + i64::from(micros),
        })
    }

    /// RFC 3339 in UTC with a `Z`, with microseconds only when they are not zero
    /// (`2026-01-01T00:00:00Z`, `2026-01-01T00:00:00.250000Z`).
    pub fn to_rfc3339(&self) -> String {
        let secs = self.micros.div_euclid(1_000_000);
        let micros = self.micros.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let mut out = String::with_capacity(27);
        let _ = write!(
            out,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            (sod % 3600) / 60,
            sod % 60
        );
        if micros != 0 {
            let _ = write!(out, ".{micros:06}");
        }
        out.push('Z');
        out
    }
}

impl Timestamp {
    /// The earliest instant Python's `datetime` holds in UTC: `0001-01-01T00:00:00+00:00`.
    pub const PYTHON_MIN: Timestamp = Timestamp {
        micros: -62_135_596_800_000_000,
    };
    /// The latest instant Python's `datetime` holds in UTC: `9999-12-31T23:59:59.999999+00:00`.
    pub const PYTHON_MAX: Timestamp = Timestamp {
        micros: 253_402_300_799_999_999,
    };

    /// Whether Python's `datetime` can hold this instant in UTC (years 1 to 9999), so that
    /// `dt.astimezone(timezone.utc)` of it does not overflow.
    pub fn in_python_range(&self) -> bool {
        (Self::PYTHON_MIN..=Self::PYTHON_MAX).contains(self)
    }

    /// The form Python's `datetime.isoformat()` gives a UTC timestamp, as weaver-kernel stores
    /// `invoked_at`: `2026-01-01T00:00:00+00:00`, with `.ffffff` only when microseconds are
    /// not zero. Years below 1000 are zero-padded to four digits, as Python does; outside
    /// [`Timestamp::in_python_range`] the year has no Python spelling.
    pub fn to_python_isoformat(&self) -> String {
        let mut s = self.to_rfc3339();
        s.pop();
        s.push_str("+00:00");
        s
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Parses a duration such as `183d`, `12h`, `30m`, `45s`, `2w` or a sum like `1d12h`, into
/// microseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut num: Option<i64> = None;
    if text.is_empty() {
        return None;
    }
    for ch in text.chars() {
        if let Some(d) = ch.to_digit(10) {
            num = Some(
                num.unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(i64::from(d))?,
            );
            continue;
        }
        let unit: i64 = match ch {
            'w' => 7 * 86_400,
            'd' => 86_400,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(num.take()?.checked_mul(unit)?.checked_mul(1_000_000)?)?;
    }
    if num.is_some() {
        return None;
    }
    Some(total)
}

/// A duration in microseconds as people read it, in the largest unit it is a whole number
/// of: `183d`, `12h`, `90s`, and below a second `1500ms` or `250us`. What trailseal prints
/// for a duration it did not get as text (a receipt's minimum retention, say); a whole
/// number of seconds reads back with [`parse_duration`].
pub fn format_duration(micros: i64) -> String {
    const SECOND: i64 = 1_000_000;
    match micros {
        m if m % (86_400 * SECOND) == 0 => format!("{}d", m / (86_400 * SECOND)),
        m if m % (3600 * SECOND) == 0 => format!("{}h", m / (3600 * SECOND)),
        m if m % SECOND == 0 => format!("{}s", m / SECOND),
        m if m % 1000 == 0 => format!("{}ms", m / 1000),
        m => format!("{m}us"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations_in_their_largest_whole_unit() {
        for (micros, text) in [
            (0, "0d"),
            (183 * 86_400 * 1_000_000, "183d"),
            (26 * 7 * 86_400 * 1_000_000, "182d"),
            (36 * 3600 * 1_000_000, "36h"),
            (90 * 1_000_000, "90s"),
            (1_500_000, "1500ms"),
            (250, "250us"),
            (-86_400 * 1_000_000, "-1d"),
            (i64::MIN, "-9223372036854775808us"),
        ] {
            assert_eq!(format_duration(micros), text, "{micros}");
        }
        for text in ["183d", "36h", "90s"] {
            assert_eq!(
                parse_duration(text).map(format_duration).as_deref(),
                Some(text)
            );
        }
    }

    #[test]
    fn parses_python_isoformat() {
        let t = Timestamp::parse("2026-01-01T00:00:00+00:00", Offset::Required).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-01T00:00:00Z");
        let t = Timestamp::parse("2026-03-01T09:30:00.473781+00:00", Offset::Required).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-01T09:30:00.473781Z");
        assert_eq!(t.to_python_isoformat(), "2026-03-01T09:30:00.473781+00:00");
        let t = Timestamp::parse("2026-03-01T11:30:00+02:00", Offset::Required).unwrap();
        assert_eq!(t.to_python_isoformat(), "2026-03-01T09:30:00+00:00");
        assert_eq!(t.to_rfc3339(), "2026-03-01T09:30:00Z");
        let t = Timestamp::parse("0999-01-01T00:00:00-00:00", Offset::Required).unwrap();
        assert_eq!(t.to_python_isoformat(), "0999-01-01T00:00:00+00:00");
        let t = Timestamp::parse("1969-12-31T23:59:59.5Z", Offset::Required).unwrap();
        assert_eq!(t.unix_micros(), -500_000);
        assert_eq!(t.to_rfc3339(), "1969-12-31T23:59:59.500000Z");
    }

    #[test]
    fn rejects_bad_timestamps() {
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01",
            "2026-01-01T00:00:00+0000",
            "2026-01-01T00:00:00.Z",
            "yesterday",
            "",
        ] {
            assert!(Timestamp::parse(bad, Offset::Required).is_err(), "{bad}");
        }
        assert!(Timestamp::parse("2026-01-01", Offset::DefaultUtc).is_ok());
        assert!(Timestamp::parse("2026-01-01T10:00:00", Offset::DefaultUtc).is_ok());
    }

    #[test]
    fn python_range() {
        let at = |s| Timestamp::parse(s, Offset::Required).unwrap();
        assert_eq!(at("0001-01-01T00:00:00Z"), Timestamp::PYTHON_MIN);
        assert_eq!(at("9999-12-31T23:59:59.999999Z"), Timestamp::PYTHON_MAX);
        assert!(Timestamp::PYTHON_MIN.in_python_range() && Timestamp::PYTHON_MAX.in_python_range());
        assert!(!at("0001-01-01T00:59:59+01:00").in_python_range());
        assert!(!at("9999-12-31T23:00:00-01:00").in_python_range());
        assert!(at("0001-01-01T01:00:00+01:00").in_python_range());
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("183d"), Some(183 * 86_400 * 1_000_000));
        assert_eq!(parse_duration("1d12h"), Some(36 * 3600 * 1_000_000));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("99999999999999999999d"), None);
    }
}
