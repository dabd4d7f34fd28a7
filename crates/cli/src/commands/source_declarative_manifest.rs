//! `abrs source-declarative-manifest spec|check|discover|read --manifest-path M [--config C]
//! [--catalog K] [--state S]`: a declarative manifest run by the native engine, speaking the
//! protocol on stdout exactly like the CDK's `source-declarative-manifest`, so it is a drop-in
//! for it (the differential kit in `../shared/declarative` runs it as its candidate).

use std::io::Write;
use std::path::PathBuf;

use airbyte as ab;
use anyhow::{Context, Result};

use ab::declarative::Manifest;
use ab::declarative::protocol_command::{Command, run_command};

/// Arguments of `abrs source-declarative-manifest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `spec`, `check`, `discover` or `read`.
    verb: String,
    /// The manifest (YAML or JSON).
    #[arg(long)]
    manifest_path: PathBuf,
    /// The config (JSON).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The configured catalog (JSON), for `read`.
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// The state (a JSON list of per-stream STATE messages), for `read`.
    #[arg(long)]
    state: Option<PathBuf>,
}

fn read_json(path: &PathBuf, what: &str) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("the {what} file {} is not valid JSON", path.display()))
}

/// Runs one command.
pub fn run(args: Args) -> Result<()> {
    let Some(command) = Command::parse(&args.verb) else {
        return Err(ab::Error::input(
            format!(
                "`{}` is not a command of source-declarative-manifest",
                args.verb
            ),
            "use spec, check, discover or read",
        )
        .into());
    };
    let manifest = Manifest::from_path(&args.manifest_path)
        .with_context(|| format!("cannot load the manifest {}", args.manifest_path.display()))?;
    let config = match &args.config {
        Some(p) => read_json(p, "config")?,
        None if command == Command::Spec => serde_json::json!({}),
        None => {
            return Err(ab::Error::input(
                format!("`{}` needs a config", args.verb),
                "pass --config CONFIG.json",
            )
            .into());
        }
    };
    let catalog = args
        .catalog
        .as_ref()
        .map(|p| read_json(p, "catalog"))
        .transpose()?;
    let state = args
        .state
        .as_ref()
        .map(|p| read_json(p, "state"))
        .transpose()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = run_command(command, manifest, config, catalog, state, &mut out);
    out.flush().context("writing to stdout failed")?;
    result.map_err(|message| anyhow::anyhow!("{message}"))
}
