//! Arrow data to Python through the Arrow C stream interface (`__arrow_c_stream__`, a
//! PyCapsule named `arrow_array_stream`): pyarrow, pandas and polars take the batches as they
//! are, with no Python object per value.

use std::sync::{Mutex, PoisonError};

use airbyte as ab;
use airbyte::arrow::ffi_stream::FFI_ArrowArrayStream;
use airbyte::arrow::record_batch::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::errors::value_error;

/// A one-shot Arrow stream: `pyarrow.RecordBatchReader.from_stream(s)`, `pyarrow.table(s)`
/// or `polars.DataFrame(s)` consume it.
#[pyclass(name = "ArrowStream", module = "airbyte_rs")]
pub(crate) struct ArrowStream {
    reader: Mutex<Option<Box<dyn RecordBatchReader + Send>>>,
}

impl ArrowStream {
    pub(crate) fn new(reader: Box<dyn RecordBatchReader + Send>) -> Self {
        Self {
            reader: Mutex::new(Some(reader)),
        }
    }

    /// Batches already in memory (query results); an empty result has an empty schema.
    pub(crate) fn from_batches(batches: Vec<RecordBatch>) -> Self {
        let schema = batches.first().map_or_else(
            || std::sync::Arc::new(ab::arrow::datatypes::Schema::empty()),
            RecordBatch::schema,
        );
        Self::new(Box::new(RecordBatchIterator::new(
            batches.into_iter().map(Ok),
            schema,
        )))
    }

    /// The stream as a capsule (taking it: a stream is read once).
    pub(crate) fn capsule<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let reader = self
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| value_error("this Arrow stream was already consumed"))?;
        // The consumer moves the stream out of the capsule (leaving its `release` empty); a
        // capsule never consumed releases the stream when it is freed (FFI_ArrowArrayStream's
        // Drop), so the batches are freed either way.
        let stream = FFI_ArrowArrayStream::new(reader);
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    /// The stream as a `pyarrow.Table`.
    pub(crate) fn into_pyarrow_table<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stream = Bound::new(py, self)?;
        let reader = py
            .import("pyarrow")?
            .getattr("RecordBatchReader")?
            .call_method1("from_stream", (stream,))?;
        reader.call_method0("read_all")
    }
}

#[pymethods]
impl ArrowStream {
    /// The Arrow PyCapsule stream protocol. A `requested_schema` is not supported (the
    /// consumer casts afterwards).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        self.capsule(py)
    }
}
