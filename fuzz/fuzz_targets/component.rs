#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| openshell_wasm::fuzzing::component(data));
