//! Sources: `get_source` and [`Source`] (PyAirbyte's `airbyte/sources`).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use abrs_caches::records::{RecordOptions, StreamRecordHandler};
use abrs_connectors as ops;
use abrs_connectors::{ConnectorProcess, Executor, Invocation};
use abrs_protocol::{
    AirbyteCatalog, AirbyteStream, ConfiguredAirbyteCatalog, ConfiguredAirbyteStream,
    ConnectorSpecification, DestinationSyncMode, SyncMode,
};
use serde_json::{Map, Value};

use crate::connector::{ConnectorCore, build_executor};
use crate::dataset::LazyDataset;
use crate::error::{Error, Result};
use crate::executor_choice::{ExecutorPlan, UsePython, choose_executor, connector_name_of};

/// Which streams: all of them (`"*"`), or these names.
///
/// ```
/// use airbyte::StreamSelection;
/// assert_eq!(StreamSelection::from("*"), StreamSelection::All);
/// assert_eq!(StreamSelection::from(["users", "products"]),
///            StreamSelection::Names(vec!["users".into(), "products".into()]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamSelection {
    /// Every stream the source offers.
    All,
    /// These streams.
    Names(Vec<String>),
}

impl From<&str> for StreamSelection {
    /// `"*"` is every stream; any other text is one stream name.
    fn from(s: &str) -> Self {
        if s == "*" {
            Self::All
        } else {
            Self::Names(vec![s.to_string()])
        }
    }
}

impl From<String> for StreamSelection {
    fn from(s: String) -> Self {
        Self::from(s.as_str())
    }
}

impl From<Vec<String>> for StreamSelection {
    fn from(v: Vec<String>) -> Self {
        Self::Names(v)
    }
}

impl From<Vec<&str>> for StreamSelection {
    fn from(v: Vec<&str>) -> Self {
        Self::Names(v.into_iter().map(str::to_string).collect())
    }
}

impl From<&[&str]> for StreamSelection {
    fn from(v: &[&str]) -> Self {
        Self::Names(v.iter().map(|s| s.to_string()).collect())
    }
}

impl<const N: usize> From<[&str; N]> for StreamSelection {
    fn from(v: [&str; N]) -> Self {
        Self::Names(v.iter().map(|s| s.to_string()).collect())
    }
}

/// The fields of a primary key: one field (`"id"`) or several for a composite key
/// (`["id", "region"]`). Each field is a top-level property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFields(pub Vec<String>);

impl From<&str> for KeyFields {
    fn from(s: &str) -> Self {
        Self(vec![s.to_string()])
    }
}

impl From<String> for KeyFields {
    fn from(s: String) -> Self {
        Self(vec![s])
    }
}

impl From<Vec<String>> for KeyFields {
    fn from(v: Vec<String>) -> Self {
        Self(v)
    }
}

impl From<Vec<&str>> for KeyFields {
    fn from(v: Vec<&str>) -> Self {
        Self(v.into_iter().map(str::to_string).collect())
    }
}

impl<const N: usize> From<[&str; N]> for KeyFields {
    fn from(v: [&str; N]) -> Self {
        Self(v.iter().map(|s| s.to_string()).collect())
    }
}

/// Called with the connector's new config when it sends CONTROL/CONNECTOR_CONFIG (e.g. a
/// refreshed OAuth token), so that you can persist it.
pub type ConfigCallback = Arc<dyn Fn(&Map<String, Value>) + Send + Sync>;

/// Options of [`get_source`] (PyAirbyte's keyword arguments).
///
/// At most one of `local_executable`, `docker_image`, `pip_url`/`use_python` may be set.
///
/// ```
/// let opts = airbyte::SourceOptions {
///     docker_image: Some("true".into()), // the default image, airbyte/<name>:latest
///     ..Default::default()
/// };
/// assert!(opts.install_if_missing);
/// ```
#[derive(Clone)]
pub struct SourceOptions {
    /// Streams to select right away (this runs `discover` when a config is given).
    pub streams: Option<StreamSelection>,
    /// The connector version (PyPI version, or Docker tag). `"latest"` means unpinned.
    pub version: Option<String>,
    /// What to `pip install` (implies Python).
    pub pip_url: Option<String>,
    /// Requirements that override the package's own pins (`uv pip install --override`), for
    /// connectors whose published pins cannot be resolved.
    pub pip_overrides: Vec<String>,
    /// A local executable: a path, or a name found on PATH.
    pub local_executable: Option<PathBuf>,
    /// A Docker image; `"true"` (or an empty string) means `airbyte/<name>`. `:latest` or
    /// `:<version>` is appended when the image has no tag.
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
    /// A declarative (YAML) manifest that defines the source (PyAirbyte's `source_manifest`).
    pub source_manifest: Option<SourceManifest>,
    /// Called when the connector sends a new config (CONTROL/CONNECTOR_CONFIG). The source's
    /// config is replaced by the new one too (it holds the connector's values, secrets included).
    pub config_change_callback: Option<ConfigCallback>,
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            streams: None,
            version: None,
            pip_url: None,
            pip_overrides: Vec::new(),
            local_executable: None,
            docker_image: None,
            use_host_network: false,
            install_if_missing: true,
            install_root: None,
            use_python: None,
            source_manifest: None,
            config_change_callback: None,
        }
    }
}

/// A declarative manifest for [`SourceOptions::source_manifest`].
#[derive(Debug, Clone, PartialEq)]
pub enum SourceManifest {
    /// A `manifest.yaml` (or JSON) file.
    Path(PathBuf),
    /// The manifest itself, parsed.
    Inline(Value),
    /// A manifest at an `http(s)://` URL, downloaded when the source is made (PyAirbyte ignores
    /// such a URL and downloads the registry's manifest instead; we download the one given).
    Url(String),
    /// The connector's manifest as Airbyte publishes it (PyAirbyte's `source_manifest=True`):
    /// `https://connectors.airbyte.com/files/metadata/airbyte/<name>/<version or latest>/manifest.yaml`,
    /// else the copy saved when it was last fetched, else the one in its PyPI package
    /// ([`crate::registry::manifests::connector_manifest`]).
    Registry,
}

pub use crate::registry::manifests::{MANIFEST_REGISTRY_URL, registry_manifest_url};

impl SourceManifest {
    /// A manifest given as text on a command line: an `http(s)://` URL, or a path.
    pub fn from_arg(text: &str) -> Self {
        if text.starts_with("http://") || text.starts_with("https://") {
            Self::Url(text.to_string())
        } else {
            Self::Path(PathBuf::from(text))
        }
    }

    /// Reads the manifest of connector `name` (at `version`, for [`SourceManifest::Registry`]):
    /// where it came from, and its content.
    pub fn load_for(&self, name: &str, version: Option<&str>) -> Result<(String, Value)> {
        match self {
            Self::Url(url) => Self::download(url),
            Self::Registry => crate::registry::manifests::connector_manifest(name, version),
            other => other.load(),
        }
    }

    fn download(url: &str) -> Result<(String, Value)> {
        let text = abrs_declarative::http::fetch_text(url).map_err(|e| Error::ConfigParse {
            origin: url.to_string(),
            detail: e.to_string(),
            guidance: "check the manifest's URL and the network".to_string(),
        })?;
        let value: Value = serde_saphyr::from_str(&text).map_err(|e| Error::ConfigParse {
            origin: url.to_string(),
            detail: format!("it is not valid YAML: {e}"),
            guidance: "the URL must serve a manifest.yaml".to_string(),
        })?;
        Ok((url.to_string(), value))
    }

    /// Reads the manifest: where it came from, and its content.
    pub fn load(&self) -> Result<(String, Value)> {
        match self {
            Self::Inline(v) => Ok(("inline".to_string(), v.clone())),
            Self::Url(_) | Self::Registry => self.load_for("", None),
            Self::Path(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::ConfigParse {
                    origin: path.display().to_string(),
                    detail: e.to_string(),
                    guidance: "check the path of the manifest".to_string(),
                })?;
                let value: Value =
                    serde_saphyr::from_str(&text).map_err(|e| Error::ConfigParse {
                        origin: path.display().to_string(),
                        detail: format!("it is not valid YAML: {e}"),
                        guidance: "fix the manifest's YAML".to_string(),
                    })?;
                Ok((path.display().to_string(), value))
            }
        }
    }
}

impl fmt::Debug for SourceOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceOptions")
            .field("streams", &self.streams)
            .field("version", &self.version)
            .field("pip_url", &self.pip_url)
            .field("pip_overrides", &self.pip_overrides)
            .field("local_executable", &self.local_executable)
            .field("docker_image", &self.docker_image)
            .field("use_host_network", &self.use_host_network)
            .field("install_if_missing", &self.install_if_missing)
            .field("install_root", &self.install_root)
            .field("use_python", &self.use_python)
            .field("source_manifest", &self.source_manifest.is_some())
            .field(
                "config_change_callback",
                &self.config_change_callback.is_some(),
            )
            .finish()
    }
}

/// How `get_records` shapes records (PyAirbyte's `get_records` keyword arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetRecordsOptions {
    /// Stop after this many records (the connector is stopped).
    pub limit: Option<usize>,
    /// Normalize keys (`My Field` → `my_field`) as caches do. Default `false`.
    pub normalize_field_names: bool,
    /// Drop fields the stream's schema does not declare. Default `true`.
    pub prune_undeclared_fields: bool,
    /// Add `_airbyte_raw_id`, `_airbyte_extracted_at`, `_airbyte_meta`. Default `true`.
    pub with_internal_columns: bool,
}

impl Default for GetRecordsOptions {
    fn default() -> Self {
        Self {
            limit: None,
            normalize_field_names: false,
            prune_undeclared_fields: true,
            with_internal_columns: true,
        }
    }
}

/// Gets a source connector, ready to configure, check, discover and read.
///
/// `name` is a connector name (`source-faker`) or a path to a local executable. How it runs:
///
/// * `local_executable`, `docker_image`, or `pip_url`/`use_python` when given (at most one);
/// * else a name containing `/` is a path to a local executable;
/// * else a name found on PATH runs as a local executable;
/// * else the registry file named by `AIRBYTE_LOCAL_REGISTRY` decides (YAML > Python > Docker;
///   remote registries are not supported yet; `AIRBYTE_OFFLINE_MODE` turns the registry off);
/// * with no registry, the Python package `airbyte-<name>` is installed from PyPI into
///   `<install root>/.venv-<name>` (with `uv`, else `python -m venv` + pip).
///
/// With `install_if_missing` (the default) the connector is installed now if needed. The config
/// is stored without validation (call [`Source::validate_config`] or
/// [`Source::set_config`] with `validate = true` to validate it).
///
/// ```no_run
/// use airbyte as ab;
/// let mut source = ab::get_source(
///     "source-faker",
///     Some(serde_json::json!({"count": 10})),
///     ab::SourceOptions::default(),
/// )?;
/// source.check()?;
/// source.select_streams(["users"])?;
/// for record in source.get_records("users", Some(5))? {
///     println!("{}", serde_json::to_string(&record?)?);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn get_source(name: &str, config: Option<Value>, options: SourceOptions) -> Result<Source> {
    let plan = choose_executor(name, &options)?;
    let connector_name = connector_name_of(name);
    tracing::info!("source {connector_name}: {}", plan_summary(&plan));
    let executor = build_executor(&connector_name, &plan, &options)?;
    if options.install_if_missing {
        executor
            .ensure_installation(true)
            .map_err(|e| Error::from_connector(&connector_name, e))?;
    }
    let mut source = Source::from_executor(connector_name, executor);
    source.core.plan = Some(plan);
    source.core.user_callback = options.config_change_callback.clone();
    if let Some(config) = config {
        source.set_config(config, false)?;
    }
    if let Some(streams) = options.streams {
        source.select_streams(streams)?;
    }
    Ok(source)
}

/// One line saying how a connector runs, for the global log.
pub(crate) fn plan_summary(plan: &ExecutorPlan) -> String {
    match plan {
        ExecutorPlan::Local { path } => format!("the local executable {}", path.display()),
        ExecutorPlan::Python { pip_url, .. } => {
            // A pip URL may carry a token (`git+https://TOKEN@host/…`): never log it.
            let shown = match (pip_url.find("://"), pip_url.find('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    format!("{}****{}", &pip_url[..scheme + 3], &pip_url[at..])
                }
                _ => pip_url.clone(),
            };
            format!("the Python package {shown}")
        }
        ExecutorPlan::Declarative { origin, native, .. } => format!(
            "the manifest {origin}, run {}",
            if *native {
                "natively"
            } else {
                "by the Python CDK"
            }
        ),
        ExecutorPlan::Docker { image, .. } => format!("the Docker image {image}"),
    }
}

/// A source connector (PyAirbyte's `Source`).
///
/// `spec` and `discover` run at most once per `Source` and are cached. Nothing is selected by
/// default: select streams before reading.
pub struct Source {
    core: ConnectorCore,
    discovered: OnceLock<AirbyteCatalog>,
    selected: Vec<String>,
    pending_selection: Option<StreamSelection>,
    primary_key_overrides: HashMap<String, Vec<Vec<String>>>,
    cursor_key_overrides: HashMap<String, Vec<String>>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.core.name)
            .field("executor", &self.core.executor)
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

impl Source {
    /// A source run by the given executor, with no config.
    pub fn from_executor(name: impl Into<String>, executor: Arc<dyn Executor>) -> Self {
        Self {
            core: ConnectorCore::new(name.into(), executor),
            discovered: OnceLock::new(),
            selected: Vec::new(),
            pending_selection: None,
            primary_key_overrides: HashMap::new(),
            cursor_key_overrides: HashMap::new(),
        }
    }

    /// The connector's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The executor that runs the connector.
    pub fn executor(&self) -> &Arc<dyn Executor> {
        &self.core.executor
    }

    /// How the connector was chosen to run (when made by [`get_source`]).
    pub fn executor_plan(&self) -> Option<&ExecutorPlan> {
        self.core.plan.as_ref()
    }

    /// Installs the connector (Python: into its venv).
    pub fn install(&self) -> Result<()> {
        self.core.install()
    }

    /// Removes what [`Source::install`] installed.
    pub fn uninstall(&self) -> Result<()> {
        self.core.uninstall()
    }

    /// The installed version, when it can be known.
    pub fn connector_version(&self) -> Option<String> {
        self.core.connector_version()
    }

    /// The connector's documentation URL (from its spec when it gives one).
    pub fn docs_url(&self) -> String {
        self.core.docs_url("sources", "source-")
    }

    /// Starts the connector with `invocation` (the config-change callback is attached).
    pub fn execute(&self, invocation: Invocation) -> Result<ConnectorProcess> {
        self.core.execute(invocation)
    }

    fn with_callback(&self, invocation: Invocation) -> Invocation {
        self.core.with_callback(invocation)
    }

    fn wrap(&self, e: abrs_connectors::ConnectorError) -> Error {
        self.core.wrap(e)
    }

    // ---- spec and config ------------------------------------------------------------------

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
    /// checked against the spec and every violation is reported.
    ///
    /// Streams selected before a config was set are selected now (this runs `discover`).
    pub fn set_config(&mut self, config: Value, validate: bool) -> Result<()> {
        if self.core.store_config(config, validate)? {
            // The streams a source offers may depend on its config.
            self.discovered = OnceLock::new();
        }
        if let Some(pending) = self.pending_selection.take() {
            self.select_streams(pending)?;
        }
        Ok(())
    }

    /// The config as set (secret references unresolved).
    pub fn get_config(&self) -> Result<Value> {
        self.core.get_config()
    }

    /// The config with every `secret_reference::NAME` replaced by its secret: what the connector
    /// receives.
    pub fn hydrated_config(&self) -> Result<Value> {
        self.core.hydrated_config()
    }

    fn hydrated_config_for(&self, operation: &str) -> Result<Value> {
        self.core.hydrated_config_for(operation)
    }

    /// Validates `config` (default: the config set) against the spec, secrets resolved.
    pub fn validate_config(&self, config: Option<&Value>) -> Result<()> {
        self.core.validate_config(config)
    }

    /// Runs `check`. `FAILED` is [`Error::CheckFailed`] with the connector's message.
    pub fn check(&self) -> Result<()> {
        self.core.check()
    }

    // ---- streams --------------------------------------------------------------------------

    /// The catalog from `discover` (runs once per config, then cached).
    pub fn discovered_catalog(&self) -> Result<&AirbyteCatalog> {
        if let Some(c) = self.discovered.get() {
            return Ok(c);
        }
        let config = self.hydrated_config_for("discover")?;
        let catalog = ops::discover_with(
            &*self.core.executor,
            self.with_callback(Invocation::discover(config)),
        )
        .map_err(|e| self.wrap(e))?;
        Ok(self.discovered.get_or_init(|| catalog))
    }

    /// The names of the streams the source offers.
    pub fn get_available_streams(&self) -> Result<Vec<String>> {
        Ok(self
            .discovered_catalog()?
            .streams
            .iter()
            .map(|s| s.name.clone())
            .collect())
    }

    fn stream_not_found(&self, stream: &str) -> Error {
        Error::StreamNotFound {
            name: self.core.name.clone(),
            stream: stream.to_string(),
            available: self.get_available_streams().unwrap_or_default(),
        }
    }

    /// The discovered stream of that name.
    pub fn get_stream(&self, stream: &str) -> Result<&AirbyteStream> {
        self.discovered_catalog()?
            .streams
            .iter()
            .find(|s| s.name == stream)
            .ok_or_else(|| self.stream_not_found(stream))
    }

    /// The JSON schema of a stream's records.
    pub fn get_stream_json_schema(&self, stream: &str) -> Result<&Value> {
        Ok(&self.get_stream(stream)?.json_schema)
    }

    fn resolve_selection(&self, selection: &StreamSelection) -> Result<Vec<String>> {
        let available = self.get_available_streams()?;
        match selection {
            StreamSelection::All => Ok(available),
            StreamSelection::Names(names) => {
                for n in names {
                    if !available.contains(n) {
                        return Err(Error::StreamNotFound {
                            name: self.core.name.clone(),
                            stream: n.clone(),
                            available,
                        });
                    }
                }
                let mut seen = HashSet::new();
                Ok(names
                    .iter()
                    .filter(|n| seen.insert(n.as_str()))
                    .cloned()
                    .collect())
            }
        }
    }

    /// Selects the streams to read: names, or `"*"` for all. An unknown name is
    /// [`Error::StreamNotFound`] listing the available streams. Without a config yet, the
    /// selection is kept and applied by [`Source::set_config`].
    pub fn select_streams(&mut self, streams: impl Into<StreamSelection>) -> Result<()> {
        let selection = streams.into();
        if !self.core.has_config() {
            tracing::info!(
                "no config set yet for {}: the stream selection is applied when it is",
                self.core.name
            );
            self.pending_selection = Some(selection);
            return Ok(());
        }
        self.selected = self.resolve_selection(&selection)?;
        Ok(())
    }

    /// Selects every stream.
    pub fn select_all_streams(&mut self) -> Result<()> {
        self.select_streams(StreamSelection::All)
    }

    /// The selected stream names (empty when nothing is selected).
    pub fn get_selected_streams(&self) -> &[String] {
        &self.selected
    }

    /// Overrides the primary key of a stream: one field, or several for a composite key
    /// (`set_primary_key("orders", ["id", "region"])` → `[["id"], ["region"]]`).
    pub fn set_primary_key(&mut self, stream: &str, key: impl Into<KeyFields>) {
        let fields = key.into().0.into_iter().map(|f| vec![f]).collect();
        self.primary_key_overrides
            .insert(stream.to_lowercase(), fields);
    }

    /// Overrides the primary keys of several streams.
    pub fn set_primary_keys<K: Into<KeyFields>>(
        &mut self,
        keys: impl IntoIterator<Item = (String, K)>,
    ) {
        for (stream, key) in keys {
            self.set_primary_key(&stream, key);
        }
    }

    /// Overrides the cursor field of a stream.
    pub fn set_cursor_key(&mut self, stream: &str, cursor: &str) {
        self.cursor_key_overrides
            .insert(stream.to_lowercase(), vec![cursor.to_string()]);
    }

    /// Overrides the cursor fields of several streams.
    pub fn set_cursor_keys(&mut self, keys: impl IntoIterator<Item = (String, String)>) {
        for (stream, cursor) in keys {
            self.set_cursor_key(&stream, &cursor);
        }
    }

    /// A configured catalog for `streams` (default: the selected streams, or all when none are
    /// selected), PyAirbyte's rules:
    ///
    /// * `destination_sync_mode` is `overwrite`;
    /// * `sync_mode` is `incremental`, or `full_refresh` when `force_full_refresh` is set and the
    ///   stream supports it. Unlike PyAirbyte, a stream that declares only `full_refresh` is
    ///   configured `full_refresh` (asking it for `incremental` breaks the protocol);
    /// * primary key and cursor come from the overrides, else from the source's defaults;
    /// * `generation_id`, `minimum_generation_id` and `sync_id` are 1.
    pub fn get_configured_catalog(
        &self,
        streams: Option<StreamSelection>,
        force_full_refresh: bool,
    ) -> Result<ConfiguredAirbyteCatalog> {
        let names = match streams {
            Some(sel) => self.resolve_selection(&sel)?,
            None if !self.selected.is_empty() => self.selected.clone(),
            None => self.get_available_streams()?,
        };
        let wanted: HashSet<&str> = names.iter().map(String::as_str).collect();
        let streams = self
            .discovered_catalog()?
            .streams
            .iter()
            .filter(|s| wanted.contains(s.name.as_str()))
            .map(|s| self.configure_stream(s, force_full_refresh))
            .collect();
        Ok(ConfiguredAirbyteCatalog {
            streams,
            extra: Default::default(),
        })
    }

    fn configure_stream(
        &self,
        stream: &AirbyteStream,
        force_full_refresh: bool,
    ) -> ConfiguredAirbyteStream {
        let modes = &stream.supported_sync_modes;
        let supports = |m: &SyncMode| modes.is_empty() || modes.contains(m);
        let sync_mode = if force_full_refresh && supports(&SyncMode::FullRefresh) {
            SyncMode::FullRefresh
        } else if supports(&SyncMode::Incremental) {
            SyncMode::Incremental
        } else {
            SyncMode::FullRefresh
        };
        let key = stream.name.to_lowercase();
        ConfiguredAirbyteStream {
            stream: stream.clone(),
            sync_mode,
            cursor_field: self
                .cursor_key_overrides
                .get(&key)
                .cloned()
                .or_else(|| stream.default_cursor_field.clone()),
            destination_sync_mode: DestinationSyncMode::Overwrite,
            primary_key: self
                .primary_key_overrides
                .get(&key)
                .cloned()
                .or_else(|| stream.source_defined_primary_key.clone()),
            generation_id: Some(1),
            minimum_generation_id: Some(1),
            sync_id: Some(1),
            extra: Default::default(),
        }
    }

    /// The configured catalog of the selected streams (all streams when none are selected).
    pub fn configured_catalog(&self) -> Result<ConfiguredAirbyteCatalog> {
        self.get_configured_catalog(None, false)
    }

    /// The `read` invocation for a catalog (config hydrated, callback attached by
    /// [`Source::execute`]); `state` is the state file's content (a JSON array of messages).
    pub fn read_invocation(
        &self,
        catalog: ConfiguredAirbyteCatalog,
        state: Option<Value>,
    ) -> Result<Invocation> {
        let config = self.hydrated_config_for("read")?;
        let mut invocation = Invocation::read(config, catalog);
        if let Some(state) = state {
            invocation = invocation.with_state(state);
        }
        Ok(invocation)
    }

    /// Reads one stream's records without a cache, lazily. Dropping the dataset (or reaching
    /// `limit`) stops the connector.
    pub fn get_records(&self, stream: &str, limit: Option<usize>) -> Result<LazyDataset> {
        self.get_records_with(
            stream,
            GetRecordsOptions {
                limit,
                ..Default::default()
            },
        )
    }

    /// [`Source::get_records`] with all options.
    pub fn get_records_with(
        &self,
        stream: &str,
        options: GetRecordsOptions,
    ) -> Result<LazyDataset> {
        let discovered = self.get_stream(stream)?.clone();
        let handler = StreamRecordHandler::new(
            &discovered.json_schema,
            RecordOptions {
                normalize_keys: options.normalize_field_names,
                prune_extra_fields: options.prune_undeclared_fields,
                with_internal_columns: options.with_internal_columns,
            },
        )
        .into_shared();
        let configured = ConfiguredAirbyteStream {
            stream: discovered,
            sync_mode: SyncMode::FullRefresh,
            cursor_field: None,
            destination_sync_mode: DestinationSyncMode::Overwrite,
            primary_key: None,
            generation_id: None,
            minimum_generation_id: None,
            sync_id: None,
            extra: Default::default(),
        };
        if options.limit == Some(0) {
            return Ok(LazyDataset::empty(
                self.core.name.clone(),
                configured,
                handler,
            ));
        }
        let catalog = ConfiguredAirbyteCatalog {
            streams: vec![configured.clone()],
            extra: Default::default(),
        };
        let process = self.execute(self.read_invocation(catalog, None)?)?;
        Ok(LazyDataset::new(
            self.core.name.clone(),
            configured,
            handler,
            process,
            options.limit,
        ))
    }
}

/// The format of a printed spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpecFormat {
    /// YAML (PyAirbyte's default).
    #[default]
    Yaml,
    /// Pretty-printed JSON.
    Json,
}

impl SpecFormat {
    /// Renders a value in this format, ending with a newline.
    pub fn render(&self, value: &impl serde::Serialize) -> Result<String> {
        let mut text = match self {
            Self::Json => serde_json::to_string_pretty(value).map_err(|e| {
                Error::input(
                    format!("the spec cannot be written as JSON ({e})"),
                    "use YAML",
                )
            })?,
            Self::Yaml => serde_saphyr::to_string(value).map_err(|e| {
                Error::input(
                    format!("the spec cannot be written as YAML ({e})"),
                    "use JSON",
                )
            })?,
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Ok(text)
    }
}

impl std::str::FromStr for SpecFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Ok(Self::Yaml),
            "json" => Ok(Self::Json),
            other => Err(Error::input(
                format!("unknown format `{other}`"),
                "use `yaml` or `json`",
            )),
        }
    }
}
