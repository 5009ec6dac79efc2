#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sqlcourier::fuzzing::csv_round_trip(data));
