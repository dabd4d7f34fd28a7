//! Reading configs (JSON or YAML, from a file or inline) and validating them against a
//! connector's spec.
//!
//! ```
//! let config = airbyte::config::load_config("{count: 10}").unwrap();
//! assert_eq!(config, serde_json::json!({"count": 10}));
//! ```

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result, Violation};

/// Parses config text: JSON first, then YAML (a superset for our purposes). The result must be
/// an object. `origin` names the source in error messages.
pub fn parse_config_text(text: &str, origin: &str) -> Result<Value> {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(json_err) => match serde_saphyr::from_str::<Value>(text) {
            Ok(v) => v,
            Err(yaml_err) => {
                return Err(Error::ConfigParse {
                    origin: origin.to_string(),
                    detail: format!(
                        "it is neither JSON ({json_err}) nor YAML ({})",
                        first_line(&yaml_err.to_string())
                    ),
                    guidance: "Write the config as a JSON object or a YAML mapping.".into(),
                });
            }
        },
    };
    if !value.is_object() {
        return Err(Error::ConfigParse {
            origin: origin.to_string(),
            detail: format!("it is a {}, not an object", json_type(&value)),
            guidance: "A connector config is an object of settings, e.g. {\"count\": 10}.".into(),
        });
    }
    Ok(value)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// Reads a config given as the CLI's `--config` takes it: inline JSON/YAML when the text starts
/// with `{`, else the path of a JSON or YAML file.
///
/// As in `pyab`, a string value `SECRET:NAME` (at any depth) stands for the secret `NAME`: it
/// becomes `secret_reference::NAME`, resolved (environment, then `.env`) only when the config is
/// handed to the connector, so the secret itself is never part of the stored config.
///
/// ```
/// let config = airbyte::config::load_config(r#"{"api_key": "SECRET:MY_KEY"}"#).unwrap();
/// assert_eq!(config["api_key"], "secret_reference::MY_KEY");
/// ```
pub fn load_config(arg: &str) -> Result<Value> {
    let mut config = if arg.trim_start().starts_with('{') {
        parse_config_text(arg, "the inline config text")?
    } else {
        load_config_file(Path::new(arg))?
    };
    expand_secret_markers(&mut config);
    Ok(config)
}

/// Rewrites `SECRET:NAME` strings into `secret_reference::NAME`.
fn expand_secret_markers(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix("SECRET:") {
                *s = format!("{}{}", crate::secrets::SECRET_REFERENCE_PREFIX, name.trim());
            }
        }
        Value::Array(items) => items.iter_mut().for_each(expand_secret_markers),
        Value::Object(map) => map.values_mut().for_each(expand_secret_markers),
        _ => {}
    }
}

/// Reads a JSON or YAML config file.
pub fn load_config_file(path: &Path) -> Result<Value> {
    let origin = format!("the file {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| Error::ConfigParse {
        origin: origin.clone(),
        detail: e.to_string(),
        guidance: "Check the path, or pass the config inline as JSON starting with `{`.".into(),
    })?;
    parse_config_text(&text, &origin)
}

/// Validates a (secret-hydrated) config against a connector's `connectionSpecification` and
/// reports every violation with its JSON path. Values equal to one of `secrets` are masked in
/// the messages. Formats are not checked, as in PyAirbyte (connectors use formats loosely).
pub(crate) fn validate_against_spec(
    connector: &str,
    spec: &Value,
    config: &Value,
    secrets: &[String],
) -> Result<()> {
    let validator = jsonschema::options()
        .should_validate_formats(false)
        .build(spec)
        .map_err(|e| {
            Error::input(
                format!("the spec of connector `{connector}` is not a valid JSON Schema ({e})"),
                "skip validation (set_config with validate=false) and report the problem to the \
             connector's maintainers",
            )
        })?;
    let mut violations: Vec<Violation> = validator
        .iter_errors(config)
        .map(|err| {
            let mut path = err.instance_path().as_str().to_string();
            let text = err.to_string();
            let leaks = secrets.iter().any(|s| text.contains(s.as_str()));
            let mut message = if leaks {
                err.masked_with("****").to_string()
            } else {
                text
            };
            if let jsonschema::error::ValidationErrorKind::Required { property } = err.kind()
                && let Some(name) = property.as_str()
            {
                path = format!("{path}/{}", escape_pointer(name));
                message = "is required but missing".into();
            }
            Violation { path, message }
        })
        .collect();
    violations.dedup();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::ValidationFailed {
            name: connector.to_string(),
            violations,
        })
    }
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inline_json_and_yaml() {
        assert_eq!(load_config(r#"{"a": 1}"#).ok(), Some(json!({"a": 1})));
        assert_eq!(
            load_config("{a: 1, b: [x]}").ok(),
            Some(json!({"a": 1, "b": ["x"]}))
        );
        assert!(matches!(load_config("{"), Err(Error::ConfigParse { .. })));
        assert!(matches!(
            parse_config_text("[1]", "t"),
            Err(Error::ConfigParse { .. })
        ));
    }

    #[test]
    fn every_violation_with_its_path() {
        let spec = json!({"type": "object", "required": ["count", "api_key"],
            "properties": {"count": {"type": "integer"}, "api_key": {"type": "string"},
                "nested": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}}});
        let config = json!({"nested": {"n": 0}, "extra": "x"});
        let Err(Error::ValidationFailed { violations, .. }) =
            validate_against_spec("c", &spec, &config, &[])
        else {
            panic!("expected a validation failure")
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
        assert!(paths.contains(&"/count"), "{paths:?}");
        assert!(paths.contains(&"/api_key"), "{paths:?}");
        assert!(paths.contains(&"/nested/n"), "{paths:?}");
    }

    #[test]
    fn secrets_are_masked() {
        let spec = json!({"properties": {"k": {"type": "integer"}}});
        let err = validate_against_spec("c", &spec, &json!({"k": "hunter2"}), &["hunter2".into()]);
        let text = err.map(|_| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("/k"), "{text}");
    }
}
