#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trailseal_fuzz_harness::tlog(data));
