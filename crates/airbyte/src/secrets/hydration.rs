//! `secret_reference::NAME` values in configs (PyAirbyte's `secrets/hydration.py`).

use serde_json::Value;

use super::SECRET_REFERENCE_PREFIX;
use super::lookup::get_secret;
use super::masking::{is_globally_masked, is_secret_schema, schema_for_property};
use crate::error::Result;

/// Whether the value is a `secret_reference::NAME` string.
pub fn is_secret_reference(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.starts_with(SECRET_REFERENCE_PREFIX))
}

/// A copy of `config` with every `secret_reference::NAME` string (at any depth) replaced by the
/// secret's value, looked up with [`get_secret`]. Fails on the first secret that cannot be found.
///
/// ```
/// use serde_json::json;
/// unsafe { std::env::set_var("DOC_HYDRATE_PW", "pw") };
/// let config = json!({"db": {"password": "secret_reference::DOC_HYDRATE_PW"}, "n": 1});
/// let hydrated = airbyte::secrets::hydrate_config(&config).unwrap();
/// assert_eq!(hydrated, json!({"db": {"password": "pw"}, "n": 1}));
/// ```
pub fn hydrate_config(config: &Value) -> Result<Value> {
    Ok(match config {
        Value::String(s) if s.starts_with(SECRET_REFERENCE_PREFIX) => {
            Value::String(get_secret(s)?.into_inner())
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(hydrate_config)
                .collect::<Result<Vec<_>>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), hydrate_config(v)?)))
                .collect::<Result<serde_json::Map<_, _>>>()?,
        ),
        _ => config.clone(),
    })
}

/// The secret values a hydrated config carries: those that came from references, those of
/// fields the spec marks secret (`airbyte_secret`, `writeOnly`, `format: password`) and those
/// of properties on the global mask list. Used to keep them out of error messages.
pub(crate) fn secret_values(raw: &Value, hydrated: &Value, spec: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    collect_secret_values(raw, hydrated, spec, false, &mut out);
    out.retain(|s| !s.is_empty());
    out
}

fn collect_secret_values(
    raw: &Value,
    hydrated: &Value,
    schema: Option<&Value>,
    secret: bool,
    out: &mut Vec<String>,
) {
    let secret = secret || is_secret_schema(schema);
    match (raw, hydrated) {
        (Value::String(r), Value::String(h))
            if secret || r.starts_with(SECRET_REFERENCE_PREFIX) =>
        {
            out.push(h.clone());
        }
        (Value::Object(r), Value::Object(h)) => {
            for (k, hv) in h {
                let sub = schema_for_property(schema, k);
                let rv = r.get(k).unwrap_or(hv);
                collect_secret_values(rv, hv, sub, secret || is_globally_masked(k), out);
            }
        }
        (Value::Array(r), Value::Array(h)) => {
            let items = schema.and_then(|s| s.get("items"));
            for (rv, hv) in r.iter().zip(h) {
                collect_secret_values(rv, hv, items, secret, out);
            }
        }
        (_, Value::String(h)) if secret => out.push(h.clone()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_values_cover_references_and_marked_fields() {
        let spec = json!({"properties": {"api_key": {"type": "string", "airbyte_secret": true},
            "creds": {"oneOf": [{"properties": {"password": {"format": "password"}}}]}}});
        let raw = json!({"api_key": "k1", "host": "h", "token": "secret_reference::T",
            "creds": {"password": "p1"}, "client_secret": "g1"});
        let hydrated = json!({"api_key": "k1", "host": "h", "token": "t1",
            "creds": {"password": "p1"}, "client_secret": "g1"});
        let mut got = secret_values(&raw, &hydrated, Some(&spec));
        got.sort();
        // `client_secret` is on the global mask list.
        assert_eq!(got, ["g1", "k1", "p1", "t1"]);
    }
}
