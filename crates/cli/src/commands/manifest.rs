//! `abrs manifest resolve M [--format yaml|json] [--migrate]`: the tools of the Connector
//! Builder for people who write manifests. `resolve` prints the manifest as the engine sees it:
//! `$ref`s and `#/definitions/…` references resolved, default component types filled in and
//! `$parameters` pushed down (the Builder's `resolve_manifest` action).

use std::io::Write;
use std::path::PathBuf;

use airbyte as ab;
use anyhow::{Context, Result};

use ab::declarative::{LoadOptions, Manifest};

/// Output formats of `manifest resolve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// YAML (the manifest's own language).
    Yaml,
    /// Pretty-printed JSON.
    Json,
}

/// Arguments of `abrs manifest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

/// What to do with the manifest.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Print the manifest after references, default types and `$parameters`.
    Resolve {
        /// The manifest (YAML or JSON).
        manifest: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "yaml")]
        format: Format,
        /// Also apply the CDK's migrations of deprecated fields (as the Connector Builder).
        #[arg(long)]
        migrate: bool,
    },
}

/// Runs `abrs manifest`.
pub fn run(args: Args) -> Result<()> {
    match args.action {
        Action::Resolve {
            manifest,
            format,
            migrate,
        } => {
            let loaded = Manifest::from_path_with(&manifest, LoadOptions { migrate })
                .with_context(|| format!("loading the manifest {}", manifest.display()))?;
            let tree = serde_json::Value::Object(loaded.tree().clone());
            let text = match format {
                Format::Json => serde_json::to_string_pretty(&tree)? + "\n",
                Format::Yaml => ab::SpecFormat::Yaml.render(&tree)?,
            };
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush().context("writing to stdout")?;
            Ok(())
        }
    }
}
