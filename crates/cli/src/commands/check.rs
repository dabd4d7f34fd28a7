//! `abrs check CONNECTOR --config CONFIG`: the connector's connection check.

use anyhow::Result;

use crate::connector_args::{ConfigArg, ConnectorArgs};

/// Arguments of `abrs check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    connector: ConnectorArgs,
    #[command(flatten)]
    config: ConfigArg,
}

/// Runs `abrs check`: exit 0 when the connector answers SUCCEEDED, 1 when FAILED.
pub fn run(args: Args) -> Result<()> {
    let config = args.config.load()?;
    let source = args.connector.connector(Some(config))?;
    source.check()?;
    println!("Connection check succeeded for `{}`.", source.name());
    Ok(())
}
