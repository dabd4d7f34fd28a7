//! Reading a component's manifest node: typed field access with errors that name the path.
//!
//! Every component is built from its node by one `from_node` function beside it; they all read
//! fields through [`Node`], so that a missing or mistyped field is reported at its path in the
//! manifest (`streams[2].retriever.requester.url_base: expected a string`).

use serde_json::{Map, Value};

use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::interpolation::{InterpolatedBoolean, InterpolatedString};
use crate::loader::PARAMETERS_KEY;

/// What every component is built with: the config (templates that need only it are evaluated
/// with it) and the manifest's folder (schema files lie beside it).
#[derive(Debug, Clone, Default)]
pub struct BuildEnv {
    /// The connector's config.
    pub config: Value,
    /// The folder of the manifest file, when it came from one.
    pub directory: Option<std::path::PathBuf>,
    /// The wait between two polls of an async job (the CDK's 5 s when `None`; tests shorten it).
    pub async_poll_interval: Option<std::time::Duration>,
    /// The manifest's `api_budget`, shared by every requester built with this environment.
    pub api_budget: Option<std::sync::Arc<crate::requesters::ApiBudget>>,
}

/// A component's node in the loaded manifest, with where it is.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    /// The node's members.
    pub map: &'a Map<String, Value>,
    /// Where it is.
    pub path: &'a ManifestPath,
    /// What it is built with.
    pub env: &'a BuildEnv,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> Node<'a> {
    /// The node at `path`; an error when it is not a mapping.
    pub fn new(value: &'a Value, path: &'a ManifestPath, env: &'a BuildEnv) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Self { map, path, env }),
            other => Err(EngineError::manifest(
                path,
                format!("expected a component (a mapping), found {}", kind(other)),
            )),
        }
    }

    /// The component's `type`.
    pub fn type_name(&self) -> &'a str {
        self.map.get("type").and_then(Value::as_str).unwrap_or("")
    }

    /// The component's `$parameters` (empty when it has none).
    pub fn parameters(&self) -> &'a Map<String, Value> {
        self.map
            .get(PARAMETERS_KEY)
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY)
    }

    /// A member, when present and not null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A member's path.
    pub fn child_path(&self, key: &str) -> ManifestPath {
        self.path.key(key)
    }

    /// An error about member `key`.
    pub fn error(&self, key: &str, message: impl Into<String>) -> EngineError {
        EngineError::manifest(&self.path.key(key), message)
    }

    /// A required member.
    pub fn required(&self, key: &str) -> Result<&'a Value> {
        self.get(key).ok_or_else(|| {
            EngineError::manifest(
                self.path,
                format!("{} requires the field `{key}`", self.describe()),
            )
        })
    }

    /// An optional string member (numbers and booleans are written as text, as pydantic coerces).
    pub fn opt_str(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(if *b { "True" } else { "False" }.to_string())),
            Some(other) => {
                Err(self.error(key, format!("expected a string, found {}", kind(other))))
            }
        }
    }

    /// A required string member.
    pub fn str(&self, key: &str) -> Result<String> {
        self.required(key)?;
        Ok(self.opt_str(key)?.unwrap_or_default())
    }

    /// An optional interpolated string with this node's parameters.
    pub fn opt_interpolated(&self, key: &str) -> Result<Option<InterpolatedString>> {
        Ok(self
            .opt_str(key)?
            .map(|s| InterpolatedString::new(s, self.parameters())))
    }

    /// A required interpolated string.
    pub fn interpolated(&self, key: &str) -> Result<InterpolatedString> {
        Ok(InterpolatedString::new(self.str(key)?, self.parameters()))
    }

    /// An optional interpolated boolean (a string or a YAML boolean).
    pub fn opt_condition(&self, key: &str) -> Option<InterpolatedBoolean> {
        self.get(key)
            .map(|v| InterpolatedBoolean::from_json(v, self.parameters()))
    }

    /// An optional boolean (YAML booleans, or the strings `true`/`false`).
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => {
                Err(self.error(key, format!("expected a boolean, found {}", kind(other))))
            }
        }
    }

    /// An optional integer.
    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(Value::Number(n)) => Ok(n.as_f64().map(|f| f as i64)),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.error(key, format!("expected an integer, found {s:?}"))),
            Some(other) => {
                Err(self.error(key, format!("expected an integer, found {}", kind(other))))
            }
        }
    }

    /// An optional number.
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.error(key, format!("expected a number, found {s:?}"))),
            Some(other) => {
                Err(self.error(key, format!("expected a number, found {}", kind(other))))
            }
        }
    }

    /// An optional mapping member.
    pub fn opt_object(&self, key: &str) -> Result<Option<&'a Map<String, Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(other) => {
                Err(self.error(key, format!("expected a mapping, found {}", kind(other))))
            }
        }
    }

    /// An optional list member.
    pub fn opt_array(&self, key: &str) -> Result<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(self.error(key, format!("expected a list, found {}", kind(other)))),
        }
    }

    /// An optional list of strings (a single string counts as a list of one).
    pub fn opt_str_list(&self, key: &str) -> Result<Option<Vec<String>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    other => {
                        Err(self.error(key, format!("expected strings, found {}", kind(other))))
                    }
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(other) => Err(self.error(key, format!("expected a list, found {}", kind(other)))),
        }
    }

    /// A child component node.
    pub fn child(&self, key: &str, path: &'a ManifestPath) -> Result<Option<Node<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => Node::new(v, path, self.env).map(Some),
        }
    }

    /// Another node built with the same environment.
    pub fn node(&self, value: &'a Value, path: &'a ManifestPath) -> Result<Node<'a>> {
        Node::new(value, path, self.env)
    }

    /// The config.
    pub fn config(&self) -> &'a Value {
        &self.env.config
    }

    /// An [`EngineError::UnsupportedComponent`] for this node.
    pub fn unsupported(&self) -> EngineError {
        EngineError::UnsupportedComponent {
            at: self.path.clone(),
            type_name: if self.type_name().is_empty() {
                "<no type>".into()
            } else {
                self.type_name().into()
            },
        }
    }

    fn describe(&self) -> String {
        if self.type_name().is_empty() {
            "this component".into()
        } else {
            self.type_name().into()
        }
    }
}

/// A JSON value's kind, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
