//! `Destination` (PyAirbyte's `airbyte.destinations.base.Destination`).

use std::sync::{Arc, Mutex, PoisonError};

use airbyte as ab;
use pyo3::prelude::*;
use pyo3::types::PyBool;

use crate::blocking::{self, Stopper};
use crate::cache::PyCache;
use crate::errors::{IntoPyResult, input_error, to_py_err};
use crate::json_values::json_to_py;
use crate::options::{config_value, stream_selection, write_strategy};
use crate::progress::Progress;
use crate::results::{PyReadResult, PyWriteResult};
use crate::source::{PySource, print_spec};

/// A destination connector.
#[pyclass(name = "Destination", module = "airbyte_rs", frozen)]
pub(crate) struct PyDestination {
    inner: Arc<Mutex<ab::Destination>>,
    name: String,
}

impl PyDestination {
    pub(crate) fn new(destination: ab::Destination) -> Self {
        Self {
            name: destination.name().to_string(),
            inner: Arc::new(Mutex::new(destination)),
        }
    }

    fn call<T, F>(&self, py: Python<'_>, f: F) -> PyResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut ab::Destination) -> ab::Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking::run(py, None, None, move || {
            let mut d = inner.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut d)
        })?
        .py()
    }
}

/// `cache=` / `state_cache=` of a write: `None` (the default), `False` (none), or a cache.
fn cache_choice(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<ab::CacheChoice> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(ab::CacheChoice::Default);
    };
    if let Ok(b) = value.cast::<PyBool>() {
        return if b.is_true() {
            Ok(ab::CacheChoice::Default)
        } else {
            Ok(ab::CacheChoice::None)
        };
    }
    let cache = value.cast::<PyCache>().map_err(|_| {
        input_error(
            format!("`{what}` must be None, False or an airbyte_rs cache"),
            "pass e.g. cache=ab.new_local_cache(), or cache=False to stream straight through",
        )
    })?;
    Ok(cache.get().cache.clone().into())
}

#[pymethods]
impl PyDestination {
    /// The connector's name, e.g. `destination-duckdb`.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    fn __repr__(&self) -> String {
        format!("Destination(name={:?})", self.name)
    }

    /// Sets the config, validating it against the spec unless `validate=False`.
    #[pyo3(signature = (config, *, validate = true))]
    fn set_config(
        &self,
        py: Python<'_>,
        config: &Bound<'_, PyAny>,
        validate: bool,
    ) -> PyResult<()> {
        let value = config_value(Some(config))?.unwrap_or(serde_json::Value::Null);
        self.call(py, move |d| d.set_config(value, validate))
    }

    /// The config as given.
    fn get_config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let config = self.call(py, |d| d.get_config())?;
        json_to_py(py, &config)
    }

    /// The JSON schema of the config.
    #[getter]
    fn config_spec<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let spec = self.call(py, |d| d.config_spec().cloned())?;
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
        let spec = self.call(py, |d| d.config_spec().cloned())?;
        print_spec(py, &spec, format, output_file, stderr)
    }

    /// The connector's documentation page.
    #[getter]
    fn docs_url(&self, py: Python<'_>) -> PyResult<String> {
        self.call(py, |d| Ok(d.docs_url()))
    }

    /// The installed version, when known.
    #[getter]
    fn connector_version(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.call(py, |d| Ok(d.connector_version()))
    }

    /// Installs the connector, if it is not yet.
    fn install(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |d| d.install())
    }

    /// Removes what `install()` made.
    fn uninstall(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |d| d.uninstall())
    }

    /// Runs the connector's `check`.
    fn check(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |d| d.check())
    }

    /// Writes a source's streams (read into `cache` first, unless `cache=False`) or a
    /// `ReadResult`'s to the destination.
    #[pyo3(signature = (source_data, *, streams = None, cache = None, state_cache = None, write_strategy = None, force_full_refresh = false))]
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        py: Python<'_>,
        source_data: &Bound<'_, PyAny>,
        streams: Option<&Bound<'_, PyAny>>,
        cache: Option<&Bound<'_, PyAny>>,
        state_cache: Option<&Bound<'_, PyAny>>,
        write_strategy: Option<&Bound<'_, PyAny>>,
        force_full_refresh: bool,
    ) -> PyResult<PyWriteResult> {
        enum Data {
            Source(Arc<Mutex<ab::Source>>, String),
            Result(Py<PyReadResult>, String),
        }
        let data = if let Ok(s) = source_data.cast::<PySource>() {
            let s = s.get();
            Data::Source(Arc::clone(&s.inner), s.inner_name())
        } else if let Ok(r) = source_data.cast::<PyReadResult>() {
            let name = r.get().inner.source_name().to_string();
            Data::Result(r.clone().unbind(), name)
        } else {
            return Err(input_error(
                "`source_data` must be a Source or a ReadResult",
                "pass the source itself, or the result of `source.read()`",
            ));
        };
        let source_name = match &data {
            Data::Source(_, n) | Data::Result(_, n) => n.clone(),
        };
        let stopper = Stopper::default();
        let mut progress = Progress::new(py, format!("{source_name} -> {}", self.name), "written");
        let options = ab::WriteOptions {
            streams: stream_selection(streams)?,
            cache: cache_choice(cache, "cache")?,
            state_cache: cache_choice(state_cache, "state_cache")?,
            write_strategy: self::write_strategy(write_strategy)?,
            force_full_refresh,
            on_progress: Some(progress.write_callback()),
            on_source_started: Some(stopper.on_started()),
            ..Default::default()
        };
        let destination = Arc::clone(&self.inner);
        let outcome = blocking::run(
            py,
            Some(&stopper),
            Some(&mut |py: Python<'_>| progress.tick(py)),
            move || {
                let destination = destination.lock().unwrap_or_else(PoisonError::into_inner);
                match data {
                    Data::Source(source, _) => {
                        let source = source.lock().unwrap_or_else(PoisonError::into_inner);
                        destination.write(&*source, options)
                    }
                    Data::Result(result, _) => destination.write(&result.get().inner, options),
                }
            },
        );
        match outcome {
            Ok(Ok(result)) => {
                progress.finish(
                    py,
                    result.processed_records(),
                    result.streams().len(),
                    result.elapsed(),
                );
                Ok(PyWriteResult { inner: result })
            }
            Ok(Err(e)) => {
                progress.abandon(py);
                Err(to_py_err(e))
            }
            Err(e) => {
                progress.abandon(py);
                Err(e)
            }
        }
    }
}
