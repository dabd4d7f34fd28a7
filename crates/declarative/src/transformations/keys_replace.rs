//! `KeysReplace`: replaces a substring in every key of the record and of its nested
//! mappings (not inside lists), as the CDK's `KeysReplaceTransformation`.

use serde_json::{Map, Value};

use super::{Transformation, record_map};
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::interpolation::{Context, InterpolatedString};

/// A `KeysReplace` transformation.
#[derive(Debug)]
pub struct KeysReplace {
    old: InterpolatedString,
    new: InterpolatedString,
    at: ManifestPath,
}

impl KeysReplace {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        // `old: " "` must stay a space: read the member as written, not trimmed.
        let text = |key: &str| -> Result<String> {
            match node.map.get(key) {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => node.str(key),
            }
        };
        Ok(Self {
            old: InterpolatedString::new(text("old")?, node.parameters()),
            new: InterpolatedString::new(text("new")?, node.parameters()),
            at: node.path.clone(),
        })
    }
}

fn replace_keys(map: Map<String, Value>, old: &str, new: &str) -> Map<String, Value> {
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        let value = match value {
            Value::Object(inner) => Value::Object(replace_keys(inner, old, new)),
            other => other,
        };
        out.insert(key.replace(old, new), value);
    }
    out
}

impl Transformation for KeysReplace {
    fn transform(&self, record: &mut Value, context: &Context) -> Result<()> {
        let scope = context.clone().with("record", record);
        let old = self
            .old
            .eval_to_string(&scope)
            .map_err(|e| EngineError::interpolation(&self.at.key("old"), e))?;
        let new = self
            .new
            .eval_to_string(&scope)
            .map_err(|e| EngineError::interpolation(&self.at.key("new"), e))?;
        let map = record_map(record, "KeysReplace", &self.at)?;
        *map = replace_keys(std::mem::take(map), &old, &new);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use serde_json::json;

    #[test]
    fn replaces_in_nested_keys() {
        let node = json!({"type": "KeysReplace", "old": " ", "new": "{{ parameters.sep }}", "$parameters": {"sep": "_"}});
        let env = BuildEnv::default();
        let path = ManifestPath::root();
        let t = KeysReplace::from_node(Node::new(&node, &path, &env).unwrap()).unwrap();
        let mut r = json!({"created time": 1, "a b": {"c d": 2}, "l": [{"e f": 3}]});
        t.transform(&mut r, &Context::new(&json!({}))).unwrap();
        assert_eq!(
            r,
            json!({"created_time": 1, "a_b": {"c_d": 2}, "l": [{"e f": 3}]})
        );
    }
}
