//! `airbyte_rs._native`: the Python extension of airbyte-rs.
//!
//! This crate only translates: Python arguments into the `airbyte` library's options, its
//! results and errors back into PyAirbyte's classes. Records flow through the Rust pipeline;
//! data reaches Python as Arrow through the C stream interface. Every call that waits on a
//! connector, a database or the network releases the GIL (see `blocking.rs`).

use airbyte as ab;
use pyo3::prelude::*;
use pyo3::types::PyString;

mod arrow_stream;
mod blocking;
mod cache;
mod dataset;
mod destination;
mod errors;
mod json_values;
mod options;
mod progress;
mod records;
mod results;
mod source;

use errors::IntoPyResult;
use options::{ConnectorArgs, config_value, path_text, stream_selection};

/// Gets a source connector (PyAirbyte's `get_source`, same arguments and defaults).
#[pyfunction]
#[pyo3(signature = (name, config = None, *, config_change_callback = None, streams = None, version = None, use_python = None, pip_url = None, local_executable = None, docker_image = None, use_host_network = false, source_manifest = None, install_if_missing = true, install_root = None, no_executor = false))]
#[allow(clippy::too_many_arguments)]
fn get_source<'py>(
    py: Python<'py>,
    name: String,
    config: Option<Bound<'py, PyAny>>,
    config_change_callback: Option<Bound<'py, PyAny>>,
    streams: Option<Bound<'py, PyAny>>,
    version: Option<String>,
    use_python: Option<Bound<'py, PyAny>>,
    pip_url: Option<String>,
    local_executable: Option<Bound<'py, PyAny>>,
    docker_image: Option<Bound<'py, PyAny>>,
    use_host_network: bool,
    source_manifest: Option<Bound<'py, PyAny>>,
    install_if_missing: bool,
    install_root: Option<Bound<'py, PyAny>>,
    no_executor: bool,
) -> PyResult<source::PySource> {
    let args = ConnectorArgs {
        config_change_callback,
        version,
        use_python,
        pip_url,
        local_executable,
        docker_image,
        use_host_network,
        install_if_missing,
        install_root,
        no_executor,
    };
    let mut options = args.source_options(&name, source_manifest.as_ref())?;
    options.streams = stream_selection(streams.as_ref())?;
    let config = config_value(config.as_ref())?;
    let made = blocking::run(py, None, None, move || {
        ab::get_source(&name, config, options)
    })?
    .py()?;
    Ok(source::PySource::new(made))
}

/// Gets a destination connector (PyAirbyte's `get_destination`).
#[pyfunction]
#[pyo3(signature = (name, config = None, *, config_change_callback = None, version = None, use_python = None, pip_url = None, local_executable = None, docker_image = None, use_host_network = false, install_if_missing = true, install_root = None, no_executor = false))]
#[allow(clippy::too_many_arguments)]
fn get_destination<'py>(
    py: Python<'py>,
    name: String,
    config: Option<Bound<'py, PyAny>>,
    config_change_callback: Option<Bound<'py, PyAny>>,
    version: Option<String>,
    use_python: Option<Bound<'py, PyAny>>,
    pip_url: Option<String>,
    local_executable: Option<Bound<'py, PyAny>>,
    docker_image: Option<Bound<'py, PyAny>>,
    use_host_network: bool,
    install_if_missing: bool,
    install_root: Option<Bound<'py, PyAny>>,
    no_executor: bool,
) -> PyResult<destination::PyDestination> {
    let args = ConnectorArgs {
        config_change_callback,
        version,
        use_python,
        pip_url,
        local_executable,
        docker_image,
        use_host_network,
        install_if_missing,
        install_root,
        no_executor,
    };
    let options = args.destination_options()?;
    let config = config_value(config.as_ref())?;
    let made = blocking::run(py, None, None, move || {
        ab::get_destination(&name, config, options)
    })?
    .py()?;
    Ok(destination::PyDestination::new(made))
}

/// A destination that discards what it receives (PyAirbyte's `get_noop_destination`; here it
/// runs in-process, without Docker).
#[pyfunction]
fn get_noop_destination() -> destination::PyDestination {
    destination::PyDestination::new(ab::get_noop_destination())
}

/// The default cache: `<cache root>/default_cache/default_cache.duckdb`.
#[pyfunction]
fn get_default_cache(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    cache::default_cache_object(py)
}

/// A new local DuckDB cache: `<cache_dir or .cache/<name>>/db_<name>.duckdb`; the name
/// defaults to a new unique id.
#[pyfunction]
#[pyo3(signature = (cache_name = None, cache_dir = None, *, cleanup = true))]
fn new_local_cache<'py>(
    py: Python<'py>,
    cache_name: Option<String>,
    cache_dir: Option<Bound<'py, PyAny>>,
    cleanup: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let _ = cleanup;
    let name = cache_name.unwrap_or_else(unique_name);
    let cache = match cache_dir.filter(|d| !d.is_none()) {
        None => ab::new_local_cache(&name).py()?,
        Some(dir) => {
            // The name's rules are the library's (letters, digits, underscores).
            ab::new_local_cache(&name).py()?;
            let dir = std::path::PathBuf::from(path_text(&dir)?);
            ab::DuckDbCache::new(dir.join(format!("db_{name}.duckdb")))
        }
    };
    cache::duckdb_object(py, cache)
}

/// A new cache name: time-ordered and unique, letters and digits (as PyAirbyte's ULIDs).
fn unique_name() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let salt = std::process::id();
    format!("{nanos:x}{salt:x}").to_uppercase()
}

/// Gets a secret from the registered secret sources (PyAirbyte's `get_secret`).
#[pyfunction]
#[pyo3(signature = (secret_name, /, *, sources = None, default = None, allow_prompt = true))]
fn get_secret<'py>(
    py: Python<'py>,
    secret_name: String,
    sources: Option<Vec<String>>,
    default: Option<String>,
    allow_prompt: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let sources = sources.map(|names| {
        names
            .into_iter()
            .map(|n| match n.as_str() {
                "env" => ab::secrets::SecretSource::Enum(ab::SecretSourceEnum::Env),
                "dotenv" => ab::secrets::SecretSource::Enum(ab::SecretSourceEnum::Dotenv),
                "google_gsm" => ab::secrets::SecretSource::Enum(ab::SecretSourceEnum::GoogleGsm),
                "prompt" => ab::secrets::SecretSource::Enum(ab::SecretSourceEnum::Prompt),
                _ => ab::secrets::SecretSource::Name(n),
            })
            .collect()
    });
    let options = ab::GetSecretOptions {
        sources,
        default: default.map(ab::SecretString::new),
        allow_prompt,
    };
    let secret = blocking::run(py, None, None, move || {
        ab::get_secret_with(&secret_name, options)
    })?
    .py()?;
    let class = py.import("airbyte_rs.secrets")?.getattr("SecretString")?;
    class.call1((PyString::new(py, secret.expose()),))
}

/// The connectors this machine can run (or of one install type: `"yaml"`, `"python"`,
/// `"docker"`, `"java"`, `"any"`).
#[pyfunction]
#[pyo3(signature = (install_type = None))]
fn get_available_connectors(
    py: Python<'_>,
    install_type: Option<Bound<'_, PyAny>>,
) -> PyResult<Vec<String>> {
    let kind = match install_type.filter(|t| !t.is_none()) {
        None => ab::InstallType::Installable,
        Some(t) => {
            let text: String = match t.getattr("value") {
                Ok(v) if !t.is_instance_of::<PyString>() => v.extract()?,
                _ => t.extract()?,
            };
            ab::InstallType::parse(&text).ok_or_else(|| {
                errors::input_error(
                    format!("unknown install type `{text}`"),
                    "use \"yaml\", \"python\", \"docker\", \"java\" or \"any\"",
                )
            })?
        }
    };
    blocking::run(py, None, None, move || ab::get_available_connectors(kind))?.py()
}

/// Sends the library's `tracing` events to PyAirbyte's global log file
/// (`<AIRBYTE_LOGGING_ROOT>/<YYYY-MM-DD>/airbyte-log-<id>.log`), as the CLI does. A program that
/// embeds Python and installed a subscriber of its own keeps it.
fn init_logging() {
    use tracing_subscriber::prelude::*;
    let layer = ab::logs::GlobalLogLayer::from_env()
        .with_filter(ab::logs::GlobalLogLayer::default_filter());
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    init_logging();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(get_source, m)?)?;
    m.add_function(wrap_pyfunction!(get_destination, m)?)?;
    m.add_function(wrap_pyfunction!(get_noop_destination, m)?)?;
    m.add_function(wrap_pyfunction!(get_default_cache, m)?)?;
    m.add_function(wrap_pyfunction!(new_local_cache, m)?)?;
    m.add_function(wrap_pyfunction!(get_secret, m)?)?;
    m.add_function(wrap_pyfunction!(get_available_connectors, m)?)?;
    m.add_class::<source::PySource>()?;
    m.add_class::<source::PyLazyDataset>()?;
    m.add_class::<destination::PyDestination>()?;
    m.add_class::<cache::PyCache>()?;
    m.add_class::<cache::PyDuckDbCache>()?;
    m.add_class::<cache::PyPostgresCache>()?;
    m.add_class::<dataset::PyCachedDataset>()?;
    m.add_class::<dataset::RowIterator>()?;
    m.add_class::<results::PyReadResult>()?;
    m.add_class::<results::PyWriteResult>()?;
    m.add_class::<arrow_stream::ArrowStream>()?;
    Ok(())
}
