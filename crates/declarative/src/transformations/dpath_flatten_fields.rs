//! `DpathFlattenFields`: the mapping at a path of the record is merged into the record (keys
//! optionally prefixed or suffixed), as the CDK's `DpathFlattenFields`.

use serde_json::Value;

use super::Transformation;
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::extractors::dpath::{self, Glob};
use crate::factory::Node;
use crate::interpolation::{Context, InterpolatedString};
use crate::truthiness::truthy;

/// A `DpathFlattenFields` transformation.
#[derive(Debug)]
pub struct DpathFlattenFields {
    /// The path, evaluated with the config (as the CDK does, once a record).
    field_path: Vec<InterpolatedString>,
    delete_origin_value: bool,
    replace_record: bool,
    /// `key_transformation.prefix`/`suffix`, evaluated with the config when built; empty
    /// (falsy) ones are not applied.
    prefix: Option<String>,
    suffix: Option<String>,
    config: Value,
    at: ManifestPath,
}

impl DpathFlattenFields {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let field_path = node
            .opt_str_list("field_path")?
            .ok_or_else(|| {
                node.error(
                    "field_path",
                    "DpathFlattenFields requires the field `field_path`",
                )
            })?
            .into_iter()
            .map(|s| InterpolatedString::new(s, node.parameters()))
            .collect();
        let mut prefix = None;
        let mut suffix = None;
        let kt_path = node.child_path("key_transformation");
        if let Some(kt) = node.child("key_transformation", &kt_path)? {
            let context = Context::new(node.config());
            // The KeyTransformation is built with the DpathFlattenFields' parameters.
            let eval = |key: &str| -> Result<Option<String>> {
                let Some(text) = kt.opt_str(key)? else {
                    return Ok(None);
                };
                let value = InterpolatedString::new(text, node.parameters())
                    .eval(&context)
                    .map_err(|e| EngineError::interpolation(&kt.child_path(key), e))?;
                Ok(truthy(&value).then(|| crate::requesters::python_str(&value)))
            };
            prefix = eval("prefix")?;
            suffix = eval("suffix")?;
        }
        Ok(Self {
            field_path,
            delete_origin_value: node.opt_bool("delete_origin_value")?.unwrap_or(false),
            replace_record: node.opt_bool("replace_record")?.unwrap_or(false),
            prefix,
            suffix,
            config: node.config().clone(),
            at: node.path.clone(),
        })
    }
}

impl Transformation for DpathFlattenFields {
    fn transform(&self, record: &mut Value, _context: &Context) -> Result<()> {
        let context = Context::new(&self.config);
        let evaluated = self
            .field_path
            .iter()
            .map(|p| p.eval(&context))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| EngineError::interpolation(&self.at.key("field_path"), e))?;
        let glob: Vec<Glob> = evaluated.iter().map(Glob::from_value).collect();
        let fail =
            |e: String| EngineError::manifest(&self.at, format!("DpathFlattenFields failed: {e}"));
        let extracted = if evaluated.iter().any(|v| v.as_str() == Some("*")) {
            dpath::values(record, &glob)
                .map_err(fail)?
                .first()
                .map(|v| (*v).clone())
        } else {
            dpath::get(record, &glob).map_err(fail)?.cloned()
        };
        let Some(Value::Object(mut extracted)) = extracted else {
            return Ok(());
        };
        if let Some(prefix) = &self.prefix {
            extracted = extracted
                .into_iter()
                .map(|(k, v)| (format!("{prefix}{k}"), v))
                .collect();
        }
        if let Some(suffix) = &self.suffix {
            extracted = extracted
                .into_iter()
                .map(|(k, v)| (format!("{k}{suffix}"), v))
                .collect();
        }
        let Value::Object(map) = record else {
            return Ok(());
        };
        if self.replace_record && !extracted.is_empty() {
            *map = extracted;
            return Ok(());
        }
        if extracted.keys().any(|k| map.contains_key(k)) {
            return Ok(());
        }
        if self.delete_origin_value {
            dpath::delete(record, &glob, None).map_err(fail)?;
        }
        if let Value::Object(map) = record {
            map.extend(extracted);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use serde_json::json;

    fn run(node: Value, mut r: Value) -> Value {
        let env = BuildEnv {
            config: json!({"pre": "p_"}),
            directory: None,
            ..Default::default()
        };
        let path = ManifestPath::root();
        let t = DpathFlattenFields::from_node(Node::new(&node, &path, &env).unwrap()).unwrap();
        t.transform(&mut r, &Context::default()).unwrap();
        r
    }

    #[test]
    fn flattens_the_mapping_at_the_path() {
        let r = run(
            json!({"type": "DpathFlattenFields", "field_path": ["data"]}),
            json!({"id": 1, "data": {"a": 1, "b": 2}}),
        );
        assert_eq!(
            r,
            json!({"id": 1, "data": {"a": 1, "b": 2}, "a": 1, "b": 2})
        );
        let r = run(
            json!({"type": "DpathFlattenFields", "field_path": ["data"], "delete_origin_value": true}),
            json!({"id": 1, "data": {"a": 1}}),
        );
        assert_eq!(r, json!({"id": 1, "a": 1}));
        // A conflict: nothing changes.
        let r = run(
            json!({"type": "DpathFlattenFields", "field_path": ["data"], "delete_origin_value": true}),
            json!({"id": 1, "data": {"id": 2}}),
        );
        assert_eq!(r, json!({"id": 1, "data": {"id": 2}}));
        let r = run(
            json!({"type": "DpathFlattenFields", "field_path": ["data"], "replace_record": true}),
            json!({"id": 1, "data": {"id": 2}}),
        );
        assert_eq!(r, json!({"id": 2}));
        let r = run(
            json!({"type": "DpathFlattenFields", "field_path": ["l", "*"], "delete_origin_value": true,
                   "key_transformation": {"type": "KeyTransformation", "prefix": "{{ config.pre }}", "suffix": "_s"}}),
            json!({"l": [{"a": 1}, {"b": 2}]}),
        );
        assert_eq!(r, json!({"l": [null], "p_a_s": 1}));
        // Not a mapping at the path: nothing.
        let r = run(
            json!({"type": "DpathFlattenFields", "field_path": ["x"]}),
            json!({"x": [1]}),
        );
        assert_eq!(r, json!({"x": [1]}));
    }
}
