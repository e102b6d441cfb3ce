//! The `openshell-wasm` binary; everything lives in the library's `cli`.

fn main() -> std::process::ExitCode {
    openshell_wasm::cli::main()
}
