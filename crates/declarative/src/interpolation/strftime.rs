//! Python's `datetime.strftime` and `datetime.strptime` over chrono values, with glibc's
//! flags (`%-d`, `%_H`, `%^b`) that Python passes through to the C library, and Python's own
//! `%f` (6-digit microseconds), `%z` (`+0000`) and `%Z` (`UTC`).

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Timelike,
};

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Formats `dt` with a Python `strftime` format. `offset` is `None` for a naive value (then
/// `%z` and `%Z` are empty, as in Python). Unknown directives are kept as written (glibc).
pub fn strftime(dt: &NaiveDateTime, offset: Option<FixedOffset>, format: &str) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flag = None;
        if let Some(&f) = chars.peek()
            && matches!(f, '-' | '_' | '0' | '^' | '#')
        {
            flag = Some(f);
            chars.next();
        }
        let Some(d) = chars.next() else {
            out.push('%');
            if let Some(f) = flag {
                out.push(f);
            }
            break;
        };
        let num = |n: i64, width: usize, pad: char| -> String {
            match flag {
                Some('-') => n.to_string(),
                Some('_') => format!("{n:>width$}"),
                Some('0') => format!("{n:0width$}"),
                _ if pad == ' ' => format!("{n:>width$}"),
                _ => format!("{n:0width$}"),
            }
        };
        let text = |s: &str| -> String {
            match flag {
                Some('^') => s.to_uppercase(),
                Some('#') => s.to_lowercase(),
                _ => s.to_string(),
            }
        };
        let weekday = dt.weekday().num_days_from_monday() as usize;
        let month0 = dt.month0() as usize;
        match d {
            'a' => out.push_str(&text(&WEEKDAYS[weekday][..3])),
            'A' => out.push_str(&text(WEEKDAYS[weekday])),
            'w' => out.push_str(&dt.weekday().num_days_from_sunday().to_string()),
            'u' => out.push_str(&dt.weekday().number_from_monday().to_string()),
            'd' => out.push_str(&num(dt.day().into(), 2, '0')),
            'e' => out.push_str(&num(dt.day().into(), 2, ' ')),
            'b' | 'h' => out.push_str(&text(&MONTHS[month0][..3])),
            'B' => out.push_str(&text(MONTHS[month0])),
            'm' => out.push_str(&num(dt.month().into(), 2, '0')),
            'y' => out.push_str(&num(i64::from(dt.year()).rem_euclid(100), 2, '0')),
            'Y' => out.push_str(&num(
                dt.year().into(),
                if flag.is_some() { 1 } else { 4 },
                '0',
            )),
            'C' => out.push_str(&num(i64::from(dt.year()).div_euclid(100), 2, '0')),
            'G' => out.push_str(&dt.iso_week().year().to_string()),
            'g' => out.push_str(&num(
                i64::from(dt.iso_week().year()).rem_euclid(100),
                2,
                '0',
            )),
            'V' => out.push_str(&num(dt.iso_week().week().into(), 2, '0')),
            'H' => out.push_str(&num(dt.hour().into(), 2, '0')),
            'k' => out.push_str(&num(dt.hour().into(), 2, ' ')),
            'I' => out.push_str(&num(hour12(dt.hour()).into(), 2, '0')),
            'l' => out.push_str(&num(hour12(dt.hour()).into(), 2, ' ')),
            'p' => out.push_str(&text(if dt.hour() < 12 { "AM" } else { "PM" })),
            'P' => out.push_str(if dt.hour() < 12 { "am" } else { "pm" }),
            'M' => out.push_str(&num(dt.minute().into(), 2, '0')),
            'S' => out.push_str(&num(dt.second().into(), 2, '0')),
            'f' => out.push_str(&format!("{:06}", dt.nanosecond() / 1000 % 1_000_000)),
            'j' => out.push_str(&num(dt.ordinal().into(), 3, '0')),
            'U' => out.push_str(&num(week_number(dt, 0).into(), 2, '0')),
            'W' => out.push_str(&num(week_number(dt, 1).into(), 2, '0')),
            'z' => {
                if let Some(o) = offset {
                    out.push_str(&format_offset(o, false));
                }
            }
            'Z' => {
                if let Some(o) = offset {
                    out.push_str(&offset_name(o));
                }
            }
            's' => {
                // CPython hands the wall-clock fields to the C library, which reads them as local
                // time: in the UTC containers connectors run in, the fields as if in UTC.
                out.push_str(&dt.and_utc().timestamp().to_string());
            }
            'c' => out.push_str(&strftime(dt, offset, "%a %b %e %H:%M:%S %Y")),
            'x' => out.push_str(&strftime(dt, offset, "%m/%d/%y")),
            'X' => out.push_str(&strftime(dt, offset, "%H:%M:%S")),
            'D' => out.push_str(&strftime(dt, offset, "%m/%d/%y")),
            'F' => out.push_str(&strftime(dt, offset, "%Y-%m-%d")),
            'T' => out.push_str(&strftime(dt, offset, "%H:%M:%S")),
            'R' => out.push_str(&strftime(dt, offset, "%H:%M")),
            'r' => out.push_str(&strftime(dt, offset, "%I:%M:%S %p")),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            '%' => out.push('%'),
            other => {
                out.push('%');
                if let Some(f) = flag {
                    out.push(f);
                }
                out.push(other);
            }
        }
    }
    out
}

fn hour12(h: u32) -> u32 {
    match h % 12 {
        0 => 12,
        x => x,
    }
}

/// `%U` (weeks start on Sunday, `first` = 0) and `%W` (Monday, 1).
fn week_number(dt: &NaiveDateTime, first: u32) -> u32 {
    let yday = dt.ordinal0();
    let wday = (dt.weekday().num_days_from_sunday() + 7 - first) % 7;
    (yday + 7 - wday) / 7
}

/// `+HHMM` (or `+HH:MM` with `colon`), with seconds when the offset has them.
pub fn format_offset(o: FixedOffset, colon: bool) -> String {
    let secs = o.local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let secs = secs.unsigned_abs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let sep = if colon { ":" } else { "" };
    if s == 0 {
        format!("{sign}{h:02}{sep}{m:02}")
    } else {
        format!("{sign}{h:02}{sep}{m:02}{sep}{s:02}")
    }
}

/// Python's `tzname()` of a fixed offset: `UTC`, or `UTC+05:30`.
pub fn offset_name(o: FixedOffset) -> String {
    if o.local_minus_utc() == 0 {
        "UTC".into()
    } else {
        format!("UTC{}", format_offset(o, true))
    }
}

/// Why `strptime` did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrptimeError(pub String);

/// Parses `text` with a Python `strptime` format. The result is naive unless the format
/// has `%z` (or `%Z` naming UTC/GMT).
pub fn strptime(
    text: &str,
    format: &str,
) -> Result<(NaiveDateTime, Option<FixedOffset>), StrptimeError> {
    let fail = || {
        StrptimeError(format!(
            "time data {text:?} does not match format {format:?}"
        ))
    };
    let s = text.as_bytes();
    let mut pos = 0usize;
    let (mut year, mut month, mut day) = (1900i32, 1u32, 1u32);
    let (mut hour, mut minute, mut second, mut micro) = (0u32, 0u32, 0u32, 0u32);
    let mut pm: Option<bool> = None;
    let mut yday: Option<u32> = None;
    let mut offset: Option<FixedOffset> = None;
    let mut fchars = format.chars().peekable();
    while let Some(c) = fchars.next() {
        if c.is_whitespace() {
            // Whitespace in the format matches any run of whitespace (also none).
            while pos < s.len() && s[pos].is_ascii_whitespace() {
                pos += 1;
            }
            continue;
        }
        if c != '%' {
            let mut buf = [0u8; 4];
            let lit = c.encode_utf8(&mut buf).as_bytes();
            if s.get(pos..pos + lit.len())
                .is_some_and(|t| t.eq_ignore_ascii_case(lit))
            {
                pos += lit.len();
                continue;
            }
            return Err(fail());
        }
        if fchars.peek() == Some(&'-') {
            fchars.next();
        }
        let d = fchars.next().ok_or_else(fail)?;
        match d {
            'Y' => year = take_digits(s, &mut pos, 4, 4).ok_or_else(fail)? as i32,
            'y' => {
                let y = take_digits(s, &mut pos, 2, 2).ok_or_else(fail)? as i32;
                year = if y < 69 { 2000 + y } else { 1900 + y };
            }
            'm' => month = take_digits(s, &mut pos, 1, 2).ok_or_else(fail)?,
            'd' => {
                if s.get(pos) == Some(&b' ') {
                    pos += 1;
                }
                day = take_digits(s, &mut pos, 1, 2).ok_or_else(fail)?;
            }
            'H' => hour = take_digits(s, &mut pos, 1, 2).ok_or_else(fail)?,
            'I' => hour = take_digits(s, &mut pos, 1, 2).ok_or_else(fail)?,
            'M' => minute = take_digits(s, &mut pos, 1, 2).ok_or_else(fail)?,
            'S' => second = take_digits(s, &mut pos, 1, 2).ok_or_else(fail)?,
            'j' => yday = Some(take_digits(s, &mut pos, 1, 3).ok_or_else(fail)?),
            'f' => {
                let start = pos;
                let v = take_digits(s, &mut pos, 1, 6).ok_or_else(fail)?;
                micro = v * 10u32.pow((6 - (pos - start)) as u32);
            }
            'p' => {
                let rest = &text[pos..];
                if rest.len() >= 2 && rest[..2].eq_ignore_ascii_case("am") {
                    pm = Some(false);
                } else if rest.len() >= 2 && rest[..2].eq_ignore_ascii_case("pm") {
                    pm = Some(true);
                } else {
                    return Err(fail());
                }
                pos += 2;
            }
            'b' | 'B' | 'h' => {
                let rest = text.get(pos..).unwrap_or_default();
                let found = MONTHS.iter().enumerate().find_map(|(i, name)| {
                    let full =
                        rest.len() >= name.len() && rest[..name.len()].eq_ignore_ascii_case(name);
                    let short = rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(&name[..3]);
                    if full {
                        Some((i, name.len()))
                    } else {
                        short.then_some((i, 3))
                    }
                });
                let (i, len) = found.ok_or_else(fail)?;
                month = i as u32 + 1;
                pos += len;
            }
            'a' | 'A' => {
                let rest = text.get(pos..).unwrap_or_default();
                let len = WEEKDAYS
                    .iter()
                    .find_map(|name| {
                        if rest.len() >= name.len() && rest[..name.len()].eq_ignore_ascii_case(name)
                        {
                            Some(name.len())
                        } else {
                            (rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(&name[..3]))
                                .then_some(3)
                        }
                    })
                    .ok_or_else(fail)?;
                pos += len;
            }
            'z' => {
                let (o, len) = parse_offset(&text[pos..]).ok_or_else(fail)?;
                offset = Some(o);
                pos += len;
            }
            'Z' => {
                let rest = text.get(pos..).unwrap_or_default();
                let name = ["UTC", "GMT"]
                    .iter()
                    .find(|n| rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(n))
                    .ok_or_else(fail)?;
                pos += name.len();
                offset = Some(chrono::Utc.fix());
            }
            '%' => {
                if s.get(pos) != Some(&b'%') {
                    return Err(fail());
                }
                pos += 1;
            }
            _ => {
                return Err(StrptimeError(format!(
                    "'{d}' is a bad directive in format {format:?}"
                )));
            }
        }
    }
    if pos != s.len() {
        return Err(StrptimeError(format!(
            "unconverted data remains: {}",
            &text[pos..]
        )));
    }
    if let Some(pm) = pm {
        hour = match (hour % 12, pm) {
            (h, false) => h,
            (h, true) => h + 12,
        };
    }
    let date = match yday {
        Some(n) => NaiveDate::from_yo_opt(year, n),
        None => NaiveDate::from_ymd_opt(year, month, day),
    }
    .ok_or_else(fail)?;
    let time = NaiveTime::from_hms_micro_opt(hour, minute, second, micro).ok_or_else(fail)?;
    Ok((NaiveDateTime::new(date, time), offset))
}

fn take_digits(s: &[u8], pos: &mut usize, min: usize, max: usize) -> Option<u32> {
    let start = *pos;
    while *pos < s.len() && *pos - start < max && s[*pos].is_ascii_digit() {
        *pos += 1;
    }
    if *pos - start < min {
        return None;
    }
    std::str::from_utf8(&s[start..*pos]).ok()?.parse().ok()
}

/// `Z`, `+HH`, `+HHMM`, `+HH:MM`, `+HH:MM:SS`; returns the offset and the bytes it used.
pub fn parse_offset(s: &str) -> Option<(FixedOffset, usize)> {
    let b = s.as_bytes();
    if b.first().is_some_and(|c| *c == b'Z' || *c == b'z') {
        return Some((chrono::Utc.fix(), 1));
    }
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let mut pos = 1;
    let mut parts = Vec::new();
    while parts.len() < 3 {
        if !parts.is_empty() && b.get(pos) == Some(&b':') {
            pos += 1;
        }
        match b.get(pos..pos + 2) {
            Some(two) if two.iter().all(u8::is_ascii_digit) => {
                parts.push(i32::from(two[0] - b'0') * 10 + i32::from(two[1] - b'0'));
                pos += 2;
            }
            _ => break,
        }
    }
    if parts.is_empty() {
        return None;
    }
    if b.get(pos - 1) == Some(&b':') {
        pos -= 1;
    }
    let secs = parts.first().copied().unwrap_or(0) * 3600
        + parts.get(1).copied().unwrap_or(0) * 60
        + parts.get(2).copied().unwrap_or(0);
    Some((FixedOffset::east_opt(sign * secs)?, pos))
}

/// `dt` in its offset, as chrono wants it.
pub fn aware(naive: NaiveDateTime, offset: FixedOffset) -> Option<DateTime<FixedOffset>> {
    offset.from_local_datetime(&naive).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2024, 3, 5)
            .and_then(|d| d.and_hms_micro_opt(7, 8, 9, 12345))
            .unwrap()
    }

    #[test]
    fn strftime_like_cpython_on_glibc() {
        let utc = Some(chrono::Utc.fix());
        assert_eq!(
            strftime(&dt(), utc, "%Y-%m-%dT%H:%M:%S.%f%z"),
            "2024-03-05T07:08:09.012345+0000"
        );
        assert_eq!(
            strftime(&dt(), utc, "%-d/%-m/%y %I%p %j %a %A %b %B %Z"),
            "5/3/24 07AM 065 Tue Tuesday Mar March UTC"
        );
        assert_eq!(strftime(&dt(), None, "%Y%m%d %z%Z|"), "20240305 |");
        assert_eq!(strftime(&dt(), utc, "%s"), "1709622489");
        assert_eq!(
            strftime(&dt(), utc, "%U %W %G-W%V-%u %%"),
            "09 10 2024-W10-2 %"
        );
        assert_eq!(
            strftime(&dt(), utc, "%ms"),
            "03s",
            "Python's strftime reads %ms as %m then s"
        );
        let plus = FixedOffset::east_opt(19800);
        assert_eq!(strftime(&dt(), plus, "%z %Z"), "+0530 UTC+05:30");
    }

    #[test]
    fn strptime_like_cpython() {
        let (n, o) = strptime("2024-03-05T07:08:09.012345Z", "%Y-%m-%dT%H:%M:%S.%f%z").unwrap();
        assert_eq!(n, dt());
        assert_eq!(o, Some(chrono::Utc.fix()));
        let (n, o) = strptime("2024-03-05", "%Y-%m-%d").unwrap();
        assert_eq!(n.to_string(), "2024-03-05 00:00:00");
        assert_eq!(o, None);
        let (n, _) = strptime("5 Mar 2024 7:08 pm", "%d %b %Y %I:%M %p").unwrap();
        assert_eq!(n.to_string(), "2024-03-05 19:08:00");
        let (_, o) = strptime("2024-03-05 10:00:00+05:30", "%Y-%m-%d %H:%M:%S%z").unwrap();
        assert_eq!(o.map(|o| o.local_minus_utc()), Some(19800));
        let (n, _) = strptime("2024-03-05T07:08:09.5", "%Y-%m-%dT%H:%M:%S.%f").unwrap();
        assert_eq!(n.and_utc().timestamp_subsec_micros(), 500000);
        assert!(strptime("2024-03-05T07", "%Y-%m-%d").is_err());
        assert!(strptime("2024-13-05", "%Y-%m-%d").is_err());
        assert!(strptime("24-03-05", "%Y-%m-%d").is_err());
    }
}
