//! Secrets: `get_secret(name)` and the `secret_reference::NAME` values of configs
//! (PyAirbyte's `airbyte/secrets`).
//!
//! A secret is looked up in the environment, then in the `.env` file of the current directory.
//! An empty value counts as missing. Config values of the form `secret_reference::NAME`, nested
//! anywhere in objects and arrays, are replaced by the secret before the config is validated and
//! before it is written to the connector's (private) config file; the config the user set is
//! kept as given, so `get_config()` never reveals a secret that came from a reference.
//!
//! ```
//! use airbyte as ab;
//! // SAFETY of the example: single-threaded doctest.
//! unsafe { std::env::set_var("MY_DOC_TOKEN", "s3cr3t") };
//! let token = ab::get_secret("MY_DOC_TOKEN").unwrap();
//! assert_eq!(token.expose(), "s3cr3t");
//! assert_eq!(format!("{token:?}"), "<SecretString: ****>");
//! ```

use std::fmt;
use std::path::PathBuf;

use serde_json::Value;

use crate::error::{Error, Result};

/// The prefix that marks a config value as a reference to a secret.
pub const SECRET_REFERENCE_PREFIX: &str = "secret_reference::";

/// A secret value. `Debug` and `Display` print `****`; [`SecretString::expose`] gives the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret value, consuming the wrapper.
    pub fn into_inner(self) -> String {
        self.0
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses the value as JSON (e.g. a service-account key stored in one variable).
    pub fn parse_json(&self) -> Result<Value> {
        serde_json::from_str(&self.0).map_err(|e| {
            Error::input(
                format!("the secret is not valid JSON ({e})"),
                "store the secret as one JSON document",
            )
        })
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<SecretString: ****>")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// Where secrets are looked up, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    /// The process environment.
    Env,
    /// The `.env` file of the current directory.
    Dotenv,
}

fn dotenv_path() -> PathBuf {
    std::env::current_dir()
        .map(|d| d.join(".env"))
        .unwrap_or_else(|_| PathBuf::from(".env"))
}

fn from_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn from_dotenv(name: &str) -> Option<String> {
    let iter = dotenvy::from_path_iter(dotenv_path()).ok()?;
    let mut found = None;
    for item in iter {
        match item {
            // A later definition wins, as when the file is sourced by a shell.
            Ok((key, value)) if key == name => found = Some(value),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("skipping an unreadable line of .env: {e}");
            }
        }
    }
    found.filter(|v| !v.is_empty())
}

/// Looks a secret up (environment, then `./.env`); `None` when neither has a non-empty value.
/// A `secret_reference::` prefix on `name` is ignored.
pub fn try_get_secret(name: &str) -> Option<SecretString> {
    let name = name.strip_prefix(SECRET_REFERENCE_PREFIX).unwrap_or(name);
    from_env(name)
        .or_else(|| from_dotenv(name))
        .map(SecretString)
}

/// Looks a secret up (environment, then `./.env`).
///
/// Fails with [`Error::SecretNotFound`], naming the secret and the places searched, when
/// neither has a non-empty value. A `secret_reference::` prefix on `name` is ignored.
pub fn get_secret(name: &str) -> Result<SecretString> {
    let bare = name.strip_prefix(SECRET_REFERENCE_PREFIX).unwrap_or(name);
    try_get_secret(bare).ok_or_else(|| Error::SecretNotFound {
        secret: bare.to_string(),
        looked_in: format!(
            "the environment variable `{bare}`, then the file {}",
            dotenv_path().display()
        ),
    })
}

/// Whether the value is a `secret_reference::NAME` string.
pub fn is_secret_reference(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.starts_with(SECRET_REFERENCE_PREFIX))
}

/// A copy of `config` with every `secret_reference::NAME` string (at any depth) replaced by the
/// secret's value. Fails on the first secret that cannot be found.
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
        Value::String(s) => match s.strip_prefix(SECRET_REFERENCE_PREFIX) {
            Some(name) => Value::String(get_secret(name)?.into_inner()),
            None => config.clone(),
        },
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

/// The secret values a hydrated config carries: those that came from references, and those of
/// fields the spec marks secret (`airbyte_secret`, `writeOnly`, `format: password`). Used to keep
/// them out of error messages.
pub(crate) fn secret_values(raw: &Value, hydrated: &Value, spec: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    collect_secret_values(raw, hydrated, spec, false, &mut out);
    out.retain(|s| !s.is_empty());
    out
}

fn is_secret_schema(schema: Option<&Value>) -> bool {
    schema.is_some_and(|s| {
        s.get("airbyte_secret").and_then(Value::as_bool) == Some(true)
            || s.get("writeOnly").and_then(Value::as_bool) == Some(true)
            || s.get("format").and_then(Value::as_str) == Some("password")
    })
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
                collect_secret_values(rv, hv, sub, secret, out);
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

/// The sub-schema of a property: `properties.<k>`, else the first `oneOf`/`anyOf`/`allOf`
/// branch that declares it.
fn schema_for_property<'a>(schema: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    let schema = schema?;
    if let Some(p) = schema.get("properties").and_then(|p| p.get(key)) {
        return Some(p);
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(branches) = schema.get(combinator).and_then(Value::as_array) {
            for b in branches {
                if let Some(p) = b.get("properties").and_then(|p| p.get(key)) {
                    return Some(p);
                }
            }
        }
    }
    None
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
            "creds": {"password": "p1"}});
        let hydrated = json!({"api_key": "k1", "host": "h", "token": "t1",
            "creds": {"password": "p1"}});
        let mut got = secret_values(&raw, &hydrated, Some(&spec));
        got.sort();
        assert_eq!(got, ["k1", "p1", "t1"]);
    }

    #[test]
    fn debug_and_display_are_masked() {
        let s = SecretString::new("x");
        assert_eq!(format!("{s} {s:?}"), "**** <SecretString: ****>");
    }
}
