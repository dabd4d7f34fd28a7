//! The CDK's `DatetimeParser` over JSON values: what a cursor reads from records, states and
//! start/end templates (`%s`, `%ms`, `%s_as_float`, `%epoch_microseconds`, `%_ms`, else
//! `strptime`; naive values are UTC), and how it writes window boundaries and states.

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::interpolation::datetime::PyDateTime;
use crate::interpolation::macros::{format_with_parser, parse_datetime};
use crate::interpolation::python_repr::python_float;

/// An aware date-time, as the cursor compares them (by instant).
pub type Dt = DateTime<FixedOffset>;

/// `DatetimeParser.parse(value, format)`; `None` where Python raises (a `ValueError`, or a
/// `TypeError` for `None`).
pub fn parse(value: &Value, format: &str) -> Option<Dt> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => match format {
            // `int(date)` truncates a float; `float(date)` keeps it.
            "%s" | "%ms" | "%epoch_microseconds" => match n.as_i64() {
                Some(i) => i.to_string(),
                None => (n.as_f64()?.trunc() as i64).to_string(),
            },
            _ => match n.as_i64() {
                Some(i) => i.to_string(),
                None => python_float(n.as_f64()?),
            },
        },
        // `int(True)` is 1 and `str(True)` is "True", as Python reads them.
        Value::Bool(b) => match format {
            "%s" | "%ms" | "%epoch_microseconds" | "%s_as_float" => u8::from(*b).to_string(),
            _ => if *b { "True" } else { "False" }.to_string(),
        },
        Value::Null | Value::Array(_) | Value::Object(_) => return None,
    };
    parse_str(&text, format)
}

/// `DatetimeParser.parse` of a text.
pub fn parse_str(text: &str, format: &str) -> Option<Dt> {
    parse_datetime(text, format).ok().map(|d| d.0)
}

/// The first of `formats` that parses `value` (`parse_timestamp` of the CDK's
/// `CustomFormatConcurrentStreamStateConverter`).
pub fn parse_any(value: &Value, formats: &[String]) -> Option<Dt> {
    formats.iter().find_map(|f| parse(value, f))
}

/// Python's `max(a, b)`: `a` unless `b` is greater (equal instants in other offsets keep `a`,
/// where `Ord::max` would give `b`).
pub fn py_max(a: Dt, b: Dt) -> Dt {
    if b > a { b } else { a }
}

/// Python's `min(a, b)`: `a` unless `b` is smaller.
pub fn py_min(a: Dt, b: Dt) -> Dt {
    if b < a { b } else { a }
}

/// `DatetimeParser.format(dt, format)`.
pub fn format(dt: &Dt, format: &str) -> String {
    format_with_parser(&PyDateTime(*dt), format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_epochs_from_numbers_and_strings() {
        let a = parse(&json!(1_700_000_000), "%s").unwrap();
        let b = parse(&json!("1700000000"), "%s").unwrap();
        assert_eq!(a, b);
        assert_eq!(format(&a, "%Y-%m-%dT%H:%M:%SZ"), "2023-11-14T22:13:20Z");
        assert_eq!(parse(&json!(1_700_000_000.9), "%s"), Some(a));
        assert_eq!(format(&a, "%ms"), "1700000000000");
        assert_eq!(parse(&json!("1700000000000"), "%ms"), Some(a));
        assert!(parse(&json!("1700000000.5"), "%s").is_none());
        assert!(parse(&Value::Null, "%s").is_none());
    }

    #[test]
    fn strptime_formats_and_the_first_that_matches() {
        let formats = vec!["%Y-%m-%d".to_string(), "%Y-%m-%dT%H:%M:%S%z".to_string()];
        let d = parse_any(&json!("2024-01-02T03:04:05+02:00"), &formats).unwrap();
        assert_eq!(d.to_rfc3339(), "2024-01-02T03:04:05+02:00");
        let day = parse_any(&json!("2024-01-02"), &formats).unwrap();
        assert_eq!(day.to_rfc3339(), "2024-01-02T00:00:00+00:00");
        assert!(parse_any(&json!("02/01/2024"), &formats).is_none());
        // A number is written as Python's `str` before strptime.
        assert_eq!(
            parse(&json!(20240102), "%Y%m%d").map(|d| d.to_rfc3339()),
            Some("2024-01-02T00:00:00+00:00".into())
        );
    }

    #[test]
    fn milliseconds_directive() {
        let d = parse(
            &json!("2024-01-02T03:04:05.123Z"),
            "%Y-%m-%dT%H:%M:%S.%_msZ",
        )
        .unwrap();
        assert_eq!(
            format(&d, "%Y-%m-%dT%H:%M:%S.%_msZ"),
            "2024-01-02T03:04:05.123Z"
        );
        assert_eq!(
            format(&d, "%Y-%m-%dT%H:%M:%S.%fZ"),
            "2024-01-02T03:04:05.123000Z"
        );
    }
}
