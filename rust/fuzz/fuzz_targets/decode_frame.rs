//! Arbitrary bytes -> `Engine::decode` for xt, woo and htx, with the small limits (64 KiB
//! inflated, depth 32) and the default ones; every event checked (see `pushwire_fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pushwire_fuzz::decode_frame(data));
