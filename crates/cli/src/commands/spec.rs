//! `abrs spec CONNECTOR [--format json|yaml]`: the connector's spec on stdout.

use std::io::Write;

use airbyte as ab;
use anyhow::{Context, Result};

use crate::connector_args::ConnectorArgs;

/// Output formats of `spec`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Pretty-printed JSON.
    Json,
    /// YAML.
    Yaml,
}

impl From<Format> for ab::SpecFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Json => ab::SpecFormat::Json,
            Format::Yaml => ab::SpecFormat::Yaml,
        }
    }
}

/// Arguments of `abrs spec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    connector: ConnectorArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Print only the config's JSON schema (`connectionSpecification`).
    #[arg(long)]
    config_only: bool,
}

/// Runs `abrs spec`.
pub fn run(args: Args) -> Result<()> {
    let source = args.connector.connector(None)?;
    let format = ab::SpecFormat::from(args.format);
    let text = if args.config_only {
        format.render(source.config_spec()?)?
    } else {
        format.render(source.spec()?)?
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to stdout")?;
    Ok(())
}
