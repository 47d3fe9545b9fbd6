//! gzip inflate with a cap, straight into a Rust buffer.
//!
//! zlib-rs is a port of zlib, so a member is accepted exactly when CPython's
//! `zlib.decompressobj(wbits=31)` accepts it (header flags, header CRC, CRC32 and ISIZE). The
//! reference decoder asks zlib for at most `limit + 1` bytes; so does this: more than `limit`
//! bytes is a bomb, whatever the rest of the stream holds.

use std::mem::MaybeUninit;

use zlib_rs::{Inflate, InflateFlush, Status};

/// The gzip magic bytes; a frame that starts with them is inflated, whatever the exchange.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InflateError {
    /// zlib refused the data (its message).
    Bad(&'static str),
    /// The member inflates to more than the limit.
    TooLarge,
    /// The input ends before the member does.
    Truncated,
    /// Bytes follow the end of the member.
    Trailing,
}

pub fn is_gzip(buf: &[u8]) -> bool {
    buf.len() >= 2 && buf[..2] == GZIP_MAGIC
}

/// Inflate one gzip member of `input` into `out` (cleared first); at most `limit` bytes.
pub fn gunzip(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), InflateError> {
    out.clear();
    let cap = limit.saturating_add(1);
    // ISIZE (the last four bytes) is a hint only: it is checked by zlib at the end.
    let hint = match input.len().checked_sub(4).and_then(|i| input.get(i..)) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]) as usize,
        _ => 0,
    };
    let first = hint
        .max(input.len().saturating_mul(4))
        .clamp(256, 1 << 20)
        .min(cap);
    out.reserve(first);

    let mut z = Inflate::new(true, 31);
    loop {
        if out.len() >= cap {
            return Err(InflateError::TooLarge);
        }
        if out.len() == out.capacity() {
            let grow = out.capacity().max(4096).min(cap - out.len());
            out.reserve(grow);
        }
        let room = (cap - out.len()).min(out.capacity() - out.len());
        let consumed = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
        let rest = input.get(consumed..).unwrap_or_default();
        let before_out = z.total_out();
        let spare: &mut [MaybeUninit<u8>] = &mut out.spare_capacity_mut()[..room];
        let result = z.decompress_uninit(rest, spare, InflateFlush::NoFlush);
        let produced = usize::try_from(z.total_out() - before_out)
            .unwrap_or(0)
            .min(room);
        // SAFETY: zlib-rs initialized the first `produced` bytes of the spare capacity (its
        // total_out counts exactly the bytes it wrote), and `produced <= room <= spare len`.
        unsafe { out.set_len(out.len() + produced) };
        let now_consumed = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
        match result {
            Ok(Status::StreamEnd) => {
                if out.len() > limit {
                    return Err(InflateError::TooLarge);
                }
                if now_consumed < input.len() {
                    return Err(InflateError::Trailing);
                }
                return Ok(());
            }
            Ok(Status::Ok | Status::BufError) => {
                if out.len() > limit {
                    return Err(InflateError::TooLarge);
                }
                if produced == 0 && now_consumed >= input.len() {
                    return Err(InflateError::Truncated);
                }
            }
            Err(e) => return Err(InflateError::Bad(z.error_message().unwrap_or(e.as_str()))),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A gzip member of `data`, made with zlib-rs's deflate.
    pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; data.len() + data.len() / 2 + 128];
        let config = zlib_rs::DeflateConfig {
            window_bits: 31,
            ..Default::default()
        };
        let n = zlib_rs::compress_slice(&mut out, data, config).0.len();
        assert!(n > 0);
        out.truncate(n);
        out
    }

    #[test]
    fn round_trip() {
        let data = br#"{"op":"ping","ts":1}"#.repeat(100);
        let gz = gzip(&data);
        assert!(is_gzip(&gz));
        let mut out = Vec::new();
        gunzip(&gz, 1 << 20, &mut out).unwrap();
        assert_eq!(out, data);
        // Exactly at the limit is fine, one byte less is not.
        gunzip(&gz, data.len(), &mut out).unwrap();
        assert_eq!(
            gunzip(&gz, data.len() - 1, &mut out),
            Err(InflateError::TooLarge)
        );
    }

    #[test]
    fn bomb_is_stopped_at_the_cap() {
        let data = vec![b' '; 4 << 20];
        let gz = gzip(&data);
        let mut out = Vec::new();
        assert_eq!(gunzip(&gz, 1 << 20, &mut out), Err(InflateError::TooLarge));
        assert!(out.len() <= (1 << 20) + 1);
    }

    #[test]
    fn truncated_corrupt_and_trailing() {
        let gz = gzip(b"{\"a\":1}");
        let mut out = Vec::new();
        assert_eq!(
            gunzip(&gz[..gz.len() - 3], 1 << 20, &mut out),
            Err(InflateError::Truncated)
        );
        assert_eq!(
            gunzip(&gz[..5], 1 << 20, &mut out),
            Err(InflateError::Truncated)
        );
        let mut trailing = gz.clone();
        trailing.push(0);
        assert_eq!(
            gunzip(&trailing, 1 << 20, &mut out),
            Err(InflateError::Trailing)
        );
        let mut two = gz.clone();
        two.extend_from_slice(&gz);
        assert_eq!(gunzip(&two, 1 << 20, &mut out), Err(InflateError::Trailing));
        let mut crc = gz.clone();
        let n = crc.len();
        crc[n - 6] ^= 1; // CRC32
        assert!(matches!(
            gunzip(&crc, 1 << 20, &mut out),
            Err(InflateError::Bad(_))
        ));
        let mut flags = gz.clone();
        flags[3] |= 0xe0; // reserved header flags
        assert!(matches!(
            gunzip(&flags, 1 << 20, &mut out),
            Err(InflateError::Bad(_))
        ));
        assert!(gunzip(&[0x1f, 0x8b], 1 << 20, &mut out).is_err());
    }

    #[test]
    fn empty_member() {
        let gz = gzip(b"");
        let mut out = vec![1, 2, 3];
        gunzip(&gz, 16, &mut out).unwrap();
        assert!(out.is_empty());
    }
}
