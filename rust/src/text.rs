//! Text rules of the reference decoder, written out for Rust: the decimal and integer grammars
//! (ASCII digits only), `str.lower()/upper()`, `repr()`, `msgspec.json` string encoding, and what
//! `decimal.Decimal(text)` accepts.

use std::borrow::Cow;
use std::cmp::Ordering;

/// `re.fullmatch(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", s)`.
#[inline]
pub fn is_decimal_text(s: &str) -> bool {
    is_decimal_ascii(s.as_bytes())
}

/// [`is_decimal_text`] on bytes (a non-ASCII byte is never part of the grammar).
pub fn is_decimal_ascii(b: &[u8]) -> bool {
    let n = b.len();
    let mut i = 0;
    let run = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_end = run(i);
    let int_digits = int_end > i;
    i = int_end;
    if b.get(i) == Some(&b'.') {
        let frac_end = run(i + 1);
        if !int_digits && frac_end == i + 1 {
            return false;
        }
        i = frac_end;
    } else if !int_digits {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
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

/// `re.fullmatch(r"([+-]?)([0-9]+)(?:\.0*)?", s)`: (negative, the digits group).
pub fn int_text(s: &str) -> Option<(bool, &str)> {
    let b = s.as_bytes();
    let (negative, start) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let mut end = start;
    while b.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    if end == start {
        return None;
    }
    let rest = b.get(end..).unwrap_or_default();
    let ok = match rest.split_first() {
        None => true,
        Some((b'.', zeros)) => zeros.iter().all(|&c| c == b'0'),
        Some(_) => false,
    };
    if !ok {
        return None;
    }
    Some((negative, s.get(start..end)?))
}

/// An integer from a sign and ASCII digits (leading zeros already stripped, at most 19 of
/// them) if it fits in an i64.
pub fn i64_of_digits(negative: bool, digits: &str) -> Option<i64> {
    let mut mag: u64 = 0;
    for &c in digits.as_bytes() {
        mag = mag
            .checked_mul(10)?
            .checked_add(u64::from(c.wrapping_sub(b'0')))?;
    }
    if negative {
        if mag <= 1u64 << 63 {
            Some((mag as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(mag).ok()
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

/// `float(text)` of a text [`is_decimal_text`] accepted (correctly rounded, like CPython).
pub fn parse_float(s: &str) -> f64 {
    if let Some(x) = fast_float(s.as_bytes()) {
        return x;
    }
    s.parse::<f64>().unwrap_or(f64::NAN)
}

/// `float(text)` if `text` is a decimal text ([`is_decimal_text`]) in the reach of the fast
/// path, in one pass (None: check and convert the long way).
#[inline]
pub fn decimal_float(s: &str) -> Option<f64> {
    fast_float(s.as_bytes())
}

/// [`decimal_float`] of the bytes of a text.
#[inline]
pub fn decimal_float_bytes(b: &[u8]) -> Option<f64> {
    fast_float(b)
}

/// Clinger's fast path (which accepts only decimal texts): an ASCII decimal of at most 19
/// digits whose value fits in 2^53 and whose decimal exponent is within +-22 is one exact integer
/// times or over one exact power of ten, so a single IEEE operation gives the correctly rounded
/// result. None: use the full parser.
#[inline]
fn fast_float(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let (negative, start) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    // Digits, then maybe a dot and more digits: tight loops, no overflow (19 digits at most).
    let mut mantissa: u64 = 0;
    let mut i = start;
    let mut digits = |i: &mut usize| {
        while let Some(d) = b.get(*i).map(|c| c.wrapping_sub(b'0')).filter(|d| *d <= 9) {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
            *i += 1;
        }
    };
    digits(&mut i);
    let int_digits = i - start;
    let mut frac = 0usize;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        digits(&mut i);
        frac = i - frac_start;
    }
    let ndigits = int_digits + frac;
    if ndigits == 0 || ndigits > 19 {
        return None;
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
    let e = exp - i32::try_from(frac).ok()?;
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
                let d = (c as u32).wrapping_sub(u32::from(b'0')).min(9) as u8;
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

/// `_pydecode._exact_sub(a, b)` for two texts `decimal_constructible` accepted: `a - b` in a
/// context of its own (`prec = max(need, 28)`, the widest exponents, ROUND_HALF_EVEN, every
/// condition trapped). The difference is always exact at that precision, so what can fail is the
/// exponent: a subnormal or overflowing result, or a zero clamped into range. The result is a
/// text `decimal.Decimal` reads back to the same coefficient, exponent and sign.
pub fn exact_sub(a: &str, b: &str) -> Result<String, SubError> {
    let (pa, pb) = (dec_parts(a), dec_parts(b));
    let adjusted = |p: &DecParts| p.exp + (p.digits.len().max(1) as i128) - 1;
    let need = adjusted(&pa).max(adjusted(&pb)) - pa.exp.min(pb.exp) + 2;
    if need > MAX_SUB_DIGITS {
        return Err(SubError::TooManyDigits);
    }
    let prec = need.max(28);
    let exp = pa.exp.min(pb.exp);
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
    let (mut negative, mag) = if sx == sy {
        (sx, digits_add(&ca, &cb))
    } else {
        match digits_cmp(&ca, &cb) {
            Ordering::Greater => (sx, digits_sub(&ca, &cb)),
            Ordering::Less => (sy, digits_sub(&cb, &ca)),
            // An exact zero of opposite signs is +0 (ROUND_HALF_EVEN, not ROUND_FLOOR).
            Ordering::Equal => (false, Vec::new()),
        }
    };
    if sx == sy && mag.is_empty() {
        negative = sx; // -0 + -0 keeps its sign
    }
    if mag.is_empty() {
        // A zero outside [Etiny, Emax] is clamped (Clamped is trapped).
        if exp > MAX_EMAX || exp < MIN_EMIN - prec + 1 {
            return Err(SubError::OutOfRange);
        }
    } else {
        // Overflow and Subnormal are trapped.
        let adj = exp + mag.len() as i128 - 1;
        if !(MIN_EMIN..=MAX_EMAX).contains(&adj) {
            return Err(SubError::OutOfRange);
        }
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

/// `str(Decimal(t))` of a text [`exact_sub`] returned (`[-]digitsE[-]exp`): Python's
/// to-scientific-string, for messages.
pub fn decimal_str(t: &str) -> String {
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (coef, exp) = body.split_once(['E', 'e']).unwrap_or((body, "0"));
    let exp: i128 = exp.parse().unwrap_or(0);
    let n = coef.len() as i128;
    let adjusted = exp + n - 1;
    let mut out = String::with_capacity(coef.len() + 8);
    if negative {
        out.push('-');
    }
    if exp <= 0 && adjusted >= -6 {
        let point = n + exp; // digits before the point
        if exp == 0 {
            out.push_str(coef);
        } else if point > 0 {
            let (int, frac) = coef.split_at(point as usize);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(coef);
        }
    } else {
        let (first, rest) = coef.split_at(1.min(coef.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push_str(&format!("E{adjusted:+}"));
    }
    out
}

/// A text of at most [`Packed::MAX`] bytes in two little-endian words (zero-filled) and its
/// length: texts are equal iff their packings are, so matching a frame text against a plan's
/// short texts is a few integer compares per text (no memcmp call, no byte loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Packed {
    w: [u64; 2],
    len: usize,
}

const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The bytes of a slice of fewer than 8 bytes as a little-endian word, zero-filled (two
/// overlapping loads, not a byte loop).
#[inline(always)]
fn load_short(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = b.first_chunk::<4>().map_or(0, |c| u32::from_le_bytes(*c));
        let hi = b.last_chunk::<4>().map_or(0, |c| u32::from_le_bytes(*c));
        u64::from(lo) | (u64::from(hi) << (8 * (n - 4)))
    } else if n >= 2 {
        let lo = b.first_chunk::<2>().map_or(0, |c| u16::from_le_bytes(*c));
        let hi = b.last_chunk::<2>().map_or(0, |c| u16::from_le_bytes(*c));
        u64::from(lo) | (u64::from(hi) << (8 * (n - 2)))
    } else {
        b.first().map_or(0, |&c| u64::from(c))
    }
}

impl Packed {
    pub const MAX: usize = 16;

    /// None: longer than [`Packed::MAX`].
    #[inline(always)]
    pub fn of(b: &[u8]) -> Option<Packed> {
        let len = b.len();
        let w = if len > Self::MAX {
            return None;
        } else if len > 8 {
            let lo = b.first_chunk::<8>().map_or(0, |c| u64::from_le_bytes(*c));
            // The last 8 bytes, without the ones `lo` holds.
            let hi = b.last_chunk::<8>().map_or(0, |c| u64::from_le_bytes(*c)) >> (8 * (16 - len));
            [lo, hi]
        } else if len == 8 {
            [
                b.first_chunk::<8>().map_or(0, |c| u64::from_le_bytes(*c)),
                0,
            ]
        } else {
            [load_short(b), 0]
        };
        Some(Packed { w, len })
    }

    /// A plan text: a longer one packs to a value no packed frame text equals (its length).
    pub fn of_plan(t: &str) -> Packed {
        Packed::of(t.as_bytes()).unwrap_or(Packed {
            w: [0, 0],
            len: t.len(),
        })
    }

    /// `str.lower()` of an ASCII text (None: not ASCII).
    #[inline(always)]
    pub fn ascii_lower(self) -> Option<Packed> {
        if (self.w[0] | self.w[1]) & HIGH_BITS != 0 {
            return None;
        }
        // Per byte (all below 0x80, so no carries): high bit of +0x3f iff >= 'A', of +0x25
        // iff > 'Z'; an upper-case letter gets 0x20 added.
        let low = |w: u64| {
            let ge_a = w + 0x3f3f_3f3f_3f3f_3f3f;
            let gt_z = w + 0x2525_2525_2525_2525;
            w | ((ge_a & !gt_z & HIGH_BITS) >> 2)
        };
        Some(Packed {
            w: [low(self.w[0]), low(self.w[1])],
            len: self.len,
        })
    }

    /// The packing a frame text is compared by: itself, or under `ci` its `str.lower()` (None:
    /// too long, or `ci` and not ASCII: compare the long way).
    #[inline(always)]
    pub fn key(t: &[u8], ci: bool) -> Option<Packed> {
        let p = Packed::of(t)?;
        if ci {
            p.ascii_lower()
        } else {
            Some(p)
        }
    }
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
    fn decimal_grammar() {
        for ok in [
            "1", "+1", "-1.5", "1.", ".5", "1e5", "1.e5", "1E-05", "0000.000",
        ] {
            assert!(is_decimal_text(ok), "{ok}");
        }
        for bad in [
            "", ".", "+", "-.", "e5", "1e", "1e+", "1.5.", "1,5", " 1", "1 ", "inf", "nan", "0x1",
            "1_0",
        ] {
            assert!(!is_decimal_text(bad), "{bad}");
        }
        // ASCII digits only: "٣.٥" is not a number on the wire.
        assert!(!is_decimal_text("٣.٥") && !is_decimal_text("+٣e٣") && !is_decimal_text("1٣"));
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
    fn decimal_float_accepts_only_decimal_texts() {
        let alphabet = ["0", "1", "9", ".", "e", "E", "+", "-", "x", " ", "٣"];
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let more: Vec<String> = texts
                .iter()
                .flat_map(|t| alphabet.iter().map(move |a| format!("{t}{a}")))
                .collect();
            texts.extend(more);
        }
        for t in &texts {
            if let Some(x) = decimal_float(t) {
                assert!(is_decimal_text(t), "{t:?}");
                assert_eq!(x.to_bits(), parse_float(t).to_bits(), "{t:?}");
            }
        }
        assert_eq!(decimal_float("-1.5e1"), Some(-15.0));
        assert_eq!(decimal_float("."), None);
        assert_eq!(decimal_float("-"), None);
    }

    #[test]
    fn packed_texts_compare_like_texts() {
        let mut rng = crate::testutil::Rng::with_seed(0x2545_f491_4f6c_dd1d);
        let mut next = move || rng.next();
        let alphabet = [
            "a", "Z", "A", "z", "@", "[", "`", "{", "0", "_", "\u{0}", "é", "K", "ß",
        ];
        let mut texts = Vec::new();
        for _ in 0..3000 {
            let r = next();
            let len = (r % 20) as usize;
            let t: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            texts.push(t);
        }
        for a in &texts {
            let b = &texts[(next() % texts.len() as u64) as usize];
            let mut pairs = vec![(a.clone(), b.clone()), (a.clone(), a.clone())];
            pairs.push((a.clone(), a.to_lowercase()));
            pairs.push((a.clone(), a.to_uppercase()));
            for (s, t) in pairs {
                let (ps, pt) = (Packed::of(s.as_bytes()), Packed::of_plan(&t));
                if let Some(ps) = ps {
                    assert_eq!(ps == pt, s == t, "{s:?} {t:?}");
                } else {
                    assert!(s.len() > Packed::MAX);
                }
                match Packed::key(s.as_bytes(), true) {
                    Some(k) => assert_eq!(k == pt, lower(&s) == t, "{s:?} {t:?}"),
                    None => assert!(s.len() > Packed::MAX || !s.is_ascii()),
                }
            }
        }
    }

    #[test]
    fn fast_float_matches_std_on_random_decimals() {
        let mut rng = crate::testutil::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next();
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
        assert_eq!(int_text("12"), Some((false, "12")));
        assert_eq!(int_text("-12.000"), Some((true, "12")));
        assert_eq!(int_text("12."), Some((false, "12")));
        assert_eq!(int_text("12.5"), None);
        assert_eq!(int_text("1e3"), None);
        assert_eq!(int_text(""), None);
        assert_eq!(int_text("+٣"), None);
        assert_eq!(int_text("-0009"), Some((true, "0009")));
        assert_eq!(i64_of_digits(true, "9223372036854775808"), Some(i64::MIN));
        assert_eq!(i64_of_digits(false, "9223372036854775808"), None);
        assert_eq!(i64_of_digits(false, "9999999999999999999"), None);
        assert_eq!(i64_of_digits(false, ""), Some(0));
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
        // Subnormal, clamped and overflowing results are errors (values from CPython).
        for (a, b) in [
            ("2e-1500000000000000000", "1e-1500000000000000000"),
            ("25e-1000000000000000026", "1e-1000000000000000026"),
            ("0e-1500000000000000000", "0e-1500000000000000000"),
            ("9e999999999999999999", "-9e999999999999999999"),
        ] {
            assert_eq!(exact_sub(a, b), Err(SubError::OutOfRange), "{a} - {b}");
        }
        assert_eq!(
            exact_sub("1e-999999999999999998", "1e-999999999999999999").unwrap(),
            "9E-999999999999999999"
        );
        assert_eq!(
            exact_sub("5e999999999999999999", "1e999999999999999999").unwrap(),
            "4E999999999999999999"
        );
        assert_eq!(exact_sub("-0", "-0").unwrap(), "0E0");
        assert_eq!(exact_sub("-1.0", "-1.00").unwrap(), "0E-2");
    }

    #[test]
    fn decimal_strings() {
        for (t, want) in [
            ("125E-2", "1.25"),
            ("-0E0", "-0"),
            ("0E-2", "0.00"),
            ("18E999999", "1.8E+1000000"),
            ("5E-8", "5E-8"),
            ("123E-9", "1.23E-7"),
            ("12E-7", "0.0000012"),
            ("4E999999999999999999", "4E+999999999999999999"),
            ("17E307", "1.7E+308"),
        ] {
            assert_eq!(decimal_str(t), want, "{t}");
        }
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
