//! The options every connector command takes: which connector and how to run it.

use std::path::PathBuf;

use airbyte as ab;
use anyhow::Result;
use clap::Args;
use serde_json::Value;

use crate::output;

/// CONNECTOR plus how to run it.
#[derive(Debug, Clone, Args)]
pub struct ConnectorArgs {
    /// A connector name (`source-faker`) or a path to a local executable.
    #[arg(value_name = "CONNECTOR")]
    pub connector: String,

    #[command(flatten)]
    pub run: RunArgs,
}

/// How to run the connector (at most one of --pip-url, --docker-image, --use-python).
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Install this pip requirement (a package spec, URL or path) into the connector's venv.
    #[arg(long, value_name = "URL")]
    pub pip_url: Option<String>,

    /// Run in Docker; without IMAGE, `airbyte/<connector>`.
    #[arg(long, value_name = "IMAGE", num_args = 0..=1, default_missing_value = "true")]
    pub docker_image: Option<String>,

    /// Run as Python: `true`, `false` (= Docker), an interpreter path, or a version (`3.11`).
    #[arg(long, value_name = "X", num_args = 0..=1, default_missing_value = "true")]
    pub use_python: Option<String>,

    /// The connector version (PyPI version or Docker tag).
    #[arg(long, value_name = "V")]
    pub version: Option<String>,

    /// Run the Docker container with `--network host`.
    #[arg(long)]
    pub use_host_network: bool,

    /// Where to make `.venv-<connector>` (default: AIRBYTE_INSTALL_DIR, AIRBYTE_PROJECT_DIR,
    /// or the current directory).
    #[arg(long, value_name = "DIR")]
    pub install_root: Option<PathBuf>,
}

impl RunArgs {
    /// The library options these flags stand for.
    pub fn to_options(&self) -> ab::SourceOptions {
        ab::SourceOptions {
            version: self.version.clone(),
            pip_url: self.pip_url.clone(),
            docker_image: self.docker_image.clone(),
            use_python: self.use_python.as_deref().map(ab::UsePython::parse),
            use_host_network: self.use_host_network,
            install_root: self.install_root.clone(),
            ..Default::default()
        }
    }
}

impl ConnectorArgs {
    /// Gets the source (installing it if needed, with a spinner on a terminal) and sets the
    /// config without validating it.
    pub fn source(&self, config: Option<Value>) -> Result<ab::Source> {
        let spinner = output::spinner(format!("Preparing connector {}", self.connector));
        let result = ab::get_source(&self.connector, config, self.run.to_options());
        spinner.finish_and_clear();
        Ok(result?)
    }
}

/// `--config CONFIG`: a JSON/YAML file, or inline JSON/YAML starting with `{`.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// The connector config: a path to a JSON or YAML file, or inline JSON/YAML starting with `{`.
    #[arg(long, short = 'c', value_name = "CONFIG")]
    pub config: String,
}

impl ConfigArg {
    /// Reads the config.
    pub fn load(&self) -> Result<Value> {
        Ok(ab::config::load_config(&self.config)?)
    }
}

/// Selects `--streams`: comma-separated names, or `*` (or nothing) for all.
pub fn select_streams(source: &mut ab::Source, selection: &str) -> Result<()> {
    let selection = selection.trim();
    if selection.is_empty() || selection == "*" {
        source.select_all_streams()?;
    } else {
        let names: Vec<String> = selection
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        source.select_streams(names)?;
    }
    Ok(())
}

/// Parses `--write-strategy` (a usage error, exit code 2, when it is not one).
pub fn parse_write_strategy(text: &str) -> Result<ab::WriteStrategy> {
    Ok(text.parse().map_err(|_| {
        ab::Error::input(
            format!("`{text}` is not a write strategy"),
            "use one of auto, append, merge, replace",
        )
    })?)
}
