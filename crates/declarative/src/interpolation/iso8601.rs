//! ISO-8601 texts the CDK's macros read: durations (isodate's `parse_duration`) and
//! date-times (dateutil's `isoparse`).

use chrono::{
    DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc,
};

use super::datetime::PyDuration;
use super::strftime::parse_offset;

/// ISO-8601 duration (`P1D`, `PT1H30M`, `P1Y2M`, `P2W`, `-P1D`, fractions), as isodate's
/// `parse_duration`.
pub fn parse_duration(text: &str) -> Option<PyDuration> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let rest = rest.strip_prefix('P')?;
    if rest.is_empty() {
        return None;
    }
    let (date_part, time_part) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut months = 0f64;
    let mut micros = 0f64;
    let mut parse = |part: &str, units: &[(char, f64, bool)]| -> Option<()> {
        let mut number = String::new();
        let mut last_unit = 0usize;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                number.push(if c == ',' { '.' } else { c });
                continue;
            }
            let index = units.iter().position(|(u, _, _)| *u == c)?;
            if index < last_unit || number.is_empty() {
                return None;
            }
            last_unit = index + 1;
            let n: f64 = number.parse().ok()?;
            number.clear();
            let (_, factor, is_month) = units[index];
            if is_month {
                months += n * factor;
            } else {
                micros += n * factor;
            }
        }
        number.is_empty().then_some(())
    };
    const DAY: f64 = 86_400e6;
    parse(
        date_part,
        &[
            ('Y', 12.0, true),
            ('M', 1.0, true),
            ('W', 7.0 * DAY, false),
            ('D', DAY, false),
        ],
    )?;
    if let Some(t) = time_part {
        parse(
            t,
            &[('H', 3600e6, false), ('M', 60e6, false), ('S', 1e6, false)],
        )?;
    }
    if months.fract() != 0.0 {
        return None;
    }
    let d = PyDuration {
        months: months as i32,
        delta: TimeDelta::microseconds(micros.round() as i64),
    };
    Some(if negative { d.negate() } else { d })
}

/// dateutil's `isoparse`: `2022-01-14`, `20220114`, `2022-01`, `2022-01-14T13:45:30.123Z`,
/// `2022-01-14 13:45+02:00`, ... Naive values are UTC; the result is converted to UTC (as the
/// CDK's `str_to_datetime` does).
pub fn isoparse(text: &str) -> Option<DateTime<FixedOffset>> {
    let b = text.as_bytes();
    let digits = |from: usize, n: usize| -> Option<u32> {
        let s = text.get(from..from + n)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let year = digits(0, 4)? as i32;
    let mut pos = 4;
    let (mut month, mut day) = (1, 1);
    if b.get(pos) == Some(&b'-') {
        month = digits(5, 2)?;
        pos = 7;
        if b.get(pos) == Some(&b'-') {
            day = digits(8, 2)?;
            pos = 10;
        }
    } else if b.len() >= 8 && b[4].is_ascii_digit() {
        month = digits(4, 2)?;
        day = digits(6, 2)?;
        pos = 8;
    }
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let mut time = NaiveTime::MIN;
    let mut offset = FixedOffset::east_opt(0)?;
    let mut extra_day = false;
    if pos < b.len() {
        pos += text[pos..].chars().next()?.len_utf8(); // any one-character separator
        let hour = digits(pos, 2)?;
        pos += 2;
        let (mut minute, mut second, mut micro) = (0, 0, 0);
        let colon = b.get(pos) == Some(&b':');
        let next = |pos: &mut usize| -> Option<Option<u32>> {
            if colon {
                if b.get(*pos) != Some(&b':') {
                    return Some(None);
                }
                *pos += 1;
            }
            if b.get(*pos).is_some_and(u8::is_ascii_digit) {
                let v = digits(*pos, 2)?;
                *pos += 2;
                Some(Some(v))
            } else {
                if colon {
                    return None;
                }
                Some(None)
            }
        };
        if let Some(m) = next(&mut pos)? {
            minute = m;
            if let Some(s) = next(&mut pos)? {
                second = s;
                if matches!(b.get(pos), Some(b'.' | b',')) {
                    pos += 1;
                    let start = pos;
                    while b.get(pos).is_some_and(u8::is_ascii_digit) {
                        pos += 1;
                    }
                    let frac = text.get(start..pos)?;
                    if frac.is_empty() {
                        return None;
                    }
                    let six: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
                    micro = six.parse().ok()?;
                }
            }
        }
        if pos < b.len() {
            let (o, used) = parse_offset(&text[pos..])?;
            if pos + used != b.len() {
                return None;
            }
            offset = o;
        }
        if hour == 24 && minute == 0 && second == 0 && micro == 0 {
            extra_day = true;
        } else {
            time = NaiveTime::from_hms_micro_opt(hour, minute, second, micro)?;
        }
    }
    let mut naive = NaiveDateTime::new(date, time);
    if extra_day {
        naive = naive.checked_add_signed(TimeDelta::days(1))?;
    }
    let local = offset.from_local_datetime(&naive).single()?;
    Some(local.with_timezone(&Utc).fixed_offset())
}
