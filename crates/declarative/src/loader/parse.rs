//! Manifest text (YAML, of which JSON is a subset) to a `serde_json::Value` tree.

use serde_json::Value;

use crate::error::DeclarativeError;

/// Parses YAML or JSON text. PyYAML's YAML 1.1 reading is what the CDK uses; serde-saphyr
/// reproduces its booleans (`yes`/`no`/`on`/`off`) and merge keys (`<<:`).
pub fn parse_manifest_text(text: &str) -> Result<Value, DeclarativeError> {
    let value: Value = if text.trim_start().starts_with('{') {
        // JSON first: it is exact for big integers and escapes; YAML is the fallback.
        match serde_json::from_str(text) {
            Ok(value) => value,
            Err(_) => parse_yaml(text)?,
        }
    } else {
        parse_yaml(text)?
    };
    match value {
        Value::Object(_) => Ok(value),
        other => Err(DeclarativeError::NotAMapping {
            found: kind_name(&other),
        }),
    }
}

fn parse_yaml(text: &str) -> Result<Value, DeclarativeError> {
    serde_saphyr::from_str::<Value>(text).map_err(|e| DeclarativeError::Parse {
        message: e.to_string(),
    })
}

/// The JSON kind of a value, for messages.
pub(crate) fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_and_json_give_the_same_tree() {
        let yaml = parse_manifest_text("version: 6.0.0\nstreams:\n  - name: a\n    enabled: yes\n")
            .unwrap();
        assert_eq!(
            yaml,
            json!({"version": "6.0.0", "streams": [{"name": "a", "enabled": true}]})
        );
        let js = parse_manifest_text(r#"{"version": "6.0.0", "n": 12345678901234567890}"#).unwrap();
        assert_eq!(js["n"].to_string(), "12345678901234567890");
    }

    #[test]
    fn yaml_anchors_and_merge_keys() {
        let v =
            parse_manifest_text("base: &b\n  a: 1\n  b: 2\nchild:\n  <<: *b\n  b: 3\n").unwrap();
        assert_eq!(v["child"], json!({"a": 1, "b": 3}));
    }

    #[test]
    fn a_list_or_scalar_is_not_a_manifest() {
        assert!(matches!(
            parse_manifest_text("- a\n- b\n"),
            Err(DeclarativeError::NotAMapping { .. })
        ));
        assert!(matches!(
            parse_manifest_text("key: [unclosed\n"),
            Err(DeclarativeError::Parse { .. })
        ));
    }
}
