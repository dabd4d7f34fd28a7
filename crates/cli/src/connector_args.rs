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

    /// A declarative (YAML) manifest that defines the source (a path or an http(s) URL); run
    /// natively, or with --use-python by airbyte-cdk's `source-declarative-manifest` in
    /// `.venv-source-declarative-manifest`.
    #[arg(long, value_name = "MANIFEST.yaml|URL")]
    pub manifest: Option<String>,
}

impl RunArgs {
    /// The library options these flags stand for, for a destination.
    pub fn to_destination_options(&self) -> ab::DestinationOptions {
        ab::DestinationOptions {
            version: self.version.clone(),
            pip_url: self.pip_url.clone(),
            docker_image: self.docker_image.clone(),
            use_python: self.use_python.as_deref().map(ab::UsePython::parse),
            use_host_network: self.use_host_network,
            install_root: self.install_root.clone(),
            ..Default::default()
        }
    }

    /// The library options these flags stand for.
    pub fn to_options(&self) -> ab::SourceOptions {
        ab::SourceOptions {
            version: self.version.clone(),
            pip_url: self.pip_url.clone(),
            docker_image: self.docker_image.clone(),
            use_python: self.use_python.as_deref().map(ab::UsePython::parse),
            use_host_network: self.use_host_network,
            install_root: self.install_root.clone(),
            source_manifest: self.manifest.as_deref().map(ab::SourceManifest::from_arg),
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

    /// The source or the destination: names (or executable file names) starting with
    /// `destination-`, and `noop`, are destinations.
    pub fn connector(&self, config: Option<Value>) -> Result<Connector> {
        if is_destination_name(&self.connector) {
            if self.run.manifest.is_some() {
                return Err(ab::Error::input(
                    "--manifest was given for a destination",
                    "declarative manifests define sources; leave --manifest out",
                )
                .into());
            }
            Ok(Connector::Destination(Box::new(destination(
                &self.connector,
                config,
                self.run.to_destination_options(),
            )?)))
        } else {
            Ok(Connector::Source(Box::new(self.source(config)?)))
        }
    }
}

/// Whether a connector name (or path) names a destination.
pub fn is_destination_name(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    file.starts_with("destination-") || file.eq_ignore_ascii_case("noop")
}

/// The name `abrs` gives its built-in no-op destination on the command line.
pub const NOOP: &str = "noop";

/// Gets a destination (installing it if needed, with a spinner) with its config unvalidated.
/// `noop` is the built-in no-op destination, run as a subprocess of this executable
/// (`abrs noop-destination`), so that a write to it crosses a real pipe.
pub fn destination(
    name: &str,
    config: Option<Value>,
    options: ab::DestinationOptions,
) -> Result<ab::Destination> {
    if name.eq_ignore_ascii_case(NOOP) {
        let exe = std::env::current_exe().map_err(|e| {
            anyhow::anyhow!("finding the abrs executable, which runs the no-op destination: {e}")
        })?;
        let executor = ab::connectors::PathExecutor::new(
            ab::destination::NOOP_DESTINATION_NAME,
            &exe.to_string_lossy(),
        )
        .map_err(|e| ab::Error::from_connector(ab::destination::NOOP_DESTINATION_NAME, e))?
        .with_args(["noop-destination"]);
        let mut d = ab::Destination::from_executor(
            ab::destination::NOOP_DESTINATION_NAME,
            std::sync::Arc::new(executor),
        );
        d.set_config(config.unwrap_or_else(|| serde_json::json!({})), false)?;
        return Ok(d);
    }
    let spinner = output::spinner(format!("Preparing connector {name}"));
    let result = ab::get_destination(name, config, options);
    spinner.finish_and_clear();
    Ok(result?)
}

/// A source or a destination, for the commands that work on both (spec, check, install,
/// validate).
pub enum Connector {
    /// A source.
    Source(Box<ab::Source>),
    /// A destination.
    Destination(Box<ab::Destination>),
}

impl Connector {
    /// The connector's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Source(s) => s.name(),
            Self::Destination(d) => d.name(),
        }
    }

    /// Its spec.
    pub fn spec(&self) -> ab::Result<&ab::protocol::ConnectorSpecification> {
        match self {
            Self::Source(s) => s.spec(),
            Self::Destination(d) => d.spec(),
        }
    }

    /// Its config schema.
    pub fn config_spec(&self) -> ab::Result<&Value> {
        match self {
            Self::Source(s) => s.config_spec(),
            Self::Destination(d) => d.config_spec(),
        }
    }

    /// Sets (and with `validate`, validates) the config.
    pub fn set_config(&mut self, config: Value, validate: bool) -> ab::Result<()> {
        match self {
            Self::Source(s) => s.set_config(config, validate),
            Self::Destination(d) => d.set_config(config, validate),
        }
    }

    /// Runs `check`.
    pub fn check(&self) -> ab::Result<()> {
        match self {
            Self::Source(s) => s.check(),
            Self::Destination(d) => d.check(),
        }
    }

    /// The installed version, when known.
    pub fn connector_version(&self) -> Option<String> {
        match self {
            Self::Source(s) => s.connector_version(),
            Self::Destination(d) => d.connector_version(),
        }
    }

    /// How it is run.
    pub fn describe(&self) -> String {
        match self {
            Self::Source(s) => s.executor().describe(),
            Self::Destination(d) => d.executor().describe(),
        }
    }
}

/// `--config CONFIG`: a JSON/YAML file, or inline JSON/YAML starting with `{`.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// The connector config: a path to a JSON or YAML file, or inline JSON/YAML starting with
    /// `{`. A value `SECRET:NAME` is the secret NAME (from the environment, ./.env, or a
    /// prompt on a terminal), e.g. `--config '{password: "SECRET:DB_PASSWORD"}'`.
    #[arg(long, short = 'c', value_name = "CONFIG")]
    pub config: String,
}

impl ConfigArg {
    /// Reads the config (see [`load_config`]).
    pub fn load(&self) -> Result<Value> {
        load_config(&self.config)
    }
}

/// Reads a `--config` value as pyab does: a JSON/YAML file, or inline JSON/YAML starting with
/// `{`, where a string `SECRET:NAME` (at any depth) stands for the secret NAME.
///
/// The config keeps `SECRET:NAME` as a `secret_reference::NAME` (so the secret never sits in
/// the config the connector object shows), but every secret is looked up now, as pyab does:
/// a missing one fails before any connector is installed, naming the secret and the places
/// looked in, and a secret typed at the prompt (on a terminal only, without echo) is asked
/// here, before any spinner draws, and once.
pub fn load_config(text: &str) -> Result<Value> {
    let config = ab::config::load_config(text)?;
    resolve_secret_references(&config)?;
    Ok(config)
}

fn resolve_secret_references(value: &Value) -> ab::Result<()> {
    match value {
        Value::String(s) if s.starts_with(ab::secrets::SECRET_REFERENCE_PREFIX) => {
            ab::get_secret(s).map(drop)
        }
        Value::Array(items) => items.iter().try_for_each(resolve_secret_references),
        Value::Object(map) => map.values().try_for_each(resolve_secret_references),
        _ => Ok(()),
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
