//! The engine as a protocol CLI without the rest of airbyte-rs (for quick runs of the
//! differential kit while the workspace builds): `source_declarative_manifest read
//! --manifest-path M --config C --catalog K [--state S]`. `abrs source-declarative-manifest`
//! is the real command.

use std::io::Write;

use abrs_declarative::Manifest;
use abrs_declarative::protocol_command::{Command, run_command};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn json(path: Option<String>) -> Result<Option<serde_json::Value>, String> {
    path.map(|p| {
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{p}: {e}"))?;
        serde_json::from_str(&text).map_err(|e| format!("{p}: {e}"))
    })
    .transpose()
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = (|| -> Result<(), String> {
        let command = args
            .first()
            .and_then(|a| Command::parse(a))
            .ok_or("usage: spec|check|discover|read --manifest-path M [--config C] [--catalog K] [--state S]")?;
        let path = arg(&args, "--manifest-path").ok_or("--manifest-path is required")?;
        let manifest = Manifest::from_path(&path).map_err(|e| e.to_string())?;
        let config = json(arg(&args, "--config"))?.unwrap_or_else(|| serde_json::json!({}));
        let catalog = json(arg(&args, "--catalog"))?;
        let state = json(arg(&args, "--state"))?;
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let result = run_command(command, manifest, config, catalog, state, &mut out);
        out.flush().map_err(|e| e.to_string())?;
        result
    })();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
