//! The JSON parser alone: depth limits, interned key ids, and serde_json as an oracle.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pushwire_fuzz::json_target(data));
