//! The CDK's global functions (`airbyte_cdk/sources/declarative/interpolation/macros.py`).

use chrono::{Offset, TimeDelta, TimeZone, Utc};
use minijinja::value::{Kwargs, Rest, Value, ValueKind, ValueOrKwargs, from_args};
use minijinja::{Environment, Error, ErrorKind};

use super::datetime::{PyDate, PyDateTime, PyDuration, isoparse, parse_duration};
use super::strftime::{aware, strptime};

/// The names of the macros (they are not "undeclared variables" of a template).
pub const MACRO_NAMES: &[&str] = &[
    "now_utc",
    "today_utc",
    "timestamp",
    "max",
    "min",
    "day_delta",
    "duration",
    "format_datetime",
    "today_with_timezone",
    "str_to_datetime",
    "sanitize_url",
    "camel_case_to_snake_case",
    "generate_uuid",
];

/// The start of the messages of errors that are Python `TypeError`s (the CDK returns the
/// template text for those).
pub const TYPE_ERROR: &str = "TypeError: ";

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// Registers the macros on `env`.
pub fn register(env: &mut Environment<'static>) {
    env.add_function("now_utc", || Value::from_object(PyDateTime::now_utc()));
    env.add_function("today_utc", || {
        Value::from_object(PyDate(Utc::now().date_naive()))
    });
    env.add_function("today_with_timezone", today_with_timezone);
    env.add_function("timestamp", timestamp);
    env.add_function("str_to_datetime", |s: &str| {
        str_to_datetime(s).map(Value::from_object)
    });
    env.add_function("max", |args: Rest<Value>| {
        extreme(&args, std::cmp::Ordering::Greater, "max")
    });
    env.add_function("min", |args: Rest<Value>| {
        extreme(&args, std::cmp::Ordering::Less, "min")
    });
    env.add_function("day_delta", day_delta);
    env.add_function("duration", |s: &str| {
        parse_duration(s)
            .map(Value::from_object)
            .ok_or_else(|| invalid(format!("Unable to parse duration string {s:?}")))
    });
    env.add_function("format_datetime", format_datetime);
    env.add_function("sanitize_url", |s: &str| quote_plus(s));
    env.add_function("camel_case_to_snake_case", |s: &str| {
        camel_case_to_snake_case(s)
    });
    env.add_function("generate_uuid", || uuid::Uuid::new_v4().to_string());
}

/// `str_to_datetime(s)`: dateutil's `isoparse`, naive as UTC, converted to UTC.
pub fn str_to_datetime(s: &str) -> Result<PyDateTime, Error> {
    isoparse(s)
        .map(PyDateTime)
        .ok_or_else(|| invalid(format!("Invalid isoformat string: {s:?}")))
}

/// `today_with_timezone(tz)`: today's date in an IANA time zone (the CDK uses pytz).
fn today_with_timezone(timezone: &str) -> Result<Value, Error> {
    let tz: chrono_tz::Tz = timezone
        .parse()
        .map_err(|_| invalid(format!("UnknownTimeZoneError: {timezone:?}")))?;
    Ok(Value::from_object(PyDate(
        Utc::now().with_timezone(&tz).date_naive(),
    )))
}

fn timestamp(dt: Value) -> Result<Value, Error> {
    match dt.kind() {
        ValueKind::Number if dt.is_integer() => Ok(dt),
        ValueKind::Number => Ok(Value::from(f64::try_from(dt)?.trunc() as i64)),
        ValueKind::String => Ok(Value::from(
            str_to_datetime(dt.as_str().unwrap_or_default())?.timestamp(),
        )),
        _ => match dt.downcast_object_ref::<PyDateTime>() {
            // `str_to_datetime(datetime)` fails in Python; a datetime's own timestamp is what was meant.
            Some(d) => Ok(Value::from(d.timestamp())),
            None => Err(invalid(format!(
                "timestamp() expects a number or a string, got {dt}"
            ))),
        },
    }
}

fn extreme(args: &[Value], wanted: std::cmp::Ordering, name: &str) -> Result<Value, Error> {
    let items: Vec<Value> = match args {
        [] => {
            return Err(invalid(format!(
                "{name} expected at least 1 argument, got 0"
            )));
        }
        [single] => single
            .try_iter()
            .map_err(|_| invalid(format!("'{}' object is not iterable", single.kind())))?
            .collect(),
        many => many.to_vec(),
    };
    let mut best: Option<Value> = None;
    for item in items {
        best = Some(match best {
            None => item,
            Some(current) => {
                if !comparable(&current, &item) {
                    return Err(invalid(format!(
                        "{TYPE_ERROR}'{}' not supported between {current} and {item}",
                        if wanted.is_gt() { ">" } else { "<" }
                    )));
                }
                if item.cmp(&current) == wanted {
                    item
                } else {
                    current
                }
            }
        });
    }
    best.ok_or_else(|| invalid(format!("{name}() arg is an empty sequence")))
}

/// Python refuses to order values of different kinds (`max(1, 'a')`).
fn comparable(a: &Value, b: &Value) -> bool {
    let class = |v: &Value| match v.kind() {
        ValueKind::Number | ValueKind::Bool => 0,
        ValueKind::String => 1,
        ValueKind::Seq => 2,
        _ if v.downcast_object_ref::<PyDateTime>().is_some() => 3,
        _ if v.downcast_object_ref::<PyDate>().is_some() => 4,
        _ if v.downcast_object_ref::<PyDuration>().is_some() => 5,
        _ => 6,
    };
    let (ca, cb) = (class(a), class(b));
    ca == cb && ca != 6
}

fn day_delta(args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let args = args.into_values();
    let (num_days, format, kwargs): (f64, Option<&str>, Kwargs) = from_args(&args)?;
    let format = match format {
        Some(f) => f.to_string(),
        None => kwargs
            .get::<Option<String>>("format")?
            .unwrap_or_else(|| "%Y-%m-%dT%H:%M:%S.%f%z".into()),
    };
    kwargs.assert_all_used()?;
    let delta = TimeDelta::microseconds((num_days * 86_400e6).round() as i64);
    let now = PyDateTime::now_utc().0;
    let shifted = now
        .checked_add_signed(delta)
        .ok_or_else(|| invalid("day_delta: date out of range"))?;
    Ok(PyDateTime(shifted).strftime(&format))
}

fn format_datetime(args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let args = args.into_values();
    let (dt, format, input_format, kwargs): (Value, Option<String>, Option<String>, Kwargs) =
        from_args(&args)?;
    let format = match format {
        Some(f) => f,
        None => kwargs.get::<String>("format")?,
    };
    let input_format = match input_format {
        Some(f) => Some(f),
        None => kwargs.get::<Option<String>>("input_format")?,
    };
    kwargs.assert_all_used()?;
    if let Some(d) = dt.downcast_object_ref::<PyDateTime>() {
        return Ok(d.strftime(&format));
    }
    if let Some(d) = dt.downcast_object_ref::<PyDate>() {
        return Ok(super::strftime::strftime(
            &d.0.and_time(chrono::NaiveTime::MIN),
            None,
            &format,
        ));
    }
    let parsed = if dt.is_integer() {
        parse_datetime(&dt.to_string(), input_format.as_deref().unwrap_or("%s"))?
    } else if let Some(s) = dt.as_str() {
        match input_format.as_deref() {
            // A string goes to `datetime.strptime` itself, not to the CDK's parser: `%s`,
            // `%ms` are not formats there.
            Some(f) => {
                let (naive, offset) = strptime(s, f).map_err(|e| invalid(e.0))?;
                aware(naive, offset.unwrap_or(Utc.fix()))
                    .map(PyDateTime)
                    .ok_or_else(|| invalid(format!("invalid date-time {s:?}")))?
            }
            None => str_to_datetime(s)?,
        }
    } else {
        return Err(invalid(format!(
            "format_datetime: cannot parse {dt} as a date-time"
        )));
    };
    Ok(format_with_parser(&parsed, &format))
}

/// The CDK's `DatetimeParser.parse`: `%s`, `%s_as_float`, `%ms`, `%epoch_microseconds` as
/// whole formats, `%_ms` as milliseconds, else `strptime`; naive values are UTC.
pub fn parse_datetime(text: &str, format: &str) -> Result<PyDateTime, Error> {
    let epoch = |secs: f64| -> Result<PyDateTime, Error> {
        let micros = (secs * 1e6).round() as i64;
        Utc.timestamp_micros(micros)
            .single()
            .map(|d| PyDateTime(d.fixed_offset()))
            .ok_or_else(|| invalid(format!("timestamp out of range: {text}")))
    };
    let int = || {
        text.trim()
            .parse::<i64>()
            .map_err(|_| invalid(format!("invalid literal for int() with base 10: {text:?}")))
    };
    match format {
        "%s" => {
            return Utc
                .timestamp_opt(int()?, 0)
                .single()
                .map(|d| PyDateTime(d.fixed_offset()))
                .ok_or_else(|| invalid("timestamp out of range"));
        }
        "%s_as_float" => {
            return epoch(
                text.trim()
                    .parse::<f64>()
                    .map_err(|_| invalid(format!("could not convert string to float: {text:?}")))?,
            );
        }
        "%ms" => {
            return Utc
                .timestamp_millis_opt(int()?)
                .single()
                .map(|d| PyDateTime(d.fixed_offset()))
                .ok_or_else(|| invalid("timestamp out of range"));
        }
        "%epoch_microseconds" => {
            return Utc
                .timestamp_micros(int()?)
                .single()
                .map(|d| PyDateTime(d.fixed_offset()))
                .ok_or_else(|| invalid("timestamp out of range"));
        }
        _ => {}
    }
    let format = format.replace("%_ms", "%f");
    let (naive, offset) = strptime(text, &format).map_err(|e| invalid(e.0))?;
    let offset = offset.unwrap_or(Utc.fix());
    aware(naive, offset)
        .map(PyDateTime)
        .ok_or_else(|| invalid(format!("invalid date-time {text:?}")))
}

/// The CDK's `DatetimeParser.format`: `%s`, `%s_as_float`, `%ms`, `%epoch_microseconds` as
/// whole formats, `%_ms` as 3-digit milliseconds, else `strftime`.
pub fn format_with_parser(dt: &PyDateTime, format: &str) -> String {
    match format {
        "%s" => return dt.0.timestamp().to_string(),
        "%s_as_float" => return super::python_repr::python_float(dt.timestamp()),
        "%epoch_microseconds" => {
            return (dt.0.timestamp() * 1_000_000 + i64::from(dt.0.timestamp_subsec_micros()))
                .to_string();
        }
        "%ms" => return dt.0.timestamp_millis().to_string(),
        _ => {}
    }
    if format.contains("%_ms") {
        let micros = dt.strftime("%f");
        let millis = format!("{:03}", dt.0.timestamp_subsec_micros() / 1000);
        return dt
            .strftime(&format.replace("%_ms", "%f"))
            .replace(&micros, &millis);
    }
    dt.strftime(format)
}

/// `urllib.parse.quote_plus`.
pub fn quote_plus(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `re.sub(r"(?<!^)(?=[A-Z])", "_", value).lower()`.
pub fn camel_case_to_snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_parser_formats() {
        let dt = parse_datetime("1658505815", "%s").unwrap();
        assert_eq!(dt.to_string(), "2022-07-22 16:03:35+00:00");
        assert_eq!(format_with_parser(&dt, "%ms"), "1658505815000");
        assert_eq!(
            format_with_parser(&parse_datetime("1658505815223", "%ms").unwrap(), "%s"),
            "1658505815"
        );
        assert_eq!(
            format_with_parser(
                &parse_datetime("1658505815223456", "%epoch_microseconds").unwrap(),
                "%epoch_microseconds"
            ),
            "1658505815223456"
        );
        assert_eq!(
            format_with_parser(
                &parse_datetime("1658505815.5", "%s_as_float").unwrap(),
                "%s_as_float"
            ),
            "1658505815.5"
        );
        let dt = parse_datetime("2022-07-22T16:03:35.123Z", "%Y-%m-%dT%H:%M:%S.%_ms%z").unwrap();
        assert_eq!(
            format_with_parser(&dt, "%Y-%m-%dT%H:%M:%S.%_msZ"),
            "2022-07-22T16:03:35.123Z"
        );
        assert!(parse_datetime("abc", "%s").is_err());
    }

    #[test]
    fn url_and_case_helpers() {
        assert_eq!(
            quote_plus("https://example.com/path?query=value &x"),
            "https%3A%2F%2Fexample.com%2Fpath%3Fquery%3Dvalue+%26x"
        );
        assert_eq!(camel_case_to_snake_case("CamelCase"), "camel_case");
        assert_eq!(camel_case_to_snake_case("HTTPResponse"), "h_t_t_p_response");
    }
}
