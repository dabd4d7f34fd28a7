//! Loads a manifest as the engine does and prints the resolved tree as JSON.
//!
//! `cargo run --release --example load_manifest -- path/to/manifest.yaml [--migrate]`

use abrs_declarative::{LoadOptions, Manifest};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: load_manifest MANIFEST [--migrate]");
        return std::process::ExitCode::from(2);
    };
    let migrate = args.any(|a| a == "--migrate");
    match Manifest::from_path_with(&path, LoadOptions { migrate }) {
        Ok(manifest) => match serde_json::to_string_pretty(manifest.tree()) {
            Ok(text) => {
                println!("{text}");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
