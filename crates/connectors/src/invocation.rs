//! What to ask a connector, and the private files that carry config, catalog and state.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use abrs_protocol::{AirbyteStateMessage, ConfiguredAirbyteCatalog};
use serde_json::{Map, Value};

use crate::error::ConnectorError;

/// The protocol command a connector is run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `spec`: describe the config it accepts.
    Spec,
    /// `check --config`: test the config.
    Check,
    /// `discover --config`: list the streams.
    Discover,
    /// `read --config --catalog [--state]`: a source emits records.
    Read,
    /// `write --config --catalog`: a destination consumes messages on stdin.
    Write,
}

impl Verb {
    /// The command word.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Spec => "spec",
            Self::Check => "check",
            Self::Discover => "discover",
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Called with the new config when a connector sends a CONTROL/CONNECTOR_CONFIG message
/// (e.g. a refreshed OAuth token to persist).
pub type ConfigChangeCallback = Arc<dyn Fn(Map<String, Value>) + Send + Sync>;

/// What a destination reads on its stdin.
pub enum StdinSource {
    /// Protocol lines, one per item; a newline is added when missing.
    Lines(Box<dyn Iterator<Item = Vec<u8>> + Send>),
    /// Raw bytes copied as they are (already newline-delimited messages).
    Reader(Box<dyn Read + Send>),
    /// The caller writes the input itself, through [`crate::ConnectorProcess::take_stdin`]
    /// (on its own thread, while another consumes the connector's output).
    Pipe,
}

impl fmt::Debug for StdinSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lines(_) => f.write_str("StdinSource::Lines(..)"),
            Self::Reader(_) => f.write_str("StdinSource::Reader(..)"),
            Self::Pipe => f.write_str("StdinSource::Pipe"),
        }
    }
}

/// The default time a connector gets between SIGTERM and SIGKILL when it is stopped early.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

/// One run of a connector: the verb, its inputs and how to treat the process.
///
/// Config, catalog and state are written to files readable only by the current user
/// (0600, in a 0700 directory) and removed when the process ends.
pub struct Invocation {
    /// The command.
    pub verb: Verb,
    /// The connector config (with secrets already filled in), passed as `--config`.
    pub config: Option<Value>,
    /// The configured catalog, passed as `--catalog`.
    pub catalog: Option<ConfiguredAirbyteCatalog>,
    /// The state, passed as `--state`: usually a JSON array of state messages.
    pub state: Option<Value>,
    /// Input for destinations (`write`).
    pub stdin: Option<StdinSource>,
    /// Called on CONTROL/CONNECTOR_CONFIG messages.
    pub config_change_callback: Option<ConfigChangeCallback>,
    /// Time between SIGTERM and SIGKILL when the process is stopped early.
    pub grace_period: Duration,
    /// Values replaced by `****` in the connector's log (its config's secrets).
    pub log_secrets: Vec<String>,
}

impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the config: it holds secrets.
        f.debug_struct("Invocation")
            .field("verb", &self.verb)
            .field("config", &self.config.as_ref().map(|_| "<redacted>"))
            .field("catalog", &self.catalog.as_ref().map(|c| c.streams.len()))
            .field("state", &self.state.is_some())
            .field("stdin", &self.stdin)
            .field(
                "config_change_callback",
                &self.config_change_callback.is_some(),
            )
            .field("grace_period", &self.grace_period)
            .field("log_secrets", &self.log_secrets.len())
            .finish()
    }
}

impl Invocation {
    /// An invocation of `verb` with no inputs.
    pub fn new(verb: Verb) -> Self {
        Self {
            verb,
            config: None,
            catalog: None,
            state: None,
            stdin: None,
            config_change_callback: None,
            grace_period: DEFAULT_GRACE_PERIOD,
            log_secrets: Vec::new(),
        }
    }

    /// `spec`.
    pub fn spec() -> Self {
        Self::new(Verb::Spec)
    }

    /// `check --config`.
    pub fn check(config: Value) -> Self {
        Self::new(Verb::Check).with_config(config)
    }

    /// `discover --config`.
    pub fn discover(config: Value) -> Self {
        Self::new(Verb::Discover).with_config(config)
    }

    /// `read --config --catalog`; add state with [`Invocation::with_state`].
    pub fn read(config: Value, catalog: ConfiguredAirbyteCatalog) -> Self {
        Self::new(Verb::Read)
            .with_config(config)
            .with_catalog(catalog)
    }

    /// `write --config --catalog`, with `stdin` as the destination's input.
    pub fn write(config: Value, catalog: ConfiguredAirbyteCatalog, stdin: StdinSource) -> Self {
        Self::new(Verb::Write)
            .with_config(config)
            .with_catalog(catalog)
            .with_stdin(stdin)
    }

    /// Sets the config.
    pub fn with_config(mut self, config: Value) -> Self {
        self.config = Some(config);
        self
    }

    /// Sets the configured catalog.
    pub fn with_catalog(mut self, catalog: ConfiguredAirbyteCatalog) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Sets the state file's content as given (any JSON).
    pub fn with_state(mut self, state: Value) -> Self {
        self.state = Some(state);
        self
    }

    /// Sets the state to a JSON array of these state messages (what connectors expect).
    pub fn with_state_messages(mut self, messages: &[AirbyteStateMessage]) -> Self {
        let items = messages
            .iter()
            .filter_map(|m| serde_json::to_value(m).ok())
            .collect();
        self.state = Some(Value::Array(items));
        self
    }

    /// Sets the destination's input.
    pub fn with_stdin(mut self, stdin: StdinSource) -> Self {
        self.stdin = Some(stdin);
        self
    }

    /// Sets the callback for CONTROL/CONNECTOR_CONFIG messages.
    pub fn with_config_change_callback(mut self, callback: ConfigChangeCallback) -> Self {
        self.config_change_callback = Some(callback);
        self
    }

    /// Values to mask in the connector's log (see [`Invocation::log_secrets`]).
    pub fn with_log_secrets(mut self, secrets: Vec<String>) -> Self {
        self.log_secrets = secrets;
        self
    }

    /// Sets the time between SIGTERM and SIGKILL when stopping early.
    pub fn with_grace_period(mut self, grace: Duration) -> Self {
        self.grace_period = grace;
        self
    }
}

/// The root for temporary files: `AIRBYTE_TEMP_DIR`, else the system temp dir.
pub fn temp_root() -> PathBuf {
    match std::env::var_os("AIRBYTE_TEMP_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => std::env::temp_dir(),
    }
}

/// The private directory holding one invocation's files; removed on drop.
#[derive(Debug)]
pub struct PreparedFiles {
    dir: tempfile::TempDir,
    /// The connector arguments: the verb and `--config/--catalog/--state <file>`.
    pub args: Vec<String>,
}

impl PreparedFiles {
    /// The private directory (0700).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn write_private(path: &Path, value: &impl serde::Serialize) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    file.write_all(&bytes)?;
    file.flush()
}

/// Writes the invocation's config, catalog and state into a new private directory under `root`
/// and returns the connector arguments that point at them.
pub fn prepare_files(
    connector: &str,
    invocation: &Invocation,
    root: &Path,
) -> Result<PreparedFiles, ConnectorError> {
    let err = |source| ConnectorError::TempFiles {
        connector: connector.to_string(),
        dir: root.to_path_buf(),
        source,
    };
    fs::create_dir_all(root).map_err(err)?;
    let dir = tempfile::Builder::new()
        .prefix("airbyte-rs-")
        .tempdir_in(root)
        .map_err(err)?;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).map_err(err)?;
    let mut args = vec![invocation.verb.as_str().to_string()];
    let mut add = |flag: &str, file: &str, value: &dyn erased::Json| -> io::Result<()> {
        let path = dir.path().join(file);
        value.write_to(&path)?;
        args.push(flag.to_string());
        args.push(path.to_string_lossy().into_owned());
        Ok(())
    };
    if let Some(c) = &invocation.config {
        add("--config", "config.json", c).map_err(err)?;
    }
    if let Some(c) = &invocation.catalog {
        add("--catalog", "catalog.json", c).map_err(err)?;
    }
    if let Some(s) = &invocation.state {
        add("--state", "state.json", s).map_err(err)?;
    }
    Ok(PreparedFiles { dir, args })
}

mod erased {
    use super::*;

    /// Lets `prepare_files` treat config, catalog and state alike.
    pub trait Json {
        fn write_to(&self, path: &Path) -> io::Result<()>;
    }

    impl<T: serde::Serialize> Json for T {
        fn write_to(&self, path: &Path) -> io::Result<()> {
            write_private(path, self)
        }
    }
}
