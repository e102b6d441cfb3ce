#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| openshell_wasm::fuzzing::session_request(data));
