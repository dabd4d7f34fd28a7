//! Cached column values back to the JSON a connector would have sent, for replayed records.
//!
//! Each column of a batch becomes a [`Cells`] view, chosen once per batch from its Arrow type
//! and what the stream's schema says the property is; each cell is then written straight into
//! the caller's byte buffer (no `serde_json::Value` per row, no allocation per cell).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array,
    StringArray, Time64MicrosecondArray, TimestampMicrosecondArray, UInt64Array,
};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, DecimalType, Float64Type, Int64Type,
    Time64MicrosecondType, TimeUnit, TimestampMicrosecondType, UInt64Type,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::types::civil_from_days;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// What a text column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextKind {
    /// Plain text: a JSON string.
    String,
    /// JSON text (a JSON column): embedded as is. `validate` for VARCHAR columns that only
    /// the schema calls JSON (DuckDB builds without the JSON type), which nothing validated.
    Json { validate: bool },
    /// A number column that became VARCHAR to keep every digit: a JSON number when the text is
    /// one, else a string.
    Number,
}

/// How a column's values are written, decided from the table and the stream's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ColumnStyle {
    /// Text columns: what the text is.
    pub(crate) text: TextKind,
    /// The schema says `integer`: integral DOUBLE and DECIMAL values are written without a
    /// fraction.
    pub(crate) integral: bool,
}

/// One column of one batch, typed once so that each cell is a direct read.
pub(crate) enum Cells<'a> {
    Bool(&'a BooleanArray),
    Int(&'a Int64Array),
    UInt(&'a UInt64Array),
    Float(&'a Float64Array, bool),
    Decimal(&'a Decimal128Array, i8),
    Text(&'a StringArray, TextKind),
    Date(&'a Date32Array),
    Time(&'a Time64MicrosecondArray),
    Timestamp(&'a TimestampMicrosecondArray, bool),
    /// Types no cache writes (lists, structs, intervals, …): their display text, as a string
    /// (left out when Arrow cannot display the type).
    Display(&'a dyn Array, Option<ArrayFormatter<'a>>),
}

/// The array in a type [`Cells`] reads directly: narrower integers, floats, times and
/// timestamps of other units and other string layouts are cast once per batch. Unknown types
/// are returned as they are (displayed).
pub(crate) fn normalize_array(array: &ArrayRef) -> ArrayRef {
    use DataType::*;
    let target = match array.data_type() {
        Int8 | Int16 | Int32 | UInt8 | UInt16 | UInt32 => Some(Int64),
        Float16 | Float32 => Some(Float64),
        LargeUtf8 | Utf8View => Some(Utf8),
        Date64 => Some(Date32),
        Time32(_) | Time64(TimeUnit::Nanosecond) => Some(Time64(TimeUnit::Microsecond)),
        Timestamp(unit, tz) if *unit != TimeUnit::Microsecond => {
            Some(Timestamp(TimeUnit::Microsecond, tz.clone()))
        }
        _ => None,
    };
    match target {
        Some(t) => arrow::compute::cast(array, &t).unwrap_or_else(|_| Arc::clone(array)),
        None => Arc::clone(array),
    }
}

impl<'a> Cells<'a> {
    /// The view of a column produced by [`normalize_array`].
    pub(crate) fn new(array: &'a ArrayRef, style: ColumnStyle) -> Self {
        let a = array.as_ref();
        match a.data_type() {
            DataType::Boolean => Self::Bool(a.as_boolean()),
            DataType::Int64 => Self::Int(a.as_primitive::<Int64Type>()),
            DataType::UInt64 => Self::UInt(a.as_primitive::<UInt64Type>()),
            DataType::Float64 => Self::Float(a.as_primitive::<Float64Type>(), style.integral),
            DataType::Decimal128(_, scale) => {
                Self::Decimal(a.as_primitive::<Decimal128Type>(), *scale)
            }
            DataType::Utf8 => Self::Text(a.as_string::<i32>(), style.text),
            DataType::Date32 => Self::Date(a.as_primitive::<Date32Type>()),
            DataType::Time64(TimeUnit::Microsecond) => {
                Self::Time(a.as_primitive::<Time64MicrosecondType>())
            }
            DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                Self::Timestamp(a.as_primitive::<TimestampMicrosecondType>(), tz.is_some())
            }
            _ => Self::Display(
                a,
                ArrayFormatter::try_new(a, &FormatOptions::default()).ok(),
            ),
        }
    }

    /// Whether row `i` is NULL.
    pub(crate) fn is_null(&self, i: usize) -> bool {
        match self {
            Self::Bool(a) => a.is_null(i),
            Self::Int(a) => a.is_null(i),
            Self::UInt(a) => a.is_null(i),
            Self::Float(a, _) => a.is_null(i),
            Self::Decimal(a, ..) => a.is_null(i),
            Self::Text(a, _) => a.is_null(i),
            Self::Date(a) => a.is_null(i),
            Self::Time(a) => a.is_null(i),
            Self::Timestamp(a, _) => a.is_null(i),
            Self::Display(a, _) => a.is_null(i),
        }
    }

    /// Appends the JSON of row `i` (not NULL) to `out`. Returns `false`, having written
    /// nothing, for a value JSON cannot hold (a NaN or infinite DOUBLE): the field is left out.
    pub(crate) fn write(&self, i: usize, out: &mut Vec<u8>) -> bool {
        match self {
            Self::Bool(a) => out.extend_from_slice(if a.value(i) { b"true" } else { b"false" }),
            Self::Int(a) => write_int(out, a.value(i)),
            Self::UInt(a) => {
                out.extend_from_slice(itoa::Buffer::new().format(a.value(i)).as_bytes())
            }
            Self::Float(a, integral) => return write_float(out, a.value(i), *integral),
            Self::Decimal(a, scale) => {
                let text = Decimal128Type::format_decimal(a.value(i), 38, *scale);
                write_decimal_text(out, &text);
            }
            Self::Text(a, kind) => write_text(out, a.value(i), *kind),
            Self::Date(a) => {
                out.push(b'"');
                write_date(out, a.value(i) as i64);
                out.push(b'"');
            }
            Self::Time(a) => {
                out.push(b'"');
                write_time(out, a.value(i).rem_euclid(MICROS_PER_DAY));
                out.push(b'"');
            }
            Self::Timestamp(a, utc) => {
                out.push(b'"');
                write_timestamp(out, a.value(i), *utc);
                out.push(b'"');
            }
            Self::Display(_, None) => return false,
            Self::Display(_, Some(f)) => {
                let text = f.value(i).to_string();
                write_json_string(out, &text);
            }
        }
        true
    }
}

/// Appends `s` as a JSON string literal, escaped as serde_json escapes.
pub(crate) fn write_json_string(out: &mut Vec<u8>, s: &str) {
    // Serializing a `str` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_int(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// A DOUBLE: shortest round-trip text; integral values of an integer property without a
/// fraction (`3`, not `3.0`).
fn write_float(out: &mut Vec<u8>, v: f64, integral: bool) -> bool {
    if !v.is_finite() {
        return false;
    }
    if integral && v.fract() == 0.0 && v.abs() < 9.0e18 {
        write_int(out, v as i64);
    } else {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    }
    true
}

/// A DECIMAL's text (PyAirbyte's `DECIMAL(38,9)` gives `0.250000000`) without its trailing
/// fractional zeros, so integral values have no fraction.
fn write_decimal_text(out: &mut Vec<u8>, text: &str) {
    let trimmed = match text.split_once('.') {
        Some((int, frac)) => match frac.trim_end_matches('0').len() {
            0 => int,
            n => &text[..int.len() + 1 + n],
        },
        None => text,
    };
    out.extend_from_slice(trimmed.as_bytes());
}

fn write_text(out: &mut Vec<u8>, s: &str, kind: TextKind) {
    match kind {
        TextKind::String => write_json_string(out, s),
        TextKind::Number => {
            if is_json_number(s.as_bytes()) {
                out.extend_from_slice(s.as_bytes());
            } else {
                write_json_string(out, s);
            }
        }
        TextKind::Json { validate } => write_raw_json(out, s, validate),
    }
}

/// Embeds JSON text. Text that would break the line (raw line breaks between tokens, which
/// DuckDB's JSON type keeps as given) is re-serialized compactly; text that is not JSON at all
/// (possible only in unvalidated VARCHAR columns) is written as a string.
pub(crate) fn write_raw_json(out: &mut Vec<u8>, s: &str, validate: bool) {
    let breaks_line = memchr::memchr2(b'\n', b'\r', s.as_bytes()).is_some();
    if !breaks_line && !validate {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v) if breaks_line => {
            let _ = serde_json::to_writer(&mut *out, &v);
        }
        Ok(_) => out.extend_from_slice(s.as_bytes()),
        Err(_) => write_json_string(out, s),
    }
}

/// Whether `b` is exactly one JSON number (RFC 8259 grammar).
pub(crate) fn is_json_number(b: &[u8]) -> bool {
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i = 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

fn push2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// `YYYY-MM-DD` of days since the epoch (years outside 0–9999 as `format!` spells them).
pub(crate) fn write_date(out: &mut Vec<u8>, days: i64) {
    let (y, m, d) = civil_from_days(days);
    if (0..=9999).contains(&y) {
        let y = y as u32;
        push2(out, y / 100);
        push2(out, y % 100);
    } else {
        out.extend_from_slice(format!("{y:04}").as_bytes());
    }
    out.push(b'-');
    push2(out, m);
    out.push(b'-');
    push2(out, d);
}

/// `HH:MM:SS`, then `.mmm` or `.mmmmmm` when there are sub-second digits.
pub(crate) fn write_time(out: &mut Vec<u8>, micros: i64) {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000) as u32;
    push2(out, (secs / 3600) as u32);
    out.push(b':');
    push2(out, ((secs / 60) % 60) as u32);
    out.push(b':');
    push2(out, (secs % 60) as u32);
    if frac != 0 {
        out.push(b'.');
        let (value, digits) = if frac.is_multiple_of(1000) {
            (frac / 1000, 3)
        } else {
            (frac, 6)
        };
        let mut buf = [b'0'; 6];
        let mut v = value;
        for slot in buf[..digits].iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out.extend_from_slice(&buf[..digits]);
    }
}

/// RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fff[fff]]`, with `Z` for instants (TIMESTAMPTZ).
pub(crate) fn write_timestamp(out: &mut Vec<u8>, micros: i64, utc: bool) {
    write_date(out, micros.div_euclid(MICROS_PER_DAY));
    out.push(b'T');
    write_time(out, micros.rem_euclid(MICROS_PER_DAY));
    if utc {
        out.push(b'Z');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_numbers() {
        for ok in [
            "0",
            "-0",
            "12",
            "-3.25",
            "1e30",
            "1E+30",
            "1.5e-12",
            "123456789012345678901234567",
        ] {
            assert!(is_json_number(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "", "-", "01", "1.", ".5", "1e", "+1", "inf", "NaN", " 1", "1 ", "0x10", "1e+",
        ] {
            assert!(!is_json_number(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(text(|o| write_date(o, 0)), "1970-01-01");
        assert_eq!(text(|o| write_date(o, 19_782)), "2024-02-29");
        assert_eq!(text(|o| write_date(o, -1)), "1969-12-31");
        assert_eq!(text(|o| write_time(o, 36_672_000_000)), "10:11:12");
        assert_eq!(text(|o| write_time(o, 36_672_500_000)), "10:11:12.500");
        assert_eq!(text(|o| write_time(o, 36_672_000_005)), "10:11:12.000005");
        let base = 1_704_164_645_000_000; // 2024-01-02T03:04:05Z
        assert_eq!(
            text(|o| write_timestamp(o, base, true)),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            text(|o| write_timestamp(o, base + 123_456, false)),
            "2024-01-02T03:04:05.123456"
        );
        assert_eq!(
            text(|o| write_timestamp(o, -1_000_000, true)),
            "1969-12-31T23:59:59Z"
        );
    }

    #[test]
    fn numbers_and_text() {
        assert_eq!(text(|o| assert!(write_float(o, 3.0, true))), "3");
        assert_eq!(text(|o| assert!(write_float(o, 3.0, false))), "3.0");
        assert_eq!(text(|o| assert!(write_float(o, 0.25, true))), "0.25");
        assert_eq!(text(|o| assert!(write_float(o, 1e30, true))), "1e30");
        assert!(!write_float(&mut Vec::new(), f64::NAN, false));
        assert!(!write_float(&mut Vec::new(), f64::INFINITY, true));
        assert_eq!(text(|o| write_decimal_text(o, "0.250000000")), "0.25");
        assert_eq!(text(|o| write_decimal_text(o, "-7.000000000")), "-7");
        assert_eq!(
            text(|o| write_text(o, "a\"b\\c\n\u{2028}\u{1}", TextKind::String)),
            "\"a\\\"b\\\\c\\n\u{2028}\\u0001\""
        );
        assert_eq!(text(|o| write_text(o, "1e+30", TextKind::Number)), "1e+30");
        assert_eq!(text(|o| write_text(o, "abc", TextKind::Number)), "\"abc\"");
        assert_eq!(
            text(|o| write_raw_json(o, "{\"a\":\n [1, 2]}", false)),
            "{\"a\":[1,2]}"
        );
        assert_eq!(text(|o| write_raw_json(o, "{oops", true)), "\"{oops\"");
        assert_eq!(text(|o| write_raw_json(o, "[1]", true)), "[1]");
    }
}
