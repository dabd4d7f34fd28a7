//! Python's `str()` and `repr()` of template values: what Jinja2 writes for `{{ value }}`
//! (`True`, `None`, `['a', 1]`, `{'k': 'v'}`), so that the CDK's literal evaluation of the
//! output reads it back the same way; and `json.dumps` with Python's separators.

use std::fmt::Write;

use minijinja::value::{Value, ValueKind};

use super::datetime::render_object;

/// `str(value)`: strings as they are, everything else as `repr`.
pub fn python_str(value: &Value) -> String {
    match value.kind() {
        ValueKind::Undefined => String::new(),
        ValueKind::String => value.as_str().unwrap_or_default().to_string(),
        _ => {
            let mut out = String::new();
            write_repr(&mut out, value, false);
            out
        }
    }
}

/// `repr(value)`.
pub fn python_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value, true);
    out
}

fn write_repr(out: &mut String, value: &Value, nested: bool) {
    if let Some(text) = render_object(value, nested) {
        out.push_str(&text);
        return;
    }
    match value.kind() {
        ValueKind::Undefined => {}
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => write_number(out, value),
        ValueKind::String => write_str_repr(out, value.as_str().unwrap_or_default()),
        ValueKind::Bytes => {
            out.push('b');
            write_str_repr(
                out,
                &String::from_utf8_lossy(value.as_bytes().unwrap_or_default()),
            );
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let (open, close) = if value.is_tuple() {
                ("(", ")")
            } else {
                ("[", "]")
            };
            out.push_str(open);
            let mut n = 0;
            if let Ok(items) = value.try_iter() {
                for (i, item) in items.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &item, true);
                    n += 1;
                }
            }
            if value.is_tuple() && n == 1 {
                out.push(',');
            }
            out.push_str(close);
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(keys) = value.try_iter() {
                for (i, key) in keys.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &key, true);
                    out.push_str(": ");
                    let item = value.get_item(&key).unwrap_or(Value::UNDEFINED);
                    write_repr(out, &item, true);
                }
            }
            out.push('}');
        }
        _ => {
            let _ = write!(out, "{value}");
        }
    }
}

fn write_number(out: &mut String, value: &Value) {
    if value.is_integer() {
        let _ = write!(out, "{value}");
    } else if let Ok(f) = f64::try_from(value.clone()) {
        out.push_str(&python_float(f));
    } else {
        let _ = write!(out, "{value}");
    }
}

/// `repr(float)`: the shortest round-trip digits, `1.0` for integral values, exponent form
/// below 1e-4 and from 1e16 (`1e+16`, `1.5e-05`), `inf`, `nan`.
pub fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let sci = format!("{f:e}"); // e.g. "1.5e-5", "1e16"
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let s = format!("{f}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

/// `repr(str)`: single quotes unless the text has a `'` and no `"`.
pub fn write_str_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// `json.dumps(value)` with Python's defaults: `", "` and `": "` separators, non-ASCII
/// escaped as `\uXXXX`, `NaN`/`Infinity` for non-finite floats.
pub fn python_json_dumps(value: &Value) -> Result<String, minijinja::Error> {
    let mut out = String::new();
    write_json(&mut out, value)?;
    Ok(out)
}

fn write_json(out: &mut String, value: &Value) -> Result<(), minijinja::Error> {
    if let Some(text) = render_object(value, false) {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("Object of type datetime is not JSON serializable: {text}"),
        ));
    }
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            if value.is_integer() {
                let _ = write!(out, "{value}");
            } else {
                let f = f64::try_from(value.clone()).unwrap_or(f64::NAN);
                if f.is_nan() {
                    out.push_str("NaN");
                } else if f.is_infinite() {
                    out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
                } else {
                    out.push_str(&python_float(f));
                }
            }
        }
        ValueKind::String => write_json_str(out, value.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            for (i, item) in value.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(out, &item)?;
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            for (i, key) in value.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                match key.as_str() {
                    Some(k) => write_json_str(out, k),
                    None => write_json_str(out, &python_str(&key)),
                }
                out.push_str(": ");
                write_json(out, &value.get_item(&key)?)?;
            }
            out.push('}');
        }
        _ => write_json_str(out, &value.to_string()),
    }
    Ok(())
}

/// `s` as a JSON string the way Python's `json.dumps` writes it (non-ASCII escaped).
pub fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON value from serde.
type JsonValue = serde_json::Value;

/// Python's `str()` of a JSON value (`True`, `None`, `1e+16`, `{'a': 1}`): what requests puts
/// in a header or query string and what schema normalization makes of a value.
pub fn json_python_str(value: &JsonValue) -> String {
    match value {
        JsonValue::String(s) => s.clone(),
        other => {
            let mut out = String::new();
            write_json_repr(&mut out, other);
            out
        }
    }
}

fn write_json_repr(out: &mut String, value: &JsonValue) {
    match value {
        JsonValue::Null => out.push_str("None"),
        JsonValue::Bool(true) => out.push_str("True"),
        JsonValue::Bool(false) => out.push_str("False"),
        JsonValue::Number(n) => out.push_str(&number_str(n)),
        JsonValue::String(s) => write_str_repr(out, s),
        JsonValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json_repr(out, item);
            }
            out.push(']');
        }
        JsonValue::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str_repr(out, k);
                out.push_str(": ");
                write_json_repr(out, v);
            }
            out.push('}');
        }
    }
}

fn number_str(n: &serde_json::Number) -> String {
    if n.is_f64() {
        n.as_f64()
            .map(python_float)
            .unwrap_or_else(|| n.to_string())
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::value::Serde;
    use serde_json::json;

    #[test]
    fn str_and_repr_like_python() {
        let v = Value::from(Serde(
            json!({"a": [1, "x", null, true, 1.5], "b'": {"c": "it's"}}),
        ));
        assert_eq!(
            python_str(&v),
            r#"{'a': [1, 'x', None, True, 1.5], "b'": {'c': "it's"}}"#
        );
        assert_eq!(python_str(&Value::from("plain")), "plain");
        assert_eq!(python_repr(&Value::from("plain")), "'plain'");
        assert_eq!(python_str(&Value::from(false)), "False");
        assert_eq!(python_str(&Value::from(())), "None");
    }

    #[test]
    fn floats_like_python() {
        for (f, s) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (123456.789, "123456.789"),
            (1e-4, "0.0001"),
            (-2.5, "-2.5"),
        ] {
            assert_eq!(python_float(f), s);
        }
    }

    #[test]
    fn json_dumps_like_python() {
        let v = Value::from(Serde(json!({"a": [1, 2.0], "é": "x\"y"})));
        assert_eq!(
            python_json_dumps(&v).unwrap(),
            r#"{"a": [1, 2.0], "\u00e9": "x\"y"}"#
        );
    }
}
