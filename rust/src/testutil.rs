//! Helpers of the crate's randomized unit tests.

/// A xorshift64 generator with a fixed seed: deterministic, so a failing case repeats.
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Rng {
        Rng::with_seed(0x2545_f491_4f6c_dd1d)
    }

    /// A generator from `seed` (not 0: xorshift would stay at 0).
    pub fn with_seed(seed: u64) -> Rng {
        assert_ne!(seed, 0, "a xorshift seed must not be 0");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `seed` after 1 to `max_edits` random single-byte edits: replace, delete, or insert a byte
/// of `alphabet`.
pub fn mutate(seed: &[u8], max_edits: u64, alphabet: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut buf = seed.to_vec();
    for _ in 0..(rng.next() % max_edits + 1) {
        let i = (rng.next() as usize) % (buf.len() + 1);
        let c = alphabet[(rng.next() as usize) % alphabet.len()];
        match rng.next() % 3 {
            0 if i < buf.len() => buf[i] = c,
            1 if i < buf.len() => {
                buf.remove(i);
            }
            _ => buf.insert(i, c),
        }
    }
    buf
}
