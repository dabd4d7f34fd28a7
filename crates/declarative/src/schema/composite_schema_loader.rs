//! A list of schema loaders (the CDK's `CompositeSchemaLoader`): their `properties` merged,
//! the earlier loaders winning.

use serde_json::{Map, Value, json};

use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;

/// The CDK's `CompositeSchemaLoader`.
#[derive(Debug)]
pub struct CompositeSchemaLoader;

impl CompositeSchemaLoader {
    /// The combined schema of the loaders' schemas (each with where its loader is).
    pub fn combine(schemas: Vec<(Value, ManifestPath)>) -> Result<Value> {
        let mut properties = Map::new();
        for (schema, at) in schemas {
            let Some(Value::Object(props)) = schema.get("properties") else {
                return Err(EngineError::manifest(
                    &at,
                    "a schema loader of a list must give a schema with `properties`",
                ));
            };
            // `{**schema_properties, **combined}`: earlier loaders win.
            let mut merged = props.clone();
            for (k, v) in properties {
                merged.insert(k, v);
            }
            properties = merged;
        }
        Ok(json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": ["null", "object"],
            "properties": properties,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_loaders_win() {
        let a = json!({"properties": {"x": {"type": "string"}}});
        let b = json!({"properties": {"x": {"type": "integer"}, "y": {}}});
        let combined = CompositeSchemaLoader::combine(vec![
            (a, ManifestPath::root()),
            (b, ManifestPath::root()),
        ])
        .unwrap();
        assert_eq!(
            combined["properties"],
            json!({"x": {"type": "string"}, "y": {}})
        );
        assert_eq!(combined["type"], json!(["null", "object"]));
    }
}
