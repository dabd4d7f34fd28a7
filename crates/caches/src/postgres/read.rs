//! Query results as Arrow batches: rows streamed from the server in binary, decoded column
//! by column into Arrow builders, a batch every [`BATCH_ROWS`] rows.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{FromSql, Kind, Type};

use super::types::{PG_EPOCH_DAYS, PG_EPOCH_MICROS, decode_numeric};
use crate::dataset::BatchEvent;
use crate::error::{CacheError, PgContext, Result};

/// Rows per Arrow batch of a query result.
pub(crate) const BATCH_ROWS: usize = 8_192;

/// A value as the server sent it (binary format), for any type.
struct Raw<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }
    fn from_sql_null(
        _: &Type,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// How a result column is decoded.
#[derive(Clone, Copy)]
enum Dec {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Text,
    Jsonb,
    Uuid,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Bytes,
}

fn decoder(column: &str, ty: &Type) -> Result<(Dec, DataType)> {
    let dec = match *ty {
        Type::BOOL => Dec::Bool,
        Type::INT2 => Dec::Int2,
        Type::INT4 => Dec::Int4,
        Type::INT8 => Dec::Int8,
        Type::OID => Dec::Int4,
        Type::FLOAT4 => Dec::Float4,
        Type::FLOAT8 => Dec::Float8,
        Type::NUMERIC => Dec::Numeric,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON | Type::UNKNOWN => {
            Dec::Text
        }
        Type::JSONB => Dec::Jsonb,
        Type::UUID => Dec::Uuid,
        Type::DATE => Dec::Date,
        Type::TIME => Dec::Time,
        Type::TIMESTAMP => Dec::Timestamp,
        Type::TIMESTAMPTZ => Dec::TimestampTz,
        Type::BYTEA => Dec::Bytes,
        _ if matches!(ty.kind(), Kind::Enum(_)) => Dec::Text,
        _ => {
            return Err(CacheError::UnsupportedResultType {
                column: column.to_string(),
                data_type: ty.name().to_string(),
            });
        }
    };
    let dt = match dec {
        Dec::Bool => DataType::Boolean,
        Dec::Int2 => DataType::Int16,
        Dec::Int4 => DataType::Int32,
        Dec::Int8 => DataType::Int64,
        Dec::Float4 => DataType::Float32,
        Dec::Float8 => DataType::Float64,
        Dec::Numeric | Dec::Text | Dec::Jsonb | Dec::Uuid => DataType::Utf8,
        Dec::Date => DataType::Date32,
        Dec::Time => DataType::Time64(TimeUnit::Microsecond),
        Dec::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        Dec::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Dec::Bytes => DataType::Binary,
    };
    Ok((dec, dt))
}

fn builder(dec: Dec) -> Box<dyn ArrayBuilder> {
    match dec {
        Dec::Bool => Box::new(BooleanBuilder::new()),
        Dec::Int2 => Box::new(Int16Builder::new()),
        Dec::Int4 => Box::new(Int32Builder::new()),
        Dec::Int8 => Box::new(Int64Builder::new()),
        Dec::Float4 => Box::new(Float32Builder::new()),
        Dec::Float8 => Box::new(Float64Builder::new()),
        Dec::Numeric | Dec::Text | Dec::Jsonb | Dec::Uuid => Box::new(StringBuilder::new()),
        Dec::Date => Box::new(Date32Builder::new()),
        Dec::Time => Box::new(Time64MicrosecondBuilder::new()),
        Dec::Timestamp => Box::new(TimestampMicrosecondBuilder::new()),
        Dec::TimestampTz => Box::new(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
        Dec::Bytes => Box::new(BinaryBuilder::new()),
    }
}

fn be<const N: usize>(raw: &[u8]) -> Option<[u8; N]> {
    raw.try_into().ok()
}

/// Appends one value; a value that does not decode becomes NULL.
fn push(b: &mut dyn ArrayBuilder, dec: Dec, raw: Option<&[u8]>) {
    macro_rules! typed {
        ($t:ty, $v:expr) => {{
            let b = b.as_any_mut().downcast_mut::<$t>();
            if let Some(b) = b {
                match raw.and_then($v) {
                    Some(v) => b.append_value(v),
                    None => b.append_null(),
                }
            }
        }};
    }
    match dec {
        Dec::Bool => typed!(BooleanBuilder, |r: &[u8]| r.first().map(|&v| v != 0)),
        Dec::Int2 => typed!(Int16Builder, |r: &[u8]| be::<2>(r).map(i16::from_be_bytes)),
        Dec::Int4 => typed!(Int32Builder, |r: &[u8]| be::<4>(r).map(i32::from_be_bytes)),
        Dec::Int8 => typed!(Int64Builder, |r: &[u8]| be::<8>(r).map(i64::from_be_bytes)),
        Dec::Float4 => typed!(Float32Builder, |r: &[u8]| be::<4>(r)
            .map(f32::from_be_bytes)),
        Dec::Float8 => typed!(Float64Builder, |r: &[u8]| be::<8>(r)
            .map(f64::from_be_bytes)),
        Dec::Numeric => typed!(StringBuilder, decode_numeric),
        Dec::Text => typed!(StringBuilder, |r: &[u8]| std::str::from_utf8(r)
            .ok()
            .map(str::to_string)),
        Dec::Jsonb => typed!(StringBuilder, |r: &[u8]| r
            .split_first()
            .and_then(|(_, t)| std::str::from_utf8(t).ok())
            .map(str::to_string)),
        Dec::Uuid => typed!(StringBuilder, |r: &[u8]| be::<16>(r)
            .map(|b| uuid::Uuid::from_bytes(b).hyphenated().to_string())),
        Dec::Date => typed!(Date32Builder, |r: &[u8]| be::<4>(r)
            .map(|b| i32::from_be_bytes(b).saturating_add(PG_EPOCH_DAYS))),
        Dec::Time => typed!(Time64MicrosecondBuilder, |r: &[u8]| be::<8>(r)
            .map(i64::from_be_bytes)),
        Dec::Timestamp | Dec::TimestampTz => {
            typed!(TimestampMicrosecondBuilder, |r: &[u8]| be::<8>(r)
                .map(|b| i64::from_be_bytes(b).saturating_add(PG_EPOCH_MICROS)))
        }
        Dec::Bytes => typed!(BinaryBuilder, |r: &[u8]| Some(r.to_vec())),
    }
}

/// Runs `sql` on `client`, streaming the schema and then batches of at most `BATCH_ROWS`
/// rows to `f` (which returns `false` to stop).
pub(crate) fn for_each_batch(
    client: &mut postgres::Client,
    sql: &str,
    f: &mut dyn FnMut(BatchEvent) -> Result<bool>,
) -> Result<()> {
    let what = || format!("running SQL: {sql}");
    let stmt = client.prepare(sql).pg(what)?;
    let mut decs = Vec::new();
    let mut fields = Vec::new();
    for c in stmt.columns() {
        let (dec, dt) = decoder(c.name(), c.type_())?;
        decs.push(dec);
        fields.push(Field::new(c.name(), dt, true));
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    if !f(BatchEvent::Schema(schema.clone()))? {
        return Ok(());
    }
    let mut builders: Vec<Box<dyn ArrayBuilder>> = decs.iter().map(|&d| builder(d)).collect();
    let mut rows = 0usize;
    let finish = |builders: &mut Vec<Box<dyn ArrayBuilder>>, rows: usize| -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = builders.iter_mut().map(|b| b.finish()).collect();
        let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(schema.clone(), arrays, &options).map_err(|source| {
            CacheError::Arrow {
                context: "building a batch of query results".into(),
                source,
            }
        })
    };
    let mut iter = client
        .query_raw(
            &stmt,
            std::iter::empty::<&(dyn postgres::types::ToSql + Sync)>(),
        )
        .pg(what)?;
    while let Some(row) = iter.next().pg(what)? {
        for (i, (b, &dec)) in builders.iter_mut().zip(&decs).enumerate() {
            let raw: Raw<'_> = row.try_get(i).pg(what)?;
            push(b.as_mut(), dec, raw.0);
        }
        rows += 1;
        if rows == BATCH_ROWS {
            let batch = finish(&mut builders, rows)?;
            rows = 0;
            if !f(BatchEvent::Batch(batch))? {
                return Ok(());
            }
        }
    }
    if rows > 0 {
        let batch = finish(&mut builders, rows)?;
        f(BatchEvent::Batch(batch))?;
    }
    Ok(())
}
