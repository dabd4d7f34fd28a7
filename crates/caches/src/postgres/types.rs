//! PostgreSQL column types: how the cache's types are spelled, what an existing column holds,
//! and the binary wire format of the values (COPY in, query results out).

use crate::types::SqlType;

/// Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
pub(crate) const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from 1970-01-01 to 2000-01-01.
pub(crate) const PG_EPOCH_DAYS: i32 = 10_957;

/// How one column's values are sent in binary COPY (the column's PostgreSQL type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enc {
    Int8,
    Int4,
    Int2,
    Float8,
    Float4,
    Numeric,
    Bool,
    Text,
    Json,
    Jsonb,
    Date,
    Time,
    /// `timestamp` and `timestamptz` (the same wire format: microseconds since 2000, UTC for
    /// `timestamptz`).
    Timestamp,
}

impl SqlType {
    /// The type as written in PostgreSQL DDL.
    pub fn postgres_ddl(&self) -> &str {
        match self {
            Self::BigInt => "BIGINT",
            Self::Double => "DOUBLE PRECISION",
            Self::Boolean => "BOOLEAN",
            Self::Varchar => "VARCHAR",
            Self::Json => "JSONB",
            Self::Date => "DATE",
            Self::Time => "TIME",
            Self::Timestamp => "TIMESTAMP",
            Self::TimestampTz => "TIMESTAMPTZ",
            Self::Other(s) => s,
        }
    }

    /// The type of a PostgreSQL column as `information_schema.columns.data_type` names it.
    /// `json` columns (PyAirbyte's) hold JSON as well as `jsonb` ones do.
    pub fn from_postgres(data_type: &str) -> Self {
        match data_type.trim().to_ascii_lowercase().as_str() {
            "bigint" => Self::BigInt,
            "double precision" => Self::Double,
            "boolean" => Self::Boolean,
            "character varying" | "text" => Self::Varchar,
            "jsonb" | "json" => Self::Json,
            "date" => Self::Date,
            "time without time zone" => Self::Time,
            "timestamp without time zone" => Self::Timestamp,
            "timestamp with time zone" => Self::TimestampTz,
            other => Self::Other(other.to_string()),
        }
    }
}

/// The wire format of a column of `data_type` (`information_schema` spelling), if COPY can
/// load it.
pub(crate) fn enc_of(data_type: &str) -> Option<Enc> {
    Some(match data_type.trim().to_ascii_lowercase().as_str() {
        "bigint" => Enc::Int8,
        "integer" => Enc::Int4,
        "smallint" => Enc::Int2,
        "double precision" => Enc::Float8,
        "real" => Enc::Float4,
        "numeric" => Enc::Numeric,
        "boolean" => Enc::Bool,
        "character varying" | "text" | "character" => Enc::Text,
        "json" => Enc::Json,
        "jsonb" => Enc::Jsonb,
        "date" => Enc::Date,
        "time without time zone" => Enc::Time,
        "timestamp without time zone" | "timestamp with time zone" => Enc::Timestamp,
        _ => return None,
    })
}

/// The wire format of a column this cache creates with type `ty`.
pub(crate) fn enc_of_sql(ty: &SqlType) -> Option<Enc> {
    match ty {
        SqlType::BigInt => Some(Enc::Int8),
        SqlType::Double => Some(Enc::Float8),
        SqlType::Boolean => Some(Enc::Bool),
        SqlType::Varchar => Some(Enc::Text),
        SqlType::Json => Some(Enc::Jsonb),
        SqlType::Date => Some(Enc::Date),
        SqlType::Time => Some(Enc::Time),
        SqlType::Timestamp | SqlType::TimestampTz => Some(Enc::Timestamp),
        SqlType::Other(t) => enc_of(t),
    }
}

/// Appends the binary `numeric` of the decimal text `text` (`-12.5`, `1e30`, `0.000`);
/// `false` (nothing appended) when it is not a finite decimal number.
pub(crate) fn encode_numeric(text: &str, out: &mut Vec<u8>) -> bool {
    let t = text.trim();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => match t[i + 1..].parse::<i32>() {
            Ok(e) => (&t[..i], e),
            Err(_) => return false,
        },
        None => (t, 0),
    };
    let (ip, fp) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if (ip.is_empty() && fp.is_empty())
        || !ip.bytes().chain(fp.bytes()).all(|b| b.is_ascii_digit())
        || exp.abs() > 1000
    {
        return false;
    }
    // All digits and where the decimal point falls in them.
    let digits: Vec<u8> = ip.bytes().chain(fp.bytes()).map(|b| b - b'0').collect();
    let point = ip.len() as i64 + exp as i64;
    let dscale = (digits.len() as i64 - point).max(0);
    // Digit at decimal position p (p = 0 is the first digit left of the point, -1 the first
    // right of it).
    let digit_at = |p: i64| -> u16 {
        let idx = point - 1 - p;
        if idx < 0 || idx >= digits.len() as i64 {
            0
        } else {
            digits[idx as usize] as u16
        }
    };
    // Base-10000 groups from the highest needed to the lowest.
    let top = (point - 1).max(0);
    let top_group = top.div_euclid(4);
    let bottom_group = if dscale > 0 {
        (-dscale).div_euclid(4)
    } else {
        0
    };
    let mut groups: Vec<(i64, u16)> = Vec::new();
    let mut g = top_group;
    while g >= bottom_group {
        let base = g * 4;
        let v = digit_at(base + 3) * 1000
            + digit_at(base + 2) * 100
            + digit_at(base + 1) * 10
            + digit_at(base);
        groups.push((g, v));
        g -= 1;
    }
    while groups.first().is_some_and(|&(_, v)| v == 0) {
        groups.remove(0);
    }
    while groups.last().is_some_and(|&(_, v)| v == 0) {
        groups.pop();
    }
    let weight = groups.first().map_or(0, |&(g, _)| g);
    if groups.len() > i16::MAX as usize || dscale > 0x3FFF {
        return false;
    }
    out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    let sign: u16 = if neg && !groups.is_empty() { 0x4000 } else { 0 };
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&(dscale as u16).to_be_bytes());
    for (_, v) in groups {
        out.extend_from_slice(&v.to_be_bytes());
    }
    true
}

/// The decimal text of a binary `numeric` (`NaN` and infinities by name).
pub(crate) fn decode_numeric(raw: &[u8]) -> Option<String> {
    let word =
        |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*raw.get(i)?, *raw.get(i + 1)?])) };
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i16 as i64;
    let sign = word(4)?;
    let dscale = word(6)? as usize;
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => {}
    }
    let group = |g: i64| -> Option<u16> {
        // Group g is digit index weight - g.
        let idx = weight - g;
        if idx < 0 || idx as usize >= ndigits {
            Some(0)
        } else {
            word(8 + 2 * idx as usize)
        }
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for g in (0..=weight).rev() {
            let v = group(g)?;
            if g == weight {
                out.push_str(&v.to_string());
            } else {
                out.push_str(&format!("{v:04}"));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut g = -1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", group(g)?));
            g -= 1;
        }
        frac.truncate(dscale);
        out.push('.');
        out.push_str(&frac);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        let mut buf = Vec::new();
        assert!(encode_numeric(text, &mut buf), "{text}");
        decode_numeric(&buf).unwrap()
    }

    #[test]
    fn numeric_round_trips() {
        for (input, want) in [
            ("0", "0"),
            ("12", "12"),
            ("-12.5", "-12.5"),
            ("10000", "10000"),
            ("123456789012345678901234", "123456789012345678901234"),
            ("0.1234567890123456789", "0.1234567890123456789"),
            ("1.500000000", "1.500000000"),
            ("1e3", "1000"),
            ("1.5e-3", "0.0015"),
            ("-0.0", "0.0"),
            ("0.0001", "0.0001"),
        ] {
            assert_eq!(round_trip(input), want, "{input}");
        }
        let mut buf = Vec::new();
        for bad in ["", "abc", "1.2.3", "--1", "1e", "."] {
            assert!(!encode_numeric(bad, &mut buf), "{bad}");
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn types_of_existing_columns() {
        assert_eq!(SqlType::from_postgres("json"), SqlType::Json);
        assert_eq!(
            SqlType::from_postgres("numeric"),
            SqlType::Other("numeric".into())
        );
        assert_eq!(enc_of("json"), Some(Enc::Json));
        assert_eq!(enc_of("uuid"), None);
        assert_eq!(SqlType::TimestampTz.postgres_ddl(), "TIMESTAMPTZ");
    }
}
