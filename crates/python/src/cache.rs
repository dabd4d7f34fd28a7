//! Caches: `CacheBase`, `DuckDBCache`, `PostgresCache` (PyAirbyte's `airbyte.caches`).

use airbyte as ab;
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::arrow_stream::ArrowStream;
use crate::dataset::{DEFAULT_ARROW_MAX_CHUNK_SIZE, PyCachedDataset};
use crate::errors::{IntoPyResult, input_error};
use crate::options::path_text;

/// What every cache offers: its streams as datasets, SQL, pandas and Arrow.
#[pyclass(name = "CacheBase", module = "airbyte_rs.caches", subclass, frozen)]
pub(crate) struct PyCache {
    pub(crate) cache: ab::Cache,
}

impl PyCache {
    fn dataset(slf: &Bound<'_, Self>, stream_name: &str) -> PyResult<PyCachedDataset> {
        let cache = slf.get().cache.clone();
        let name = stream_name.to_string();
        let dataset = slf.py().detach(move || cache.dataset(&name)).py()?;
        Ok(PyCachedDataset::new(
            dataset,
            slf.clone().into_any().unbind(),
        ))
    }

    fn stream_names(slf: &Bound<'_, Self>) -> PyResult<Vec<String>> {
        let cache = slf.get().cache.clone();
        slf.py().detach(move || cache.streams()).py()
    }
}

#[pymethods]
impl PyCache {
    /// The schema holding the tables.
    #[getter]
    fn schema_name(&self) -> &str {
        self.cache.schema_name()
    }

    /// The prefix of every table name.
    #[getter]
    fn table_prefix(&self) -> &str {
        self.cache.table_prefix()
    }

    /// The streams in the cache, as datasets by name.
    #[getter]
    fn streams<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(slf.py());
        for name in Self::stream_names(slf)? {
            let dataset = Self::dataset(slf, &name)?;
            out.set_item(&name, Bound::new(slf.py(), dataset)?)?;
        }
        Ok(out)
    }

    fn __getitem__(slf: &Bound<'_, Self>, stream_name: &str) -> PyResult<PyCachedDataset> {
        if !Self::stream_names(slf)?.iter().any(|n| n == stream_name) {
            return Err(PyKeyError::new_err(stream_name.to_string()));
        }
        Self::dataset(slf, stream_name)
    }

    fn __contains__(slf: &Bound<'_, Self>, stream_name: &str) -> PyResult<bool> {
        Ok(Self::stream_names(slf)?.iter().any(|n| n == stream_name))
    }

    fn __iter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(slf.py(), Self::stream_names(slf)?)?.call_method0("__iter__")
    }

    fn __len__(slf: &Bound<'_, Self>) -> PyResult<usize> {
        Ok(Self::stream_names(slf)?.len())
    }

    fn __bool__(&self) -> bool {
        true
    }

    fn __repr__(&self) -> String {
        self.cache.describe()
    }

    /// A stream's table as a `CachedDataset`.
    fn get_records(slf: &Bound<'_, Self>, stream_name: &str) -> PyResult<PyCachedDataset> {
        Self::dataset(slf, stream_name)
    }

    /// A stream's table as a pandas DataFrame.
    fn get_pandas_dataframe<'py>(
        slf: &Bound<'py, Self>,
        stream_name: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::dataset(slf, stream_name)?
            .table(slf.py())?
            .call_method0("to_pandas")
    }

    /// A stream's table as a `pyarrow.dataset.Dataset`.
    #[pyo3(signature = (stream_name, *, max_chunk_size = DEFAULT_ARROW_MAX_CHUNK_SIZE))]
    fn get_arrow_dataset<'py>(
        slf: &Bound<'py, Self>,
        stream_name: &str,
        max_chunk_size: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let dataset = Bound::new(slf.py(), Self::dataset(slf, stream_name)?)?;
        let kwargs = PyDict::new(slf.py());
        kwargs.set_item("max_chunk_size", max_chunk_size)?;
        dataset.call_method("to_arrow", (), Some(&kwargs))
    }

    /// Runs SQL for its effect: one statement, or a list of them in one transaction.
    fn execute_sql(&self, py: Python<'_>, sql: &Bound<'_, PyAny>) -> PyResult<()> {
        let text = if let Ok(s) = sql.cast::<PyString>() {
            s.to_str()?.to_owned()
        } else {
            let statements: Vec<String> = sql.extract().map_err(|_| {
                input_error(
                    "`sql` must be a string or a list of strings",
                    "pass SQL text",
                )
            })?;
            format!("BEGIN TRANSACTION;\n{};\nCOMMIT;", statements.join(";\n"))
        };
        let cache = self.cache.clone();
        py.detach(move || cache.execute(&text)).py()
    }

    /// Runs a query and returns its rows as dicts (at most `max_records`).
    #[pyo3(signature = (sql, *, max_records = None))]
    fn run_sql_query<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        max_records: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let cache = self.cache.clone();
        let batches = py.detach(move || cache.query(&sql)).py()?;
        let table = ArrowStream::from_batches(batches).into_pyarrow_table(py)?;
        let table = match max_records {
            Some(n) => table.call_method1("slice", (0, n))?,
            None => table,
        };
        table.call_method0("to_pylist")
    }

    /// Query results as Arrow (an `ArrowStream` for `pyarrow.table(...)` or polars).
    fn query_arrow(&self, py: Python<'_>, sql: String) -> PyResult<ArrowStream> {
        let cache = self.cache.clone();
        let batches = py.detach(move || cache.query(&sql)).py()?;
        Ok(ArrowStream::from_batches(batches))
    }

    /// Closes the cache's connections (they reopen on the next use).
    fn close(&self) {}

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) {
        self.close();
    }
}

/// A DuckDB cache: one local file (PyAirbyte's `DuckDBCache`).
#[pyclass(name = "DuckDBCache", module = "airbyte_rs.caches", extends = PyCache, frozen)]
pub(crate) struct PyDuckDbCache {
    db_path: String,
    cache_dir: Option<String>,
    cleanup: bool,
}

#[pymethods]
impl PyDuckDbCache {
    /// `db_path` is the database file (`":memory:"` for none). `cache_dir` and `cleanup` are
    /// accepted for PyAirbyte compatibility: airbyte-rs writes no batch files.
    #[new]
    #[pyo3(signature = (db_path, schema_name = "main", table_prefix = None, cache_dir = None, cleanup = true))]
    fn new(
        db_path: &Bound<'_, PyAny>,
        schema_name: &str,
        table_prefix: Option<String>,
        cache_dir: Option<&Bound<'_, PyAny>>,
        cleanup: bool,
    ) -> PyResult<PyClassInitializer<Self>> {
        let db_path = path_text(db_path)?;
        let cache = ab::DuckDbCache::new(&db_path)
            .with_schema_name(schema_name)
            .with_table_prefix(table_prefix.unwrap_or_default());
        let cache_dir = cache_dir
            .filter(|d| !d.is_none())
            .map(path_text)
            .transpose()?;
        Ok(PyClassInitializer::from(PyCache {
            cache: cache.into(),
        })
        .add_subclass(Self {
            db_path,
            cache_dir,
            cleanup,
        }))
    }

    /// The database file.
    #[getter]
    fn db_path(&self) -> &str {
        &self.db_path
    }

    /// PyAirbyte's batch-file directory (unused here).
    #[getter]
    fn cache_dir(&self) -> Option<&str> {
        self.cache_dir.as_deref()
    }

    /// PyAirbyte's batch-file cleanup flag (unused here).
    #[getter]
    fn cleanup(&self) -> bool {
        self.cleanup
    }

    fn __repr__(&self) -> String {
        format!("DuckDBCache(db_path={:?})", self.db_path)
    }
}

/// A PostgreSQL cache (PyAirbyte's `PostgresCache`).
#[pyclass(name = "PostgresCache", module = "airbyte_rs.caches", extends = PyCache, frozen)]
pub(crate) struct PyPostgresCache {
    host: String,
    port: u16,
    database: String,
    username: String,
}

#[pymethods]
impl PyPostgresCache {
    /// A cache in `database` on `host:port`. `password` may be a `SecretString` or a
    /// `secret_reference::NAME`.
    #[new]
    #[pyo3(signature = (host, port, username, password = None, database = "postgres", schema_name = "airbyte_raw", table_prefix = None))]
    fn new(
        host: String,
        port: u16,
        username: String,
        password: Option<String>,
        database: &str,
        schema_name: &str,
        table_prefix: Option<String>,
    ) -> PyClassInitializer<Self> {
        let mut cache = ab::PostgresCache::new(&host, port, database, &username)
            .with_schema_name(schema_name)
            .with_table_prefix(table_prefix.unwrap_or_default());
        if let Some(p) = password {
            cache = cache.with_password(ab::Password::new(p));
        }
        PyClassInitializer::from(PyCache {
            cache: cache.into(),
        })
        .add_subclass(Self {
            host,
            port,
            database: database.to_string(),
            username,
        })
    }

    #[getter]
    fn host(&self) -> &str {
        &self.host
    }

    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    #[getter]
    fn database(&self) -> &str {
        &self.database
    }

    #[getter]
    fn username(&self) -> &str {
        &self.username
    }

    fn __repr__(&self) -> String {
        format!(
            "PostgresCache(host={:?}, port={}, database={:?}, username={:?})",
            self.host, self.port, self.database, self.username
        )
    }
}

/// A `DuckDBCache` object for a library cache.
pub(crate) fn duckdb_object<'py>(
    py: Python<'py>,
    cache: ab::DuckDbCache,
) -> PyResult<Bound<'py, PyAny>> {
    let db_path = cache.db_path().to_string_lossy().into_owned();
    let init = PyClassInitializer::from(PyCache {
        cache: cache.into(),
    })
    .add_subclass(PyDuckDbCache {
        db_path,
        cache_dir: None,
        cleanup: true,
    });
    Ok(Bound::new(py, init)?.into_any())
}

/// The default cache (`.cache/default_cache/default_cache.duckdb`), as a `DuckDBCache`.
pub(crate) fn default_cache_object(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    duckdb_object(py, ab::default_cache())
}
