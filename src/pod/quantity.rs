//! Kubernetes quantities (`resource.Quantity`) as whole GiB, rounded up.
//!
//! The grammar is Kubernetes':
//!
//! ```text
//! quantity  ::= sign? number suffix
//! number    ::= digits | digits "." digits? | "." digits
//! suffix    ::= binary | decimal | ("e" | "E") sign? digits
//! binary    ::= "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"      (2^10 … 2^60)
//! decimal   ::= "m" | "" | "k" | "M" | "G" | "T" | "P" | "E" (10^-3 … 10^18)
//! ```
//!
//! The value is a number of bytes, computed exactly (no floating point), and
//! turned into GiB (2^30 bytes) by rounding up: `20G` is 20 × 10^9 bytes,
//! 18.63 GiB, so 19 GiB; `100` (bytes) is 1 GiB; `0` is 0.

/// Why a quantity was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum QuantityError {
    /// Not of the grammar.
    Malformed,
    /// Below zero.
    Negative,
    /// More GiB than `limit`.
    TooLarge,
    /// More than [`MAX_DIGITS`] significant digits.
    TooManyDigits,
}

/// At most this many significant digits: enough for any real size, and the
/// bound that keeps the arithmetic exact in 128 bits.
pub(super) const MAX_DIGITS: usize = 20;

const GIB: u128 = 1 << 30;

/// The quantity in GiB, rounded up; at most `limit`.
pub(super) fn to_gib(text: &str, limit: u64) -> Result<u64, QuantityError> {
    let Parts {
        negative,
        int,
        frac,
        suffix,
    } = Parts::split(text.as_bytes())?;
    let (exp10, exp2) = suffix_exponents(suffix)?;
    // The significant digits, as an integer `mantissa` × 10^exp10.
    let (digits, exp10) = significant(int, frac, exp10 - frac.len() as i64);
    if digits.is_empty() {
        return Ok(0);
    }
    if negative {
        return Err(QuantityError::Negative);
    }
    if digits.len() > MAX_DIGITS {
        return Err(QuantityError::TooManyDigits);
    }
    let mantissa = digits
        .iter()
        .fold(0u128, |m, d| m * 10 + u128::from(d - b'0'));
    // mantissa < 10^20 < 2^67 and exp2 ≤ 60: this fits.
    let gib = gib_rounded_up(mantissa << exp2, exp10)?;
    match u64::try_from(gib) {
        Ok(gib) if gib <= limit => Ok(gib),
        _ => Err(QuantityError::TooLarge),
    }
}

/// A quantity's text cut at the grammar's seams: sign, integer digits,
/// fraction digits and suffix.
struct Parts<'t> {
    negative: bool,
    int: &'t [u8],
    frac: &'t [u8],
    suffix: &'t [u8],
}

impl<'t> Parts<'t> {
    /// The parts, or `Malformed` when there are no digits.
    fn split(bytes: &'t [u8]) -> Result<Self, QuantityError> {
        let (negative, rest) = match bytes.first() {
            Some(b'-') => (true, &bytes[1..]),
            Some(b'+') => (false, &bytes[1..]),
            _ => (false, bytes),
        };
        let int_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let (int, rest) = rest.split_at(int_len);
        let (frac, suffix) = match rest.strip_prefix(b".") {
            Some(rest) => {
                let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                rest.split_at(n)
            }
            None => (&rest[..0], rest),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(QuantityError::Malformed);
        }
        Ok(Parts {
            negative,
            int,
            frac,
            suffix,
        })
    }
}

/// The suffix as powers of ten and of two.
fn suffix_exponents(suffix: &[u8]) -> Result<(i64, u32), QuantityError> {
    Ok(match suffix {
        b"" => (0, 0),
        b"m" => (-3, 0),
        b"k" => (3, 0),
        b"M" => (6, 0),
        b"G" => (9, 0),
        b"T" => (12, 0),
        b"P" => (15, 0),
        b"E" => (18, 0),
        b"Ki" => (0, 10),
        b"Mi" => (0, 20),
        b"Gi" => (0, 30),
        b"Ti" => (0, 40),
        b"Pi" => (0, 50),
        b"Ei" => (0, 60),
        [b'e' | b'E', exponent @ ..] => (decimal_exponent(exponent)?, 0),
        _ => return Err(QuantityError::Malformed),
    })
}

/// The digits of `int` and `frac` without leading or trailing zeros, and
/// `exp10` raised by the trailing zeros dropped.
fn significant(int: &[u8], frac: &[u8], mut exp10: i64) -> (Vec<u8>, i64) {
    let mut digits: Vec<u8> = int.iter().chain(frac).copied().collect();
    let leading = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..leading);
    while digits.last() == Some(&b'0') {
        digits.pop();
        exp10 += 1;
    }
    (digits, exp10)
}

/// `scaled` × 10^`exp10` bytes in GiB, rounded up.
fn gib_rounded_up(scaled: u128, exp10: i64) -> Result<u128, QuantityError> {
    if exp10 >= 0 {
        let factor = u32::try_from(exp10)
            .ok()
            .and_then(|e| 10u128.checked_pow(e))
            .ok_or(QuantityError::TooLarge)?;
        let bytes = scaled.checked_mul(factor).ok_or(QuantityError::TooLarge)?;
        Ok(bytes.div_ceil(GIB))
    } else {
        // ceil(ceil(a / b) / c) = ceil(a / (b × c)) for positive integers.
        Ok(
            match u32::try_from(-exp10)
                .ok()
                .and_then(|e| 10u128.checked_pow(e))
            {
                Some(divisor) => scaled.div_ceil(divisor).div_ceil(GIB),
                // Over 10^38: the value is below one byte, yet above zero.
                None => 1,
            },
        )
    }
}

/// The digits after `e`: a signed decimal integer, saturated far beyond
/// any exponent that can still give a size within the limit.
fn decimal_exponent(text: &[u8]) -> Result<i64, QuantityError> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(QuantityError::Malformed);
    }
    let value = digits.iter().fold(0i64, |v, d| {
        v.saturating_mul(10)
            .saturating_add(i64::from(d - b'0'))
            .min(1 << 20)
    });
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_and_units() {
        let gib = |s| to_gib(s, u64::MAX);
        assert_eq!(gib("50Gi"), Ok(50));
        assert_eq!(gib("51200Mi"), Ok(50));
        assert_eq!(gib("20G"), Ok(19));
        assert_eq!(gib("1073741824"), Ok(1));
        assert_eq!(gib("1073741825"), Ok(2));
        assert_eq!(gib("1e9"), Ok(1));
        assert_eq!(gib("1.5Gi"), Ok(2));
        assert_eq!(gib(".5Gi"), Ok(1));
        assert_eq!(gib("1Ei"), Ok(1 << 30));
        assert_eq!(gib("0"), Ok(0));
        assert_eq!(gib("-0"), Ok(0));
        assert_eq!(gib("0.000Gi"), Ok(0));
        assert_eq!(gib("1m"), Ok(1));
        assert_eq!(gib("1e-300"), Ok(1));
        assert_eq!(gib("000000000000000000000000000050Gi"), Ok(50));
        assert_eq!(gib("5000000000000000000000000000"), Ok(4656612873077392579));
        assert_eq!(gib("1e300"), Err(QuantityError::TooLarge));
        assert_eq!(gib("-1Gi"), Err(QuantityError::Negative));
        assert_eq!(
            gib("123456789012345678901"),
            Err(QuantityError::TooManyDigits)
        );
        for bad in [
            "", "Gi", "1 Gi", "1gi", "1K", "1.2.3", "1e", "1e+", "0x10", "--1", ".",
        ] {
            assert_eq!(gib(bad), Err(QuantityError::Malformed), "{bad:?}");
        }
    }
}
