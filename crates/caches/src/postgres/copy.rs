//! Arrow batches as PostgreSQL binary `COPY` data, column by column into one buffer.
//!
//! The format (PostgreSQL docs, "COPY … Binary Format"): a header, then per row a 16-bit field
//! count and per field a 32-bit length (-1 for NULL) and the value in the type's binary
//! send format, then a trailer. Values come straight from the loader's typed Arrow columns:
//! nothing is formatted as text and parsed again, except numbers going into `numeric`
//! columns.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Float64Type, Int64Type, Time64MicrosecondType, TimeUnit,
    TimestampMicrosecondType,
};
use arrow::record_batch::RecordBatch;

use super::types::{Enc, PG_EPOCH_DAYS, PG_EPOCH_MICROS, encode_numeric};

/// The header of binary COPY data: signature, flags, header extension length.
pub(crate) const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The trailer: a field count of -1.
pub(crate) const TRAILER: &[u8] = &[0xff, 0xff];

/// Appends the rows of `batch` to `out`; `encs[i]` is the wire format of column `i`.
/// A value the column cannot take (text that is not a number for a numeric column, an
/// integer out of range for a smaller integer column) is sent as NULL.
pub(crate) fn encode_rows(batch: &RecordBatch, encs: &[Enc], out: &mut Vec<u8>) {
    let columns: Vec<&ArrayRef> = batch.columns().iter().take(encs.len()).collect();
    let n_fields = columns.len() as i16;
    let mut scratch = Vec::new();
    for row in 0..batch.num_rows() {
        out.extend_from_slice(&n_fields.to_be_bytes());
        for (col, &enc) in columns.iter().zip(encs) {
            encode_value(col.as_ref(), row, enc, out, &mut scratch);
        }
    }
}

fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i32).to_be_bytes());
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Appends a field whose value `fill` writes; `fill` returns `false` for NULL.
fn field_with(out: &mut Vec<u8>, fill: impl FnOnce(&mut Vec<u8>) -> bool) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    if fill(out) {
        let len = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    } else {
        out.truncate(at);
        null(out);
    }
}

fn encode_value(col: &dyn Array, row: usize, enc: Enc, out: &mut Vec<u8>, scratch: &mut Vec<u8>) {
    if col.is_null(row) {
        return null(out);
    }
    match col.data_type() {
        DataType::Int64 => {
            let v = col.as_primitive::<Int64Type>().value(row);
            match enc {
                Enc::Int8 => field(out, &v.to_be_bytes()),
                Enc::Int4 => match i32::try_from(v) {
                    Ok(v) => field(out, &v.to_be_bytes()),
                    Err(_) => null(out),
                },
                Enc::Int2 => match i16::try_from(v) {
                    Ok(v) => field(out, &v.to_be_bytes()),
                    Err(_) => null(out),
                },
                Enc::Float8 => field(out, &(v as f64).to_be_bytes()),
                Enc::Float4 => field(out, &(v as f32).to_be_bytes()),
                _ => text_value(itoa::Buffer::new().format(v), enc, out, scratch),
            }
        }
        DataType::Float64 => {
            let v = col.as_primitive::<Float64Type>().value(row);
            match enc {
                Enc::Float8 => field(out, &v.to_be_bytes()),
                Enc::Float4 => field(out, &(v as f32).to_be_bytes()),
                _ => text_value(ryu::Buffer::new().format(v), enc, out, scratch),
            }
        }
        DataType::Boolean => {
            let v = col.as_boolean().value(row);
            match enc {
                Enc::Bool => field(out, &[v as u8]),
                _ => text_value(if v { "true" } else { "false" }, enc, out, scratch),
            }
        }
        DataType::Utf8 => text_value(col.as_string::<i32>().value(row), enc, out, scratch),
        DataType::Date32 => {
            let v = col.as_primitive::<Date32Type>().value(row);
            match enc {
                Enc::Date => field(out, &(v - PG_EPOCH_DAYS).to_be_bytes()),
                Enc::Timestamp => field(
                    out,
                    &((v as i64) * 86_400_000_000 - PG_EPOCH_MICROS).to_be_bytes(),
                ),
                _ => null(out),
            }
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            let v = col.as_primitive::<Time64MicrosecondType>().value(row);
            match enc {
                Enc::Time => field(out, &v.to_be_bytes()),
                _ => null(out),
            }
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let v = col.as_primitive::<TimestampMicrosecondType>().value(row);
            match enc {
                Enc::Timestamp => field(out, &(v - PG_EPOCH_MICROS).to_be_bytes()),
                Enc::Date => field(
                    out,
                    &((v.div_euclid(86_400_000_000) as i32) - PG_EPOCH_DAYS).to_be_bytes(),
                ),
                _ => null(out),
            }
        }
        _ => null(out),
    }
}

/// A text value (a string, or the text of a number) into a column of wire format `enc`.
fn text_value(s: &str, enc: Enc, out: &mut Vec<u8>, scratch: &mut Vec<u8>) {
    match enc {
        Enc::Text | Enc::Json => field(out, s.as_bytes()),
        Enc::Jsonb => {
            out.extend_from_slice(&(s.len() as i32 + 1).to_be_bytes());
            out.push(1);
            out.extend_from_slice(s.as_bytes());
        }
        Enc::Numeric => {
            scratch.clear();
            if encode_numeric(s, scratch) {
                field(out, scratch);
            } else {
                null(out);
            }
        }
        Enc::Int8 => match s.trim().parse::<i64>() {
            Ok(v) => field(out, &v.to_be_bytes()),
            Err(_) => null(out),
        },
        Enc::Int4 => match s.trim().parse::<i32>() {
            Ok(v) => field(out, &v.to_be_bytes()),
            Err(_) => null(out),
        },
        Enc::Int2 => match s.trim().parse::<i16>() {
            Ok(v) => field(out, &v.to_be_bytes()),
            Err(_) => null(out),
        },
        Enc::Float8 => match s.trim().parse::<f64>() {
            Ok(v) => field(out, &v.to_be_bytes()),
            Err(_) => null(out),
        },
        Enc::Float4 => match s.trim().parse::<f32>() {
            Ok(v) => field(out, &v.to_be_bytes()),
            Err(_) => null(out),
        },
        Enc::Bool => match s.trim().to_ascii_lowercase().as_str() {
            "true" => field(out, &[1]),
            "false" => field(out, &[0]),
            _ => null(out),
        },
        Enc::Date => field_with(out, |o| {
            crate::types::parse_date(s)
                .map(|d| o.extend_from_slice(&(d - PG_EPOCH_DAYS).to_be_bytes()))
                .is_some()
        }),
        Enc::Time => field_with(out, |o| {
            crate::types::parse_time_micros(s)
                .map(|t| o.extend_from_slice(&t.to_be_bytes()))
                .is_some()
        }),
        Enc::Timestamp => field_with(out, |o| {
            crate::types::parse_timestamp_micros(s)
                .map(|t| o.extend_from_slice(&(t - PG_EPOCH_MICROS).to_be_bytes()))
                .is_some()
        }),
    }
}
