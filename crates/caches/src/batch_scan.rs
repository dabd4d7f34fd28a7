//! The table function through which a load hands its Arrow batches to DuckDB.
//!
//! It works as duckdb-rs's `arrow` table function does (values written into DuckDB's vectors,
//! one vector at a time), with one difference: fields marked with the Arrow extension type
//! `arrow.json` come out as DuckDB's `JSON` type rather than `VARCHAR`. Inserting them into
//! JSON columns then needs no cast. With VARCHAR, DuckDB parsed and validated every object and
//! array value again on insert: about 8% of a load's CPU, for text the loader took from lines
//! that had already been validated as JSON when they were decoded (docs/PERFORMANCE.md).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};

use arrow::datatypes::Field;
use arrow::record_batch::RecordBatch;
use duckdb::core::{DataChunkHandle, LogicalTypeHandle, LogicalTypeId};
use duckdb::types::ToSqlOutput;
use duckdb::vtab::{
    BindInfo, InitInfo, TableFunctionInfo, VTab, record_batch_to_duckdb_data_chunk,
    to_duckdb_logical_type_for_field,
};

use crate::cache::lock;

/// The name the table function is registered under, taking a registration's token:
/// `SELECT … FROM abrs_batch_scan(?)`.
pub(crate) const BATCH_SCAN: &str = "abrs_batch_scan";

/// The Arrow field metadata key naming an extension type.
const EXTENSION_NAME: &str = "ARROW:extension:name";
/// Arrow's canonical extension type for JSON text.
const JSON_EXTENSION: &str = "arrow.json";

/// Marks a text field as JSON (see the module docs).
pub(crate) fn json_field(field: Field) -> Field {
    field.with_metadata(HashMap::from([(
        EXTENSION_NAME.to_string(),
        JSON_EXTENSION.to_string(),
    )]))
}

fn is_json(field: &Field) -> bool {
    field.metadata().get(EXTENSION_NAME).map(String::as_str) == Some(JSON_EXTENSION)
}

/// Batches registered for a statement, by token. Table functions are bound by DuckDB with
/// nothing but their SQL parameters, so a batch is found through a number.
static BATCHES: LazyLock<Mutex<HashMap<u64, RecordBatch>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// A batch made visible to [`BATCH_SCAN`] while this value lives; pass `&registration` as
/// the statement's parameter. Each bound scan keeps its own reference to the batch.
pub(crate) struct BatchRegistration {
    token: u64,
}

impl BatchRegistration {
    pub(crate) fn new(batch: RecordBatch) -> Self {
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        lock(&BATCHES).insert(token, batch);
        Self { token }
    }
}

impl Drop for BatchRegistration {
    fn drop(&mut self) {
        let removed = lock(&BATCHES).remove(&self.token);
        // Free the batch's buffers outside the registry's lock.
        drop(removed);
    }
}

impl duckdb::ToSql for BatchRegistration {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.token))
    }
}

/// The table function (see the module docs).
pub(crate) struct BatchScan;

pub(crate) struct BatchScanBind {
    batch: RecordBatch,
}

pub(crate) struct BatchScanState {
    /// The first row not handed out yet.
    next_row: AtomicUsize,
}

impl VTab for BatchScan {
    type BindData = BatchScanBind;
    type InitData = BatchScanState;

    fn bind(bind: &BindInfo) -> Result<Self::BindData, Box<dyn std::error::Error>> {
        let token = bind.get_parameter(0).to_uint64();
        let batch = lock(&BATCHES)
            .get(&token)
            .cloned()
            .ok_or_else(|| format!("{BATCH_SCAN}: no batch is registered as {token}"))?;
        for field in batch.schema().fields() {
            let mut ty = to_duckdb_logical_type_for_field(field)?;
            if is_json(field) {
                ty.set_alias("JSON");
            }
            bind.add_result_column(field.name(), ty);
        }
        Ok(BatchScanBind { batch })
    }

    fn init(_: &InitInfo) -> Result<Self::InitData, Box<dyn std::error::Error>> {
        Ok(BatchScanState {
            next_row: AtomicUsize::new(0),
        })
    }

    fn func(
        func: &TableFunctionInfo<Self>,
        output: &mut DataChunkHandle,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let batch = &func.get_bind_data().batch;
        // SAFETY: a constant of the linked DuckDB library.
        let vector_size = unsafe { duckdb::ffi::duckdb_vector_size() } as usize;
        let rows = batch.num_rows();
        let start = func
            .get_init_data()
            .next_row
            .fetch_add(vector_size.max(1), Ordering::Relaxed);
        if start >= rows {
            output.set_len(0);
            return Ok(());
        }
        let len = (rows - start).min(vector_size);
        record_batch_to_duckdb_data_chunk(&batch.slice(start, len), output)?;
        Ok(())
    }

    fn parameters() -> Option<Vec<LogicalTypeHandle>> {
        Some(vec![LogicalTypeHandle::from(LogicalTypeId::UBigint)])
    }
}
