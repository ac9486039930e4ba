//! `number`: one float value spelled many ways, read by every reader of JSON numbers and
//! checked against a reference.
//!
//! The bytes choose a value `digits × 10^exp` (up to 1,000 significant digits, so halfway
//! points between doubles, which have up to 767, are reachable) and a spelling of it: the sign,
//! where the point goes, up to about 200,000 leading zeros after the point and trailing zeros,
//! leading zeros in the exponent, `e`/`E`, `+`, and optionally an exponent pushed ten million
//! places out of range. The reference is Rust's own correctly rounded parser on the *minimal*
//! spelling `digitsEexp` (at most 1,000 digits, so nothing for its exponent saturation to go
//! wrong with); [`python_float`] on the long spelling, the general reader and the one-pass
//! re-canonicaliser must all give that value (and Python's `repr` of it).

use trailseal_core::json::{self, Mode, write_float_repr};
use trailseal_core::number::python_float;
use trailseal_core::recanon::Recanonicalizer;

/// Reads a little-endian number from up to `n` bytes of `data` at `*at`, advancing `*at`.
fn take(data: &[u8], at: &mut usize, n: usize) -> u64 {
    let mut v = 0u64;
    for i in 0..n {
        v |= u64::from(data.get(*at + i).copied().unwrap_or(0)) << (8 * i);
    }
    *at += n;
    v
}

/// The spelling the bytes describe, and the minimal spelling of the same value.
fn spellings(data: &[u8]) -> (String, String) {
    let mut at = 0;
    let flags = take(data, &mut at, 1);
    let leading = (take(data, &mut at, 2) as usize) * 3;
    let trailing = (take(data, &mut at, 2) as usize) * 3;
    let exp_zeros = take(data, &mut at, 1) as usize * 7;
    let exp = i64::from(take(data, &mut at, 2) as u16 as i16);
    let point = take(data, &mut at, 2) as usize;
    let digits: String = data
        .get(at..)
        .unwrap_or_default()
        .iter()
        .take(1000)
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    let digits = match digits.trim_start_matches('0') {
        "" => "0",
        d => d,
    };
    let negative = flags & 1 != 0;
    let out_of_range = if flags & 2 != 0 { 10_000_000 } else { 0 };
    let exp = if flags & 4 != 0 {
        exp - out_of_range
    } else {
        exp + out_of_range
    };
    let sign = if negative { "-" } else { "" };
    let minimal = format!("{sign}{digits}e{exp}");

    // value = digits × 10^exp. Spell it as int "." frac, with `leading` zeros after the point
    // when the point goes before the digits, and `trailing` zeros after them.
    let mut text = String::from(sign);
    let spelled_exp = if flags & 8 != 0 || digits == "0" {
        // 0.000…digits000… × 10^x: the fraction holds leading + digits + trailing digits.
        text.push_str("0.");
        text.extend(std::iter::repeat_n('0', leading));
        text.push_str(digits);
        text.extend(std::iter::repeat_n('0', trailing));
        exp + (leading + digits.len()) as i64
    } else {
        let k = 1 + point % digits.len();
        let (int, frac) = digits.split_at(k);
        text.push_str(int);
        let with_point = !frac.is_empty() || flags & 16 != 0;
        if with_point {
            text.push('.');
            text.push_str(if frac.is_empty() { "0" } else { frac });
        }
        text.extend(std::iter::repeat_n('0', trailing));
        if with_point {
            // Zeros after the digits scale them and the fraction length alike.
            exp + frac.len() as i64
        } else {
            exp - trailing as i64
        }
    };
    text.push(if flags & 32 != 0 { 'E' } else { 'e' });
    if spelled_exp < 0 {
        text.push('-');
    } else if flags & 64 != 0 {
        text.push('+');
    }
    text.extend(std::iter::repeat_n('0', exp_zeros));
    text.push_str(&spelled_exp.unsigned_abs().to_string());
    (text, minimal)
}

/// `number`: see the module documentation.
pub fn number(data: &[u8]) {
    let (text, minimal) = spellings(data);
    let reference: f64 = minimal
        .parse()
        .unwrap_or_else(|_| unreachable!("a minimal spelling always parses: {minimal}"));
    let value = python_float(text.as_bytes());
    assert_eq!(
        value.map(f64::to_bits),
        Some(reference.to_bits()),
        "{minimal} spelled in {} bytes reads as {value:?}",
        text.len()
    );
    let doc = json::parse(text.as_bytes());
    let mut recanon = Recanonicalizer::new();
    let mut fast = Vec::new();
    let fast_ok = recanon.run(text.as_bytes(), &mut fast);
    if reference.is_finite() {
        let mut repr = String::new();
        write_float_repr(reference, &mut repr);
        assert_eq!(
            json::canonicalize(text.as_bytes()).ok().as_deref(),
            Some(repr.as_str()),
            "{minimal}: the general reader"
        );
        assert!(
            fast_ok && fast == repr.as_bytes(),
            "{minimal}: the recanonicaliser wrote {}",
            String::from_utf8_lossy(&fast)
        );
    } else {
        let word = if reference < 0.0 {
            "-Infinity"
        } else {
            "Infinity"
        };
        let mut out = Vec::new();
        let written = doc.map(|d| d.root().write_canonical(&mut out, Mode::Python));
        assert!(
            matches!(written, Ok(Ok(()))) && out == word.as_bytes(),
            "{minimal}: Python mode writes {word}"
        );
        assert!(
            !fast_ok,
            "{minimal}: the recanonicaliser leaves infinity to the reader"
        );
    }
}
