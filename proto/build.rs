//! Compiles our two generations of OpenShell `.proto` files without a system
//! `protoc`: `protox` parses them into a `FileDescriptorSet` (it ships the
//! Google well-known types), and `tonic-prost-build` turns that set into
//! prost messages plus tonic clients and servers.
//!
//! Each generation goes to its own directory under `OUT_DIR` (`v0_0/`,
//! `v0_1/`), because both use the same package names and would otherwise
//! overwrite each other's `openshell.v1.rs` and friends.

use std::{env, error::Error, fs, path::PathBuf};

/// The proto files of one generation, relative to its directory.
const FILES: [&str; 3] = ["datamodel.proto", "sandbox.proto", "openshell.proto"];

/// Generation directories under `proto/`, also used as `OUT_DIR` subdirectories.
const GENERATIONS: [&str; 2] = ["v0_0", "v0_1"];

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    for generation in GENERATIONS {
        let proto_dir = manifest_dir.join(generation);
        println!("cargo:rerun-if-changed={}", proto_dir.display());
        for file in FILES {
            println!("cargo:rerun-if-changed={}", proto_dir.join(file).display());
        }

        // Imports are resolved against the generation's own directory, plus
        // the well-known types built into protox.
        let files = FILES.map(|file| proto_dir.join(file));
        let fds = protox::compile(files, [&proto_dir])?;

        let target = out_dir.join(generation);
        fs::create_dir_all(&target)?;

        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            // Unimplemented methods answer UNIMPLEMENTED, so test doubles
            // only need to implement what they use.
            .generate_default_stubs(true)
            // Maps as BTreeMap: encodings are then canonical, so equal
            // policies encode (and hash) alike on both sides.
            .btree_map(".")
            .out_dir(&target)
            .compile_fds(fds)?;
    }

    Ok(())
}
