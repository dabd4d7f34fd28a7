//! `MinMaxDatetime`: a date-time template read with its own format, kept within optional
//! bounds (`min_datetime`, `max_datetime`), as the CDK's `MinMaxDatetime.get_datetime`.

use serde_json::{Map, Value};

use super::datetime_parser::{Dt, parse_str, py_max, py_min};
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::{Node, kind};
use crate::interpolation::{Context, InterpolatedString};

/// The format `get_datetime` uses when neither the component nor its cursor gives one.
const DEFAULT_FORMAT: &str = "%Y-%m-%dT%H:%M:%S.%f%z";

/// A `MinMaxDatetime` (or a plain date-time string, which the CDK wraps in one).
#[derive(Debug, Clone)]
pub struct MinMaxDatetime {
    datetime: InterpolatedString,
    /// The component's own `datetime_format` (empty: inherit the cursor's).
    datetime_format: String,
    min_datetime: Option<InterpolatedString>,
    max_datetime: Option<InterpolatedString>,
    path: ManifestPath,
}

impl MinMaxDatetime {
    /// Builds it from member `key` of `parent` (a `DatetimeBasedCursor`): a string (with the
    /// parent's `$parameters`) or a `MinMaxDatetime` mapping (with its own).
    pub fn from_member(parent: Node<'_>, key: &str) -> Result<Option<Self>> {
        let path = parent.child_path(key);
        match parent.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(Self::plain(s, parent.parameters(), path))),
            Some(Value::Number(n)) => {
                Ok(Some(Self::plain(&n.to_string(), parent.parameters(), path)))
            }
            Some(Value::Object(_)) => {
                let value = parent.required(key)?;
                let node = parent.node(value, &path)?;
                Self::from_node(node).map(Some)
            }
            Some(other) => Err(parent.error(
                key,
                format!(
                    "expected a date-time string or a MinMaxDatetime, found {}",
                    kind(other)
                ),
            )),
        }
    }

    fn plain(text: &str, parameters: &Map<String, Value>, path: ManifestPath) -> Self {
        Self {
            datetime: InterpolatedString::new(text, parameters),
            datetime_format: String::new(),
            min_datetime: None,
            max_datetime: None,
            path,
        }
    }

    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        match node.type_name() {
            "MinMaxDatetime" | "" => {}
            _ => return Err(node.unsupported()),
        }
        // Empty bounds mean none (`if self.min_datetime`).
        let bound = |key: &str| -> Result<Option<InterpolatedString>> {
            Ok(node
                .opt_interpolated(key)?
                .filter(|s| !s.as_str().is_empty()))
        };
        Ok(Self {
            datetime: node.interpolated("datetime")?,
            datetime_format: node.opt_str("datetime_format")?.unwrap_or_default(),
            min_datetime: bound("min_datetime")?,
            max_datetime: bound("max_datetime")?,
            path: node.path.clone(),
        })
    }

    /// Sets the format when the component has none (the cursor's `datetime_format`).
    pub fn inherit_format(&mut self, format: &str) {
        if self.datetime_format.is_empty() {
            self.datetime_format = format.to_string();
        }
    }

    /// The format values are parsed with.
    pub fn datetime_format(&self) -> &str {
        if self.datetime_format.is_empty() {
            DEFAULT_FORMAT
        } else {
            &self.datetime_format
        }
    }

    /// `get_datetime(config)`: the date-time, raised to `min_datetime` and lowered to
    /// `max_datetime` (bounds that render empty are ignored).
    pub fn get_datetime(&self, config: &Value) -> Result<Dt> {
        let context = Context::new(config);
        let format = self.datetime_format();
        let eval = |s: &InterpolatedString, what: &str| -> Result<String> {
            s.eval_to_string(&context)
                .map_err(|e| EngineError::interpolation(&self.path.key(what), e))
        };
        let parse = |text: &str, what: &str| -> Result<Dt> {
            parse_str(text, format).ok_or_else(|| {
                EngineError::manifest(
                    &self.path.key(what),
                    format!("time data {text:?} does not match format {format:?}"),
                )
            })
        };
        let mut time = parse(&eval(&self.datetime, "datetime")?, "datetime")?;
        if let Some(min) = &self.min_datetime {
            let text = eval(min, "min_datetime")?;
            if !text.is_empty() {
                time = py_max(time, parse(&text, "min_datetime")?);
            }
        }
        if let Some(max) = &self.max_datetime {
            let text = eval(max, "max_datetime")?;
            if !text.is_empty() {
                time = py_min(time, parse(&text, "max_datetime")?);
            }
        }
        Ok(time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use serde_json::json;

    fn build(value: Value, config: Value) -> (MinMaxDatetime, Value) {
        let parent =
            json!({"type": "DatetimeBasedCursor", "start_datetime": value, "$parameters": {}});
        let env = BuildEnv {
            config: config.clone(),
            directory: None,
            ..Default::default()
        };
        let path = ManifestPath::root();
        let node = Node::new(&parent, &path, &env).unwrap();
        (
            MinMaxDatetime::from_member(node, "start_datetime")
                .unwrap()
                .unwrap(),
            config,
        )
    }

    #[test]
    fn plain_string_inherits_the_cursor_format() {
        let (mut m, config) = build(
            json!("{{ config['start'] }}"),
            json!({"start": "2024-01-05"}),
        );
        m.inherit_format("%Y-%m-%d");
        assert_eq!(
            m.get_datetime(&config).unwrap().to_rfc3339(),
            "2024-01-05T00:00:00+00:00"
        );
    }

    #[test]
    fn own_format_wins_and_bounds_apply() {
        let (mut m, config) = build(
            json!({
                "type": "MinMaxDatetime",
                "datetime": "{{ config['start'] }}",
                "datetime_format": "%d/%m/%Y",
                "min_datetime": "{{ config['floor'] }}",
                "max_datetime": "{{ config.get('ceiling', '') }}",
                "$parameters": {}
            }),
            json!({"start": "05/01/2024", "floor": "10/01/2024"}),
        );
        m.inherit_format("%Y-%m-%d");
        assert_eq!(m.datetime_format(), "%d/%m/%Y");
        // Raised to the minimum; the empty maximum is ignored.
        assert_eq!(
            m.get_datetime(&config).unwrap().to_rfc3339(),
            "2024-01-10T00:00:00+00:00"
        );
        let capped = json!({"start": "05/01/2024", "floor": "01/01/2024", "ceiling": "03/01/2024"});
        assert_eq!(
            m.get_datetime(&capped).unwrap().to_rfc3339(),
            "2024-01-03T00:00:00+00:00"
        );
    }

    #[test]
    fn default_format_and_errors() {
        let (m, config) = build(json!("2024-01-05T01:02:03.000004+0000"), json!({}));
        assert_eq!(
            m.get_datetime(&config).unwrap().to_rfc3339(),
            "2024-01-05T01:02:03.000004+00:00"
        );
        let (mut bad, config) = build(json!("{{ config['missing'] }}"), json!({}));
        bad.inherit_format("%Y-%m-%d");
        assert!(bad.get_datetime(&config).is_err());
    }
}
