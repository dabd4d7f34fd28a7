//! JSON schema → cache column types (backend-neutral; each backend spells them in its DDL), and lenient parsing of the text values that go into them.
//!
//! The mapping follows PyAirbyte's `SQLTypeConverter` with deliberate fixes:
//!
//! 1. An `airbyte_type` wins: `integer` → BIGINT, `timestamp_with_timezone` → TIMESTAMPTZ,
//!    `timestamp_without_timezone` → TIMESTAMP, `time_with_timezone`/`time_without_timezone` →
//!    TIME, `date` → DATE.
//! 2. A `type` list with exactly one non-null type collapses to it.
//! 3. `string` with `format` `date` → DATE, `date-time` → TIMESTAMPTZ (PyAirbyte renders naive
//!    TIMESTAMP, §6.6), `time` → TIME; other `string` → VARCHAR; `integer` → BIGINT;
//!    `boolean` → BOOLEAN; `object` and `array` → JSON.
//! 4. `number` → DOUBLE, not PyAirbyte's DECIMAL(38,9) (§6.7): DOUBLE never fails on `1e30` or
//!    `1.5e-12`, and every value a float64-based connector (Python, JavaScript, Java) emits is
//!    stored exactly, because it was a float64 to begin with.
//! 5. Any union that contains `object` or `array` → JSON (a JSON column holds every JSON value,
//!    so strings stay strings); other unions and a missing `type` → VARCHAR.

use serde_json::Value;

/// A column type of the cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// `BIGINT`.
    BigInt,
    /// `DOUBLE`.
    Double,
    /// `BOOLEAN`.
    Boolean,
    /// `VARCHAR`.
    Varchar,
    /// `JSON` (DuckDB: JSON, stored as text, see [`SqlType::ddl`]; PostgreSQL: JSONB).
    Json,
    /// `DATE`.
    Date,
    /// `TIME`.
    Time,
    /// `TIMESTAMP` (no time zone).
    Timestamp,
    /// `TIMESTAMP WITH TIME ZONE`, stored as UTC.
    TimestampTz,
    /// Any other type found in an existing table (e.g. PyAirbyte's `DECIMAL(38,9)`), verbatim.
    Other(String),
}

impl SqlType {
    /// The type for a property's JSON schema.
    pub fn from_json_schema(schema: &Value) -> Self {
        if let Some(t) = schema.get("airbyte_type").and_then(Value::as_str) {
            match t {
                "integer" => return Self::BigInt,
                "timestamp_with_timezone" => return Self::TimestampTz,
                "timestamp_without_timezone" => return Self::Timestamp,
                "time_with_timezone" | "time_without_timezone" => return Self::Time,
                "date" => return Self::Date,
                _ => {}
            }
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let non_null: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
        if non_null.iter().any(|t| *t == "object" || *t == "array") {
            return Self::Json;
        }
        match non_null.as_slice() {
            ["string"] => match schema.get("format").and_then(Value::as_str) {
                Some("date") => Self::Date,
                Some("date-time") => Self::TimestampTz,
                Some("time") => Self::Time,
                _ => Self::Varchar,
            },
            ["integer"] => Self::BigInt,
            ["number"] => Self::Double,
            ["boolean"] => Self::Boolean,
            _ => Self::Varchar,
        }
    }

    /// Whether this is a numeric type of DuckDB other than BIGINT/DOUBLE.
    fn is_other_numeric(&self) -> bool {
        let Self::Other(s) = self else { return false };
        let s = s.to_ascii_uppercase();
        [
            "DECIMAL", "NUMERIC", "INTEGER", "INT", "SMALLINT", "TINYINT", "HUGEINT", "FLOAT",
            "REAL",
        ]
        .iter()
        .any(|p| s.starts_with(p))
            || s.starts_with("UBIGINT")
            || s.starts_with("UINTEGER")
    }

    /// The type an existing column of type `self` should be altered to so that it can hold
    /// values of the newly declared type `declared`, without losing any value already stored.
    ///
    /// `None` means: keep the column as it is (same type, or no lossless widening exists, in
    /// which case new values are converted to the existing type, or NULLed and recorded in
    /// `_airbyte_meta.changes` when they do not fit).
    pub fn widen_for(&self, declared: &SqlType) -> Option<SqlType> {
        use SqlType::*;
        if self == declared {
            return None;
        }
        match (self, declared) {
            // Text holds everything (JSON text included).
            (_, Varchar) => Some(Varchar),
            (BigInt, Double) => Some(Double),
            (Date, Timestamp) => Some(Timestamp),
            (Date | Timestamp, TimestampTz) => Some(TimestampTz),
            (other, BigInt | Double) if other.is_other_numeric() => {
                let Other(s) = other else { return None };
                let s = s.to_ascii_uppercase();
                let integral = !(s.starts_with("DECIMAL")
                    || s.starts_with("NUMERIC")
                    || s.starts_with("FLOAT")
                    || s.starts_with("REAL"));
                (integral || *declared == Double).then(|| declared.clone())
            }
            _ => None,
        }
    }
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian), or `None` when invalid.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d > mdays[(m - 1) as usize] {
        return None;
    }
    // Howard Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// Parses `YYYY-MM-DD` at the start of `b`; returns days since the epoch and bytes used.
fn parse_date_prefix(b: &[u8]) -> Option<(i64, usize)> {
    let (neg, start) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let mut i = start;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i - start < 4 || i - start > 6 {
        return None;
    }
    let mut y = digits(b, start, i - start)? as i64;
    if neg {
        y = -y;
    }
    if b.get(i) != Some(&b'-') || b.get(i + 3) != Some(&b'-') {
        return None;
    }
    let m = digits(b, i + 1, 2)?;
    let d = digits(b, i + 4, 2)?;
    Some((days_from_civil(y, m, d)?, i + 6))
}

/// Parses `HH:MM[:SS[.fraction]]` at the start of `b`; returns microseconds and bytes used.
fn parse_time_prefix(b: &[u8]) -> Option<(i64, usize)> {
    let h = digits(b, 0, 2)?;
    if b.get(2) != Some(&b':') {
        return None;
    }
    let mi = digits(b, 3, 2)?;
    let mut i = 5;
    let mut s = 0;
    let mut micros = 0i64;
    if b.get(5) == Some(&b':') {
        s = digits(b, 6, 2)?;
        i = 8;
        if matches!(b.get(8), Some(b'.') | Some(b',')) {
            i = 9;
            let mut scale = 100_000i64;
            let begin = i;
            while i < b.len() && b[i].is_ascii_digit() {
                micros += (b[i] - b'0') as i64 * scale;
                scale /= 10;
                i += 1;
            }
            if i == begin {
                return None;
            }
        }
    }
    // 24:00:00 is allowed by ISO 8601 as the end of a day; leap seconds (60) are clamped.
    if h > 24 || mi > 59 || s > 60 || (h == 24 && (mi > 0 || s > 0 || micros > 0)) {
        return None;
    }
    let s = s.min(59);
    Some((
        ((h as i64 * 60 + mi as i64) * 60 + s as i64) * 1_000_000 + micros,
        i,
    ))
}

/// Parses an offset (`Z`, `±HH:MM`, `±HHMM`, `±HH`, ` UTC`) that must cover all of `b`; returns
/// seconds east of UTC.
fn parse_offset(b: &[u8]) -> Option<i64> {
    let b = b.strip_prefix(b" ").unwrap_or(b);
    match b {
        [] => Some(0),
        b"Z" | b"z" | b"UTC" | b"GMT" => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest.len() {
                2 => (digits(rest, 0, 2)?, 0),
                4 => (digits(rest, 0, 2)?, digits(rest, 2, 2)?),
                5 if rest[2] == b':' => (digits(rest, 0, 2)?, digits(rest, 3, 2)?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let secs = (h as i64 * 60 + m as i64) * 60;
            Some(if *sign == b'-' { -secs } else { secs })
        }
        _ => None,
    }
}

/// Parses a date (`YYYY-MM-DD`) into days since the epoch. A date-time is accepted too and
/// gives its (local) date.
pub fn parse_date(text: &str) -> Option<i32> {
    let b = text.trim().as_bytes();
    let (days, used) = parse_date_prefix(b)?;
    if used != b.len() {
        // A full date-time in a date column: keep the date if the rest is a valid time.
        parse_timestamp_micros(text)?;
    }
    i32::try_from(days).ok()
}

/// Parses a date-time leniently into microseconds since the epoch, UTC.
///
/// Accepts RFC 3339 and its common relatives: `T`, `t` or a space between date and time,
/// fractional seconds of any length (beyond microseconds truncated), an offset `Z`, `±HH:MM`,
/// `±HHMM`, `±HH` or `UTC`, or no offset at all (taken as UTC), and a bare date (midnight UTC).
pub fn parse_timestamp_micros(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    let (days, used) = parse_date_prefix(b)?;
    let rest = &b[used..];
    let (micros, offset) = match rest {
        [] => (0, 0),
        [b'T' | b't' | b' ', time @ ..] => {
            let (micros, used) = parse_time_prefix(time)?;
            (micros, parse_offset(&time[used..])?)
        }
        _ => return None,
    };
    days.checked_mul(86_400_000_000)?
        .checked_add(micros)?
        .checked_sub(offset.checked_mul(1_000_000)?)
}

/// Parses a time of day (`HH:MM[:SS[.f]]`, an optional offset ignored) into microseconds since
/// midnight. A full date-time gives its time part.
pub fn parse_time_micros(text: &str) -> Option<i64> {
    let t = text.trim();
    let b = t.as_bytes();
    if let Some((micros, used)) = parse_time_prefix(b) {
        parse_offset(&b[used..])?;
        return Some(micros.min(86_400_000_000 - 1));
    }
    let ts = parse_timestamp_micros(t)?;
    Some(ts.rem_euclid(86_400_000_000))
}

/// Formats days since the epoch as `YYYY-MM-DD`.
pub(crate) fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The civil date of a day number (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats microseconds since midnight as `HH:MM:SS[.ffffff]`.
pub(crate) fn format_time(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if frac == 0 {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}.{frac:06}")
    }
}

/// Formats microseconds since the epoch as RFC 3339 (`…Z` when `utc`, no offset otherwise).
pub(crate) fn format_timestamp(micros: i64, utc: bool) -> String {
    let days = micros.div_euclid(86_400_000_000);
    let rest = micros.rem_euclid(86_400_000_000);
    let mut out = format_date(days);
    out.push('T');
    out.push_str(&format_time(rest));
    if utc {
        out.push_str("+00:00");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mapping_table() {
        let cases = [
            (json!({"type": "integer"}), SqlType::BigInt),
            (json!({"type": ["null", "integer"]}), SqlType::BigInt),
            (json!({"type": "number"}), SqlType::Double),
            (
                json!({"type": "number", "airbyte_type": "integer"}),
                SqlType::BigInt,
            ),
            (json!({"type": "string"}), SqlType::Varchar),
            (json!({"type": "string", "format": "date"}), SqlType::Date),
            (
                json!({"type": "string", "format": "date-time"}),
                SqlType::TimestampTz,
            ),
            (
                json!({"type": "string", "format": "date-time", "airbyte_type": "timestamp_without_timezone"}),
                SqlType::Timestamp,
            ),
            (
                json!({"type": "string", "airbyte_type": "timestamp_with_timezone"}),
                SqlType::TimestampTz,
            ),
            (json!({"type": "string", "format": "time"}), SqlType::Time),
            (
                json!({"type": "string", "airbyte_type": "time_with_timezone"}),
                SqlType::Time,
            ),
            (
                json!({"type": "string", "airbyte_type": "date"}),
                SqlType::Date,
            ),
            (json!({"type": "boolean"}), SqlType::Boolean),
            (json!({"type": "object"}), SqlType::Json),
            (json!({"type": ["null", "array"]}), SqlType::Json),
            (json!({"type": ["null", "string", "object"]}), SqlType::Json),
            (json!({"type": ["string", "integer"]}), SqlType::Varchar),
            (json!({}), SqlType::Varchar),
            (json!({"type": "null"}), SqlType::Varchar),
        ];
        for (schema, want) in cases {
            assert_eq!(SqlType::from_json_schema(&schema), want, "{schema}");
        }
    }

    #[test]
    fn widening() {
        assert_eq!(
            SqlType::BigInt.widen_for(&SqlType::Varchar),
            Some(SqlType::Varchar)
        );
        assert_eq!(
            SqlType::BigInt.widen_for(&SqlType::Double),
            Some(SqlType::Double)
        );
        assert_eq!(SqlType::Varchar.widen_for(&SqlType::BigInt), None);
        assert_eq!(
            SqlType::Other("DECIMAL(38,9)".into()).widen_for(&SqlType::Double),
            Some(SqlType::Double)
        );
        assert_eq!(
            SqlType::Other("DECIMAL(38,9)".into()).widen_for(&SqlType::BigInt),
            None
        );
        assert_eq!(
            SqlType::Timestamp.widen_for(&SqlType::TimestampTz),
            Some(SqlType::TimestampTz)
        );
    }

    #[test]
    fn datetimes() {
        let base = 1_704_164_645_000_000; // 2024-01-02T03:04:05Z
        for s in [
            "2024-01-02T03:04:05Z",
            "2024-01-02T03:04:05+00:00",
            "2024-01-02 03:04:05",
            "2024-01-02t03:04:05z",
            "2024-01-02T04:04:05+01:00",
            "2024-01-02T04:04:05+0100",
            "2024-01-02T02:04:05-01",
            "2024-01-02 03:04:05 UTC",
        ] {
            assert_eq!(parse_timestamp_micros(s), Some(base), "{s}");
        }
        assert_eq!(
            parse_timestamp_micros("2024-01-02T03:04:05.123456789Z"),
            Some(base + 123_456)
        );
        assert_eq!(
            parse_timestamp_micros("2024-01-02T03:04:05.5"),
            Some(base + 500_000)
        );
        assert_eq!(
            parse_timestamp_micros("2024-01-02"),
            Some(base - 11_045_000_000)
        );
        assert_eq!(
            parse_timestamp_micros("1969-12-31T23:59:59Z"),
            Some(-1_000_000)
        );
        for bad in [
            "",
            "x",
            "2024-13-01",
            "2024-02-30",
            "2024-01-02T25:00:00",
            "2024-01-02T03:04:05+",
            "20240102",
        ] {
            assert_eq!(parse_timestamp_micros(bad), None, "{bad}");
        }
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2024-02-29T10:00:00Z"), Some(19_782));
        assert_eq!(parse_time_micros("10:11:12.5"), Some(36_672_500_000));
        assert_eq!(parse_time_micros("10:11"), Some(36_660_000_000));
        assert_eq!(parse_time_micros("10:11:12+02:00"), Some(36_672_000_000));
        assert_eq!(
            format_timestamp(base + 5, true),
            "2024-01-02T03:04:05.000005+00:00"
        );
        assert_eq!(format_date(-1), "1969-12-31");
        for days in [-800_000i64, -1, 0, 19_782, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), Some(days));
        }
    }
}
