//! `InlineSchemaLoader`: the schema written in the manifest (after `$ref` resolution), or
//! `{}` without one.

use serde_json::{Map, Value};

use crate::engine_error::Result;
use crate::factory::Node;

/// An `InlineSchemaLoader`.
#[derive(Debug, Clone)]
pub struct InlineSchemaLoader {
    schema: Value,
}

impl InlineSchemaLoader {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let schema = match node.opt_object("schema")? {
            Some(m) => Value::Object(m.clone()),
            None => Value::Object(Map::new()),
        };
        Ok(Self { schema })
    }

    /// The schema, as written.
    pub fn get_json_schema(&self) -> Value {
        self.schema.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ManifestPath;
    use crate::factory::BuildEnv;
    use serde_json::json;

    #[test]
    fn schema_as_written() {
        let env = BuildEnv::default();
        let path = ManifestPath::root();
        let node = json!({"type": "InlineSchemaLoader", "schema": {"type": "object", "properties": {"a": {}}}});
        let l = InlineSchemaLoader::from_node(Node::new(&node, &path, &env).unwrap()).unwrap();
        assert_eq!(
            l.get_json_schema(),
            json!({"type": "object", "properties": {"a": {}}})
        );
        let node = json!({"type": "InlineSchemaLoader"});
        let l = InlineSchemaLoader::from_node(Node::new(&node, &path, &env).unwrap()).unwrap();
        assert_eq!(l.get_json_schema(), json!({}));
    }
}
