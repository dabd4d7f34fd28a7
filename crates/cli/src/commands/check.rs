//! `abrs check CONNECTOR --config CONFIG`: the config is validated against the connector's spec
//! (every violation with its JSON path), then the connector's connection check runs.

use anyhow::Result;

use crate::connector_args::{ConfigArg, ConnectorArgs};

/// Arguments of `abrs check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    connector: ConnectorArgs,
    #[command(flatten)]
    config: ConfigArg,
    /// Do not validate the config against the connector's spec first (saves one `spec` run).
    #[arg(long)]
    skip_validation: bool,
}

/// Runs `abrs check`: exit 0 when the connector answers SUCCEEDED, 1 when FAILED or when the
/// config does not match the spec (then the connector's check does not run).
pub fn run(args: Args) -> Result<()> {
    let config = args.config.load()?;
    let mut connector = args.connector.connector(None)?;
    connector.set_config(config, !args.skip_validation)?;
    connector.check()?;
    println!("Connection check succeeded for `{}`.", connector.name());
    Ok(())
}
