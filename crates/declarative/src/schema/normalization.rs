//! `schema_normalization: Default`: the CDK's `TypeTransformer` with
//! `DefaultSchemaNormalization`.
//!
//! It walks the schema as `jsonschema` would validate the record, through `properties`,
//! `items` and `$ref` only (not `anyOf` and the like), and converts every value it reaches to
//! the one type its subschema names (a single type, or one type and `null`), whatever the
//! value's type already is, with Python's conversions: `str()` (`True`, `None`, `1.0`,
//! `{'a': 1}`), `float()` (an integer becomes a float), `int()` (a float is truncated),
//! `strtobool` for strings to booleans, and a scalar wrapped in a list for an array of scalar
//! items. A value that does not convert is kept as it is.

use serde_json::{Map, Number, Value};

use crate::extractors::dpath::python_int;
use crate::interpolation::python_repr::json_python_str as python_str;

/// Depth beyond which `$ref`s are not followed (a recursive schema).
const MAX_DEPTH: usize = 256;

/// How records are normalized against the stream's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaNormalizer {
    /// `DefaultSchemaNormalization`.
    Default,
}

impl SchemaNormalizer {
    /// Normalizes `record` in place against `schema` (the record itself is not converted,
    /// only what its schema's keywords reach).
    pub fn normalize(&self, record: &mut Value, schema: &Value) {
        descend(record, schema, schema, 0);
    }
}

/// `iter_errors(instance, schema)` with the normalizing keywords, in the schema's order.
fn descend(instance: &mut Value, schema: &Value, root: &Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let Value::Object(keywords) = schema else {
        return;
    };
    for (keyword, value) in keywords {
        match keyword.as_str() {
            "properties" => {
                let (Value::Object(record), Value::Object(properties)) = (&mut *instance, value)
                else {
                    continue;
                };
                for (key, sub) in properties {
                    if let Some(v) = record.get_mut(key) {
                        *v = default_convert(std::mem::take(v), sub);
                    }
                }
                for (key, sub) in properties {
                    if let Some(v) = record.get_mut(key) {
                        descend(v, sub, root, depth + 1);
                    }
                }
            }
            "items" => {
                let Value::Array(items) = &mut *instance else {
                    continue;
                };
                if !value.is_object() {
                    // A list of schemas (tuple validation) or a boolean: the CDK's converter
                    // fails or does nothing on those; leave the items alone.
                    continue;
                }
                for item in items.iter_mut() {
                    *item = default_convert(std::mem::take(item), value);
                }
                for item in items.iter_mut() {
                    descend(item, value, root, depth + 1);
                }
            }
            "$ref" => {
                if let Some(target) = value.as_str().and_then(|r| resolve_local(root, r)) {
                    descend(instance, target, root, depth + 1);
                }
            }
            _ => {}
        }
    }
}

/// A `#/...` reference in the root schema.
fn resolve_local<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}

/// `TypeTransformer.default_convert`.
fn default_convert(value: Value, subschema: &Value) -> Value {
    let Value::Object(subschema) = subschema else {
        return value;
    };
    let target = match subschema.get("type") {
        None => return value,
        Some(t) => t,
    };
    if value.is_null() && contains_null(target) {
        return value;
    }
    let target = match target {
        Value::Array(types) => {
            let non_null: Vec<&Value> = types
                .iter()
                .filter(|t| t.as_str() != Some("null"))
                .collect();
            if non_null.len() != 1 {
                return value;
            }
            non_null[0]
        }
        other => other,
    };
    match target.as_str() {
        Some("string") => Value::String(python_str(&value)),
        Some("number") => to_float(&value).unwrap_or(value),
        Some("integer") => to_int(&value).unwrap_or(value),
        Some("boolean") => to_bool(&value).unwrap_or(value),
        Some("array") => {
            if scalar_items(subschema) && is_leaf(&value) {
                Value::Array(vec![value])
            } else {
                value
            }
        }
        _ => value,
    }
}

/// `"null" in target_type` (for a string, Python's substring test).
fn contains_null(target: &Value) -> bool {
    match target {
        Value::String(s) => s.contains("null"),
        Value::Array(items) => items.iter().any(|t| t.as_str() == Some("null")),
        Value::Object(m) => m.contains_key("null"),
        _ => false,
    }
}

/// Whether `set(items.type)` is a subset of the scalar JSON types (no `items`, or no type,
/// counts: the empty set).
fn scalar_items(subschema: &Map<String, Value>) -> bool {
    const SIMPLE: [&str; 5] = ["string", "number", "integer", "boolean", "null"];
    let items = match subschema.get("items") {
        None => return true,
        Some(Value::Object(items)) => items,
        Some(_) => return false,
    };
    match items.get("type") {
        None => true,
        // `set("string")` is a set of characters, never a subset of the type names.
        Some(Value::String(s)) => s.chars().all(|c| SIMPLE.contains(&c.to_string().as_str())),
        Some(Value::Array(types)) => types
            .iter()
            .all(|t| t.as_str().is_some_and(|t| SIMPLE.contains(&t))),
        Some(_) => false,
    }
}

fn is_leaf(value: &Value) -> bool {
    !matches!(value, Value::Object(_) | Value::Array(_))
}

/// Python's `float()`; `None` where it raises (or gives what JSON cannot hold).
fn to_float(value: &Value) -> Option<Value> {
    let f = match value {
        Value::Number(n) => n.as_f64()?,
        Value::Bool(b) => {
            if *b {
                1.0
            } else {
                0.0
            }
        }
        Value::String(s) => parse_python_float(s)?,
        _ => return None,
    };
    Number::from_f64(f).map(Value::Number)
}

fn parse_python_float(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.contains('_') {
        // Underscores only between digits.
        let b = t.as_bytes();
        let ok = b.iter().enumerate().all(|(i, c)| {
            *c != b'_'
                || (i > 0
                    && i + 1 < b.len()
                    && b[i - 1].is_ascii_digit()
                    && b[i + 1].is_ascii_digit())
        });
        if !ok {
            return None;
        }
    }
    let cleaned: String = t.chars().filter(|c| *c != '_').collect();
    let lower = cleaned.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    let valid = matches!(unsigned, "inf" | "infinity" | "nan")
        || (!unsigned.is_empty()
            && unsigned
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-')));
    if !valid {
        return None;
    }
    cleaned.parse::<f64>().ok()
}

/// Python's `int()`; `None` where it raises.
fn to_int(value: &Value) -> Option<Value> {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64()?;
            if !f.is_finite() {
                return None;
            }
            let t = f.trunc();
            if t >= i64::MIN as f64 && t <= i64::MAX as f64 {
                Some(Value::from(t as i64))
            } else {
                None
            }
        }
        Value::Number(n) => Some(Value::Number(n.clone())),
        Value::Bool(b) => Some(Value::from(i64::from(*b))),
        Value::String(s) => {
            let n = python_int(s)?;
            if let Ok(i) = i64::try_from(n) {
                Some(Value::from(i))
            } else {
                u64::try_from(n).ok().map(Value::from)
            }
        }
        _ => None,
    }
}

/// `_strtobool` for strings, Python's `bool()` for anything else.
fn to_bool(value: &Value) -> Option<Value> {
    Some(Value::Bool(match value {
        Value::String(s) => match s.trim().to_lowercase().as_str() {
            "y" | "yes" | "t" | "true" | "on" | "1" => true,
            "n" | "no" | "f" | "false" | "off" | "0" => false,
            _ => return None,
        },
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn normalize(mut record: Value, schema: Value) -> Value {
        SchemaNormalizer::Default.normalize(&mut record, &schema);
        record
    }

    #[test]
    fn converts_as_the_type_transformer() {
        let schema = json!({"type": "object", "properties": {
            "s": {"type": "string"}, "n": {"type": ["null", "number"]}, "i": {"type": "integer"},
            "b": {"type": "boolean"}, "a": {"type": "array", "items": {"type": ["string"]}},
            "amb": {"type": ["string", "integer"]}, "o": {"type": "object", "properties": {"x": {"type": "string"}}},
            "l": {"type": "array", "items": {"type": "integer"}},
            "sn": {"type": "string"}, "nn": {"type": ["null", "string"]}
        }});
        let record = json!({
            "s": 1.5, "n": 3, "i": "42", "b": "yes", "a": "x", "amb": 1, "o": {"x": true},
            "l": ["1", "2", "x"], "sn": null, "nn": null, "extra": 1
        });
        assert_eq!(
            normalize(record, schema),
            json!({
                "s": "1.5", "n": 3.0, "i": 42, "b": true, "a": ["x"], "amb": 1, "o": {"x": "True"},
                "l": [1, 2, "x"], "sn": "None", "nn": null, "extra": 1
            })
        );
    }

    #[test]
    fn matches_the_cdk_output() {
        // Input and expected output run through the CDK's own TypeTransformer.
        let schema = json!({"type": "object", "properties": {
            "s": {"type": "string"}, "n": {"type": ["null", "number"]}, "i": {"type": "integer"},
            "b": {"type": "boolean"}, "a": {"type": "array", "items": {"type": ["string"]}},
            "amb": {"type": ["string", "integer"]}, "o": {"type": "object", "properties": {"x": {"type": "string"}}},
            "l": {"type": "array", "items": {"type": "integer"}}, "sn": {"type": "string"}, "nn": {"type": ["null", "string"]},
            "d": {"type": "string"}, "f": {"type": "string"}, "big": {"type": "string"}, "arr2": {"type": "array"},
            "arr3": {"type": "array", "items": {"type": "string"}}, "ni": {"type": "integer"}, "bs": {"type": "boolean"},
            "nested": {"type": "array", "items": {"type": "object", "properties": {"q": {"type": "number"}}}},
            "r": {"$ref": "#/definitions/d"}, "ts": {"type": "string"}
        }, "definitions": {"d": {"type": "object", "properties": {"v": {"type": "number"}}}}});
        let record = json!({"s": 1.5, "n": 3, "i": "42", "b": "yes", "a": "x", "amb": 1, "o": {"x": true},
            "l": ["1", "2", "x"], "sn": null, "nn": null, "extra": 1, "d": {"a": [1, "b", null], "c": 1e16},
            "f": 0.0001, "big": 1e-5, "arr2": 5, "arr3": "z", "ni": null, "bs": "maybe",
            "nested": [{"q": "1.5"}, {"q": 2}], "r": {"v": "2"}, "ts": [1.0, 2.5e-7]});
        let expected = json!({"s": "1.5", "n": 3.0, "i": 42, "b": true, "a": ["x"], "amb": 1, "o": {"x": "True"},
            "l": [1, 2, "x"], "sn": "None", "nn": null, "extra": 1, "d": "{'a': [1, 'b', None], 'c': 1e+16}",
            "f": "0.0001", "big": "1e-05", "arr2": [5], "arr3": "z", "ni": null, "bs": "maybe",
            "nested": [{"q": 1.5}, {"q": 2.0}], "r": {"v": 2.0}, "ts": "[1.0, 2.5e-07]"});
        let out = normalize(record, schema);
        assert_eq!(out, expected);
        // Floats stay floats (`2.0`, not `2`) in the output.
        assert_eq!(
            serde_json::to_string(&out["nested"]).unwrap(),
            r#"[{"q":1.5},{"q":2.0}]"#
        );
    }

    #[test]
    fn python_renderings() {
        assert_eq!(
            python_str(&json!({"a": [1, "b", null], "c": 1e16})),
            "{'a': [1, 'b', None], 'c': 1e+16}"
        );
        assert_eq!(python_str(&json!(1.0)), "1.0");
        assert_eq!(to_int(&json!(3.9)), Some(json!(3)));
        assert_eq!(to_int(&json!("1.5")), None);
        assert_eq!(to_int(&json!(" 1_000 ")), Some(json!(1000)));
        assert_eq!(to_float(&json!("1e3")), Some(json!(1000.0)));
        assert_eq!(to_float(&json!("abc")), None);
        assert_eq!(to_bool(&json!("maybe")), None);
        assert_eq!(to_bool(&json!(0)), Some(json!(false)));
    }

    #[test]
    fn refs_and_items_type_string() {
        // `items.type` as a string: `set("string")` is no subset, no wrapping.
        let schema = json!({"properties": {"a": {"type": "array", "items": {"type": "string"}}, "r": {"$ref": "#/definitions/d"}},
                            "definitions": {"d": {"type": "object", "properties": {"v": {"type": "number"}}}}});
        assert_eq!(
            normalize(json!({"a": "x", "r": {"v": "2"}}), schema),
            json!({"a": "x", "r": {"v": 2.0}})
        );
    }
}
