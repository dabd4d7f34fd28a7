//! Datasets: a stream's table (optionally filtered) as rows, Arrow batches or Parquet.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit};
use arrow::datatypes::{Float32Type, Float64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type};
use arrow::record_batch::RecordBatch;
use serde_json::{Map, Number, Value};

use arrow::datatypes::SchemaRef;

use crate::documents::{DocumentError, DocumentRenderer, Documents};
use crate::error::{CacheError, Result};
use crate::names::{ColumnNamer, Normalizer};
use crate::records::{AB_INTERNAL_COLUMNS, RecordOptions, StreamRecord, StreamRecordHandler};
use crate::types::{SqlType, format_date, format_time, format_timestamp};

/// One row of a dataset: column name → value (JSON columns parsed, dates and times as ISO
/// 8601 text).
pub type Row = Map<String, Value>;

/// A stream's table in a cache, optionally filtered. Cheap to clone; each operation runs a
/// fresh query, so it sees the latest committed data.
#[derive(Clone)]
pub struct CachedDataset {
    source: DatasetSource,
    stream: String,
    qualified: String,
    filters: Vec<String>,
    json_columns: Arc<HashSet<String>>,
}

/// Where a dataset's rows come from: the backend's way of running a query.
#[derive(Clone)]
pub(crate) enum DatasetSource {
    /// A DuckDB database (a connection of its own per operation).
    DuckDb(Arc<crate::duckdb::Instance>),
    /// A PostgreSQL database (a connection of its own per operation).
    Postgres(crate::postgres::Connector),
}

/// What a query hands its consumer, in order: the schema once, then the batches.
pub(crate) enum BatchEvent {
    Schema(SchemaRef),
    Batch(RecordBatch),
}

impl DatasetSource {
    /// Checks that `sql` can run (a bad filter fails here, not in an iterator).
    fn check(&self, sql: &str) -> Result<()> {
        match self {
            Self::DuckDb(instance) => crate::duckdb::check_query(instance, sql),
            Self::Postgres(connector) => connector.check_query(sql),
        }
    }

    /// Runs `sql`, streaming its result to `f` (which returns `false` to stop early).
    fn for_each_batch(
        &self,
        sql: &str,
        f: &mut dyn FnMut(BatchEvent) -> Result<bool>,
    ) -> Result<()> {
        match self {
            Self::DuckDb(instance) => crate::duckdb::for_each_batch(instance, sql, f),
            Self::Postgres(connector) => connector.for_each_batch(sql, f),
        }
    }

    /// The single BIGINT of a `SELECT count(*) …`.
    fn count(&self, sql: &str) -> Result<u64> {
        match self {
            Self::DuckDb(instance) => crate::duckdb::count(instance, sql),
            Self::Postgres(connector) => connector.count(sql),
        }
    }

    /// Collects a query's schema and all its batches.
    fn collect(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let mut schema = None;
        let mut batches = Vec::new();
        self.for_each_batch(sql, &mut |e| {
            match e {
                BatchEvent::Schema(s) => schema = Some(s),
                BatchEvent::Batch(b) => batches.push(b),
            }
            Ok(true)
        })?;
        let schema = schema.unwrap_or_else(|| Arc::new(arrow::datatypes::Schema::empty()));
        Ok((schema, batches))
    }
}

/// The columns of a dataset whose text is JSON: JSON columns, `_airbyte_meta`, and text columns
/// whose declared type is JSON (builds without DuckDB's JSON type store it as text).
pub(crate) fn json_columns(
    columns: &[(String, SqlType)],
    declared_schema: Option<&str>,
    normalizer: Normalizer,
) -> HashSet<String> {
    let mut json_columns: HashSet<String> = columns
        .iter()
        .filter(|(_, t)| *t == SqlType::Json)
        .map(|(c, _)| c.clone())
        .collect();
    json_columns.insert(crate::loader::META_COLUMN.to_string());
    if let Some(schema) = declared_schema.and_then(|d| serde_json::from_str::<Value>(d).ok())
        && let Some(props) = schema.get("properties").and_then(Value::as_object)
    {
        let mut namer =
            ColumnNamer::new(crate::loader::INTERNAL_COLUMNS).with_normalizer(normalizer);
        for (prop, s) in props {
            if let Ok(col) = namer.assign(prop)
                && SqlType::from_json_schema(s) == SqlType::Json
            {
                json_columns.insert(col);
            }
        }
    }
    json_columns
}

impl std::fmt::Debug for CachedDataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedDataset")
            .field("stream", &self.stream)
            .field("table", &self.qualified)
            .field("filters", &self.filters)
            .finish()
    }
}

impl CachedDataset {
    /// A dataset over `qualified` (`"schema"."table"`).
    pub(crate) fn new(
        source: DatasetSource,
        stream: &str,
        qualified: String,
        json_columns: HashSet<String>,
    ) -> Self {
        Self {
            source,
            stream: stream.to_string(),
            qualified,
            filters: Vec::new(),
            json_columns: Arc::new(json_columns),
        }
    }

    /// The stream's name.
    pub fn stream_name(&self) -> &str {
        &self.stream
    }

    /// The dataset's query.
    pub fn sql(&self) -> String {
        let mut sql = format!("SELECT * FROM {}", self.qualified);
        for (i, f) in self.filters.iter().enumerate() {
            sql.push_str(if i == 0 { " WHERE (" } else { " AND (" });
            sql.push_str(f);
            sql.push(')');
        }
        sql
    }

    /// The same dataset with one more SQL `WHERE` condition (conditions are AND-ed).
    pub fn with_filter(&self, sql_where: impl Into<String>) -> Self {
        let mut out = self.clone();
        out.filters.push(sql_where.into());
        out
    }

    /// The number of rows.
    pub fn len(&self) -> Result<u64> {
        let sql = format!("SELECT count(*) FROM ({}) AS _abrs_rows", self.sql());
        self.source.count(&sql)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The column names, in table order.
    pub fn column_names(&self) -> Result<Vec<String>> {
        let sql = format!("SELECT * FROM ({}) AS _abrs_rows LIMIT 0", self.sql());
        let (schema, _) = self.source.collect(&sql)?;
        Ok(schema.fields().iter().map(|f| f.name().clone()).collect())
    }

    /// Streams the rows, a batch at a time (memory stays bounded whatever the table size).
    pub fn iter(&self) -> Result<RowIter> {
        let sql = self.sql();
        // Fail here, not in the iterator, for a bad filter.
        self.source.check(&sql)?;
        let (tx, rx) = sync_channel::<Result<RecordBatch>>(1);
        let source = self.source.clone();
        std::thread::Builder::new()
            .name("abrs-dataset".into())
            .spawn(move || {
                let result = source.for_each_batch(&sql, &mut |e| match e {
                    BatchEvent::Schema(_) => Ok(true),
                    BatchEvent::Batch(b) => Ok(tx.send(Ok(b)).is_ok()),
                });
                if let Err(e) = result {
                    let _ = tx.send(Err(e));
                }
            })
            .map_err(|source| CacheError::Io {
                action: "start a thread to read",
                path: self.qualified.clone().into(),
                source,
            })?;
        Ok(RowIter {
            rx,
            batch: None,
            row: 0,
            json_columns: self.json_columns.clone(),
        })
    }

    /// The rows as [`StreamRecord`]s, as PyAirbyte's datasets give them: a field is found by
    /// any spelling of its name (`Id`, `ID`, `id`), internal columns included.
    ///
    /// ```no_run
    /// # fn f(users: abrs_caches::CachedDataset) -> abrs_caches::Result<()> {
    /// for record in users.records()? {
    ///     println!("{:?}", record?.get("ID"));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn records(&self) -> Result<impl Iterator<Item = Result<StreamRecord>> + use<>> {
        let properties: Map<String, Value> = self
            .column_names()?
            .into_iter()
            .filter(|c| !AB_INTERNAL_COLUMNS.contains(&c.as_str()))
            .map(|c| (c, Value::Object(Map::new())))
            .collect();
        let schema = Value::Object(Map::from_iter([(
            "properties".to_string(),
            Value::Object(properties),
        )]));
        // Columns are already normalized and carry their own internal columns.
        let options = RecordOptions {
            normalize_keys: true,
            prune_extra_fields: false,
            with_internal_columns: false,
        };
        let handler = StreamRecordHandler::new(&schema, options).into_shared();
        Ok(self
            .iter()?
            .map(move |row| row.map(|row| handler.record_from_data(row, None))))
    }

    /// The rows as documents for LLM pipelines (PyAirbyte's `to_documents`), rendered one at a
    /// time as the rows stream in. Ids are the values of `renderer.primary_key_properties`
    /// (a cache does not record the stream's primary key), else each row's `_airbyte_raw_id`.
    ///
    /// ```no_run
    /// # fn f(users: abrs_caches::CachedDataset) -> Result<(), abrs_caches::documents::DocumentError> {
    /// use abrs_caches::documents::DocumentRenderer;
    /// let renderer = DocumentRenderer::new().title("name").content(["bio"]);
    /// for doc in users.to_documents(renderer)? {
    ///     println!("{}", doc?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn to_documents(
        &self,
        renderer: DocumentRenderer,
    ) -> Result<
        Documents<impl Iterator<Item = std::result::Result<StreamRecord, DocumentError>> + use<>>,
    > {
        let records = self.records()?.map(|r| r.map_err(DocumentError::from));
        Ok(renderer.render_documents(records))
    }

    /// All rows as one Arrow stream, its schema known even with no rows: what the Arrow C
    /// stream interface hands to pyarrow, pandas or polars. The query runs now; a bad filter
    /// fails here.
    pub fn to_arrow_reader(
        &self,
    ) -> Result<Box<dyn arrow::record_batch::RecordBatchReader + Send>> {
        let (schema, batches) = self.source.collect(&self.sql())?;
        Ok(Box::new(arrow::record_batch::RecordBatchIterator::new(
            batches.into_iter().map(Ok),
            schema,
        )))
    }

    /// All rows as Arrow batches of at most `chunk_size` rows.
    pub fn to_arrow(&self, chunk_size: usize) -> Result<Vec<RecordBatch>> {
        let chunk_size = chunk_size.max(1);
        let (schema, batches) = self.source.collect(&self.sql())?;
        let mut out = Vec::new();
        let mut pending: Vec<RecordBatch> = Vec::new();
        let mut pending_rows = 0;
        let arrow_err = |source| CacheError::Arrow {
            context: "re-chunking query results".into(),
            source,
        };
        for b in batches {
            let mut offset = 0;
            while offset < b.num_rows() {
                let take = (chunk_size - pending_rows).min(b.num_rows() - offset);
                pending.push(b.slice(offset, take));
                pending_rows += take;
                offset += take;
                if pending_rows == chunk_size {
                    out.push(arrow::compute::concat_batches(&schema, &pending).map_err(arrow_err)?);
                    pending.clear();
                    pending_rows = 0;
                }
            }
        }
        if pending_rows > 0 {
            out.push(arrow::compute::concat_batches(&schema, &pending).map_err(arrow_err)?);
        }
        Ok(out)
    }

    /// Writes all rows to a Parquet file (zstd-compressed).
    pub fn to_parquet(&self, path: impl AsRef<Path>) -> Result<u64> {
        let path = path.as_ref();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
            .build();
        let perr = |source| CacheError::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let mut writer = None;
        let mut rows = 0u64;
        self.source.for_each_batch(&self.sql(), &mut |e| {
            match e {
                BatchEvent::Schema(schema) => {
                    let file = std::fs::File::create(path).map_err(|source| CacheError::Io {
                        action: "create",
                        path: path.to_path_buf(),
                        source,
                    })?;
                    writer = Some(
                        parquet::arrow::ArrowWriter::try_new(file, schema, Some(props.clone()))
                            .map_err(perr)?,
                    );
                }
                BatchEvent::Batch(b) => {
                    rows += b.num_rows() as u64;
                    if let Some(w) = writer.as_mut() {
                        w.write(&b).map_err(perr)?;
                    }
                }
            }
            Ok(true)
        })?;
        if let Some(w) = writer {
            w.close().map_err(perr)?;
        }
        Ok(rows)
    }
}

/// Rows of a dataset, streamed. Yields `Err` once if the query fails, then ends.
pub struct RowIter {
    rx: Receiver<Result<RecordBatch>>,
    batch: Option<RecordBatch>,
    row: usize,
    json_columns: Arc<HashSet<String>>,
}

impl Iterator for RowIter {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(b) = &self.batch
                && self.row < b.num_rows()
            {
                let row = batch_row(b, self.row, &self.json_columns);
                self.row += 1;
                return Some(Ok(row));
            }
            match self.rx.recv() {
                Ok(Ok(b)) => {
                    self.batch = Some(b);
                    self.row = 0;
                }
                Ok(Err(e)) => return Some(Err(e)),
                Err(_) => return None,
            }
        }
    }
}

/// Row `i` of a batch as a JSON map.
pub fn batch_row(batch: &RecordBatch, i: usize, json_columns: &HashSet<String>) -> Row {
    let schema = batch.schema();
    let mut row = Map::with_capacity(batch.num_columns());
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        let json = json_columns.contains(field.name());
        row.insert(field.name().clone(), cell(col.as_ref(), i, json));
    }
    row
}

fn num(v: Option<Number>) -> Value {
    v.map_or(Value::Null, Value::Number)
}

/// One cell as a JSON value.
fn cell(col: &dyn Array, i: usize, json: bool) -> Value {
    if col.is_null(i) {
        return Value::Null;
    }
    match col.data_type() {
        DataType::Boolean => Value::Bool(col.as_boolean().value(i)),
        DataType::Int8 => Value::from(col.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => Value::from(col.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => Value::from(col.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => Value::from(col.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => Value::from(col.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => Value::from(col.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => Value::from(col.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => Value::from(col.as_primitive::<UInt64Type>().value(i)),
        DataType::Float32 => num(Number::from_f64(
            col.as_primitive::<Float32Type>().value(i) as f64
        )),
        DataType::Float64 => num(Number::from_f64(col.as_primitive::<Float64Type>().value(i))),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let s = match col.data_type() {
                DataType::Utf8 => col.as_string::<i32>().value(i),
                DataType::LargeUtf8 => col.as_string::<i64>().value(i),
                _ => col.as_string_view().value(i),
            };
            if json {
                serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
            } else {
                Value::String(s.to_string())
            }
        }
        DataType::Date32 => Value::String(format_date(
            col.as_primitive::<arrow::datatypes::Date32Type>().value(i) as i64,
        )),
        DataType::Time64(TimeUnit::Microsecond) => Value::String(format_time(
            col.as_primitive::<arrow::datatypes::Time64MicrosecondType>()
                .value(i),
        )),
        DataType::Timestamp(TimeUnit::Microsecond, tz) => Value::String(format_timestamp(
            col.as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .value(i),
            tz.is_some(),
        )),
        _ => {
            let options = arrow::util::display::FormatOptions::default();
            match arrow::util::display::ArrayFormatter::try_new(col, &options) {
                Ok(f) => {
                    let text = f.value(i).to_string();
                    // Decimals and other numbers stay numbers.
                    match text.parse::<Number>() {
                        Ok(n)
                            if matches!(
                                col.data_type(),
                                DataType::Decimal128(..) | DataType::Decimal256(..)
                            ) =>
                        {
                            Value::Number(n)
                        }
                        _ => Value::String(text),
                    }
                }
                Err(_) => Value::Null,
            }
        }
    }
}
