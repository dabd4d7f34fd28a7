//! Typed column buffers: raw JSON value text in, Arrow arrays out. The loader's hot path.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, PrimitiveBuilder,
    StringArray, StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{ArrowPrimitiveType, DataType, TimeUnit};

use crate::types::{SqlType, parse_date, parse_time_micros, parse_timestamp_micros};

/// Why a value was not stored as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushError {
    /// The value does not fit the column; it was stored as NULL.
    Misfit,
    /// A number that this numeric column would lose digits of (more digits than a DOUBLE
    /// round-trips, or an integer beyond BIGINT). Nothing was stored: the column should become
    /// VARCHAR ([`ColumnBuffer::make_text`]) and the value pushed again.
    NeedsText,
}

/// Whether storing the JSON number `raw` as the DOUBLE `v` loses digits: its significant
/// digits differ from the shortest text that round-trips `v`.
pub(crate) fn loses_digits(raw: &str, v: f64) -> bool {
    fn significant(text: &str) -> &[u8] {
        let mantissa = text.split(['e', 'E']).next().unwrap_or(text).as_bytes();
        let start = mantissa.iter().position(|b| (b'1'..=b'9').contains(b));
        let end = mantissa.iter().rposition(|b| (b'1'..=b'9').contains(b));
        match (start, end) {
            (Some(s), Some(e)) => &mantissa[s..=e],
            _ => &[],
        }
    }
    let digits_in = |s: &[u8]| s.iter().filter(|b| b.is_ascii_digit()).count();
    let sig = significant(raw);
    // 15 significant digits always round-trip through a DOUBLE.
    if digits_in(sig) <= 15 || !v.is_finite() {
        return false;
    }
    let mut buf = ryu::Buffer::new();
    let shortest = significant(buf.format_finite(v));
    !sig.iter()
        .filter(|b| b.is_ascii_digit())
        .eq(shortest.iter().filter(|b| b.is_ascii_digit()))
}

/// An Arrow builder for one column type.
pub(crate) enum ColumnBuffer {
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    /// VARCHAR, and types the loader does not convert itself (cast by DuckDB on insert).
    Text(StringBuilder),
    /// JSON: the value's JSON text, verbatim.
    Json(StringBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampTz(TimestampMicrosecondBuilder),
}

/// The text of a JSON string literal, unescaped (borrowed when there is nothing to unescape).
pub(crate) fn string_content(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
}

fn parse_int(text: &str) -> Option<i64> {
    if let Ok(v) = text.parse::<i64>() {
        return Some(v);
    }
    // `5.0` or `1e3` from connectors that write integers as floats.
    let f = text.parse::<f64>().ok()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
}

impl ColumnBuffer {
    pub(crate) fn new(ty: &SqlType, capacity: usize) -> Self {
        match ty {
            SqlType::BigInt => Self::Int(Int64Builder::with_capacity(capacity)),
            SqlType::Double => Self::Float(Float64Builder::with_capacity(capacity)),
            SqlType::Boolean => Self::Bool(BooleanBuilder::with_capacity(capacity)),
            SqlType::Varchar | SqlType::Other(_) => {
                Self::Text(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            SqlType::Json => Self::Json(StringBuilder::with_capacity(capacity, capacity * 32)),
            SqlType::Date => Self::Date(Date32Builder::with_capacity(capacity)),
            SqlType::Time => Self::Time(Time64MicrosecondBuilder::with_capacity(capacity)),
            SqlType::Timestamp => {
                Self::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity))
            }
            SqlType::TimestampTz => Self::TimestampTz(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
        }
    }

    /// The Arrow type of the arrays this buffer produces.
    pub(crate) fn data_type(&self) -> DataType {
        match self {
            Self::Int(_) => DataType::Int64,
            Self::Float(_) => DataType::Float64,
            Self::Bool(_) => DataType::Boolean,
            Self::Text(_) | Self::Json(_) => DataType::Utf8,
            Self::Date(_) => DataType::Date32,
            Self::Time(_) => DataType::Time64(TimeUnit::Microsecond),
            Self::Timestamp(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
            Self::TimestampTz(_) => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }

    pub(crate) fn push_null(&mut self) {
        match self {
            Self::Int(b) => b.append_null(),
            Self::Float(b) => b.append_null(),
            Self::Bool(b) => b.append_null(),
            Self::Text(b) | Self::Json(b) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Time(b) => b.append_null(),
            Self::Timestamp(b) | Self::TimestampTz(b) => b.append_null(),
        }
    }

    /// Appends one JSON value given as its raw text. A value that does not fit is appended as
    /// NULL and reported as [`PushError::Misfit`]; see also [`PushError::NeedsText`].
    pub(crate) fn push_raw(&mut self, raw: &str) -> Result<(), PushError> {
        let first = raw.as_bytes().first().copied().unwrap_or(b'n');
        if first == b'n' {
            self.push_null();
            return Ok(());
        }
        let ok = match self {
            Self::Json(b) => {
                b.append_value(raw);
                true
            }
            Self::Text(b) => {
                if first == b'"' {
                    match string_content(raw) {
                        Some(s) => b.append_value(s),
                        None => b.append_value(raw),
                    }
                } else {
                    // Numbers, booleans, objects and arrays are kept as their JSON text.
                    b.append_value(raw);
                }
                true
            }
            Self::Int(b) => {
                let v = match first {
                    b'"' => string_content(raw).and_then(|s| parse_int(s.trim())),
                    b'-' | b'0'..=b'9' => parse_int(raw),
                    _ => None,
                };
                let integer_literal = matches!(first, b'-' | b'0'..=b'9')
                    && raw
                        .trim_start_matches('-')
                        .bytes()
                        .all(|c| c.is_ascii_digit());
                if v.is_none() && integer_literal {
                    return Err(PushError::NeedsText);
                }
                v.map(|v| b.append_value(v)).is_some()
            }
            Self::Float(b) => {
                let v = match first {
                    b'"' => string_content(raw).and_then(|s| s.trim().parse::<f64>().ok()),
                    b'-' | b'0'..=b'9' => {
                        let v = raw.parse::<f64>().ok().filter(|f| f.is_finite());
                        if v.is_some_and(|v| loses_digits(raw, v)) {
                            return Err(PushError::NeedsText);
                        }
                        v
                    }
                    _ => None,
                };
                v.map(|v| b.append_value(v)).is_some()
            }
            Self::Bool(b) => {
                let v = match raw {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ if first == b'"' => string_content(raw).and_then(|s| {
                        match s.trim().to_ascii_lowercase().as_str() {
                            "true" => Some(true),
                            "false" => Some(false),
                            _ => None,
                        }
                    }),
                    _ => None,
                };
                v.map(|v| b.append_value(v)).is_some()
            }
            Self::Date(b) => {
                let v = string_content(raw).and_then(|s| parse_date(&s));
                v.map(|v| b.append_value(v)).is_some()
            }
            Self::Time(b) => {
                let v = string_content(raw).and_then(|s| parse_time_micros(&s));
                v.map(|v| b.append_value(v)).is_some()
            }
            Self::Timestamp(b) | Self::TimestampTz(b) => {
                let v = string_content(raw).and_then(|s| parse_timestamp_micros(&s));
                v.map(|v| b.append_value(v)).is_some()
            }
        };
        if ok {
            Ok(())
        } else {
            self.push_null();
            Err(PushError::Misfit)
        }
    }

    /// Turns a numeric buffer into a text one, keeping the values buffered so far (as the
    /// text DuckDB would give them). Other buffers are left as they are.
    pub(crate) fn make_text(&mut self) {
        let mut text = StringBuilder::new();
        match self {
            Self::Float(b) => {
                let values = b.finish();
                let mut buf = ryu::Buffer::new();
                for v in values.iter() {
                    match v {
                        Some(v) => text.append_value(buf.format(v)),
                        None => text.append_null(),
                    }
                }
            }
            Self::Int(b) => {
                let values = b.finish();
                let mut buf = itoa::Buffer::new();
                for v in values.iter() {
                    match v {
                        Some(v) => text.append_value(buf.format(v)),
                        None => text.append_null(),
                    }
                }
            }
            _ => return,
        }
        *self = Self::Text(text);
    }

    /// The array of everything appended so far; the buffer starts over empty, with room for
    /// as much again (see [`finish_strings`]).
    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Int(b) => finish_primitive(b),
            Self::Float(b) => finish_primitive(b),
            Self::Bool(b) => {
                let array = b.finish();
                *b = BooleanBuilder::with_capacity(array.len());
                Arc::new(array)
            }
            Self::Text(b) | Self::Json(b) => Arc::new(finish_strings(b)),
            Self::Date(b) => finish_primitive(b),
            Self::Time(b) => finish_primitive(b),
            Self::Timestamp(b) | Self::TimestampTz(b) => finish_primitive(b),
        }
    }
}

/// Finishes a string builder and gives it room for a batch like the one it just built.
///
/// Arrow's builders start over with no capacity, so every batch grew its buffers by doubling:
/// copies on the parser thread, and up to twice the memory for each batch waiting for the
/// database. Batches of one stream are alike, so the last one's size (plus 1/16) is a close
/// fit for the next.
pub(crate) fn finish_strings(builder: &mut StringBuilder) -> StringArray {
    let array = builder.finish();
    let bytes = array.value_data().len();
    *builder = StringBuilder::with_capacity(array.len(), bytes + bytes / 16);
    array
}

/// [`finish_strings`] for fixed-width columns (their Arrow type, time zone included, kept).
pub(crate) fn finish_primitive<T: ArrowPrimitiveType>(
    builder: &mut PrimitiveBuilder<T>,
) -> ArrayRef {
    let array = builder.finish();
    *builder =
        PrimitiveBuilder::<T>::with_capacity(array.len()).with_data_type(array.data_type().clone());
    Arc::new(array)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;

    #[test]
    fn ints() {
        let mut c = ColumnBuffer::new(&SqlType::BigInt, 8);
        assert!(c.push_raw("5").is_ok());
        assert!(c.push_raw("\"7\"").is_ok());
        assert!(c.push_raw("2.0").is_ok());
        assert!(c.push_raw("null").is_ok());
        assert_eq!(c.push_raw("\"abc\""), Err(PushError::Misfit));
        assert_eq!(c.push_raw("1.5"), Err(PushError::Misfit));
        assert_eq!(c.push_raw("{}"), Err(PushError::Misfit));
        assert_eq!(
            c.push_raw("123456789012345678901234"),
            Err(PushError::NeedsText)
        );
        let a = c.finish();
        let a = a.as_primitive::<Int64Type>();
        assert_eq!(a.len(), 7);
        assert_eq!(a.value(0), 5);
        assert_eq!(a.value(1), 7);
        assert_eq!(a.value(2), 2);
        assert_eq!(a.null_count(), 4);
    }

    #[test]
    fn digits_that_a_double_would_lose() {
        for ok in [
            "1.5",
            "0.1",
            "1e30",
            "1.5e-12",
            "123.4567",
            "1234567890123456.0",
            "100000000000000000000",
            "0.30000000000000004",
            "-2.2250738585072014e-308",
        ] {
            assert!(!loses_digits(ok, ok.parse().unwrap()), "{ok}");
        }
        for lossy in [
            "0.1234567890123456789",
            "12345678901234567891",
            "1.00000000000000000001",
        ] {
            assert!(loses_digits(lossy, lossy.parse().unwrap()), "{lossy}");
        }
        let mut c = ColumnBuffer::new(&SqlType::Double, 4);
        c.push_raw("1.5").unwrap();
        assert_eq!(
            c.push_raw("0.1234567890123456789"),
            Err(PushError::NeedsText)
        );
        c.make_text();
        c.push_raw("0.1234567890123456789").unwrap();
        let a = c.finish();
        let a = a.as_string::<i32>();
        assert_eq!((a.value(0), a.value(1)), ("1.5", "0.1234567890123456789"));
    }

    #[test]
    fn text_keeps_json_of_non_strings() {
        let mut c = ColumnBuffer::new(&SqlType::Varchar, 8);
        for raw in [r#""a\"b""#, "12", "true", r#"{"x":1}"#] {
            c.push_raw(raw).unwrap();
        }
        let a = c.finish();
        let a = a.as_string::<i32>();
        assert_eq!(a.value(0), "a\"b");
        assert_eq!(a.value(1), "12");
        assert_eq!(a.value(3), r#"{"x":1}"#);
    }
}
