//! `abrs noop-destination spec|check|write [--config F] [--catalog F]`: the built-in no-op
//! destination as a real connector process (hidden; `--destination noop` runs it).

use std::path::PathBuf;

use airbyte as ab;
use anyhow::{Context, Result};

use ab::connectors::Verb;

/// Arguments of `abrs noop-destination`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `spec`, `check` or `write`.
    verb: String,
    /// The config file (any config is accepted).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The configured catalog (any catalog is accepted).
    #[arg(long)]
    catalog: Option<PathBuf>,
}

/// Runs one verb of the no-op destination on stdin/stdout.
pub fn run(args: Args) -> Result<()> {
    let verb = match args.verb.as_str() {
        "spec" => Verb::Spec,
        "check" => Verb::Check,
        "write" => Verb::Write,
        other => {
            return Err(ab::Error::input(
                format!("`{other}` is not a command of the no-op destination"),
                "use spec, check or write",
            )
            .into());
        }
    };
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    ab::destination::noop::run(verb, &mut input, &mut output)
        .with_context(|| format!("the no-op destination's `{}` failed", args.verb))
}
