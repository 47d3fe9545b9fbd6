//! Structure-aware: valid frames (`[flags, JSON text...]`, seeded from every fixture and bench
//! frame) mutated as JSON trees by `pushwire_fuzz::mutate`, decoded as the flags say.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};

fuzz_target!(|data: &[u8]| pushwire_fuzz::mutate_frame_target(data));

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    // One mutation in eight is libFuzzer's own (bytes, dictionary, cross-over); the rest edit
    // the JSON tree, falling back to bytes when the text is not JSON.
    if !seed.is_multiple_of(8) {
        if let Some(n) = pushwire_fuzz::mutate::mutate_input(data, size, max_size, seed) {
            return n;
        }
    }
    fuzzer_mutate(data, size, max_size)
});
