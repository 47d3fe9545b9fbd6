//! gzip inflate with a cap, straight into a Rust buffer.
//!
//! zlib-rs is a port of zlib, so a member is accepted exactly when CPython's
//! `zlib.decompressobj(wbits=31)` accepts it (header flags, header CRC, CRC32 and ISIZE). The
//! reference decoder asks zlib for at most `limit + 1` bytes; so does this: more than `limit`
//! bytes is a bomb, whatever the rest of the stream holds.

use std::mem::MaybeUninit;
use std::ptr::NonNull;

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

/// Output room libdeflate is given past the member's size: its fast loop runs only while at
/// least FASTLOOP_MAX_BYTES_WRITTEN (2 + 258 + 5 * 8 - 1 = 299) bytes of room remain, so with
/// an exact-size buffer the last ~300 bytes (half of a small frame) go through its slow loop.
const FASTLOOP_SLACK: usize = 300;

/// A reusable libdeflate decompressor: the fast path of [`gunzip_fast`].
pub struct FastInflater {
    p: NonNull<libdeflate_sys::libdeflate_decompressor>,
}

// SAFETY: a libdeflate decompressor is plain memory with no thread affinity; it is used through
// `&mut self` only, so never by two threads at once.
unsafe impl Send for FastInflater {}

impl std::fmt::Debug for FastInflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FastInflater")
    }
}

impl FastInflater {
    /// None when libdeflate cannot allocate (the strict path still works).
    pub fn new() -> Option<FastInflater> {
        // SAFETY: no arguments; returns a new decompressor or NULL.
        let p = unsafe { libdeflate_sys::libdeflate_alloc_decompressor() };
        NonNull::new(p).map(|p| FastInflater { p })
    }

    /// Inflate a whole gzip member into `out` (cleared first) if libdeflate takes it as is:
    /// exactly one member filling `input`, inflating to exactly `size` bytes.
    fn member(&mut self, input: &[u8], size: usize, out: &mut Vec<u8>) -> bool {
        out.clear();
        let room = size + FASTLOOP_SLACK;
        out.reserve(room);
        let spare = out.spare_capacity_mut();
        if spare.len() < room {
            return false;
        }
        let mut used_in = 0usize;
        let mut made = 0usize;
        // SAFETY: `self.p` is a live decompressor; `input` is readable for its length; the
        // output pointer is writable for `room` bytes (the spare capacity, checked above); the
        // two out-parameters are valid. libdeflate writes only within the output buffer.
        let rc = unsafe {
            libdeflate_sys::libdeflate_gzip_decompress_ex(
                self.p.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                spare.as_mut_ptr().cast(),
                room,
                &mut used_in,
                &mut made,
            )
        };
        if rc != libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS
            || used_in != input.len()
            || made != size
        {
            return false;
        }
        // SAFETY: libdeflate reported success, having written `made` (== size <= capacity)
        // bytes at the start of the spare capacity.
        unsafe { out.set_len(made) };
        true
    }
}

impl Drop for FastInflater {
    fn drop(&mut self) {
        // SAFETY: `self.p` came from libdeflate_alloc_decompressor and is freed once.
        unsafe { libdeflate_sys::libdeflate_free_decompressor(self.p.as_ptr()) };
    }
}

/// [`gunzip`], fast: a plain member (no optional header fields) whose trailer says it fits the
/// limit is inflated by libdeflate in one call, into a buffer of exactly its size; libdeflate
/// checks the CRC32 and ISIZE. Anything else, and anything libdeflate refuses, goes through
/// [`gunzip`], which decides the outcome and the error exactly as zlib does.
///
/// libdeflate decodes a few codes zlib refuses (literal/length 286-287, distance 30-31, and
/// code-length headers declaring them); no compressor emits them, and random corruption cannot
/// pass the CRC32 check, so only a stream crafted with a matching CRC could tell the difference.
pub fn gunzip_fast(
    fast: &mut Option<FastInflater>,
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), InflateError> {
    // ID1 ID2 CM=8 FLG=0, then MTIME XFL OS; the trailer's ISIZE is the size (mod 2^32).
    if let ([0x1f, 0x8b, 8, 0, ..], Some(&[a, b, c, d])) = (
        input,
        input.len().checked_sub(4).and_then(|i| input.get(i..)),
    ) {
        let size = u32::from_le_bytes([a, b, c, d]) as usize;
        if input.len() >= 18 && size <= limit {
            if fast.is_none() {
                *fast = FastInflater::new();
            }
            if let Some(f) = fast.as_mut() {
                if f.member(input, size, out) {
                    return Ok(());
                }
            }
        }
    }
    gunzip(input, limit, out)
}

/// What zlib-rs 0.6 reports when its fast loop found bad data (it overwrites the real message in
/// the same call; C zlib keeps it).
const OVERWRITTEN: &str = "repeated call with bad state";

/// Inflate one gzip member of `input` into `out` (cleared first); at most `limit` bytes.
pub fn gunzip(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), InflateError> {
    match gunzip_windows(input, limit, out, usize::MAX) {
        Err(InflateError::Bad(OVERWRITTEN)) => {
            // With output windows under 258 bytes zlib-rs never takes its fast loop, so the
            // message zlib gives survives (errors are cold: the second pass costs nothing).
            let mut again = Vec::new();
            match gunzip_windows(input, limit, &mut again, 257) {
                Err(InflateError::Bad(m)) => Err(InflateError::Bad(m)),
                _ => Err(InflateError::Bad(OVERWRITTEN)),
            }
        }
        r => r,
    }
}

/// [`gunzip`] handing zlib-rs at most `window` bytes of output room per call.
fn gunzip_windows(
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
    window: usize,
) -> Result<(), InflateError> {
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
        let room = (cap - out.len())
            .min(out.capacity() - out.len())
            .min(window);
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

    /// The fast path gives what the strict one gives, on members and corrupted members.
    #[test]
    fn fast_agrees_with_strict() {
        let mut fast = None;
        let mut rng = crate::testutil::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next();
        let data = br#"{"op":"notify","topic":"positions_cross.btc-usdt","data":[{"volume":1}]}"#
            .repeat(30);
        let gz = gzip(&data);
        for limit in [0, 10, data.len() - 1, data.len(), 1 << 20] {
            for i in 0..3000 {
                let mut buf = gz.clone();
                if i > 0 {
                    for _ in 0..(next() % 3 + 1) {
                        let at = (next() as usize) % buf.len();
                        match next() % 4 {
                            0 => buf[at] ^= (next() % 255 + 1) as u8,
                            1 => buf.truncate(at),
                            2 => buf.push(next() as u8),
                            _ => buf.insert(at, next() as u8),
                        }
                        if buf.is_empty() {
                            buf.push(0x1f);
                        }
                    }
                }
                let (mut a, mut b) = (Vec::new(), Vec::new());
                let ra = gunzip(&buf, limit, &mut a);
                let rb = gunzip_fast(&mut fast, &buf, limit, &mut b);
                assert_eq!(ra, rb, "limit {limit}, case {i}");
                if ra.is_ok() {
                    assert_eq!(a, b);
                }
            }
        }
    }

    /// A trailer whose ISIZE is off by less than the fast path's output slack (libdeflate then
    /// has room for the whole member) is refused as zlib refuses it.
    #[test]
    fn fast_refuses_a_wrong_isize_within_the_slack() {
        let data = br#"{"op":"notify","ts":1}"#.repeat(40);
        let gz = gzip(&data);
        let n = gz.len();
        for delta in [-200i64, -1, 1, 200] {
            let mut buf = gz.clone();
            let size = u32::try_from(data.len() as i64 + delta).unwrap();
            buf[n - 4..].copy_from_slice(&size.to_le_bytes());
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let strict = gunzip(&buf, 1 << 20, &mut a);
            assert!(matches!(strict, Err(InflateError::Bad(_))), "{delta}");
            assert_eq!(gunzip_fast(&mut None, &buf, 1 << 20, &mut b), strict);
        }
    }

    /// zlib's message, not zlib-rs's "repeated call with bad state", whatever the buffer size
    /// (fuzz finding F2).
    #[test]
    fn bad_data_keeps_zlibs_message() {
        let member = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x62, 0x62, 0x62, 0x62, 0x62, 0x00, 0x62, 0x62,
            0x62, 0x62, 0x62, 0x62, 0xff, 0x00, 0x62, 0x62, 0x62, 0xff, 0xff, 0x00,
        ];
        let mut out = Vec::new();
        let want = Err(InflateError::Bad("invalid distance too far back"));
        assert_eq!(gunzip(&member, 64, &mut out), want);
        assert_eq!(gunzip(&member, 16 << 20, &mut out), want);
        assert_eq!(gunzip_fast(&mut None, &member, 16 << 20, &mut out), want);
    }

    #[test]
    fn empty_member() {
        let gz = gzip(b"");
        let mut out = vec![1, 2, 3];
        gunzip(&gz, 16, &mut out).unwrap();
        assert!(out.is_empty());
    }
}
