//! `abrs install CONNECTOR [--version V] [--pip-url URL]`: install a connector.

use anyhow::Result;

use crate::connector_args::ConnectorArgs;

/// Arguments of `abrs install`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    connector: ConnectorArgs,
}

/// Runs `abrs install`: installs the connector if it is missing (or at the wrong version).
pub fn run(args: Args) -> Result<()> {
    let source = args.connector.connector(None)?;
    let version = source
        .connector_version()
        .map(|v| format!(" (version {v})"))
        .unwrap_or_default();
    println!(
        "Connector `{}` is installed{version}: {}",
        source.name(),
        source.describe()
    );
    Ok(())
}
