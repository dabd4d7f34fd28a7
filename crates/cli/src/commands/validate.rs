//! `abrs validate --connector CONNECTOR [--config CONFIG]`, as `pyab validate`: the spec as
//! YAML on stderr; with a config, validate it against the spec and run `check`.

use airbyte as ab;
use anyhow::Result;

use crate::connector_args::RunArgs;

/// Arguments of `abrs validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A connector name (`source-faker`) or a path to a local executable.
    #[arg(long, value_name = "CONNECTOR")]
    connector: String,
    /// The config to validate: a JSON/YAML file, or inline JSON/YAML starting with `{`.
    #[arg(long, short = 'c', value_name = "CONFIG")]
    config: Option<String>,
    #[command(flatten)]
    run: RunArgs,
}

/// Runs `abrs validate`.
pub fn run(args: Args) -> Result<()> {
    let connector = crate::connector_args::ConnectorArgs {
        connector: args.connector,
        run: args.run,
    };
    let mut source = connector.connector(None)?;
    eprint!("{}", ab::SpecFormat::Yaml.render(source.spec()?)?);
    let Some(config_arg) = args.config else {
        return Ok(());
    };
    let config = crate::connector_args::load_config(&config_arg)?;
    source.set_config(config, true)?;
    source.check()?;
    eprintln!("Validation and check succeeded for `{}`.", source.name());
    Ok(())
}
