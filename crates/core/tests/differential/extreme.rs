//! Extreme spellings of JSON numbers for the differential test: mantissas of up to 200,000
//! digits (leading zeros after the point, trailing zeros, the point anywhere), explicit
//! exponents up to ±10⁷ with and without leading zeros, values that under- and overflow,
//! exact decimal expansions of doubles and of the points halfway between two doubles (and just
//! above and below them), and integers around Python's 4300-digit limit.

use std::fmt::Write as _;

use super::Rng;

/// Longest mantissa (digits before the exponent) generated.
pub(crate) const MAX_MANTISSA: usize = 200_000;

/// A decimal value `digits × 10^exp` (`digits` without leading zeros, `"0"` for zero).
struct Decimal {
    negative: bool,
    digits: String,
    exp: i64,
}

/// Decimal digits of a little-endian base-10⁹ big number.
fn limbs_to_string(limbs: &[u64]) -> String {
    let mut s = String::new();
    for (i, limb) in limbs.iter().rev().enumerate() {
        if i == 0 {
            let _ = write!(s, "{limb}");
        } else {
            let _ = write!(s, "{limb:09}");
        }
    }
    s
}

fn mul_small(limbs: &mut Vec<u64>, factor: u64) {
    let mut carry = 0;
    for limb in limbs.iter_mut() {
        let v = *limb * factor + carry;
        *limb = v % 1_000_000_000;
        carry = v / 1_000_000_000;
    }
    while carry > 0 {
        limbs.push(carry % 1_000_000_000);
        carry /= 1_000_000_000;
    }
}

/// The exact decimal value of `m × 2^e` (m > 0).
fn exact(m: u64, e: i64) -> (String, i64) {
    let mut limbs = vec![m % 1_000_000_000, m / 1_000_000_000 % 1_000_000_000];
    limbs.push(m / 1_000_000_000_000_000_000);
    while limbs.last() == Some(&0) && limbs.len() > 1 {
        limbs.pop();
    }
    let (factor, times, exp) = if e >= 0 { (2, e, 0) } else { (5, -e, e) };
    for _ in 0..times {
        mul_small(&mut limbs, factor);
    }
    (limbs_to_string(&limbs), exp)
}

/// `(m, e)` with `value = m × 2^e` for a finite non-negative double's bits.
fn decode(bits: u64) -> (u64, i64) {
    let exp = ((bits >> 52) & 0x7FF) as i64;
    let frac = bits & ((1 << 52) - 1);
    if exp == 0 {
        (frac, -1074)
    } else {
        (frac | 1 << 52, exp - 1075)
    }
}

fn strip_trailing_zeros(digits: &mut String, exp: &mut i64) {
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
        *exp += 1;
    }
}

fn random_bits(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        // Boundaries: zero (its upper halfway point is half the smallest subnormal), the
        // smallest subnormal, the subnormal/normal border, one, the largest double (whose upper
        // halfway point is where overflow to infinity starts).
        0 => *rng.pick(&[
            0,
            1,
            0x000F_FFFF_FFFF_FFFF,
            0x0010_0000_0000_0000,
            0x3FF0_0000_0000_0000,
            0x7FEF_FFFF_FFFF_FFFF,
        ]),
        1 => rng.below(1 << 20), // subnormals with few bits
        _ => rng.below(0x7FF0_0000_0000_0000),
    }
}

/// A value worth spelling in many ways.
fn target(rng: &mut Rng) -> Decimal {
    let negative = rng.chance(40);
    match rng.below(10) {
        // A double's exact expansion (it reads back as itself).
        0 | 1 => {
            let bits = random_bits(rng).max(1);
            let (m, e) = decode(bits);
            let (mut digits, mut exp) = exact(m, e);
            strip_trailing_zeros(&mut digits, &mut exp);
            Decimal {
                negative,
                digits,
                exp,
            }
        }
        // Exactly halfway between a double and the next one (ties to even), or just above or
        // below that point.
        2..=5 => {
            let (m, e) = decode(random_bits(rng));
            let (mut digits, mut exp) = exact(2 * m + 1, e - 1);
            strip_trailing_zeros(&mut digits, &mut exp);
            match rng.below(3) {
                0 => {}
                1 => {
                    let zeros = rng.below(40) as usize;
                    digits.push_str(&"0".repeat(zeros));
                    digits.push('1');
                    exp -= zeros as i64 + 1;
                }
                _ => {
                    // The last digit is non-zero: lower it and append nines.
                    let last = digits.pop().unwrap();
                    digits.push(char::from(last as u8 - 1));
                    let nines = 1 + rng.below(40) as usize;
                    digits.push_str(&"9".repeat(nines));
                    exp -= nines as i64;
                    if digits.starts_with('0') && digits.len() > 1 {
                        digits.remove(0);
                    }
                }
            }
            Decimal {
                negative,
                digits,
                exp,
            }
        }
        // Far outside the range of doubles: zero or infinity.
        6 => {
            let mut digits = String::new();
            digits.push(char::from(b'1' + rng.below(9) as u8));
            for _ in 0..rng.below(30) {
                digits.push(char::from(b'0' + rng.below(10) as u8));
            }
            let choices = [
                330 + rng.below(100) as i64,
                rng.below(10_000_000) as i64,
                10_000_000,
            ];
            let magnitude = *rng.pick(&choices);
            let exp = if rng.chance(50) {
                magnitude
            } else {
                -magnitude
            };
            Decimal {
                negative,
                digits,
                exp,
            }
        }
        // Zero, spelled with any exponent.
        7 => Decimal {
            negative,
            digits: "0".into(),
            exp: rng.below(20_000_000) as i64 - 10_000_000,
        },
        // A short ordinary value: 1.5, a random double's shortest digits.
        _ => {
            let (mut digits, mut exp) = if rng.chance(30) {
                ("15".to_owned(), -1)
            } else {
                let v = f64::from_bits(rng.below(0x7FF0_0000_0000_0000));
                let s = format!("{v:e}");
                let (mantissa, e) = s.split_once('e').unwrap();
                let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
                (
                    format!("{int}{frac}"),
                    e.parse::<i64>().unwrap() - frac.len() as i64,
                )
            };
            strip_trailing_zeros(&mut digits, &mut exp);
            Decimal {
                negative,
                digits,
                exp,
            }
        }
    }
}

/// A padding length: none, a few, hundreds, or up to what the mantissa limit leaves.
fn pad(rng: &mut Rng, room: usize) -> usize {
    let n = match rng.below(4) {
        0 => 0,
        1 => rng.below(10) as usize,
        2 => rng.below(1000) as usize,
        _ => rng.below(room as u64 + 1) as usize,
    };
    n.min(room)
}

fn exponent(rng: &mut Rng, exp: i64, out: &mut String) {
    out.push(*rng.pick(&['e', 'E']));
    if exp < 0 {
        out.push('-');
    } else if rng.chance(40) {
        out.push('+');
    }
    // Leading zeros in the exponent, sometimes very many.
    let choices = [0, 0, 1, rng.below(20), rng.below(MAX_MANTISSA as u64)];
    let zeros = *rng.pick(&choices);
    out.push_str(&"0".repeat(zeros as usize));
    let _ = write!(out, "{}", exp.unsigned_abs());
}

/// A float spelling of `d`, or an integer near the 4300-digit limit.
fn spell(rng: &mut Rng, d: &Decimal, out: &mut String) {
    if d.negative {
        out.push('-');
    }
    let room = MAX_MANTISSA.saturating_sub(d.digits.len() + 2);
    let trailing = pad(rng, room);
    match rng.below(3) {
        // digits and trailing zeros as the integer part, then an exponent (or `.0`).
        0 if d.digits != "0" => {
            out.push_str(&d.digits);
            out.push_str(&"0".repeat(trailing));
            let exp = d.exp - trailing as i64;
            if exp == 0 && rng.chance(50) {
                out.push_str(".0");
            } else {
                exponent(rng, exp, out);
            }
        }
        // The point inside the digits.
        1 if d.digits.len() > 1 && d.digits != "0" => {
            let k = 1 + rng.below(d.digits.len() as u64 - 1) as usize;
            let (int, frac) = d.digits.split_at(k);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
            out.push_str(&"0".repeat(trailing));
            // The trailing zeros scale the digits and the fraction length alike.
            let exp = d.exp + frac.len() as i64;
            if exp != 0 || rng.chance(50) {
                exponent(rng, exp, out);
            }
        }
        // `0.000…digits000…`: leading zeros after the point.
        _ => {
            let leading = pad(rng, room - trailing);
            out.push_str("0.");
            out.push_str(&"0".repeat(leading));
            out.push_str(&d.digits);
            out.push_str(&"0".repeat(trailing));
            let exp = d.exp + (leading + d.digits.len()) as i64;
            if exp != 0 || rng.chance(50) {
                exponent(rng, exp, out);
            }
        }
    }
}

/// The spelling that fooled Rust's parser: digits whose count cancels an exponent beyond the
/// point where Rust stops reading it (about 65,536), and the same spellings where the count
/// does not cancel it.
fn cancelling(rng: &mut Rng, out: &mut String) {
    if rng.chance(40) {
        out.push('-');
    }
    let zeros = 60_000 + rng.below(MAX_MANTISSA as u64 - 60_000) as usize;
    let choices = [
        zeros as i64 + 1,
        1_000_000,
        10_000_000,
        zeros as i64 + 1 + rng.below(400) as i64 - 200,
    ];
    let shift = *rng.pick(&choices);
    if rng.chance(50) {
        let _ = write!(out, "15{}", "0".repeat(zeros));
        exponent(rng, -shift, out);
    } else {
        let _ = write!(out, "0.{}15", "0".repeat(zeros));
        exponent(rng, shift, out);
    }
}

/// An integer of 4290 to 4310 digits: Python refuses more than 4300.
fn long_integer(rng: &mut Rng, out: &mut String) {
    if rng.chance(50) {
        out.push('-');
    }
    out.push(char::from(b'1' + rng.below(9) as u8));
    for _ in 0..4289 + rng.below(21) {
        out.push(char::from(b'0' + rng.below(10) as u8));
    }
}

/// One input: a bare number, or a number inside a `json.dumps`-style object.
pub(crate) fn input(rng: &mut Rng) -> String {
    let mut number = String::new();
    match rng.below(20) {
        0..=2 => cancelling(rng, &mut number),
        3 => long_integer(rng, &mut number),
        _ => {
            let d = target(rng);
            spell(rng, &d, &mut number);
        }
    }
    if rng.chance(25) {
        format!("{{\"b\": [{number}], \"a\": 1}}")
    } else {
        number
    }
}
