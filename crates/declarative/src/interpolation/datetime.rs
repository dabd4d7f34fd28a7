//! Python `datetime`, `date` and `timedelta` (plus isodate's month-aware `Duration`) as
//! template values: their methods (`strftime`, `isoformat`, `timestamp`, `date`, `replace`),
//! attributes, comparisons, `str()`, and the arithmetic the CDK's macros are used with
//! (`now_utc() - duration('P1D')`), which the rewrite in `desugar` routes to [`add`] / [`sub`].

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use chrono::{
    DateTime, Datelike, FixedOffset, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta,
    TimeZone, Timelike, Utc,
};
use minijinja::value::{DynObject, Kwargs, Object, ObjectRepr, Value, ValueKind, from_args};
use minijinja::{Error, ErrorKind, State};

use super::strftime::{format_offset, offset_name, strftime};

pub use super::iso8601::{isoparse, parse_duration};

/// A timezone-aware `datetime.datetime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PyDateTime(pub DateTime<FixedOffset>);

/// A `datetime.date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PyDate(pub NaiveDate);

/// A `datetime.timedelta`, or with `months` an `isodate.Duration` (`P1M`, `P1Y`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PyDuration {
    /// Whole months (years × 12 + months); added first, clamping the day to the month's end.
    pub months: i32,
    /// The exact part.
    pub delta: TimeDelta,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

impl PyDateTime {
    /// Now, in UTC, with Python's microsecond precision.
    pub fn now_utc() -> Self {
        let now = Utc::now();
        let micros = now.timestamp_subsec_micros();
        let now = now.with_nanosecond(micros * 1000).unwrap_or(now);
        Self(now.fixed_offset())
    }

    /// `isoformat(sep)`: `2024-01-02T03:04:05.000006+00:00` (microseconds only when non-zero).
    pub fn isoformat(&self, sep: &str) -> String {
        let dt = self.0;
        let micros = dt.nanosecond() / 1000;
        let mut s = format!(
            "{}{sep}{:02}:{:02}:{:02}",
            dt.format("%Y-%m-%d"),
            dt.hour(),
            dt.minute(),
            dt.second()
        );
        if micros != 0 {
            s.push_str(&format!(".{micros:06}"));
        }
        s.push_str(&format_offset(*dt.offset(), true));
        s
    }

    /// `isoformat(sep, timespec)`: `timespec` is `auto`, `hours`, `minutes`, `seconds`,
    /// `milliseconds` or `microseconds`, as in Python.
    pub fn isoformat_with(&self, sep: &str, timespec: &str) -> Result<String, Error> {
        let dt = self.0;
        let micros = dt.nanosecond() / 1000;
        let date = dt.format("%Y-%m-%d");
        let (h, m, sec) = (dt.hour(), dt.minute(), dt.second());
        let time = match timespec {
            "auto" => return Ok(self.isoformat(sep)),
            "hours" => format!("{h:02}"),
            "minutes" => format!("{h:02}:{m:02}"),
            "seconds" => format!("{h:02}:{m:02}:{sec:02}"),
            "milliseconds" => format!("{h:02}:{m:02}:{sec:02}.{:03}", micros / 1000),
            "microseconds" => format!("{h:02}:{m:02}:{sec:02}.{micros:06}"),
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("Unknown timespec value: {other:?}"),
                ));
            }
        };
        Ok(format!(
            "{date}{sep}{time}{}",
            format_offset(*dt.offset(), true)
        ))
    }

    /// `timestamp()`: seconds since the epoch, as a float.
    pub fn timestamp(&self) -> f64 {
        self.0.timestamp() as f64 + f64::from(self.0.timestamp_subsec_micros()) / 1e6
    }

    /// `strftime(format)` (Python's, see `strftime`).
    pub fn strftime(&self, format: &str) -> String {
        strftime(&self.0.naive_local(), Some(*self.0.offset()), format)
    }

    fn replace(&self, kwargs: &Kwargs) -> Result<Self, Error> {
        let dt = self.0.naive_local();
        let get = |name: &str, current: u32| -> Result<u32, Error> {
            Ok(kwargs.get::<Option<u32>>(name)?.unwrap_or(current))
        };
        let year = kwargs.get::<Option<i32>>("year")?.unwrap_or(dt.year());
        let date = NaiveDate::from_ymd_opt(year, get("month", dt.month())?, get("day", dt.day())?)
            .ok_or_else(|| invalid("replace(): day is out of range for month"))?;
        let micro = get("microsecond", dt.nanosecond() / 1000)?;
        let time = NaiveTime::from_hms_micro_opt(
            get("hour", dt.hour())?,
            get("minute", dt.minute())?,
            get("second", dt.second())?,
            micro,
        )
        .ok_or_else(|| invalid("replace(): a time field is out of range"))?;
        kwargs.assert_all_used()?;
        let offset = *self.0.offset();
        offset
            .from_local_datetime(&NaiveDateTime::new(date, time))
            .single()
            .map(Self)
            .ok_or_else(|| invalid("replace(): invalid datetime"))
    }
}

impl fmt::Display for PyDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.isoformat(" "))
    }
}

impl Object for PyDateTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let dt = self.0;
        Some(match key.as_str()? {
            "year" => dt.year().into(),
            "month" => dt.month().into(),
            "day" => dt.day().into(),
            "hour" => dt.hour().into(),
            "minute" => dt.minute().into(),
            "second" => dt.second().into(),
            "microsecond" => (dt.nanosecond() / 1000).into(),
            "tzinfo" => offset_name(*dt.offset()).into(),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (format,): (&str,) = from_args(args)?;
                Ok(self.strftime(format).into())
            }
            "isoformat" => {
                let (sep, timespec, kwargs): (Option<&str>, Option<&str>, Kwargs) =
                    from_args(args)?;
                let sep = match kwargs.get::<Option<&str>>("sep")? {
                    Some(s) => s,
                    None => sep.unwrap_or("T"),
                };
                let timespec = match kwargs.get::<Option<&str>>("timespec")? {
                    Some(t) => t,
                    None => timespec.unwrap_or("auto"),
                };
                kwargs.assert_all_used()?;
                Ok(self.isoformat_with(sep, timespec)?.into())
            }
            "timestamp" => {
                let () = from_args(args)?;
                Ok(self.timestamp().into())
            }
            "date" => Ok(Value::from_object(PyDate(self.0.date_naive()))),
            "replace" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                Ok(Value::from_object(self.replace(&kwargs)?))
            }
            "astimezone" => Ok(Value::from_object(PyDateTime(
                self.0.with_timezone(&Utc).fixed_offset(),
            ))),
            "weekday" => Ok(self.0.weekday().num_days_from_monday().into()),
            "isoweekday" => Ok(self.0.weekday().number_from_monday().into()),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        other.downcast_ref::<PyDateTime>().map(|o| self.0.cmp(&o.0))
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_ref(), f)
    }
}

impl Object for PyDate {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "year" => self.0.year().into(),
            "month" => self.0.month().into(),
            "day" => self.0.day().into(),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (format,): (&str,) = from_args(args)?;
                Ok(strftime(&self.0.and_time(NaiveTime::MIN), None, format).into())
            }
            "isoformat" => Ok(self.0.format("%Y-%m-%d").to_string().into()),
            "weekday" => Ok(self.0.weekday().num_days_from_monday().into()),
            "isoweekday" => Ok(self.0.weekday().number_from_monday().into()),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        other.downcast_ref::<PyDate>().map(|o| self.0.cmp(&o.0))
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl PyDuration {
    /// A plain `timedelta`.
    pub fn exact(delta: TimeDelta) -> Self {
        Self { months: 0, delta }
    }

    /// The opposite duration.
    pub fn negate(self) -> Self {
        Self {
            months: -self.months,
            delta: -self.delta,
        }
    }

    /// `str(timedelta)`: `1 day, 2:03:04.000005`, `-1 day, 23:59:59`.
    pub fn python_str(&self) -> String {
        let total = self.delta.num_microseconds().unwrap_or(i64::MAX);
        let day_us = 86_400_000_000i64;
        let days = total.div_euclid(day_us);
        let rest = total.rem_euclid(day_us);
        let (secs, micros) = (rest / 1_000_000, rest % 1_000_000);
        let mut s = format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
        if micros != 0 {
            s.push_str(&format!(".{micros:06}"));
        }
        if days != 0 {
            s = format!("{days} day{}, {s}", if days.abs() == 1 { "" } else { "s" });
        }
        if self.months != 0 {
            let (years, months) = (self.months / 12, self.months % 12);
            let mut prefix = String::new();
            if years != 0 {
                prefix.push_str(&format!(
                    "{years} year{}, ",
                    if years.abs() == 1 { "" } else { "s" }
                ));
            }
            if months != 0 {
                prefix.push_str(&format!(
                    "{months} month{}, ",
                    if months.abs() == 1 { "" } else { "s" }
                ));
            }
            s = prefix + &s;
        }
        s
    }

    /// `total_seconds()` (of the exact part).
    pub fn total_seconds(&self) -> f64 {
        self.delta
            .num_microseconds()
            .map_or(self.delta.num_seconds() as f64, |us| us as f64 / 1e6)
    }
}

impl Object for PyDuration {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let total = self.delta.num_microseconds()?;
        let day_us = 86_400_000_000i64;
        Some(match key.as_str()? {
            "days" => total.div_euclid(day_us).into(),
            "seconds" => (total.rem_euclid(day_us) / 1_000_000).into(),
            "microseconds" => (total.rem_euclid(1_000_000)).into(),
            "months" => (self.months % 12).into(),
            "years" => (self.months / 12).into(),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "total_seconds" => {
                let () = from_args(args)?;
                Ok(self.total_seconds().into())
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let o = other.downcast_ref::<PyDuration>()?;
        (self.months == o.months).then(|| self.delta.cmp(&o.delta))
    }

    fn is_true(self: &Arc<Self>) -> bool {
        self.months != 0 || !self.delta.is_zero()
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.python_str())
    }
}

/// `str()` (or, `nested` in a container, `repr()`) of a datetime/date/duration value.
pub fn render_object(value: &Value, nested: bool) -> Option<String> {
    if let Some(dt) = value.downcast_object_ref::<PyDateTime>() {
        if !nested {
            return Some(dt.to_string());
        }
        let d = dt.0;
        let mut fields = vec![
            d.year().to_string(),
            d.month().to_string(),
            d.day().to_string(),
            d.hour().to_string(),
            d.minute().to_string(),
        ];
        let micros = d.nanosecond() / 1000;
        if d.second() != 0 || micros != 0 {
            fields.push(d.second().to_string());
        }
        if micros != 0 {
            fields.push(micros.to_string());
        }
        let tz = if d.offset().local_minus_utc() == 0 {
            "datetime.timezone.utc".to_string()
        } else {
            format!(
                "datetime.timezone(datetime.timedelta(seconds={}))",
                d.offset().local_minus_utc()
            )
        };
        return Some(format!(
            "datetime.datetime({}, tzinfo={tz})",
            fields.join(", ")
        ));
    }
    if let Some(date) = value.downcast_object_ref::<PyDate>() {
        let d = date.0;
        return Some(if nested {
            format!("datetime.date({}, {}, {})", d.year(), d.month(), d.day())
        } else {
            d.format("%Y-%m-%d").to_string()
        });
    }
    if let Some(duration) = value.downcast_object_ref::<PyDuration>() {
        return Some(duration.python_str());
    }
    None
}

fn add_months_to(dt: DateTime<FixedOffset>, months: i32) -> Option<DateTime<FixedOffset>> {
    match months.cmp(&0) {
        Ordering::Equal => Some(dt),
        Ordering::Greater => dt.checked_add_months(Months::new(months.unsigned_abs())),
        Ordering::Less => dt.checked_sub_months(Months::new(months.unsigned_abs())),
    }
}

fn shift_datetime(dt: DateTime<FixedOffset>, d: PyDuration) -> Result<Value, Error> {
    add_months_to(dt, d.months)
        .and_then(|dt| dt.checked_add_signed(d.delta))
        .map(|dt| Value::from_object(PyDateTime(dt)))
        .ok_or_else(|| invalid("date value out of range"))
}

fn shift_date(date: NaiveDate, d: PyDuration) -> Result<Value, Error> {
    let shifted = match d.months.cmp(&0) {
        Ordering::Equal => Some(date),
        Ordering::Greater => date.checked_add_months(Months::new(d.months.unsigned_abs())),
        Ordering::Less => date.checked_sub_months(Months::new(d.months.unsigned_abs())),
    };
    // `date + timedelta` uses whole days only.
    shifted
        .and_then(|date| date.checked_add_signed(TimeDelta::days(d.delta.num_days())))
        .map(|date| Value::from_object(PyDate(date)))
        .ok_or_else(|| invalid("date value out of range"))
}

/// `lhs + rhs` with Python's semantics for datetimes, dates and durations; numbers, strings
/// and lists as Jinja adds them.
pub fn add(lhs: &Value, rhs: &Value) -> Result<Value, Error> {
    let (ldt, rdt) = (
        lhs.downcast_object_ref::<PyDateTime>(),
        rhs.downcast_object_ref::<PyDateTime>(),
    );
    let (ldate, rdate) = (
        lhs.downcast_object_ref::<PyDate>(),
        rhs.downcast_object_ref::<PyDate>(),
    );
    let (ldur, rdur) = (
        lhs.downcast_object_ref::<PyDuration>(),
        rhs.downcast_object_ref::<PyDuration>(),
    );
    match (ldt, rdt, ldate, rdate, ldur, rdur) {
        (Some(dt), _, _, _, _, Some(d)) | (_, Some(dt), _, _, Some(d), _) => {
            shift_datetime(dt.0, *d)
        }
        (_, _, Some(date), _, _, Some(d)) | (_, _, _, Some(date), Some(d), _) => {
            shift_date(date.0, *d)
        }
        (_, _, _, _, Some(a), Some(b)) => Ok(Value::from_object(PyDuration {
            months: a.months + b.months,
            delta: a.delta + b.delta,
        })),
        _ if ldt.is_some()
            || rdt.is_some()
            || ldate.is_some()
            || rdate.is_some()
            || ldur.is_some()
            || rdur.is_some() =>
        {
            Err(unsupported("+", lhs, rhs))
        }
        _ => plain_add(lhs, rhs),
    }
}

/// `lhs - rhs`, as [`add`].
pub fn sub(lhs: &Value, rhs: &Value) -> Result<Value, Error> {
    let (ldt, rdt) = (
        lhs.downcast_object_ref::<PyDateTime>(),
        rhs.downcast_object_ref::<PyDateTime>(),
    );
    let (ldate, rdate) = (
        lhs.downcast_object_ref::<PyDate>(),
        rhs.downcast_object_ref::<PyDate>(),
    );
    let (ldur, rdur) = (
        lhs.downcast_object_ref::<PyDuration>(),
        rhs.downcast_object_ref::<PyDuration>(),
    );
    match (ldt, rdt, ldate, rdate, ldur, rdur) {
        (Some(dt), _, _, _, _, Some(d)) => shift_datetime(dt.0, d.negate()),
        (Some(a), Some(b), ..) => Ok(Value::from_object(PyDuration::exact(
            a.0.signed_duration_since(b.0),
        ))),
        (_, _, Some(date), _, _, Some(d)) => shift_date(date.0, d.negate()),
        (_, _, Some(a), Some(b), ..) => Ok(Value::from_object(PyDuration::exact(
            a.0.signed_duration_since(b.0),
        ))),
        (_, _, _, _, Some(a), Some(b)) => Ok(Value::from_object(PyDuration {
            months: a.months - b.months,
            delta: a.delta - b.delta,
        })),
        _ if ldt.is_some()
            || rdt.is_some()
            || ldate.is_some()
            || rdate.is_some()
            || ldur.is_some()
            || rdur.is_some() =>
        {
            Err(unsupported("-", lhs, rhs))
        }
        _ => plain_sub(lhs, rhs),
    }
}

fn type_name(v: &Value) -> &'static str {
    if v.downcast_object_ref::<PyDateTime>().is_some() {
        return "datetime.datetime";
    }
    if v.downcast_object_ref::<PyDate>().is_some() {
        return "datetime.date";
    }
    if v.downcast_object_ref::<PyDuration>().is_some() {
        return "datetime.timedelta";
    }
    match v.kind() {
        ValueKind::Undefined => "Undefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

fn unsupported(op: &str, lhs: &Value, rhs: &Value) -> Error {
    invalid(format!(
        "{}unsupported operand type(s) for {op}: '{}' and '{}'",
        super::macros::TYPE_ERROR,
        type_name(lhs),
        type_name(rhs)
    ))
}

enum Num {
    Int(i128),
    Float(f64),
}

fn as_num(v: &Value) -> Option<Num> {
    match v.kind() {
        ValueKind::Bool => Some(Num::Int(i128::from(v.is_true()))),
        ValueKind::Number if v.is_integer() => i128::try_from(v.clone()).ok().map(Num::Int),
        ValueKind::Number => f64::try_from(v.clone()).ok().map(Num::Float),
        _ => None,
    }
}

fn int_value(n: i128) -> Value {
    match i64::try_from(n) {
        Ok(small) => small.into(),
        Err(_) => n.into(),
    }
}

fn undefined_operand(lhs: &Value, rhs: &Value) -> Option<Error> {
    (lhs.is_undefined() || rhs.is_undefined())
        .then(|| Error::new(ErrorKind::UndefinedError, "an operand is undefined"))
}

fn numeric(
    lhs: &Value,
    rhs: &Value,
    op: &str,
    int_op: fn(i128, i128) -> Option<i128>,
    float_op: fn(f64, f64) -> f64,
) -> Result<Value, Error> {
    match (as_num(lhs), as_num(rhs)) {
        (Some(Num::Int(a)), Some(Num::Int(b))) => int_op(a, b)
            .map(int_value)
            .ok_or_else(|| invalid("integer overflow")),
        (Some(a), Some(b)) => {
            let f = |n: Num| match n {
                Num::Int(i) => i as f64,
                Num::Float(f) => f,
            };
            Ok(float_op(f(a), f(b)).into())
        }
        _ => Err(unsupported(op, lhs, rhs)),
    }
}

fn plain_add(lhs: &Value, rhs: &Value) -> Result<Value, Error> {
    if let Some(e) = undefined_operand(lhs, rhs) {
        return Err(e);
    }
    match (lhs.kind(), rhs.kind()) {
        (ValueKind::String, ValueKind::String) => Ok(format!(
            "{}{}",
            lhs.as_str().unwrap_or_default(),
            rhs.as_str().unwrap_or_default()
        )
        .into()),
        (ValueKind::Seq, ValueKind::Seq) => {
            let mut items: Vec<Value> = lhs.try_iter()?.collect();
            items.extend(rhs.try_iter()?);
            Ok(Value::from(items))
        }
        _ => numeric(lhs, rhs, "+", i128::checked_add, |a, b| a + b),
    }
}

fn plain_sub(lhs: &Value, rhs: &Value) -> Result<Value, Error> {
    if let Some(e) = undefined_operand(lhs, rhs) {
        return Err(e);
    }
    numeric(lhs, rhs, "-", i128::checked_sub, |a, b| a - b)
}

/// `-value`: numbers and durations; an undefined value fails as Jinja2's `Undefined` does.
pub fn negate(value: &Value) -> Result<Value, Error> {
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "cannot negate an undefined value",
        ));
    }
    if let Some(d) = value.downcast_object_ref::<PyDuration>() {
        return Ok(Value::from_object(d.negate()));
    }
    match as_num(value) {
        Some(Num::Int(i)) => i
            .checked_neg()
            .map(int_value)
            .ok_or_else(|| invalid("integer overflow")),
        Some(Num::Float(f)) => Ok(Value::from(-f)),
        None => Err(invalid(format!(
            "{}bad operand type for unary -: '{}'",
            super::macros::TYPE_ERROR,
            type_name(value)
        ))),
    }
}

/// `lhs < rhs` and friends with Python's rules: ordering an undefined value fails as
/// Jinja2's `Undefined` does, values of unrelated types are a `TypeError`.
pub fn compare(lhs: &Value, rhs: &Value, op: &str) -> Result<Value, Error> {
    if let Some(e) = undefined_operand(lhs, rhs) {
        return Err(e);
    }
    let class = |v: &Value| match v.kind() {
        ValueKind::Number | ValueKind::Bool => 0,
        ValueKind::String => 1,
        ValueKind::Seq => 2,
        _ if v.downcast_object_ref::<PyDateTime>().is_some() => 3,
        _ if v.downcast_object_ref::<PyDate>().is_some() => 4,
        _ if v.downcast_object_ref::<PyDuration>().is_some() => 5,
        _ => 6,
    };
    if class(lhs) != class(rhs) || class(lhs) == 6 {
        return Err(invalid(format!(
            "{}'{op}' not supported between instances of '{}' and '{}'",
            super::macros::TYPE_ERROR,
            type_name(lhs),
            type_name(rhs)
        )));
    }
    let ordering = lhs.cmp(rhs);
    Ok(Value::from(match op {
        "<" => ordering.is_lt(),
        "<=" => ordering.is_le(),
        ">" => ordering.is_gt(),
        _ => ordering.is_ge(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> Value {
        Value::from_object(PyDateTime(isoparse(s).unwrap()))
    }

    #[test]
    fn isoparse_like_dateutil_then_utc() {
        assert_eq!(
            PyDateTime(isoparse("2022-01-14").unwrap()).to_string(),
            "2022-01-14 00:00:00+00:00"
        );
        assert_eq!(
            PyDateTime(isoparse("20220114").unwrap()).to_string(),
            "2022-01-14 00:00:00+00:00"
        );
        assert_eq!(
            PyDateTime(isoparse("2022-01-01T13:45:30+02:00").unwrap()).to_string(),
            "2022-01-01 11:45:30+00:00"
        );
        assert_eq!(
            PyDateTime(isoparse("2022-01-01T13:45:30.5Z").unwrap()).isoformat("T"),
            "2022-01-01T13:45:30.500000+00:00"
        );
        assert_eq!(
            PyDateTime(isoparse("2022-01-01 13:45").unwrap()).to_string(),
            "2022-01-01 13:45:00+00:00"
        );
        assert_eq!(
            PyDateTime(isoparse("2022-01-01T134530").unwrap()).to_string(),
            "2022-01-01 13:45:30+00:00"
        );
        assert!(isoparse("2022-13-01").is_none());
        assert!(isoparse("yesterday").is_none());
        assert!(isoparse("2022-01-01T13:45:30 junk").is_none());
    }

    #[test]
    fn durations_like_isodate() {
        assert_eq!(
            parse_duration("P1D").unwrap().python_str(),
            "1 day, 0:00:00"
        );
        assert_eq!(parse_duration("PT1H30M").unwrap().python_str(), "1:30:00");
        assert_eq!(
            parse_duration("P2W").unwrap().python_str(),
            "14 days, 0:00:00"
        );
        assert_eq!(
            parse_duration("-P1D").unwrap().python_str(),
            "-1 day, 0:00:00"
        );
        assert_eq!(
            parse_duration("PT0.5S").unwrap().python_str(),
            "0:00:00.500000"
        );
        assert_eq!(parse_duration("P1M").unwrap().months, 1);
        assert_eq!(
            parse_duration("P1Y2M3DT4H").unwrap().python_str(),
            "1 year, 2 months, 3 days, 4:00:00"
        );
        for bad in ["1D", "P", "PT", "P1H", "PD", "P1D1Y"] {
            assert!(parse_duration(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn arithmetic() {
        let d = Value::from_object(parse_duration("P1D").unwrap());
        assert_eq!(
            sub(&dt("2024-03-01"), &d).unwrap().to_string(),
            "2024-02-29 00:00:00+00:00"
        );
        assert_eq!(
            add(&d, &dt("2024-03-01")).unwrap().to_string(),
            "2024-03-02 00:00:00+00:00"
        );
        let m = Value::from_object(parse_duration("P1M").unwrap());
        assert_eq!(
            sub(&dt("2024-03-31"), &m).unwrap().to_string(),
            "2024-02-29 00:00:00+00:00"
        );
        assert_eq!(
            sub(&dt("2024-03-02"), &dt("2024-03-01"))
                .unwrap()
                .to_string(),
            "1 day, 0:00:00"
        );
        let date = Value::from_object(PyDate(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()));
        assert_eq!(sub(&date, &d).unwrap().to_string(), "2023-12-31");
        assert_eq!(
            add(&Value::from(1), &Value::from(2)).unwrap(),
            Value::from(3)
        );
        assert_eq!(
            sub(&Value::from(1.5), &Value::from(1)).unwrap(),
            Value::from(0.5)
        );
        assert_eq!(
            add(&Value::from("a"), &Value::from("b")).unwrap(),
            Value::from("ab")
        );
        assert_eq!(
            add(&Value::from(true), &Value::from(1)).unwrap(),
            Value::from(2)
        );
        assert!(add(&dt("2024-01-01"), &Value::from(1)).is_err());
        assert!(add(&Value::from("a"), &Value::from(1)).is_err());
        let undefined = add(&Value::UNDEFINED, &Value::from(1)).unwrap_err();
        assert_eq!(undefined.kind(), ErrorKind::UndefinedError);
    }
}
