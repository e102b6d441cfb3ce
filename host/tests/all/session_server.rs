//! The Python session server's own unit tests (`channel_server_test.py`),
//! given the protocol's tables as the host gives them to the server. Here
//! rather than in the library's unit tests, which need nothing but Rust.

#[test]
fn python_server_unit_tests() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/backend/openshell");
    let out = std::process::Command::new("python3")
        .args(["-m", "unittest", "channel_server_test"])
        .current_dir(dir)
        .envs(openshell_wasm::backend::openshell::session_server_env())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => panic!("python3 (3.10 or later) is needed to test the Python session server: {e}"),
    };
    assert!(out.status.success(), "channel_server_test.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
}
