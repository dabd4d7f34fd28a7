//! Library errors as PyAirbyte's exception classes (`airbyte_rs.exceptions`), so that the
//! `except` clauses of code moving over from PyAirbyte catch the same failures.

use airbyte as ab;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::json_values::json_to_py;

/// The Python module holding the exception classes.
const EXCEPTIONS_MODULE: &str = "airbyte_rs.exceptions";

/// Converts a library error into an instance of its PyAirbyte class, with the class's fields
/// (`message`, `guidance`, `help_url`, `log_file`, `log_text`, `context`).
pub(crate) fn to_py_err(err: ab::Error) -> PyErr {
    Python::attach(|py| build(py, &err).unwrap_or_else(|e| e))
}

fn build(py: Python<'_>, err: &ab::Error) -> PyResult<PyErr> {
    let module = py.import(EXCEPTIONS_MODULE)?;
    // The most specific class the Python module defines (it defines them all; a newer kind
    // from the library still lands on its nearest ancestor).
    let class = err
        .kinds()
        .into_iter()
        .find_map(|kind| module.getattr(kind).ok())
        .map_or_else(|| module.getattr("PyAirbyteError"), Ok)?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("message", err.to_string())?;
    kwargs.set_item("guidance", err.guidance())?;
    kwargs.set_item("help_url", err.help_url())?;
    kwargs.set_item(
        "log_file",
        err.log_file().map(|p| p.to_string_lossy().into_owned()),
    )?;
    if ab::print_full_logs()
        && let Some(path) = err.log_file()
        && let Ok(text) = std::fs::read_to_string(path)
    {
        kwargs.set_item("log_text", text)?;
    }
    let context = serde_json::Value::Object(err.context());
    kwargs.set_item("context", json_to_py(py, &context)?)?;
    let instance = class.call((), Some(&kwargs))?;
    Ok(PyErr::from_value(instance))
}

/// A `PyAirbyteInputError` for a bad argument detected in the bindings.
pub(crate) fn input_error(message: impl Into<String>, guidance: impl Into<String>) -> PyErr {
    to_py_err(ab::Error::input(message, guidance))
}

/// A Python `ValueError`.
pub(crate) fn value_error(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}

/// An internal failure of the bindings (a worker thread that panicked).
pub(crate) fn internal_error(message: impl Into<String>) -> PyErr {
    Python::attach(|py| {
        py.import(EXCEPTIONS_MODULE)
            .and_then(|m| m.getattr("PyAirbyteInternalError"))
            .and_then(|c| c.call1((message.into(),)))
            .map(PyErr::from_value)
            .unwrap_or_else(|_| PyRuntimeError::new_err("internal error in airbyte_rs"))
    })
}

/// `Result<T, ab::Error>` → `PyResult<T>`.
pub(crate) trait IntoPyResult<T> {
    /// Converts the error into its PyAirbyte exception.
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for ab::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py_err)
    }
}

impl<T> IntoPyResult<T> for Result<T, ab::CacheError> {
    fn py(self) -> PyResult<T> {
        self.map_err(|e| to_py_err(ab::Error::from(e)))
    }
}
