//! `ReadResult` and `WriteResult` (PyAirbyte's `airbyte.results`).

use airbyte as ab;
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::dataset::PyCachedDataset;
use crate::errors::IntoPyResult;

/// The result of a read: a mapping of stream name → `CachedDataset`.
#[pyclass(name = "ReadResult", module = "airbyte_rs.results", frozen, mapping)]
pub(crate) struct PyReadResult {
    pub(crate) inner: ab::ReadResult,
    cache: Py<PyAny>,
}

impl PyReadResult {
    pub(crate) fn new(inner: ab::ReadResult, cache: Py<PyAny>) -> Self {
        Self { inner, cache }
    }

    fn dataset(&self, py: Python<'_>, stream: &str) -> PyResult<PyCachedDataset> {
        if !self.inner.contains(stream) {
            return Err(PyKeyError::new_err(stream.to_string()));
        }
        let dataset = py.detach(|| self.inner.get(stream)).py()?;
        Ok(PyCachedDataset::new(dataset, self.cache.clone_ref(py)))
    }

    fn names(&self) -> Vec<String> {
        self.inner.stream_names().map(str::to_string).collect()
    }
}

#[pymethods]
impl PyReadResult {
    /// The source's name.
    #[getter]
    fn source_name(&self) -> &str {
        self.inner.source_name()
    }

    /// How many records the read processed.
    #[getter]
    fn processed_records(&self) -> u64 {
        self.inner.processed_records()
    }

    /// The cache the streams were read into.
    #[getter]
    fn cache(&self, py: Python<'_>) -> Py<PyAny> {
        self.cache.clone_ref(py)
    }

    /// The datasets by stream name.
    #[getter]
    fn streams<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for name in self.names() {
            out.set_item(&name, Bound::new(py, self.dataset(py, &name)?)?)?;
        }
        Ok(out)
    }

    /// Records read per stream.
    #[getter]
    fn stream_record_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.inner
            .streams()
            .iter()
            .map(|(k, v)| (k.clone(), v.records))
            .collect()
    }

    /// Seconds the read took.
    #[getter]
    fn elapsed_seconds(&self) -> f64 {
        self.inner.elapsed().as_secs_f64()
    }

    fn __getitem__(&self, py: Python<'_>, stream: &str) -> PyResult<PyCachedDataset> {
        self.dataset(py, stream)
    }

    fn __contains__(&self, stream: &str) -> bool {
        self.inner.contains(stream)
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(py, self.names())?.call_method0("__iter__")
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// The stream names.
    fn keys(&self) -> Vec<String> {
        self.names()
    }

    /// The datasets, in stream-name order.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyCachedDataset>>> {
        self.names()
            .iter()
            .map(|n| Bound::new(py, self.dataset(py, n)?))
            .collect()
    }

    /// `(stream name, dataset)` pairs.
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Vec<(String, Bound<'py, PyCachedDataset>)>> {
        self.names()
            .into_iter()
            .map(|n| {
                let d = Bound::new(py, self.dataset(py, &n)?)?;
                Ok((n, d))
            })
            .collect()
    }

    /// The dataset of `stream`, or `default` when the read did not include it.
    #[pyo3(signature = (stream, default = None))]
    fn get(&self, py: Python<'_>, stream: &str, default: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        if self.inner.contains(stream) {
            Ok(Bound::new(py, self.dataset(py, stream)?)?
                .into_any()
                .unbind())
        } else {
            Ok(default.unwrap_or_else(|| py.None()))
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "ReadResult(source_name={:?}, processed_records={}, streams={:?})",
            self.inner.source_name(),
            self.inner.processed_records(),
            self.names()
        )
    }
}

/// The result of a write to a destination.
#[pyclass(name = "WriteResult", module = "airbyte_rs.results", frozen)]
pub(crate) struct PyWriteResult {
    pub(crate) inner: ab::WriteResult,
}

#[pymethods]
impl PyWriteResult {
    /// How many records were delivered to the destination.
    #[getter]
    fn processed_records(&self) -> u64 {
        self.inner.processed_records()
    }

    /// How many records the destination confirmed committed, when it says.
    #[getter]
    fn committed_records(&self) -> Option<u64> {
        self.inner.committed_records()
    }

    /// The destination's name.
    #[getter]
    fn destination_name(&self) -> &str {
        self.inner.destination_name()
    }

    /// The source's name.
    #[getter]
    fn source_name(&self) -> &str {
        self.inner.source_name()
    }

    /// Per stream: records sent, records committed, states confirmed.
    #[getter]
    fn streams<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (name, s) in self.inner.streams() {
            let d = PyDict::new(py);
            d.set_item("records_sent", s.records_sent)?;
            d.set_item("records_committed", s.records_committed)?;
            d.set_item("states_confirmed", s.states_confirmed)?;
            out.set_item(name, d)?;
        }
        Ok(out)
    }

    /// The destination's log file.
    #[getter]
    fn log_file(&self) -> Option<String> {
        self.inner
            .log_file()
            .map(|p| p.to_string_lossy().into_owned())
    }

    /// Warnings raised during the write.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings().to_vec()
    }

    /// Seconds the write took.
    #[getter]
    fn elapsed_seconds(&self) -> f64 {
        self.inner.elapsed().as_secs_f64()
    }

    fn __repr__(&self) -> String {
        format!(
            "WriteResult(destination_name={:?}, processed_records={})",
            self.inner.destination_name(),
            self.inner.processed_records()
        )
    }
}
