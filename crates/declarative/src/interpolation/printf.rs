//! Python's `%` operator: printf-style string formatting (`'%s-%05.2f' % (a, b)`,
//! `'%(name)s' % mapping`) and floor modulo for numbers (`-7 % 3 == 2`).

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

use super::macros::TYPE_ERROR;
use super::python_repr::{python_float, python_repr, python_str};

fn type_error(message: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("{TYPE_ERROR}{message}"),
    )
}

/// `lhs % rhs`.
pub fn modulo(lhs: &Value, rhs: &Value) -> Result<Value, Error> {
    if lhs.is_undefined() || rhs.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "an operand is undefined",
        ));
    }
    if lhs.kind() == ValueKind::String {
        return format(lhs.as_str().unwrap_or_default(), rhs).map(Value::from);
    }
    let int = |v: &Value| match v.kind() {
        ValueKind::Bool => Some(i128::from(v.is_true())),
        ValueKind::Number if v.is_integer() => i128::try_from(v.clone()).ok(),
        _ => None,
    };
    let float = |v: &Value| match v.kind() {
        ValueKind::Bool | ValueKind::Number => f64::try_from(v.clone())
            .ok()
            .or_else(|| int(v).map(|i| i as f64)),
        _ => None,
    };
    if let (Some(a), Some(b)) = (int(lhs), int(rhs)) {
        if b == 0 {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "ZeroDivisionError: integer modulo by zero",
            ));
        }
        let r = a.rem_euclid(b);
        let r = if b < 0 && r != 0 { r + b } else { r };
        return Ok(i64::try_from(r)
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(r)));
    }
    match (float(lhs), float(rhs)) {
        (Some(a), Some(b)) => {
            if b == 0.0 {
                Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "ZeroDivisionError: float modulo",
                ))
            } else {
                Ok(Value::from(a - b * (a / b).floor()))
            }
        }
        _ => Err(type_error(format_args!(
            "unsupported operand type(s) for %: '{}' and '{}'",
            lhs.kind(),
            rhs.kind()
        ))),
    }
}

struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alternate: bool,
    width: usize,
    precision: Option<usize>,
}

/// `format % args`.
pub fn format(format: &str, args: &Value) -> Result<String, Error> {
    let positional: Vec<Value> = if args.is_tuple() {
        args.try_iter()?.collect()
    } else {
        vec![args.clone()]
    };
    let mapping = (args.kind() == ValueKind::Map).then(|| args.clone());
    let mut next = 0usize;
    let mut used_mapping = false;
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut key = None;
        if chars.peek() == Some(&'(') {
            chars.next();
            let mut name = String::new();
            let mut depth = 1;
            for c in chars.by_ref() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                name.push(c);
            }
            key = Some(name);
        }
        let mut spec = Spec {
            left: false,
            zero: false,
            plus: false,
            space: false,
            alternate: false,
            width: 0,
            precision: None,
        };
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alternate = true,
                _ => break,
            }
            chars.next();
        }
        let mut take_arg = |key: &Option<String>| -> Result<Value, Error> {
            if let Some(k) = key {
                used_mapping = true;
                let map = mapping
                    .as_ref()
                    .ok_or_else(|| type_error("format requires a mapping"))?;
                let v = map.get_item(&Value::from(k.as_str()))?;
                if v.is_undefined() {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("KeyError: '{k}'"),
                    ));
                }
                return Ok(v);
            }
            let v = positional
                .get(next)
                .cloned()
                .ok_or_else(|| type_error("not enough arguments for format string"))?;
            next += 1;
            Ok(v)
        };
        if chars.peek() == Some(&'*') {
            chars.next();
            spec.width = take_arg(&None)?
                .as_usize()
                .ok_or_else(|| type_error("* wants int"))?;
        } else {
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                spec.width = spec.width * 10 + d as usize;
                chars.next();
            }
        }
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = 0;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                chars.next();
            }
            spec.precision = Some(p);
        }
        while matches!(chars.peek(), Some('h' | 'l' | 'L')) {
            chars.next();
        }
        let conversion = chars.next().ok_or_else(|| {
            Error::new(ErrorKind::InvalidOperation, "ValueError: incomplete format")
        })?;
        if conversion == '%' {
            out.push('%');
            continue;
        }
        let arg = take_arg(&key)?;
        let (body, numeric) = match conversion {
            's' => (truncate(python_str(&arg), spec.precision), false),
            'r' | 'a' => (truncate(python_repr(&arg), spec.precision), false),
            'c' => (char_of(&arg)?, false),
            'd' | 'i' | 'u' => (signed(&spec, integer(&arg, conversion)?.to_string()), true),
            'x' | 'X' | 'o' => {
                let n = integer(&arg, conversion)?;
                let digits = match conversion {
                    'x' => format!("{:x}", n.unsigned_abs()),
                    'X' => format!("{:X}", n.unsigned_abs()),
                    _ => format!("{:o}", n.unsigned_abs()),
                };
                let prefix = if spec.alternate {
                    match conversion {
                        'x' => "0x",
                        'X' => "0X",
                        _ => "0o",
                    }
                } else {
                    ""
                };
                let text = format!("{}{prefix}{digits}", if n < 0 { "-" } else { "" });
                (signed(&spec, text), true)
            }
            'f' | 'F' | 'e' | 'E' | 'g' | 'G' => {
                let f = number(&arg, conversion)?;
                (
                    signed(
                        &spec,
                        float_text(f, conversion, spec.precision.unwrap_or(6), spec.alternate),
                    ),
                    true,
                )
            }
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("ValueError: unsupported format character '{other}'"),
                ));
            }
        };
        out.push_str(&pad(&spec, body, numeric));
    }
    if !used_mapping && next < positional.len() && mapping.is_none() {
        return Err(type_error(
            "not all arguments converted during string formatting",
        ));
    }
    Ok(out)
}

fn truncate(s: String, precision: Option<usize>) -> String {
    match precision {
        Some(p) => s.chars().take(p).collect(),
        None => s,
    }
}

fn char_of(v: &Value) -> Result<String, Error> {
    if let Some(s) = v.as_str().filter(|s| s.chars().count() == 1) {
        return Ok(s.to_string());
    }
    v.as_i64()
        .and_then(|n| u32::try_from(n).ok())
        .and_then(char::from_u32)
        .map(String::from)
        .ok_or_else(|| type_error("%c requires an int or a unicode character"))
}

fn integer(v: &Value, conversion: char) -> Result<i128, Error> {
    match v.kind() {
        ValueKind::Bool => Ok(i128::from(v.is_true())),
        ValueKind::Number if v.is_integer() => i128::try_from(v.clone()),
        ValueKind::Number if matches!(conversion, 'd' | 'i' | 'u') => {
            Ok(f64::try_from(v.clone())?.trunc() as i128)
        }
        _ => Err(type_error(format_args!(
            "%{conversion} format: an integer is required, not {}",
            v.kind()
        ))),
    }
}

fn number(v: &Value, conversion: char) -> Result<f64, Error> {
    match v.kind() {
        ValueKind::Bool => Ok(f64::from(u8::from(v.is_true()))),
        ValueKind::Number => f64::try_from(v.clone()),
        _ => Err(type_error(format_args!(
            "%{conversion} format: a real number is required, not {}",
            v.kind()
        ))),
    }
}

fn signed(spec: &Spec, text: String) -> String {
    if text.starts_with('-') {
        text
    } else if spec.plus {
        format!("+{text}")
    } else if spec.space {
        format!(" {text}")
    } else {
        text
    }
}

fn pad(spec: &Spec, body: String, numeric: bool) -> String {
    let len = body.chars().count();
    if len >= spec.width {
        return body;
    }
    let fill = spec.width - len;
    if spec.left {
        format!("{body}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        let sign_len = usize::from(body.starts_with(['-', '+', ' ']));
        format!(
            "{}{}{}",
            &body[..sign_len],
            "0".repeat(fill),
            &body[sign_len..]
        )
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

/// `%f`, `%e`, `%g` of a float, as Python prints them.
fn float_text(f: f64, conversion: char, precision: usize, alternate: bool) -> String {
    if !f.is_finite() {
        let s = python_float(f);
        return if conversion.is_uppercase() {
            s.to_uppercase()
        } else {
            s
        };
    }
    let text = match conversion.to_ascii_lowercase() {
        'f' => format!("{f:.precision$}"),
        'e' => exponent_form(f, precision),
        _ => {
            let p = precision.max(1);
            let exp = if f == 0.0 {
                0
            } else {
                format!("{f:.*e}", p - 1)
                    .split_once('e')
                    .and_then(|(_, e)| e.parse::<i32>().ok())
                    .unwrap_or(0)
            };
            let mut s = if exp < -4 || exp >= p as i32 {
                exponent_form(f, p - 1)
            } else {
                format!("{f:.*}", (p as i32 - 1 - exp).max(0) as usize)
            };
            if !alternate {
                s = strip_zeros(&s);
            }
            s
        }
    };
    if conversion.is_uppercase() {
        text.to_uppercase()
    } else {
        text
    }
}

fn exponent_form(f: f64, precision: usize) -> String {
    let s = format!("{f:.precision$e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!(
        "{mantissa}e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

fn strip_zeros(s: &str) -> String {
    let (mantissa, exp) = match s.find('e') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let mantissa = if mantissa.contains('.') {
        mantissa.trim_end_matches('0').trim_end_matches('.')
    } else {
        mantissa
    };
    format!("{mantissa}{exp}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::value::Serde;
    use serde_json::json;

    fn tuple(items: Vec<Value>) -> Value {
        Value::from(minijinja::value::Tuple::from(items))
    }

    #[test]
    fn formats_like_python() {
        let f = |fmt: &str, args: Value| format(fmt, &args).unwrap();
        assert_eq!(
            f("%s-%s", tuple(vec![Value::from("a"), Value::from(1)])),
            "a-1"
        );
        assert_eq!(f("%d items", Value::from(50)), "50 items");
        assert_eq!(f("%05.2f", Value::from(3.14559)), "03.15");
        assert_eq!(
            f(
                "%-4d|%+d|% d",
                tuple(vec![Value::from(7), Value::from(7), Value::from(7)])
            ),
            "7   |+7| 7"
        );
        assert_eq!(
            f(
                "%x %X %#o %c %%",
                tuple(vec![
                    Value::from(255),
                    Value::from(255),
                    Value::from(8),
                    Value::from(65)
                ])
            ),
            "ff FF 0o10 A %"
        );
        assert_eq!(
            f(
                "%e|%g|%g|%.3g",
                tuple(vec![
                    Value::from(12345.678),
                    Value::from(0.0001),
                    Value::from(1e20),
                    Value::from(2.0)
                ])
            ),
            "1.234568e+04|0.0001|1e+20|2"
        );
        assert_eq!(
            f("%r %s", tuple(vec![Value::from("x"), Value::from(())])),
            "'x' None"
        );
        assert_eq!(
            f(
                "%(name)s=%(n)03d",
                Value::from(Serde(json!({"name": "k", "n": 5})))
            ),
            "k=005"
        );
        assert_eq!(f("%d", Value::from(3.9)), "3");
        assert!(format("%s %s", &Value::from("a")).is_err());
        assert!(format("%s", &tuple(vec![Value::from(1), Value::from(2)])).is_err());
        assert!(format("%d", &Value::from("a")).is_err());
    }

    #[test]
    fn numeric_modulo_is_floored() {
        assert_eq!(
            modulo(&Value::from(-7), &Value::from(3)).unwrap(),
            Value::from(2)
        );
        assert_eq!(
            modulo(&Value::from(7), &Value::from(-3)).unwrap(),
            Value::from(-2)
        );
        assert_eq!(
            modulo(&Value::from(7.5), &Value::from(2)).unwrap(),
            Value::from(1.5)
        );
        assert!(modulo(&Value::from(1), &Value::from(0)).is_err());
    }
}
