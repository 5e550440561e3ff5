//! Compiles `proto/` into Rust types with a pure-Rust protobuf compiler, so a build never needs
//! a system `protoc`.

use std::{env, path::PathBuf};

const PROTOS: &[&str] = &[
    "switchyard/v1/raw_webhook.proto",
    "switchyard/v1/delivery_attempt.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let files: Vec<PathBuf> = PROTOS.iter().map(|p| root.join(p)).collect();
    let descriptors = protox::compile(&files, [&root])?;
    prost_build::Config::new()
        // Bodies travel as `Bytes` so a record is decoded without copying its payload.
        .bytes(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
