//! The inflater with a small cap: `[mode, cap lo, cap hi, payload...]` (see
//! `pushwire_fuzz::gunzip_target`); the output never exceeds the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pushwire_fuzz::gunzip_target(data));
