//! The CDK's filters (`airbyte_cdk/sources/declarative/interpolation/filters.py`).

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use super::digest::{base64_decode, base64_encode, hex, hmac_sha256, md5, sha1, sha256};
use super::python_repr::{python_json_dumps, python_str};

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// Registers the filters on `env`.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("hash", hash);
    env.add_filter("base64encode", |value: Value| -> Result<String, Error> {
        Ok(base64_encode(expect_str(&value, "encode")?.as_bytes()))
    });
    env.add_filter("base64decode", |value: Value| -> Result<String, Error> {
        let text = expect_str(&value, "encode")?;
        let bytes = base64_decode(text).ok_or_else(|| invalid("Incorrect padding"))?;
        String::from_utf8(bytes)
            .map_err(|_| invalid("'utf-8' codec can't decode the base64-decoded bytes"))
    });
    // The CDK's `base64binascii_decode` encodes (it calls `standard_b64encode`); kept as it is.
    env.add_filter(
        "base64binascii_decode",
        |value: Value| -> Result<String, Error> {
            let text = expect_str(&value, "encode")?;
            if !text.is_ascii() {
                return Err(invalid("'ascii' codec can't encode the value"));
            }
            Ok(base64_encode(text.as_bytes()))
        },
    );
    env.add_filter("string", string);
    env.add_filter("int", int);
    env.add_filter("float", float);
    env.add_filter("hmac", hmac);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_replace", regex_replace);
}

fn compile(pattern: &str) -> Result<fancy_regex::Regex, Error> {
    fancy_regex::Regex::new(pattern)
        .map_err(|e| invalid(format!("invalid regular expression {pattern:?}: {e}")))
}

/// `regex_search(value, regex)`: Python's `re.search`; the first group of the first match,
/// `None` when that group did not take part, `""` without a match or a group.
fn regex_search(value: Value, regex: &str) -> Result<Value, Error> {
    let text = expect_str(&value, "search")?;
    let re = compile(regex)?;
    let caps = re
        .captures(text)
        .map_err(|e| invalid(format!("matching {regex:?} failed: {e}")))?;
    Ok(match caps {
        Some(c) if c.len() > 1 => match c.get(1) {
            Some(m) => Value::from(m.as_str()),
            None => Value::from(()),
        },
        _ => Value::from(""),
    })
}

/// `regex_replace(value, regex, replacement)`: Python's `re.sub`, every match replaced; the
/// replacement's `\1` and `\g<name>` refer to groups, as in Python.
fn regex_replace(value: Value, regex: &str, replacement: &str) -> Result<String, Error> {
    let text = expect_str(&value, "sub")?;
    let re = compile(regex)?;
    let template = python_replacement(replacement)?;
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let caps = caps.map_err(|e| invalid(format!("matching {regex:?} failed: {e}")))?;
        let Some(whole) = caps.get(0) else { continue };
        out.push_str(&text[last..whole.start()]);
        caps.expand(&template, &mut out);
        last = whole.end();
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// A Python `re.sub` replacement template as a fancy-regex one: `\1`/`\g<1>`/`\g<name>` →
/// `${1}`/`${name}`, `$` → `$$`, and Python's string escapes (`\n`, `\t`, `\\`, ...).
fn python_replacement(template: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.next() {
                Some(d) if d.is_ascii_digit() => {
                    let mut group = d.to_string();
                    if let Some(e) = chars.peek().copied().filter(char::is_ascii_digit) {
                        group.push(e);
                        chars.next();
                    }
                    out.push_str(&format!("${{{group}}}"));
                }
                Some('g') => {
                    if chars.next() != Some('<') {
                        return Err(invalid("missing < in a \\g<...> group reference"));
                    }
                    let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    // Python refuses unknown ASCII-letter escapes; others stay as written.
                    if other.is_ascii_alphabetic() {
                        return Err(invalid(format!("bad escape \\{other} in the replacement")));
                    }
                    out.push('\\');
                    out.push(other);
                }
                None => return Err(invalid("bad escape (end of pattern) in the replacement")),
            },
            other => out.push(other),
        }
    }
    Ok(out)
}

fn expect_str<'a>(value: &'a Value, method: &str) -> Result<&'a str, Error> {
    value
        .as_str()
        .filter(|_| value.kind() == ValueKind::String)
        .ok_or_else(|| {
            invalid(format!(
                "'{}' object has no attribute '{method}'",
                value.kind()
            ))
        })
}

/// `hash(value, hash_type='md5', salt=None)`: hex digest of `str(value)` (+ `str(salt)`).
fn hash(value: Value, hash_type: Option<&str>, salt: Option<Value>) -> Result<String, Error> {
    let mut data = python_str(&value).into_bytes();
    if let Some(salt) = salt.filter(Value::is_true) {
        data.extend_from_slice(python_str(&salt).as_bytes());
    }
    Ok(match hash_type.unwrap_or("md5") {
        "md5" => hex(&md5(&data)),
        "sha1" => hex(&sha1(&data)),
        "sha256" => hex(&sha256(&data)),
        other => return Err(invalid(format!("No hashing function named {other}"))),
    })
}

/// `hmac(value, key, hash_type='sha256')`.
fn hmac(value: Value, key: Value, hash_type: Option<&str>) -> Result<String, Error> {
    match hash_type.unwrap_or("sha256") {
        "sha256" => Ok(hex(&hmac_sha256(
            python_str(&key).as_bytes(),
            python_str(&value).as_bytes(),
        ))),
        other => Err(invalid(format!(
            "Hash type '{other}' is not allowed. Allowed types: sha256"
        ))),
    }
}

/// `string(value)`: a string as it is; anything else as `"""<json.dumps(value)>"""`, so that
/// the literal evaluation of the result gives the JSON text, not a structure.
fn string(value: Value) -> Result<String, Error> {
    if value.kind() == ValueKind::String {
        return Ok(value.as_str().unwrap_or_default().to_string());
    }
    Ok(format!("\"\"\"{}\"\"\"", python_json_dumps(&value)?))
}

/// Jinja2's `int(value, default=0, base=10)`: never fails, gives the default instead.
fn int(value: Value, default: Option<Value>, base: Option<u32>) -> Result<Value, Error> {
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "int() of an undefined value",
        ));
    }
    let default = default.unwrap_or(Value::from(0));
    Ok(int_or_default(value, default, base))
}

fn int_or_default(value: Value, default: Value, base: Option<u32>) -> Value {
    let base = base.unwrap_or(10);
    match value.kind() {
        ValueKind::Bool => Value::from(i64::from(value.is_true())),
        ValueKind::Number if value.is_integer() => value,
        ValueKind::Number => {
            f64::try_from(value).map_or(default, |f| Value::from(f.trunc() as i64))
        }
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default().trim().replace('_', "");
            let digits = match base {
                16 => text
                    .trim_start_matches("0x")
                    .trim_start_matches("0X")
                    .to_string(),
                8 => text
                    .trim_start_matches("0o")
                    .trim_start_matches("0O")
                    .to_string(),
                2 => text
                    .trim_start_matches("0b")
                    .trim_start_matches("0B")
                    .to_string(),
                _ => text.clone(),
            };
            if let Ok(n) = i64::from_str_radix(&digits, base) {
                return Value::from(n);
            }
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() && base == 10 => Value::from(f.trunc() as i64),
                _ => default,
            }
        }
        _ => default,
    }
}

/// Jinja2's `float(value, default=0.0)`.
fn float(value: Value, default: Option<Value>) -> Result<Value, Error> {
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "float() of an undefined value",
        ));
    }
    let default = default.unwrap_or(Value::from(0.0));
    Ok(float_or_default(value, default))
}

fn float_or_default(value: Value, default: Value) -> Value {
    match value.kind() {
        ValueKind::Bool => Value::from(f64::from(u8::from(value.is_true()))),
        ValueKind::Number => f64::try_from(value).map_or(default, Value::from),
        ValueKind::String => {
            let text = value
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let parsed = match text.as_str() {
                "inf" | "+inf" | "infinity" => Some(f64::INFINITY),
                "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
                "nan" => Some(f64::NAN),
                t => t.replace('_', "").parse::<f64>().ok(),
            };
            parsed.map_or(default, Value::from)
        }
        _ => default,
    }
}
