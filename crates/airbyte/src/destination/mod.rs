//! Destinations: `get_destination`, [`Destination`] and `Destination::write` (PyAirbyte's
//! `airbyte.destinations`).
//!
//! A write runs the destination's `write --config --catalog` and feeds its stdin while another
//! thread reads what it prints: the STATE messages it echoes are what it committed, and only
//! those are stored (`_airbyte_destination_state` in the state cache). The input is either the
//! source's own output, passed through line by line (`cache: None`), or the cached streams,
//! replayed as RECORD messages with their original names and types, only the rows the
//! destination has not confirmed yet (see [`write`]).

mod catalog;
mod confirm;
mod echo;
mod feed;
mod joined_state;
pub mod noop;
mod outcome;
mod smoke_test;
mod sql_cache;
mod write;

pub use joined_state::join_states;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use abrs_connectors::{ConnectorProcess, Executor, Invocation};
use abrs_protocol::ConnectorSpecification;
use serde_json::Value;

use crate::connector::{ConnectorCore, build_executor};
use crate::error::Result;
use crate::executor_choice::{ExecutorPlan, UsePython, choose_executor, connector_name_of};
use crate::source::{ConfigCallback, SourceOptions, SpecFormat};

pub use noop::NOOP_DESTINATION_NAME;
pub use smoke_test::{ScenarioOutcome, SmokeTestReport};
pub use sql_cache::{
    SQL_CACHE_DESTINATION_TYPES, destination_config_to_cache, paired_destination_config,
};
pub use write::{
    CacheChoice, StreamWriteSummary, WriteOptions, WriteProgress, WriteProgressCallback,
    WriteResult, WriteSource,
};

/// Options of [`get_destination`] (PyAirbyte's keyword arguments; there is no
/// `source_manifest` for destinations).
///
/// At most one of `local_executable`, `docker_image`, `pip_url`/`use_python` may be set.
#[derive(Clone)]
pub struct DestinationOptions {
    /// The connector version (PyPI version, or Docker tag). `"latest"` means unpinned.
    pub version: Option<String>,
    /// What to `pip install` (implies Python).
    pub pip_url: Option<String>,
    /// Requirements that override the package's own pins (`uv pip install --override`), for
    /// connectors whose published pins cannot be resolved (destination-pgvector 0.1.13).
    pub pip_overrides: Vec<String>,
    /// A local executable: a path, or a name found on PATH.
    pub local_executable: Option<PathBuf>,
    /// A Docker image; `"true"` (or an empty string) means `airbyte/<name>`.
    pub docker_image: Option<String>,
    /// Run the Docker container with `--network host`.
    pub use_host_network: bool,
    /// Install the connector when it is not installed (default `true`).
    pub install_if_missing: bool,
    /// Where `.venv-<name>` goes (default `AIRBYTE_INSTALL_DIR`, `AIRBYTE_PROJECT_DIR`, or the
    /// current directory).
    pub install_root: Option<PathBuf>,
    /// Python: yes, no (= Docker), or a given interpreter.
    pub use_python: Option<UsePython>,
    /// Called when the destination sends a new config (CONTROL/CONNECTOR_CONFIG).
    pub config_change_callback: Option<ConfigCallback>,
}

impl Default for DestinationOptions {
    fn default() -> Self {
        Self {
            version: None,
            pip_url: None,
            pip_overrides: Vec::new(),
            local_executable: None,
            docker_image: None,
            use_host_network: false,
            install_if_missing: true,
            install_root: None,
            use_python: None,
            config_change_callback: None,
        }
    }
}

impl fmt::Debug for DestinationOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DestinationOptions")
            .field("version", &self.version)
            .field("pip_url", &self.pip_url)
            .field("pip_overrides", &self.pip_overrides)
            .field("local_executable", &self.local_executable)
            .field("docker_image", &self.docker_image)
            .field("use_host_network", &self.use_host_network)
            .field("install_if_missing", &self.install_if_missing)
            .field("install_root", &self.install_root)
            .field("use_python", &self.use_python)
            .finish_non_exhaustive()
    }
}

impl DestinationOptions {
    /// The same choices as source options: one set of rules decides how any connector runs.
    fn as_source_options(&self) -> SourceOptions {
        SourceOptions {
            streams: None,
            version: self.version.clone(),
            pip_url: self.pip_url.clone(),
            pip_overrides: self.pip_overrides.clone(),
            local_executable: self.local_executable.clone(),
            docker_image: self.docker_image.clone(),
            use_host_network: self.use_host_network,
            install_if_missing: self.install_if_missing,
            install_root: self.install_root.clone(),
            use_python: self.use_python.clone(),
            source_manifest: None,
            config_change_callback: self.config_change_callback.clone(),
        }
    }
}

/// Gets a destination connector, ready to configure, check and write to.
///
/// `name` is a connector name (`destination-duckdb`) or a path to a local executable; how it
/// runs is decided as for [`crate::get_source`] (local executable, Python package from PyPI in
/// `.venv-<name>`, Docker image). With `install_if_missing` (the default) it is installed now.
/// The config is stored without validation (see [`Destination::set_config`]).
///
/// ```no_run
/// use airbyte as ab;
/// let destination = ab::get_destination(
///     "destination-duckdb",
///     Some(serde_json::json!({"destination_path": "/tmp/out.duckdb"})),
///     ab::DestinationOptions::default(),
/// )?;
/// destination.check()?;
/// # Ok::<(), ab::Error>(())
/// ```
pub fn get_destination(
    name: &str,
    config: Option<Value>,
    options: DestinationOptions,
) -> Result<Destination> {
    let opts = options.as_source_options();
    let plan = choose_executor(name, &opts)?;
    let connector_name = connector_name_of(name);
    let executor = build_executor(&connector_name, &plan, &opts)?;
    if options.install_if_missing {
        executor
            .ensure_installation(true)
            .map_err(|e| crate::Error::from_connector(&connector_name, e))?;
    }
    let mut destination = Destination::from_executor(connector_name, executor);
    destination.core.plan = Some(plan);
    destination.core.user_callback = options.config_change_callback;
    if let Some(config) = config {
        destination.set_config(config, false)?;
    }
    Ok(destination)
}

/// A destination that accepts everything and keeps nothing, built in: it needs no Docker and
/// nothing installed (PyAirbyte's needs Docker's `destination-dev-null`). It echoes every STATE
/// with `destinationStats.recordCount`, so writes to it are confirmed like writes to a real
/// destination. In a program it runs in-process; `abrs` runs it as a subprocess of itself. For
/// the real `destination-dev-null`, use [`get_destination`] with a `docker_image`.
pub fn get_noop_destination() -> Destination {
    let mut destination =
        Destination::from_executor(NOOP_DESTINATION_NAME, Arc::new(noop::NoopExecutor));
    // Infallible: the config is an object.
    let _ = destination.set_config(serde_json::json!({}), false);
    destination
}

/// A destination connector (PyAirbyte's `Destination`).
pub struct Destination {
    core: ConnectorCore,
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("name", &self.core.name)
            .field("executor", &self.core.executor)
            .finish_non_exhaustive()
    }
}

impl Destination {
    /// A destination run by the given executor, with no config.
    pub fn from_executor(name: impl Into<String>, executor: Arc<dyn Executor>) -> Self {
        Self {
            core: ConnectorCore::new(name.into(), executor),
        }
    }

    /// The connector's name: destination state is stored under it.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The executor that runs the connector.
    pub fn executor(&self) -> &Arc<dyn Executor> {
        &self.core.executor
    }

    /// How the connector was chosen to run (when made by [`get_destination`]).
    pub fn executor_plan(&self) -> Option<&ExecutorPlan> {
        self.core.plan.as_ref()
    }

    /// Installs the connector (Python: into its venv).
    pub fn install(&self) -> Result<()> {
        self.core.install()
    }

    /// Removes what [`Destination::install`] installed.
    pub fn uninstall(&self) -> Result<()> {
        self.core.uninstall()
    }

    /// The installed version, when it can be known.
    pub fn connector_version(&self) -> Option<String> {
        self.core.connector_version()
    }

    /// The connector's documentation URL (from its spec when it gives one).
    pub fn docs_url(&self) -> String {
        self.core.docs_url("destinations", "destination-")
    }

    /// Starts the connector with `invocation` (the config-change callback is attached).
    pub fn execute(&self, invocation: Invocation) -> Result<ConnectorProcess> {
        self.core.execute(invocation)
    }

    /// The connector's spec (runs `spec` once, then cached).
    pub fn spec(&self) -> Result<&ConnectorSpecification> {
        self.core.spec()
    }

    /// The JSON schema of the config (`connectionSpecification`).
    pub fn config_spec(&self) -> Result<&Value> {
        self.core.config_spec()
    }

    /// Prints the config's JSON schema as YAML or JSON to stdout, or writes it to `output_file`.
    pub fn print_config_spec(&self, format: SpecFormat, output_file: Option<&Path>) -> Result<()> {
        self.core.print_config_spec(format, output_file)
    }

    /// Sets the config. With `validate`, the config (secret references resolved) is first
    /// checked against the spec and every violation is reported with its JSON path.
    pub fn set_config(&mut self, config: Value, validate: bool) -> Result<()> {
        self.core.store_config(config, validate).map(|_| ())
    }

    /// The config as set (secret references unresolved).
    pub fn get_config(&self) -> Result<Value> {
        self.core.get_config()
    }

    /// The config with every `secret_reference::NAME` replaced by its secret.
    pub fn hydrated_config(&self) -> Result<Value> {
        self.core.hydrated_config()
    }

    /// Validates `config` (default: the config set) against the spec, secrets resolved.
    pub fn validate_config(&self, config: Option<&Value>) -> Result<()> {
        self.core.validate_config(config)
    }

    /// Runs `check`. `FAILED` is [`crate::Error::CheckFailed`] with the connector's message.
    pub fn check(&self) -> Result<()> {
        self.core.check()
    }
}
