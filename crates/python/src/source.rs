//! `Source` and `LazyDataset` (PyAirbyte's `airbyte.sources.base.Source` and
//! `airbyte.datasets.LazyDataset`).

use std::sync::{Arc, Mutex, PoisonError};

use airbyte as ab;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::blocking::{self, Stopper};
use crate::cache::{PyCache, default_cache_object};
use crate::errors::{IntoPyResult, input_error};
use crate::json_values::{json_to_py, to_py};
use crate::options::{config_value, path_text, stream_selection, write_strategy};
use crate::progress::Progress;
use crate::records::{RecordReceiver, record_channel};
use crate::results::PyReadResult;

/// A source connector (PyAirbyte's `Source`).
#[pyclass(name = "Source", module = "airbyte_rs", frozen)]
pub(crate) struct PySource {
    pub(crate) inner: Arc<Mutex<ab::Source>>,
    name: String,
}

impl PySource {
    /// The connector's name.
    pub(crate) fn inner_name(&self) -> String {
        self.name.clone()
    }

    pub(crate) fn new(source: ab::Source) -> Self {
        Self {
            name: source.name().to_string(),
            inner: Arc::new(Mutex::new(source)),
        }
    }

    /// Runs `f` on the source, on a worker thread, without the GIL (Ctrl-C returns at once).
    fn call<T, F>(&self, py: Python<'_>, f: F) -> PyResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut ab::Source) -> ab::Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking::run(py, None, None, move || {
            let mut source = inner.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut source)
        })?
        .py()
    }
}

#[pymethods]
impl PySource {
    /// The connector's name, e.g. `source-faker`.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    fn __repr__(&self) -> String {
        format!("Source(name={:?})", self.name)
    }

    /// Sets the config (a dict, or the path of a JSON/YAML file), validating it against the
    /// connector's spec unless `validate=False`.
    #[pyo3(signature = (config, *, validate = true))]
    fn set_config(
        &self,
        py: Python<'_>,
        config: &Bound<'_, PyAny>,
        validate: bool,
    ) -> PyResult<()> {
        let value = config_value(Some(config))?.unwrap_or(serde_json::Value::Null);
        self.call(py, move |s| s.set_config(value, validate))
    }

    /// The config as given (secret references not resolved).
    fn get_config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let config = self.call(py, |s| s.get_config())?;
        json_to_py(py, &config)
    }

    /// Validates a config (default: the one set) against the spec.
    #[pyo3(signature = (config = None))]
    fn validate_config(&self, py: Python<'_>, config: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let config = config_value(config)?;
        self.call(py, move |s| s.validate_config(config.as_ref()))
    }

    /// The JSON schema of the connector's config (`spec.connectionSpecification`).
    #[getter]
    fn config_spec<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let spec = self.call(py, |s| s.config_spec().cloned())?;
        json_to_py(py, &spec)
    }

    /// Prints the config spec as YAML (default) or JSON, or writes it to `output_file`.
    #[pyo3(signature = (format = "yaml", *, output_file = None, stderr = false))]
    fn print_config_spec(
        &self,
        py: Python<'_>,
        format: &str,
        output_file: Option<&Bound<'_, PyAny>>,
        stderr: bool,
    ) -> PyResult<()> {
        let spec = self.call(py, |s| s.config_spec().cloned())?;
        print_spec(py, &spec, format, output_file, stderr)
    }

    /// The connector's documentation page.
    #[getter]
    fn docs_url(&self, py: Python<'_>) -> PyResult<String> {
        self.call(py, |s| Ok(s.docs_url()))
    }

    /// The installed version, when known.
    #[getter]
    fn connector_version(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.call(py, |s| Ok(s.connector_version()))
    }

    /// Installs the connector (a venv, a Docker pull), if it is not yet.
    fn install(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |s| s.install())
    }

    /// Removes what `install()` made.
    fn uninstall(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |s| s.uninstall())
    }

    /// Runs the connector's `check`: raises `AirbyteConnectorCheckFailedError` when it fails.
    fn check(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |s| s.check())
    }

    /// The catalog the connector discovers (discover runs once per source).
    #[getter]
    fn discovered_catalog<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let catalog = self.call(py, |s| s.discovered_catalog().cloned())?;
        to_py(py, &catalog)
    }

    /// The names of the streams the connector offers.
    fn get_available_streams(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.call(py, |s| s.get_available_streams())
    }

    /// Selects streams: `"*"`, one name or a list of names.
    fn select_streams(&self, py: Python<'_>, streams: &Bound<'_, PyAny>) -> PyResult<()> {
        let selection = stream_selection(Some(streams))?
            .ok_or_else(|| input_error("no streams given", "pass \"*\" or a list of names"))?;
        self.call(py, move |s| s.select_streams(selection))
    }

    /// Selects every stream.
    fn select_all_streams(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |s| s.select_all_streams())
    }

    /// The selected streams.
    fn get_selected_streams(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.call(py, |s| Ok(s.get_selected_streams().to_vec()))
    }

    /// Overrides a stream's primary key (a field, or a list of fields).
    fn set_primary_key(
        &self,
        py: Python<'_>,
        stream: String,
        primary_key: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let key: Vec<String> = if let Ok(s) = primary_key.cast::<PyString>() {
            vec![s.to_str()?.to_owned()]
        } else {
            primary_key.extract()?
        };
        self.call(py, move |s| {
            s.set_primary_key(&stream, key);
            Ok(())
        })
    }

    /// Overrides a stream's cursor field.
    fn set_cursor_key(
        &self,
        py: Python<'_>,
        stream_name: String,
        cursor_key: String,
    ) -> PyResult<()> {
        self.call(py, move |s| {
            s.set_cursor_key(&stream_name, &cursor_key);
            Ok(())
        })
    }

    /// The JSON schema of a stream.
    fn get_stream_json_schema<'py>(
        &self,
        py: Python<'py>,
        stream_name: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let schema = self.call(py, move |s| s.get_stream_json_schema(&stream_name).cloned())?;
        json_to_py(py, &schema)
    }

    /// The configured catalog a read would use.
    #[pyo3(signature = (streams = None, *, force_full_refresh = false))]
    fn get_configured_catalog<'py>(
        &self,
        py: Python<'py>,
        streams: Option<&Bound<'py, PyAny>>,
        force_full_refresh: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let selection = stream_selection(streams)?;
        let catalog = self.call(py, move |s| {
            s.get_configured_catalog(selection, force_full_refresh)
        })?;
        to_py(py, &catalog)
    }

    /// Reads one stream without a cache, lazily: iterating yields `StreamRecord`s; closing or
    /// dropping the dataset (or reaching `limit`) stops the connector.
    #[pyo3(signature = (stream, *, limit = None, stop_event = None, normalize_field_names = false, prune_undeclared_fields = true))]
    fn get_records(
        &self,
        py: Python<'_>,
        stream: String,
        limit: Option<usize>,
        stop_event: Option<Py<PyAny>>,
        normalize_field_names: bool,
        prune_undeclared_fields: bool,
    ) -> PyResult<PyLazyDataset> {
        let options = ab::GetRecordsOptions {
            limit,
            normalize_field_names,
            prune_undeclared_fields,
            with_internal_columns: true,
        };
        let name = stream.clone();
        let dataset = self.call(py, move |s| s.get_records_with(&stream, options))?;
        let stopper = Stopper::default();
        stopper.set_pid(dataset.connector_pid());
        let stream_metadata = serde_json::to_value(dataset.stream_metadata()).unwrap_or_default();
        let records = record_channel(py, move || dataset, Some(stopper), stop_event)?;
        Ok(PyLazyDataset {
            stream_name: name,
            stream_metadata,
            records: Mutex::new(Some(records)),
        })
    }

    /// Reads the selected streams (or `streams`) into `cache` (default: the default DuckDB
    /// cache), returning a `ReadResult`.
    #[pyo3(signature = (cache = None, *, streams = None, write_strategy = None, force_full_refresh = false, skip_validation = false))]
    fn read(
        &self,
        py: Python<'_>,
        cache: Option<Bound<'_, PyAny>>,
        streams: Option<&Bound<'_, PyAny>>,
        write_strategy: Option<&Bound<'_, PyAny>>,
        force_full_refresh: bool,
        skip_validation: bool,
    ) -> PyResult<PyReadResult> {
        let cache_obj = match cache {
            Some(c) if !c.is_none() => c,
            _ => default_cache_object(py)?,
        };
        let cache: ab::Cache = cache_obj
            .cast::<PyCache>()
            .map_err(|_| {
                input_error(
                    "`cache` must be an airbyte_rs cache (DuckDBCache, PostgresCache)",
                    "pass e.g. ab.new_local_cache()",
                )
            })?
            .get()
            .cache
            .clone();
        let selection = stream_selection(streams)?;
        let strategy = self::write_strategy(write_strategy)?;
        let stopper = Stopper::default();
        let mut progress = Progress::new(
            py,
            format!("{} -> {}", self.name, cache_class(&cache)),
            "read",
        );
        let options = ab::ReadOptions {
            streams: selection,
            write_strategy: strategy,
            force_full_refresh,
            skip_validation,
            load_options: None,
            on_progress: Some(progress.read_callback()),
            on_connector_started: Some(stopper.on_started()),
            cancel: Some(stopper.cancel_flag()),
        };
        let inner = Arc::clone(&self.inner);
        let outcome = blocking::run(
            py,
            Some(&stopper),
            Some(&mut |py: Python<'_>| progress.tick(py)),
            move || {
                let source = inner.lock().unwrap_or_else(PoisonError::into_inner);
                source.read(&cache, options)
            },
        );
        match outcome {
            Ok(Ok(result)) => {
                progress.finish(
                    py,
                    result.processed_records(),
                    result.len(),
                    result.elapsed(),
                );
                Ok(PyReadResult::new(result, cache_obj.unbind()))
            }
            Ok(Err(e)) => {
                progress.abandon(py);
                Err(crate::errors::to_py_err(e))
            }
            Err(e) => {
                progress.abandon(py);
                Err(e)
            }
        }
    }
}

/// PyAirbyte's class name of a cache, for progress lines.
pub(crate) fn cache_class(cache: &ab::Cache) -> &'static str {
    match cache {
        ab::Cache::DuckDb(_) => "DuckDBCache",
        ab::Cache::Postgres(_) => "PostgresCache",
        #[allow(unreachable_patterns)]
        _ => "Cache",
    }
}

/// Prints (or writes) a spec as YAML or JSON.
pub(crate) fn print_spec(
    py: Python<'_>,
    spec: &serde_json::Value,
    format: &str,
    output_file: Option<&Bound<'_, PyAny>>,
    stderr: bool,
) -> PyResult<()> {
    let format = format.parse::<ab::SpecFormat>().py()?;
    let text = format.render(spec).py()?;
    if let Some(path) = output_file.filter(|p| !p.is_none()) {
        let path = path_text(path)?;
        return std::fs::write(&path, text).map_err(|e| {
            crate::errors::to_py_err(ab::Error::Io {
                path: path.into(),
                source: e,
            })
        });
    }
    let stream = py
        .import("sys")?
        .getattr(if stderr { "stderr" } else { "stdout" })?;
    stream.call_method1("write", (text,))?;
    Ok(())
}

/// A lazy, one-pass dataset of one stream read straight from a connector (PyAirbyte's
/// `LazyDataset`).
#[pyclass(name = "LazyDataset", module = "airbyte_rs")]
pub(crate) struct PyLazyDataset {
    stream_name: String,
    stream_metadata: serde_json::Value,
    records: Mutex<Option<RecordReceiver>>,
}

#[pymethods]
impl PyLazyDataset {
    /// The stream's name.
    #[getter]
    fn stream_name(&self) -> &str {
        &self.stream_name
    }

    /// The configured stream being read.
    #[getter]
    fn stream_metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &self.stream_metadata)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let mut guard = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(records) = guard.as_mut() else {
            return Ok(None);
        };
        match records.next(py) {
            Ok(Some(r)) => Ok(Some(r)),
            Ok(None) => {
                *guard = None;
                Ok(None)
            }
            Err(e) => {
                if let Some(r) = guard.take() {
                    r.close();
                }
                Err(e)
            }
        }
    }

    /// Stops the connector; iteration ends.
    fn close(&self) {
        if let Some(r) = self
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            r.close();
        }
    }

    /// Reads the rest into memory (PyAirbyte's `InMemoryDataset`).
    fn fetch_all(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let records = py.import("builtins")?.getattr("list")?.call1((slf,))?;
        let class = py
            .import("airbyte_rs.datasets")?
            .getattr("InMemoryDataset")?;
        let metadata = json_to_py(py, &slf.borrow().stream_metadata)?;
        Ok(class.call1((records, metadata))?.unbind())
    }

    /// All remaining records as a pandas DataFrame.
    fn to_pandas(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let records = py.import("builtins")?.getattr("list")?.call1((slf,))?;
        Ok(py
            .import("pandas")?
            .getattr("DataFrame")?
            .call1((records,))?
            .unbind())
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) {
        self.close();
    }
}
