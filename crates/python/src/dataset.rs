//! `CachedDataset`: a stream's table in a cache (PyAirbyte's `airbyte.datasets.CachedDataset`).

use std::sync::Mutex;

use airbyte as ab;
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyCapsule, PyString, PyTuple};

use crate::arrow_stream::ArrowStream;
use crate::errors::{IntoPyResult, input_error};
use crate::json_values::map_to_py;
use crate::records::{RecordReceiver, record_channel};

/// PyAirbyte's default chunk size for Arrow datasets.
pub(crate) const DEFAULT_ARROW_MAX_CHUNK_SIZE: usize = 100_000;

/// A stream's table in a cache, optionally filtered. Each operation runs a fresh query.
#[pyclass(name = "CachedDataset", module = "airbyte_rs", frozen)]
pub(crate) struct PyCachedDataset {
    pub(crate) inner: ab::CachedDataset,
    /// The cache object it came from (`dataset.cache`).
    cache: Py<PyAny>,
}

impl PyCachedDataset {
    pub(crate) fn new(inner: ab::CachedDataset, cache: Py<PyAny>) -> Self {
        Self { inner, cache }
    }

    /// The rows as an Arrow stream (the query runs without the GIL).
    fn stream(&self, py: Python<'_>) -> PyResult<ArrowStream> {
        let dataset = self.inner.clone();
        let reader = py.detach(move || dataset.to_arrow_reader()).py()?;
        Ok(ArrowStream::new(reader))
    }

    /// The rows as a `pyarrow.Table`.
    pub(crate) fn table<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.stream(py)?.into_pyarrow_table(py)
    }
}

#[pymethods]
impl PyCachedDataset {
    /// The stream's name.
    #[getter]
    fn stream_name(&self) -> &str {
        self.inner.stream_name()
    }

    /// The cache holding the table.
    #[getter]
    fn cache(&self, py: Python<'_>) -> Py<PyAny> {
        self.cache.clone_ref(py)
    }

    /// The column names, internal `_airbyte_*` columns included.
    #[getter]
    fn column_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let dataset = self.inner.clone();
        py.detach(move || dataset.column_names()).py()
    }

    /// The SQL query behind the dataset.
    #[getter]
    fn sql(&self) -> String {
        self.inner.sql()
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let dataset = self.inner.clone();
        let n = py.detach(move || dataset.len()).py()?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn __repr__(&self) -> String {
        format!("CachedDataset(stream_name={:?})", self.inner.stream_name())
    }

    /// Iterates the rows as `StreamRecord` mappings.
    fn __iter__(&self, py: Python<'_>) -> PyResult<RowIterator> {
        let dataset = self.inner.clone();
        // The records iterator is made on the producer's thread: only the dataset crosses.
        let rows = move || -> Box<dyn Iterator<Item = ab::Result<ab::StreamRecord>>> {
            match dataset.records() {
                Ok(it) => Box::new(it.map(|r| r.map_err(ab::Error::from))),
                Err(e) => Box::new(std::iter::once(Err(ab::Error::from(e)))),
            }
        };
        let receiver = record_channel(py, rows, None, None)?;
        Ok(RowIterator {
            records: Mutex::new(Some(receiver)),
        })
    }

    /// A dataset with more `WHERE` conditions (SQL text, joined with `AND`).
    #[pyo3(signature = (*filter_expressions))]
    fn with_filter(
        &self,
        py: Python<'_>,
        filter_expressions: &Bound<'_, PyTuple>,
    ) -> PyResult<Self> {
        let mut dataset = self.inner.clone();
        for expr in filter_expressions.iter() {
            let text = expr.cast::<PyString>().map_err(|_| {
                input_error(
                    "`with_filter` takes SQL text",
                    "pass conditions as strings, e.g. with_filter(\"age > 30\")",
                )
            })?;
            dataset = dataset.with_filter(text.to_str()?);
        }
        Ok(Self::new(dataset, self.cache.clone_ref(py)))
    }

    /// The rows as a pandas DataFrame (through Arrow: no Python object per value).
    fn to_pandas<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.table(py)?.call_method0("to_pandas")
    }

    /// The rows as a `pyarrow.dataset.Dataset` (PyAirbyte's return type) of batches of at most
    /// `max_chunk_size` rows.
    #[pyo3(signature = (*, max_chunk_size = DEFAULT_ARROW_MAX_CHUNK_SIZE))]
    fn to_arrow<'py>(&self, py: Python<'py>, max_chunk_size: usize) -> PyResult<Bound<'py, PyAny>> {
        let table = self.table(py)?;
        let batches = table.call_method(
            "to_batches",
            (),
            Some(&[("max_chunksize", max_chunk_size.max(1))].into_py_dict(py)?),
        )?;
        let schema = table.getattr("schema")?;
        py.import("pyarrow.dataset")?.call_method(
            "dataset",
            (batches,),
            Some(&[("schema", schema)].into_py_dict(py)?),
        )
    }

    /// The Arrow PyCapsule stream protocol: `pyarrow.table(dataset)`, `polars.DataFrame(dataset)`.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        self.stream(py)?.capsule(py)
    }

    /// The rows as `Document`s for LLM pipelines (PyAirbyte's `to_documents`).
    #[pyo3(signature = (title_property = None, content_properties = None, metadata_properties = None, render_metadata = false))]
    fn to_documents<'py>(
        &self,
        py: Python<'py>,
        title_property: Option<String>,
        content_properties: Option<Vec<String>>,
        metadata_properties: Option<Vec<String>>,
        render_metadata: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut renderer = ab::DocumentRenderer::new().render_metadata(render_metadata);
        if let Some(t) = title_property {
            renderer = renderer.title(t);
        }
        if let Some(c) = content_properties {
            renderer = renderer.content(c);
        }
        if let Some(m) = metadata_properties {
            renderer = renderer.metadata(m);
        }
        let dataset = self.inner.clone();
        let documents = py
            .detach(move || -> ab::Result<Vec<ab::Document>> {
                let docs = dataset.to_documents(renderer).map_err(ab::Error::from)?;
                docs.map(|d| {
                    d.map_err(|e| ab::Error::input(e.to_string(), "check the property names"))
                })
                .collect()
            })
            .py()?;
        let class = py.import("airbyte_rs.documents")?.getattr("Document")?;
        let list = pyo3::types::PyList::empty(py);
        for d in documents {
            let kwargs = pyo3::types::PyDict::new(py);
            kwargs.set_item("id", d.id)?;
            kwargs.set_item("content", d.content)?;
            kwargs.set_item("metadata", map_to_py(py, &d.metadata)?)?;
            kwargs.set_item("last_modified", d.last_modified.map(|t| t.to_rfc3339()))?;
            list.append(class.call((), Some(&kwargs))?)?;
        }
        list.call_method0("__iter__")
    }
}

/// An iterator over a cached dataset's rows.
#[pyclass(name = "RowIterator", module = "airbyte_rs")]
pub(crate) struct RowIterator {
    records: Mutex<Option<RecordReceiver>>,
}

#[pymethods]
impl RowIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let mut guard = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(records) = guard.as_mut() else {
            return Ok(None);
        };
        let next = records.next(py);
        if !matches!(next, Ok(Some(_))) {
            *guard = None;
        }
        next
    }
}
