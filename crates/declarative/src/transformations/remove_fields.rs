//! `RemoveFields`: deletes the fields at some paths (`*` and other `fnmatch` globs allowed),
//! as the CDK's `RemoveFields` does with `dpath.delete`; a missing field is no error.

use serde_json::{Map, Value};

use super::{Transformation, field_pointers};
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::extractors::dpath::{self, Glob};
use crate::factory::Node;
use crate::interpolation::{Context, InterpolatedBoolean};

/// A `RemoveFields` transformation.
#[derive(Debug)]
pub struct RemoveFields {
    pointers: Vec<Vec<Glob>>,
    /// `condition`, evaluated with `property` (each leaf value) and `config` only. As in the
    /// CDK (`dpath.delete`'s `afilter`), a leaf anywhere in the record for which it holds is
    /// removed, whether or not a pointer matches it.
    condition: Option<InterpolatedBoolean>,
    config: Value,
    at: ManifestPath,
}

impl RemoveFields {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let pointers = field_pointers(&node, "field_pointers")?
            .iter()
            .map(|p| dpath::globs(p))
            .collect();
        // The CDK builds it with empty parameters.
        let condition = match node.get("condition") {
            None => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(v) => Some(InterpolatedBoolean::from_json(v, &Map::new())),
        };
        Ok(Self {
            pointers,
            condition,
            config: node.config().clone(),
            at: node.child_path("condition"),
        })
    }
}

impl Transformation for RemoveFields {
    fn transform(&self, record: &mut Value, _context: &Context) -> Result<()> {
        for pointer in &self.pointers {
            let result = match &self.condition {
                None => dpath::delete(record, pointer, None),
                Some(condition) => {
                    let base = Context::new(&self.config);
                    let mut filter = |value: &Value| -> std::result::Result<bool, String> {
                        condition
                            .eval(&base.clone().with("property", value))
                            .map_err(|e| e.to_string())
                    };
                    dpath::delete(record, pointer, Some(&mut filter))
                }
            };
            result.map_err(|e| {
                EngineError::manifest(&self.at, format!("RemoveFields failed: {e}"))
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use serde_json::json;

    fn run(node: Value, mut record: Value) -> Value {
        let env = BuildEnv::default();
        let path = ManifestPath::root();
        let t = RemoveFields::from_node(Node::new(&node, &path, &env).unwrap()).unwrap();
        t.transform(&mut record, &Context::new(&json!({}))).unwrap();
        record
    }

    #[test]
    fn removes_paths_and_globs() {
        let r = run(
            json!({"type": "RemoveFields", "field_pointers": [["a"], ["b", "c"], ["nope", "x"], ["l", "*", "k"]]}),
            json!({"a": 1, "b": {"c": 2, "d": 3}, "l": [{"k": 1, "j": 2}, {"k": 3}], "z": 0}),
        );
        assert_eq!(r, json!({"b": {"d": 3}, "l": [{"j": 2}, {}], "z": 0}));
        let r = run(
            json!({"type": "RemoveFields", "field_pointers": [["_*"]]}),
            json!({"_links": 1, "_meta": 2, "id": 3}),
        );
        assert_eq!(r, json!({"id": 3}));
    }

    #[test]
    fn condition_removes_any_leaf_it_selects() {
        let r = run(
            json!({"type": "RemoveFields", "field_pointers": [["**"]], "condition": "{{ property == 'x' }}"}),
            json!({"a": "x", "b": {"c": "x", "d": "y"}, "e": 1}),
        );
        assert_eq!(r, json!({"b": {"d": "y"}, "e": 1}));
    }
}
