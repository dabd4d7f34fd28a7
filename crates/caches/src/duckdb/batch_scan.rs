//! The table function through which a load hands its Arrow batches to DuckDB.
//!
//! It works as duckdb-rs's `arrow` table function does (values written into DuckDB's vectors,
//! one vector at a time), with one difference: fields marked with the Arrow extension type
//! `arrow.json` come out as DuckDB's `JSON` type rather than `VARCHAR`. Inserting them into
//! JSON columns then needs no cast. With VARCHAR, DuckDB parsed and validated every object and
//! array value again on insert: about 8% of a load's CPU, for text the loader took from lines
//! that had already been validated as JSON when they were decoded (docs/PERFORMANCE.md).
//!
//! Text columns are handed over without a copy: each DuckDB `string_t` of the output vector
//! points into the batch's own buffer, which the bind data keeps alive until the statement
//! ends (DuckDB copies strings wherever it keeps them: table storage, hash tables, sorts).
//! duckdb-rs's conversion copied every value into the vector and checked its UTF-8 again,
//! text that the loader took from lines it had already checked.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};

use ::duckdb::core::{DataChunkHandle, LogicalTypeHandle, LogicalTypeId};
use ::duckdb::ffi;
use ::duckdb::types::ToSqlOutput;
use ::duckdb::vtab::arrow::write_arrow_array_to_vector;
use ::duckdb::vtab::{
    BindInfo, InitInfo, TableFunctionInfo, VTab, to_duckdb_logical_type_for_field,
};
use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::{DataType, Field};
use arrow::record_batch::RecordBatch;

use crate::worker::lock;

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
        let slice = batch.slice(start, len);
        if slice.num_columns() != output.num_columns() {
            return Err(format!(
                "{BATCH_SCAN}: the batch has {} columns, the output {}",
                slice.num_columns(),
                output.num_columns()
            )
            .into());
        }
        for (i, column) in slice.columns().iter().enumerate() {
            // SAFETY: `i` is below the chunk's column count (checked above).
            let mut vector =
                unsafe { ffi::duckdb_data_chunk_get_vector(output.get_ptr(), i as u64) };
            match column.data_type() {
                DataType::Utf8 => {
                    // SAFETY: the column was declared from this Utf8 field in `bind`, so the
                    // vector holds VARCHAR (JSON is VARCHAR too) with room for `vector_size`
                    // rows; `len <= vector_size`; and the bind data owns `batch`, whose
                    // buffers the written strings point into, until the statement ends.
                    unsafe { write_strings(column.as_string::<i32>(), vector) }?
                }
                _ => write_arrow_array_to_vector(column, &mut vector)?,
            }
        }
        output.set_len(len);
        Ok(())
    }

    fn parameters() -> Option<Vec<LogicalTypeHandle>> {
        Some(vec![LogicalTypeHandle::from(LogicalTypeId::UBigint)])
    }
}

/// The longest string a DuckDB `string_t` keeps inline.
const INLINE_LEN: usize = 12;

/// Writes `array`'s values into a VARCHAR vector as `string_t`s: short ones inline, longer
/// ones pointing into `array`'s value buffer (no copy, no second UTF-8 check: an Arrow
/// `StringArray` holds valid UTF-8).
///
/// # Safety
/// `vector` is a flat VARCHAR vector with room for `array.len()` rows, and `array`'s buffers
/// outlive every use DuckDB makes of the vector's values.
unsafe fn write_strings(
    array: &StringArray,
    vector: ffi::duckdb_vector,
) -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: (caller) the vector's data is an array of `string_t` for at least
    // `array.len()` rows.
    let out = unsafe { ffi::duckdb_vector_get_data(vector) }.cast::<ffi::duckdb_string_t>();
    let offsets = array.value_offsets();
    let values = array.values().as_slice();
    for i in 0..array.len() {
        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
        let text = &values[start..end];
        let length = u32::try_from(text.len())
            .map_err(|_| format!("{BATCH_SCAN}: a value of {} bytes is too long", text.len()))?;
        let value = if text.len() <= INLINE_LEN {
            // The unused inline bytes stay zero: DuckDB compares inline strings bytewise.
            let mut inlined = [0 as std::os::raw::c_char; INLINE_LEN];
            for (dst, src) in inlined.iter_mut().zip(text) {
                *dst = *src as std::os::raw::c_char;
            }
            ffi::duckdb_string_t__bindgen_ty_1 {
                inlined: ffi::duckdb_string_t__bindgen_ty_1__bindgen_ty_2 { length, inlined },
            }
        } else {
            let mut prefix = [0 as std::os::raw::c_char; 4];
            for (dst, src) in prefix.iter_mut().zip(text) {
                *dst = *src as std::os::raw::c_char;
            }
            ffi::duckdb_string_t__bindgen_ty_1 {
                pointer: ffi::duckdb_string_t__bindgen_ty_1__bindgen_ty_1 {
                    length,
                    prefix,
                    // DuckDB only reads through it: `string_t` is a non-owning view.
                    ptr: text.as_ptr().cast_mut().cast(),
                },
            }
        };
        // SAFETY: `i < array.len()`, within the vector's capacity (caller).
        unsafe { out.add(i).write(ffi::duckdb_string_t { value }) };
    }
    if let Some(nulls) = array.nulls().filter(|n| n.null_count() > 0) {
        // SAFETY: the validity mask is made writable before it is read, and `i` stays below
        // the vector's capacity.
        unsafe {
            ffi::duckdb_vector_ensure_validity_writable(vector);
            let validity = ffi::duckdb_vector_get_validity(vector);
            for i in nulls
                .iter()
                .enumerate()
                .filter(|(_, valid)| !valid)
                .map(|(i, _)| i)
            {
                ffi::duckdb_validity_set_row_invalid(validity, i as u64);
            }
        }
    }
    Ok(())
}
