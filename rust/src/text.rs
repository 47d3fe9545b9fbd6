//! Text rules of the reference decoder, written out for Rust: Python's `\d` (Unicode decimal
//! digits), the decimal and integer grammars, `str.lower()/upper()`, `repr()`, `msgspec.json`
//! string encoding, and what `decimal.Decimal(text)` accepts.

use std::borrow::Cow;
use std::cmp::Ordering;

/// The zero of every run of ten Unicode decimal digits (category Nd), as CPython 3.11's
/// `unicodedata` (Unicode 14.0) has them; Python's `re` `\d` and `int()`/`float()` use these.
const ND_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

/// The value of a Unicode decimal digit (Python's `\d`), else None.
#[inline]
pub fn digit(c: char) -> Option<u8> {
    if c.is_ascii_digit() {
        return Some(c as u8 - b'0');
    }
    if c.is_ascii() {
        return None;
    }
    let cp = c as u32;
    let i = ND_ZEROS.partition_point(|&z| z <= cp);
    let zero = *ND_ZEROS.get(i.checked_sub(1)?)?;
    let d = cp - zero;
    (d < 10).then_some(d as u8)
}

/// Consume `\d+` from `s` at byte `i`; returns the end.
fn digits_at(s: &str, mut i: usize) -> usize {
    while let Some(c) = s.get(i..).and_then(|r| r.chars().next()) {
        if digit(c).is_none() {
            break;
        }
        i += c.len_utf8();
    }
    i
}

fn byte_at(s: &str, i: usize) -> Option<u8> {
    s.as_bytes().get(i).copied()
}

/// `re.fullmatch(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", s)`.
pub fn is_decimal_text(s: &str) -> bool {
    if s.is_ascii() {
        is_decimal_ascii(s.as_bytes())
    } else {
        is_decimal_unicode(s)
    }
}

fn is_decimal_ascii(b: &[u8]) -> bool {
    let n = b.len();
    let mut i = 0;
    let run = |mut i: usize| {
        while i < n && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    if i < n && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int_end = run(i);
    let int_digits = int_end > i;
    i = int_end;
    if i < n && b[i] == b'.' {
        let frac_end = run(i + 1);
        if !int_digits && frac_end == i + 1 {
            return false;
        }
        i = frac_end;
    } else if !int_digits {
        return false;
    }
    if i < n && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < n && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_end = run(i);
        if exp_end == i {
            return false;
        }
        i = exp_end;
    }
    i == n
}

fn is_decimal_unicode(s: &str) -> bool {
    let mut i = 0;
    if matches!(byte_at(s, 0), Some(b'+' | b'-')) {
        i = 1;
    }
    let int_end = digits_at(s, i);
    let int_digits = int_end > i;
    i = int_end;
    if byte_at(s, i) == Some(b'.') {
        let frac_end = digits_at(s, i + 1);
        if !int_digits && frac_end == i + 1 {
            return false;
        }
        i = frac_end;
    } else if !int_digits {
        return false;
    }
    if matches!(byte_at(s, i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(byte_at(s, i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_end = digits_at(s, i);
        if exp_end == i {
            return false;
        }
        i = exp_end;
    }
    i == s.len()
}

/// `re.fullmatch(r"([+-]?\d+)(?:\.0*)?", s)`: the first group.
pub fn int_text(s: &str) -> Option<&str> {
    let mut i = 0;
    if matches!(byte_at(s, 0), Some(b'+' | b'-')) {
        i = 1;
    }
    let end = digits_at(s, i);
    if end == i {
        return None;
    }
    let rest = s.get(end..)?;
    let ok = rest.is_empty() || (rest.starts_with('.') && rest[1..].bytes().all(|b| b == b'0'));
    ok.then(|| &s[..end])
}

/// An integer text (`[+-]?\d+`) as sign, digit values without leading zeros, and the number of
/// digits written (CPython's int() digit limit counts those).
pub struct IntParts {
    pub negative: bool,
    /// ASCII digits, leading zeros stripped ("" for zero).
    pub digits: String,
    pub written: usize,
}

pub fn int_parts(s: &str) -> IntParts {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut digits = String::with_capacity(body.len());
    let mut written = 0;
    for c in body.chars() {
        if let Some(d) = digit(c) {
            written += 1;
            if !(digits.is_empty() && d == 0) {
                digits.push((b'0' + d) as char);
            }
        }
    }
    IntParts {
        negative,
        digits,
        written,
    }
}

impl IntParts {
    /// The value if it fits in an i64.
    pub fn to_i64(&self) -> Option<i64> {
        if self.digits.len() > 19 {
            return None;
        }
        let mag: u64 = if self.digits.is_empty() {
            0
        } else {
            self.digits.parse().ok()?
        };
        if self.negative {
            if mag <= 1u64 << 63 {
                Some((mag as i64).wrapping_neg())
            } else {
                None
            }
        } else {
            i64::try_from(mag).ok()
        }
    }

    /// `str(int(text))`.
    pub fn canonical(&self) -> String {
        if self.digits.is_empty() {
            "0".to_owned()
        } else if self.negative {
            format!("-{}", self.digits)
        } else {
            self.digits.clone()
        }
    }
}

/// `str(n)` of a JSON integer literal: the literal, except that `-0` is `0`.
pub fn int_literal_canonical(lit: &str) -> &str {
    if lit == "-0" {
        "0"
    } else {
        lit
    }
}

/// The text with every Unicode decimal digit replaced by its ASCII digit (for `f64` parsing).
pub fn ascii_digits(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| digit(c).map_or(c, |d| (b'0' + d) as char))
            .collect(),
    )
}

/// `float(text)` of a text [`is_decimal_text`] accepted (correctly rounded, like CPython).
pub fn parse_float(s: &str) -> f64 {
    if let Some(x) = fast_float(s.as_bytes()) {
        return x;
    }
    ascii_digits(s).parse::<f64>().unwrap_or(f64::NAN)
}

/// Clinger's fast path: an ASCII decimal whose significant digits fit in 2^53 and whose decimal
/// exponent is within +-22 is one exact integer times or over one exact power of ten, so a single
/// IEEE operation gives the correctly rounded result. None: use the full parser.
#[inline]
fn fast_float(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let (negative, mut i) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0u32;
    let mut frac = 0i32;
    let mut seen_dot = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => {
                if mantissa == 0 && c == b'0' {
                    // a leading zero adds no significant digit
                } else {
                    digits += 1;
                    if digits > 19 {
                        return None;
                    }
                }
                mantissa = mantissa * 10 + u64::from(c - b'0');
                if seen_dot {
                    frac += 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            b'e' | b'E' => break,
            _ => return None,
        }
        i += 1;
    }
    let mut exp: i32 = 0;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exp_negative = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() || i - start >= 4 {
                return None;
            }
            exp = exp * 10 + i32::from(c - b'0');
            i += 1;
        }
        if i == start {
            return None;
        }
        if exp_negative {
            exp = -exp;
        }
    }
    if i != b.len() || mantissa > (1u64 << 53) {
        return None;
    }
    let e = exp - frac;
    let m = mantissa as f64;
    let x = if e >= 0 {
        m * *POW10.get(usize::try_from(e).ok()?)?
    } else {
        m / *POW10.get(usize::try_from(-e).ok()?)?
    };
    Some(if negative { -x } else { x })
}

/// A decimal text as sign, significant digits and exponent (of the last digit).
struct DecParts {
    negative: bool,
    /// Digit values, leading zeros stripped (empty for zero).
    digits: Vec<u8>,
    exp: i128,
}

const EXP_SATURATE: i128 = 1 << 100;

fn dec_parts(s: &str) -> DecParts {
    let mut negative = false;
    let mut digits = Vec::new();
    let mut frac = 0i128;
    let mut in_frac = false;
    let mut exp_field = 0i128;
    let mut exp_negative = false;
    let mut in_exp = false;
    for (i, c) in s.char_indices() {
        match c {
            '+' | '-' if i == 0 => negative = c == '-',
            '+' | '-' => exp_negative = c == '-',
            '.' => in_frac = true,
            'e' | 'E' => in_exp = true,
            _ => {
                let d = digit(c).unwrap_or(0);
                if in_exp {
                    exp_field = (exp_field * 10 + i128::from(d)).min(EXP_SATURATE);
                } else {
                    if in_frac {
                        frac += 1;
                    }
                    if !(digits.is_empty() && d == 0) {
                        digits.push(d);
                    }
                }
            }
        }
    }
    let exp_field = if exp_negative { -exp_field } else { exp_field };
    DecParts {
        negative,
        digits,
        exp: exp_field - frac,
    }
}

/// Whether `decimal.Decimal(text)` accepts a text [`is_decimal_text`] accepted: CPython converts
/// exactly (MAX_PREC, MAX_EMAX, MIN_EMIN) and refuses what would overflow or need rounding.
pub fn decimal_constructible(s: &str) -> bool {
    const EMAX: i128 = 999_999_999_999_999_999;
    const ETINY: i128 = -1_999_999_999_999_999_997;
    let p = dec_parts(s);
    let adjusted = if p.digits.is_empty() {
        p.exp
    } else {
        p.exp + p.digits.len() as i128 - 1
    };
    adjusted <= EMAX && p.exp >= ETINY
}

/// The sign of the number a decimal text stands for.
pub fn decimal_sign(s: &str) -> Ordering {
    let p = dec_parts(s);
    if p.digits.is_empty() {
        Ordering::Equal
    } else if p.negative {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

/// Compare the numbers two decimal texts stand for, exactly.
pub fn decimal_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (dec_parts(a), dec_parts(b));
    let sign = |p: &DecParts| -> i8 {
        if p.digits.is_empty() {
            0
        } else if p.negative {
            -1
        } else {
            1
        }
    };
    let (sa, sb) = (sign(&a), sign(&b));
    if sa != sb || sa == 0 {
        return sa.cmp(&sb);
    }
    let magnitude = {
        let adj_a = a.exp + a.digits.len() as i128;
        let adj_b = b.exp + b.digits.len() as i128;
        adj_a.cmp(&adj_b).then_with(|| {
            let trim = |d: &[u8]| -> usize { d.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1) };
            a.digits[..trim(&a.digits)].cmp(&b.digits[..trim(&b.digits)])
        })
    };
    if sa > 0 {
        magnitude
    } else {
        magnitude.reverse()
    }
}

/// The most digits an exact subtraction may need (`_pydecode.MAX_SUB_DIGITS`).
pub const MAX_SUB_DIGITS: i128 = 1000;
const MAX_EMAX: i128 = 999_999_999_999_999_999;
const MIN_EMIN: i128 = -999_999_999_999_999_999;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubError {
    /// The operands are too far apart (`needs more than MAX_SUB_DIGITS digits`).
    TooManyDigits,
    /// The difference overflows decimal's largest exponent.
    OutOfRange,
}

/// `_pydecode._exact_sub(a, b)` for two texts `decimal_constructible` accepted: `a - b` as
/// `decimal` computes it with `prec = max(need, 28)` and the widest exponents (exact, except
/// that a result below the subnormal range rounds half-even). The result is a text
/// `decimal.Decimal` reads back to the same coefficient, exponent and sign.
pub fn exact_sub(a: &str, b: &str) -> Result<String, SubError> {
    let (pa, pb) = (dec_parts(a), dec_parts(b));
    let adjusted = |p: &DecParts| p.exp + (p.digits.len().max(1) as i128) - 1;
    let need = adjusted(&pa).max(adjusted(&pb)) - pa.exp.min(pb.exp) + 2;
    if need > MAX_SUB_DIGITS {
        return Err(SubError::TooManyDigits);
    }
    let prec = need.max(28);
    let mut exp = pa.exp.min(pb.exp);
    // Align both coefficients on the smaller exponent (at most `need` digits each).
    let align = |p: &DecParts| -> Vec<u8> {
        let mut d = p.digits.clone();
        d.extend(std::iter::repeat_n(
            0u8,
            usize::try_from(p.exp - exp).unwrap_or(0),
        ));
        d
    };
    let (ca, cb) = (align(&pa), align(&pb));
    // x - y = x + (-y)
    let (sx, sy) = (pa.negative, !pb.negative);
    let (mut negative, mut mag) = if sx == sy {
        (sx, digits_add(&ca, &cb))
    } else {
        match digits_cmp(&ca, &cb) {
            Ordering::Greater => (sx, digits_sub(&ca, &cb)),
            Ordering::Less => (sy, digits_sub(&cb, &ca)),
            Ordering::Equal => (false, Vec::new()),
        }
    };
    if sx == sy && mag.is_empty() {
        negative = sx; // -0 + -0 keeps its sign
    }
    let etiny = MIN_EMIN - prec + 1;
    if exp < etiny {
        mag = round_half_even_drop(&mag, usize::try_from(etiny - exp).unwrap_or(usize::MAX));
        exp = etiny;
    }
    if !mag.is_empty() && exp + mag.len() as i128 - 1 > MAX_EMAX {
        return Err(SubError::OutOfRange);
    }
    let mut out = String::with_capacity(mag.len() + 24);
    if negative {
        out.push('-');
    }
    if mag.is_empty() {
        out.push('0');
    }
    out.extend(mag.iter().map(|d| (b'0' + d) as char));
    out.push_str(&format!("E{exp}"));
    Ok(out)
}

fn strip_leading_zeros(mut d: Vec<u8>) -> Vec<u8> {
    let n = d.iter().take_while(|&&x| x == 0).count();
    d.drain(..n);
    d
}

fn digits_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let (a, b) = (
        &a[a.iter().take_while(|&&x| x == 0).count()..],
        &b[b.iter().take_while(|&&x| x == 0).count()..],
    );
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn digits_add(a: &[u8], b: &[u8]) -> Vec<u8> {
    let n = a.len().max(b.len());
    let mut out = vec![0u8; n + 1];
    let mut carry = 0u8;
    for i in 0..n {
        let x = if i < a.len() { a[a.len() - 1 - i] } else { 0 };
        let y = if i < b.len() { b[b.len() - 1 - i] } else { 0 };
        let s = x + y + carry;
        out[n - i] = s % 10;
        carry = s / 10;
    }
    out[0] = carry;
    strip_leading_zeros(out)
}

/// a - b for a >= b.
fn digits_sub(a: &[u8], b: &[u8]) -> Vec<u8> {
    let n = a.len();
    let mut out = vec![0u8; n];
    let mut borrow = 0i8;
    for i in 0..n {
        let x = a[n - 1 - i] as i8;
        let y = if i < b.len() {
            b[b.len() - 1 - i] as i8
        } else {
            0
        };
        let mut d = x - y - borrow;
        borrow = 0;
        if d < 0 {
            d += 10;
            borrow = 1;
        }
        out[n - 1 - i] = d as u8;
    }
    strip_leading_zeros(out)
}

/// Drop the last `k` digits of a coefficient, rounding half to even.
fn round_half_even_drop(d: &[u8], k: usize) -> Vec<u8> {
    if k == 0 {
        return d.to_vec();
    }
    if k > d.len() {
        return Vec::new();
    }
    let (keep, dropped) = d.split_at(d.len() - k);
    let first = dropped.first().copied().unwrap_or(0);
    let rest_nonzero = dropped.iter().skip(1).any(|&x| x != 0);
    let odd = keep.last().is_some_and(|&x| x % 2 == 1);
    let up = first > 5 || (first == 5 && (rest_nonzero || odd));
    let mut out = keep.to_vec();
    if up {
        out = digits_add(&out, &[1]);
    }
    strip_leading_zeros(out)
}

/// `str.lower()`.
pub fn lower(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// Call `f` with `str.lower()` of `s`, without allocating for short ASCII text.
#[inline]
pub fn with_lower<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    if s.len() <= 64 && s.is_ascii() {
        let mut buf = [0u8; 64];
        let b = &mut buf[..s.len()];
        b.copy_from_slice(s.as_bytes());
        b.make_ascii_lowercase();
        f(std::str::from_utf8(b).unwrap_or_default())
    } else {
        f(&lower(s))
    }
}

/// `str.upper()`.
pub fn upper(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_lowercase()) {
            Cow::Owned(s.to_ascii_uppercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        Cow::Owned(s.to_uppercase())
    }
}

/// `s[:n]` (code points).
pub fn prefix_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub fn char_len_over(s: &str, n: usize) -> bool {
    s.len() > n && s.chars().nth(n).is_some()
}

fn printable(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    if c.is_control() || (c.is_whitespace()) {
        return false;
    }
    // Common format characters (Cf), which Python's repr escapes.
    !matches!(c as u32, 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f
        | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff | 0xfff9..=0xfffb
        | 0xe000..=0xf8ff | 0xf0000..)
}

/// Python's `repr()` of a str (printability approximated for rare non-ASCII characters).
pub fn repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if printable(c) => out.push(c),
            c => {
                let cp = c as u32;
                if cp <= 0xff {
                    out.push_str(&format!("\\x{cp:02x}"));
                } else if cp <= 0xffff {
                    out.push_str(&format!("\\u{cp:04x}"));
                } else {
                    out.push_str(&format!("\\U{cp:08x}"));
                }
            }
        }
    }
    out.push(quote);
    out
}

/// `msgspec.json.encode(s)` of a str.
pub fn json_string(s: &str, out: &mut String) {
    out.push('"');
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0..=0x1f => Some(""),
            _ => None,
        };
        if let Some(esc) = esc {
            out.push_str(&s[run..i]);
            if esc.is_empty() {
                out.push_str(&format!("\\u{b:04x}"));
            } else {
                out.push_str(esc);
            }
            run = i + 1;
        }
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// `bytes.strip()`: ASCII whitespace (space, \t, \n, \r, \x0b, \x0c) off both ends.
pub fn strip_ascii_ws(b: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let start = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ws(c)).map_or(start, |i| i + 1);
    b.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_digits() {
        assert_eq!(digit('7'), Some(7));
        assert_eq!(digit('٣'), Some(3));
        assert_eq!(digit('９'), Some(9));
        assert_eq!(digit('²'), None);
        assert_eq!(digit('a'), None);
        assert_eq!(digit('\u{1fbf9}'), Some(9));
        assert_eq!(digit('\u{1fbfa}'), None);
    }

    #[test]
    fn decimal_grammar() {
        for ok in [
            "1", "+1", "-1.5", "1.", ".5", "1e5", "1.e5", "1E-05", "٣.٥", "0000.000",
        ] {
            assert!(is_decimal_text(ok), "{ok}");
        }
        for bad in [
            "", ".", "+", "-.", "e5", "1e", "1e+", "1.5.", "1,5", " 1", "1 ", "inf", "nan", "0x1",
            "1_0",
        ] {
            assert!(!is_decimal_text(bad), "{bad}");
        }
        assert!(is_decimal_text("٣.٥") && is_decimal_text("+٣e٣") && !is_decimal_text("٣x"));
        assert_eq!(parse_float("٣.٥"), 3.5);
        // The fast path agrees with the full parser.
        for t in [
            "0",
            "-0",
            "-0.0",
            "1.5",
            "+1.",
            ".5",
            "30000.5",
            "0.000010355204214985",
            "123456789012345678",
            "9007199254740993",
            "1e22",
            "1e23",
            "1.7976931348623157e308",
            "5e-324",
            "-12.000",
            "1E-05",
            "0.1",
            "0.3",
            "2.675",
            "1234567890.0987654321",
            "0000000000000000000000001.5",
        ] {
            let want = t.parse::<f64>().unwrap();
            assert_eq!(parse_float(t).to_bits(), want.to_bits(), "{t}");
        }
        assert_eq!(parse_float("1."), 1.0);
        assert_eq!(parse_float(".5"), 0.5);
        assert!(parse_float("1e400").is_infinite());
    }

    #[test]
    fn fast_float_matches_std_on_random_decimals() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200_000 {
            let r = next();
            let int_len = (r % 12) as usize;
            let frac_len = ((r >> 8) % 14) as usize;
            let mut t = String::new();
            if r & (1 << 20) != 0 {
                t.push('-');
            }
            for k in 0..int_len {
                t.push((b'0' + (next() % 10) as u8) as char);
                if k == 0 && r & (1 << 21) != 0 {
                    t.push('0');
                }
            }
            if frac_len > 0 || int_len == 0 {
                t.push('.');
                for _ in 0..frac_len.max(1) {
                    t.push((b'0' + (next() % 10) as u8) as char);
                }
            }
            if r & (1 << 22) != 0 {
                t.push_str(&format!("e{}", (next() % 60) as i64 - 30));
            }
            let want = t.parse::<f64>().unwrap();
            assert_eq!(parse_float(&t).to_bits(), want.to_bits(), "{t}");
        }
    }

    #[test]
    fn int_grammar() {
        assert_eq!(int_text("12"), Some("12"));
        assert_eq!(int_text("-12.000"), Some("-12"));
        assert_eq!(int_text("12."), Some("12"));
        assert_eq!(int_text("12.5"), None);
        assert_eq!(int_text("1e3"), None);
        assert_eq!(int_text(""), None);
        let p = int_parts("-0009223372036854775808");
        assert_eq!(p.to_i64(), Some(i64::MIN));
        assert_eq!(p.written, 22);
        assert_eq!(int_parts("9223372036854775808").to_i64(), None);
        assert_eq!(int_parts("-0").canonical(), "0");
        assert_eq!(int_parts("+٣").to_i64(), Some(3));
    }

    #[test]
    fn decimal_constructor_rule() {
        for ok in [
            "1e999999999999999999",
            "1.0e999999999999999999",
            "0.1e1000000000000000000",
            "1e-1999999999999999997",
            "0e-1999999999999999997",
            "0.0e1000000000000000000",
            "123456789e-1999999999999999997",
        ] {
            assert!(decimal_constructible(ok), "{ok}");
        }
        for bad in [
            "10e999999999999999999",
            "1e1000000000000000000",
            "1e-1999999999999999998",
            "0e1000000000000000000",
            "1e9223372036854775807",
            "1.5e-1999999999999999997",
            "0e-99999999999999999999",
        ] {
            assert!(!decimal_constructible(bad), "{bad}");
        }
    }

    #[test]
    fn decimal_compare() {
        assert_eq!(decimal_cmp("1.50", "1.5"), Ordering::Equal);
        assert_eq!(decimal_cmp("-0", "0.000"), Ordering::Equal);
        assert_eq!(decimal_cmp("2", "10"), Ordering::Less);
        assert_eq!(decimal_cmp("-2", "-10"), Ordering::Greater);
        assert_eq!(decimal_cmp("1e5", "99999.9"), Ordering::Greater);
        assert_eq!(decimal_cmp("0.001", "1e-3"), Ordering::Equal);
        assert_eq!(decimal_sign("-0.0"), Ordering::Equal);
        assert_eq!(decimal_sign("-0.1"), Ordering::Less);
    }

    #[test]
    fn exact_subtraction() {
        assert_eq!(exact_sub("1.50", "0.25").unwrap(), "125E-2");
        assert_eq!(exact_sub("1000.5", "10.25").unwrap(), "99025E-2");
        assert_eq!(
            exact_sub("0.1", "1E-60").unwrap(),
            format!("{}E-60", "9".repeat(59))
        );
        assert_eq!(exact_sub("1", "1").unwrap(), "0E0");
        assert_eq!(exact_sub("-0", "0").unwrap(), "-0E0");
        assert_eq!(exact_sub("-0.00", "0").unwrap(), "-0E-2");
        assert_eq!(exact_sub("0", "-0").unwrap(), "0E0");
        assert_eq!(exact_sub("-5", "3").unwrap(), "-8E0");
        assert_eq!(exact_sub("3", "5").unwrap(), "-2E0");
        assert_eq!(exact_sub("1e3", "1").unwrap(), "999E0");
        assert_eq!(exact_sub("9e999999", "-9e999999").unwrap(), "18E999999");
        assert_eq!(exact_sub("1e-1", "1e2000"), Err(SubError::TooManyDigits));
        assert_eq!(
            exact_sub("9e999999999999999999", "-9e999999999999999999"),
            Err(SubError::OutOfRange)
        );
        // Below the subnormal range, decimal rounds half-even (values from CPython).
        assert_eq!(
            exact_sub("2e-1500000000000000000", "1e-1500000000000000000").unwrap(),
            "0E-1000000000000000026"
        );
        assert_eq!(
            exact_sub("25e-1000000000000000026", "1e-1000000000000000026").unwrap(),
            "24E-1000000000000000026"
        );
        assert_eq!(
            exact_sub("15e-1000000000000000027", "0e-1000000000000000027").unwrap(),
            "2E-1000000000000000026"
        );
    }

    #[test]
    fn python_text() {
        assert_eq!(lower("ABC"), "abc");
        assert!(with_lower("AbC", |l| l == "abc"));
        assert!(with_lower(&"É".repeat(40), |l| l == "é".repeat(40)));
        assert_eq!(upper("ß"), "SS");
        assert_eq!(repr("a'b"), "\"a'b\"");
        assert_eq!(repr("a\n\u{1}"), "'a\\n\\x01'");
        assert_eq!(prefix_chars("ééé", 2), "éé");
        let mut s = String::new();
        json_string("a\"\\\u{1f}\u{8}é", &mut s);
        assert_eq!(s, "\"a\\\"\\\\\\u001f\\bé\"");
        assert_eq!(strip_ascii_ws(b" \x0bping\r\n"), b"ping");
        assert_eq!(strip_ascii_ws(b"  "), b"");
    }
}
