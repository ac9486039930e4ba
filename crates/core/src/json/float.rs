//! A float spelled as Python's `repr` spells it.

use std::fmt::Write as _;

/// Writes a finite float as Python's `repr` does: the shortest digits that round-trip, in
/// positional form when the decimal exponent is in `-4 < e <= 16`, else `d.ddde±XX`.
pub fn write_float_repr(value: f64, out: &mut String) {
    if value == 0.0 {
        out.push_str(if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        });
        return;
    }
    // Ryu gives the shortest digits that round-trip, breaking ties to even as Python's
    // dtoa does (Rust's own `{:e}` rounds some ties the other way).
    let mut buf = ryu::Buffer::new();
    let printed = buf.format_finite(value);
    let (negative, printed) = match printed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, printed),
    };
    let (mantissa, exp) = printed.split_once(['e', 'E']).unwrap_or((printed, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all: String = format!("{int_part}{frac_part}");
    // Position of the decimal point relative to the start of `all`, then normalise away
    // leading and trailing zeros.
    let mut decpt = i32::try_from(int_part.len()).unwrap_or(0) + exp;
    let trimmed_start = all.trim_start_matches('0');
    decpt -= i32::try_from(all.len() - trimmed_start.len()).unwrap_or(0);
    let digits = trimmed_start.trim_end_matches('0').to_owned();
    let n = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if negative {
        out.push('-');
    }
    if -4 < decpt && decpt <= 16 {
        if decpt <= 0 {
            out.push_str("0.");
            for _ in 0..-decpt {
                out.push('0');
            }
            out.push_str(&digits);
        } else if decpt >= n {
            out.push_str(&digits);
            for _ in 0..decpt - n {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            let (int_part, frac) = digits.split_at(decpt.unsigned_abs() as usize);
            out.push_str(int_part);
            out.push('.');
            out.push_str(frac);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let e = decpt - 1;
        let _ = write!(
            out,
            "e{}{:02}",
            if e < 0 { '-' } else { '+' },
            e.unsigned_abs()
        );
    }
}
