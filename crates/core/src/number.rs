//! Reading a JSON float as Python's `float()` does, for any length of mantissa and exponent.
//!
//! Python (`json.loads`, `float()`) converts with CPython's `dtoa`: the double nearest to the
//! exact decimal value, ties to even, `±inf` past the largest double, `±0.0` below half the
//! smallest subnormal. The only inputs it refuses are those with more than
//! [`PYTHON_FLOAT_MAX_DIGITS`] significant-or-fractional digits (a `ValueError`).
//!
//! Rust's `str::parse::<f64>` is correctly rounded too, but it stops accumulating the explicit
//! exponent at about 65,536 (`0x10000`): `15` followed by 99,999 zeros and `e-1000000` (the
//! value 1.5 × 10⁻⁹⁰⁰⁰⁰⁰, so `0.0`) reads as `1.5`, because the saturated exponent no longer
//! cancels the digit count. [`python_float`] therefore gives Rust only spellings where that
//! cannot happen: short texts as they are (fewer than [`SHORT`] bytes cannot move the decimal
//! point far enough to bring a saturated exponent back in range), and every longer text
//! normalised first — its significant digits located by scanning once, its true decimal
//! exponent computed in saturating 64-bit arithmetic from the digit counts and the explicit
//! exponent, values far outside the binary64 range decided as `±0.0` / `±inf` at once, and the
//! rest re-spelled as at most [`KEPT_DIGITS`] digits, a sticky digit and a small exponent.
//! Time and memory are linear in the text (no big-number arithmetic).

/// CPython's `MAX_DIGITS` in `dtoa.c`: `float()` raises `ValueError` when the digits from the
/// first non-zero one, or the digits after the point, number more than this.
pub const PYTHON_FLOAT_MAX_DIGITS: u64 = 1_000_000_000;

/// Texts shorter than this are handed to Rust's parser unchanged: their digits shift the
/// decimal point by less than 64 places, so even a saturated exponent (≥ 65,536 in magnitude)
/// still lands far beyond the binary64 range, where the true value is also `±0.0` / `±inf`.
pub const SHORT: usize = 64;

/// Significant digits kept when re-spelling a long mantissa. A binary64 value, or the point
/// halfway between two of them, has at most 767 significant decimal digits; the digits after
/// the 800th only matter as "some non-zero digit follows", which one sticky `1` preserves.
pub const KEPT_DIGITS: usize = 800;

/// Past this decimal exponent (the value is `0.d₁d₂… × 10^p`), the value is at least 10³¹⁰:
/// infinity.
const OVERFLOW_POINT: i64 = 310;

/// Below this decimal exponent the value is under 10⁻³³⁰, less than half the smallest
/// subnormal (≈ 2.47 × 10⁻³²⁴): zero.
const UNDERFLOW_POINT: i64 = -330;

/// The value Python's `float()` gives the JSON number `text` (`-?int(.frac)?([eE][+-]?exp)?`),
/// `±inf` included; `None` when Python refuses it (too many digits) or `text` is not a JSON
/// number.
pub fn python_float(text: &[u8]) -> Option<f64> {
    Parts::split(text)?;
    float_of_number(std::str::from_utf8(text).ok()?)
}

/// [`python_float`] for a text the caller has already read as a JSON number (the general
/// reader and the re-canonicaliser check the grammar while scanning): a short text costs one
/// length comparison more than Rust's parser.
pub(crate) fn float_of_number(text: &str) -> Option<f64> {
    float_with_limit(text, PYTHON_FLOAT_MAX_DIGITS)
}

fn float_with_limit(text: &str, max_digits: u64) -> Option<f64> {
    // A text shorter than the limit cannot exceed it.
    if text.len() < SHORT && text.len() as u64 <= max_digits {
        return text.parse().ok();
    }
    let parts = Parts::split(text.as_bytes())?;
    if parts.too_long(max_digits) {
        return None;
    }
    Some(parts.value())
}

/// A JSON number split into its pieces (all ASCII digits, signs removed).
struct Parts<'t> {
    negative: bool,
    int: &'t [u8],
    frac: &'t [u8],
    exp_negative: bool,
    exp: &'t [u8],
}

const EMPTY: &[u8] = &[];

fn digit_run(text: &[u8]) -> usize {
    text.iter().take_while(|b| b.is_ascii_digit()).count()
}

fn leading_zeros(digits: &[u8]) -> usize {
    digits.iter().take_while(|b| **b == b'0').count()
}

fn trailing_zeros(digits: &[u8]) -> usize {
    digits.iter().rev().take_while(|b| **b == b'0').count()
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl<'t> Parts<'t> {
    /// Splits `text`, checking the JSON grammar.
    fn split(text: &'t [u8]) -> Option<Self> {
        let (negative, rest) = match text.strip_prefix(b"-") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int, rest) = rest.split_at(digit_run(rest));
        if int.is_empty() || (int.len() > 1 && int.first() == Some(&b'0')) {
            return None;
        }
        let (frac, rest) = match rest.strip_prefix(b".") {
            Some(after) => {
                let (frac, rest) = after.split_at(digit_run(after));
                if frac.is_empty() {
                    return None;
                }
                (frac, rest)
            }
            None => (EMPTY, rest),
        };
        let (exp_negative, exp, rest) = match rest.split_first() {
            Some((b'e' | b'E', after)) => {
                let (exp_negative, after) = match after.split_first() {
                    Some((b'-', a)) => (true, a),
                    Some((b'+', a)) => (false, a),
                    _ => (false, after),
                };
                let (exp, rest) = after.split_at(digit_run(after));
                if exp.is_empty() {
                    return None;
                }
                (exp_negative, exp, rest)
            }
            _ => (false, EMPTY, rest),
        };
        rest.is_empty().then_some(Self {
            negative,
            int,
            frac,
            exp_negative,
            exp,
        })
    }

    /// Whether CPython's `dtoa` refuses the text: more than `max` digits from the first
    /// non-zero one, or more than `max` digits after the point.
    fn too_long(&self, max: u64) -> bool {
        let frac_len = self.frac.len() as u64;
        let int_significant = self.int.len() - leading_zeros(self.int);
        let digits = if int_significant > 0 {
            int_significant as u64 + frac_len
        } else {
            (self.frac.len() - leading_zeros(self.frac)) as u64
        };
        digits > max || frac_len > max
    }

    /// The explicit exponent, saturated far beyond anything that matters.
    fn exponent(&self) -> i64 {
        let significant = self.exp.get(leading_zeros(self.exp)..).unwrap_or_default();
        let magnitude = if significant.len() > 18 {
            i64::MAX / 4
        } else {
            significant
                .iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
        };
        if self.exp_negative {
            -magnitude
        } else {
            magnitude
        }
    }

    /// The correctly rounded value of the text, by a bounded re-spelling.
    fn value(&self) -> f64 {
        let signed = |v: f64| if self.negative { -v } else { v };
        // The significant digits run from the first non-zero digit of `int ++ frac` to the
        // last one; the two pieces are never copied whole.
        let int_lead = leading_zeros(self.int);
        let (first_in_int, lead) = if int_lead < self.int.len() {
            (true, int_lead)
        } else {
            let frac_lead = leading_zeros(self.frac);
            if frac_lead == self.frac.len() {
                return signed(0.0);
            }
            (false, frac_lead)
        };
        let frac_trail = trailing_zeros(self.frac);
        let (last_in_frac, trail) = if frac_trail < self.frac.len() {
            (true, frac_trail)
        } else {
            (false, trailing_zeros(self.int))
        };
        let int_sig: &[u8] = match (first_in_int, last_in_frac) {
            (true, true) => self.int.get(lead..).unwrap_or_default(),
            (true, false) => self
                .int
                .get(lead..self.int.len() - trail)
                .unwrap_or_default(),
            (false, _) => &[],
        };
        let frac_sig: &[u8] = match (first_in_int, last_in_frac) {
            (true, true) => self.frac.get(..self.frac.len() - trail).unwrap_or_default(),
            (false, _) => self
                .frac
                .get(lead..self.frac.len() - trail)
                .unwrap_or_default(),
            (true, false) => &[],
        };
        let count = int_sig.len() + frac_sig.len();
        // The value is 0.(int_sig frac_sig) × 10^point.
        let point = if first_in_int {
            to_i64(self.int.len() - lead)
        } else {
            -to_i64(lead)
        }
        .saturating_add(self.exponent());
        if point > OVERFLOW_POINT {
            return signed(f64::INFINITY);
        }
        if point < UNDERFLOW_POINT {
            return signed(0.0);
        }
        let kept = count.min(KEPT_DIGITS);
        let mut spelling = String::with_capacity(kept + 16);
        if self.negative {
            spelling.push('-');
        }
        let digits = int_sig.iter().chain(frac_sig).take(kept);
        spelling.extend(digits.map(|d| char::from(*d)));
        let mut written = to_i64(kept);
        if count > kept {
            // The last significant digit is non-zero and was dropped: a sticky `1` keeps the
            // value strictly between the same two halfway points.
            spelling.push('1');
            written += 1;
        }
        spelling.push('e');
        spelling.push_str(&(point - written).to_string());
        // `point` is within ±330 and at most 801 digits are written, so Rust's parser reads
        // this spelling exactly; it cannot fail on it.
        spelling.parse().unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn py(text: &str) -> Option<f64> {
        python_float(text.as_bytes())
    }

    fn bits(v: Option<f64>) -> Option<u64> {
        v.map(f64::to_bits)
    }

    #[test]
    fn a_saturated_exponent_does_not_cancel_the_digit_count() {
        // Rust's parser reads this as 1.5; the value is 1.5e-900000.
        let text = format!("15{}e-1000000", "0".repeat(99_999));
        assert!(text.parse::<f64>().is_ok_and(|v| v == 1.5));
        assert_eq!(bits(py(&text)), Some(0.0f64.to_bits()));
        assert_eq!(bits(py(&format!("-{text}"))), Some((-0.0f64).to_bits()));
        // Digits and exponent that do cancel: exactly 1.5.
        let n = 1_000_000;
        assert_eq!(py(&format!("15{}e-{}", "0".repeat(n), n + 1)), Some(1.5));
        assert_eq!(py(&format!("0.{}15e{}", "0".repeat(n), n + 1)), Some(1.5));
        assert_eq!(
            py(&format!("1.5{}e0{}", "0".repeat(n), "0".repeat(n))),
            Some(1.5)
        );
        assert_eq!(py(&format!("1e-{}1", "0".repeat(100_000))), Some(0.1));
    }

    #[test]
    fn ranges_and_rounding() {
        assert_eq!(py("1"), Some(1.0));
        assert_eq!(py(&format!("9{}e-400", "0".repeat(400))), Some(9.0));
        assert_eq!(py(&format!("1{}.0", "0".repeat(309))), Some(f64::INFINITY));
        assert_eq!(py(&format!("1{}.0", "0".repeat(308))), Some(1e308));
        assert_eq!(py(&format!("0.{}1", "0".repeat(400))), Some(0.0));
        assert_eq!(py(&format!("0.{}5", "0".repeat(323))), Some(5e-324));
        assert_eq!(py("0e99999999999999999999999999"), Some(0.0));
        assert_eq!(py(&format!("-0.{}e-9", "0".repeat(100))), Some(-0.0));
        // Exactly halfway between 1 and the next double rounds to even (1); a sticky digit
        // far out rounds up.
        let half = "1.00000000000000011102230246251565404236316680908203125";
        assert_eq!(py(&format!("{half}{}", "0".repeat(100))), Some(1.0));
        assert_eq!(
            py(&format!("{half}{}1", "0".repeat(100_000))),
            Some(1.0000000000000002)
        );
        assert_eq!(py(&format!("{half}{}e+0", "0".repeat(100_000))), Some(1.0));
    }

    #[test]
    fn python_refuses_too_many_digits() {
        let refuse = |t: &str| float_with_limit(t, 10);
        // Leading zeros of the fraction count only as fractional digits.
        assert!(refuse("0.0000000001").is_some());
        assert!(refuse("0.00000000001").is_none());
        assert!(refuse("1234567890.0").is_none());
        assert!(refuse("123456789.0").is_some());
        assert!(refuse("0.0000000000").is_some());
        assert!(refuse(&format!("1{}.0e5", "0".repeat(SHORT))).is_none());
    }

    #[test]
    fn not_json_numbers() {
        for t in [
            "", "-", "01.5", "1.", ".5", "1e", "1e+", "+1.0", "1.5x", "1.5e5.0", "NaN",
        ] {
            assert_eq!(py(t), None, "{t:?}");
        }
    }
}
