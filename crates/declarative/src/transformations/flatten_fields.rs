//! `FlattenFields`: nested mappings (and lists, unless `flatten_lists: false`) become
//! top-level fields, named as the CDK's `FlattenFields` names them.

use serde_json::{Map, Value};

use super::{Transformation, record_map};
use crate::engine_error::Result;
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::interpolation::Context;

/// A `FlattenFields` transformation.
#[derive(Debug)]
pub struct FlattenFields {
    flatten_lists: bool,
    at: ManifestPath,
}

impl FlattenFields {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        Ok(Self {
            flatten_lists: node.opt_bool("flatten_lists")?.unwrap_or(true),
            at: node.path.clone(),
        })
    }

    /// The CDK's `flatten_record`: a stack (last pushed, first flattened); a key keeps its own
    /// name unless it is taken already or a list was met anywhere before, then it is prefixed
    /// with its parent's name (`parent.key`, list items `parent.0`).
    fn flatten(&self, record: Map<String, Value>) -> Map<String, Value> {
        let mut stack: Vec<(Value, String)> = vec![(Value::Object(record), "_".into())];
        let mut out = Map::new();
        let mut with_parent_name = false;
        while let Some((current, parent_key)) = stack.pop() {
            match current {
                Value::Object(map) => {
                    for (key, value) in map {
                        let new_key = if with_parent_name || out.contains_key(&key) {
                            format!("{parent_key}.{key}")
                        } else {
                            key
                        };
                        stack.push((value, new_key));
                    }
                }
                Value::Array(items) if self.flatten_lists => {
                    for (i, item) in items.into_iter().enumerate() {
                        with_parent_name = true;
                        stack.push((item, format!("{parent_key}.{i}")));
                    }
                }
                other => {
                    out.insert(parent_key, other);
                }
            }
        }
        out
    }
}

impl Transformation for FlattenFields {
    fn transform(&self, record: &mut Value, _context: &Context) -> Result<()> {
        let map = record_map(record, "FlattenFields", &self.at)?;
        *map = self.flatten(std::mem::take(map));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(flatten_lists: bool, mut r: Value) -> Value {
        let t = FlattenFields {
            flatten_lists,
            at: ManifestPath::root(),
        };
        t.transform(&mut r, &Context::default()).unwrap();
        r
    }

    #[test]
    fn flattens_as_the_cdk() {
        assert_eq!(
            run(
                true,
                json!({"FirstName": "John", "Address": {"Street": "Main", "City": "X"}, "Contacts": [{"Phone": "1"}, {"Email": "e"}]})
            ),
            json!({"Contacts.1.Email": "e", "Contacts.0.Phone": "1", "Address.City": "X", "Address.Street": "Main", "FirstName": "John"})
        );
        assert_eq!(
            run(true, json!({"id": 1, "nested": {"id": 2}})),
            json!({"id": 1})
        );
        assert_eq!(
            run(true, json!({"a": [1, {"a": 2}], "b": {"a": 3}})),
            json!({"a": 3, "a.1.a": 2, "a.0": 1})
        );
        assert_eq!(
            run(false, json!({"a": {"b": [1, 2]}, "c": {}})),
            json!({"b": [1, 2]})
        );
    }
}
