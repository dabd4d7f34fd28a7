//! `AddFields`: sets values (Jinja over `record`, `config`, `stream_slice`) at paths of the
//! record, creating the parents on the way, as the CDK's `AddFields` does with `dpath.new`.

use minijinja::value::Serde;
use serde_json::Value;

use super::Transformation;
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::extractors::dpath;
use crate::factory::Node;
use crate::interpolation::{Context, InterpolatedBoolean, Interpolator, LiteralKind};

/// One `AddedFieldDefinition`.
#[derive(Debug)]
struct AddedField {
    path: Vec<String>,
    value: String,
    /// The definition's `$parameters`, as a template value.
    parameters: minijinja::Value,
    /// `value_type`: the Python type the evaluated literal must have to be kept.
    valid_types: Option<[LiteralKind; 1]>,
    at: ManifestPath,
}

/// An `AddFields` transformation.
#[derive(Debug)]
pub struct AddFields {
    fields: Vec<AddedField>,
    /// `condition`; none (or empty) adds every field.
    condition: Option<InterpolatedBoolean>,
    at: ManifestPath,
}

impl AddFields {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let fields_path = node.child_path("fields");
        let Some(items) = node.opt_array("fields")? else {
            return Err(node.error("fields", "AddFields requires the field `fields`"));
        };
        let mut fields = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_path = fields_path.index(i);
            let field = node.node(item, &item_path)?;
            let path = field.opt_str_list("path")?.ok_or_else(|| {
                field.error("path", "AddedFieldDefinition requires the field `path`")
            })?;
            if path.is_empty() {
                return Err(field.error(
                    "path",
                    "Expected a non-zero-length path for the AddFields transformation",
                ));
            }
            let value = field.str("value")?;
            let valid_types = match field.opt_str("value_type")?.as_deref() {
                None => None,
                Some("string") => Some([LiteralKind::Str]),
                Some("number") => Some([LiteralKind::Float]),
                Some("integer") => Some([LiteralKind::Int]),
                Some("boolean") => Some([LiteralKind::Bool]),
                Some(other) => {
                    return Err(field.error(
                        "value_type",
                        format!("unknown value_type {other:?}: expected string, number, integer or boolean"),
                    ));
                }
            };
            fields.push(AddedField {
                path,
                value,
                parameters: minijinja::Value::from(Serde(field.parameters())),
                valid_types,
                at: field.child_path("value"),
            });
        }
        let condition = match node.get("condition") {
            None => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(_) => node.opt_condition("condition"),
        };
        Ok(Self {
            fields,
            condition,
            at: node.child_path("condition"),
        })
    }
}

impl Transformation for AddFields {
    fn transform(&self, record: &mut Value, context: &Context) -> Result<()> {
        for field in &self.fields {
            // Each value sees the record as the previous fields left it.
            let mut scope = context.clone();
            scope.set("record", record);
            let value = Interpolator::shared()
                .eval(
                    &field.value,
                    &scope,
                    Some(&field.parameters),
                    Some(&field.value),
                    field.valid_types.as_ref().map(|t| t.as_slice()),
                )
                .map_err(|e| EngineError::interpolation(&field.at, e))?;
            if let Some(condition) = &self.condition {
                scope.set("value", &value);
                scope.set(
                    "path",
                    &Value::Array(field.path.iter().cloned().map(Value::String).collect()),
                );
                let keep = condition
                    .eval(&scope)
                    .map_err(|e| EngineError::interpolation(&self.at, e))?;
                if !keep {
                    continue;
                }
            }
            dpath::new(record, &field.path, value).map_err(|e| {
                EngineError::manifest(
                    &field.at,
                    format!("AddFields cannot set {:?} in the record: {e}", field.path),
                )
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use crate::slice::{Slice, request_context};
    use serde_json::json;

    fn build(node: Value) -> AddFields {
        let env = BuildEnv {
            config: json!({"shop": "s1"}),
            directory: None,
            ..Default::default()
        };
        let path = ManifestPath::root();
        AddFields::from_node(Node::new(&node, &path, &env).unwrap()).unwrap()
    }

    fn context(slice: &Slice) -> Context {
        let mut c = request_context(&json!({"shop": "s1"}), Some(slice), None);
        std::sync::Arc::make_mut(&mut c.vars).remove("next_page_token");
        c
    }

    #[test]
    fn adds_values_from_record_config_slice() {
        let t = build(json!({"type": "AddFields", "fields": [
            {"type": "AddedFieldDefinition", "path": ["shop_id"], "value": "{{ config.shop }}"},
            {"type": "AddedFieldDefinition", "path": ["nested", "copy"], "value": "{{ record.id }}"},
            {"type": "AddedFieldDefinition", "path": ["again"], "value": "{{ record.nested.copy * 2 }}"},
            {"type": "AddedFieldDefinition", "path": ["start"], "value": "{{ stream_interval.start }}"},
            {"type": "AddedFieldDefinition", "path": ["parent"], "value": "{{ stream_partition.parent_id }}"},
            {"type": "AddedFieldDefinition", "path": ["const"], "value": "static"},
            {"type": "AddedFieldDefinition", "path": ["num"], "value": "5", "value_type": "string"},
            {"type": "AddedFieldDefinition", "path": ["flt"], "value": "5", "value_type": "number"},
            {"type": "AddedFieldDefinition", "path": ["int"], "value": "True", "value_type": "integer"},
            {"type": "AddedFieldDefinition", "path": ["raw"], "value": "5"},
            {"type": "AddedFieldDefinition", "path": ["p"], "value": "{{ parameters.x }}", "$parameters": {"x": "px"}}
        ]}));
        let mut slice = Slice::default();
        slice.partition.insert("parent_id".into(), json!(7));
        slice
            .cursor_slice
            .insert("start".into(), json!("2024-01-01"));
        let mut record = json!({"id": 3});
        t.transform(&mut record, &context(&slice)).unwrap();
        assert_eq!(
            record,
            json!({"id": 3, "shop_id": "s1", "nested": {"copy": 3}, "again": 6, "start": "2024-01-01",
                   "parent": 7, "const": "static", "num": "5", "flt": "5", "int": true, "raw": 5, "p": "px"})
        );
    }

    #[test]
    fn condition_sees_value_and_path() {
        let t = build(
            json!({"type": "AddFields", "condition": "{{ value is not none and path[0] != 'skip' }}", "fields": [
                {"type": "AddedFieldDefinition", "path": ["a"], "value": "{{ record.x }}"},
                {"type": "AddedFieldDefinition", "path": ["skip"], "value": "1"}
            ]}),
        );
        let mut record = json!({"x": 1});
        t.transform(&mut record, &context(&Slice::default()))
            .unwrap();
        assert_eq!(record, json!({"x": 1, "a": 1}));
    }

    #[test]
    fn through_a_leaf_is_an_error() {
        let t = build(json!({"type": "AddFields", "fields": [
            {"type": "AddedFieldDefinition", "path": ["x", "y"], "value": "1"}
        ]}));
        let mut record = json!({"x": null});
        assert!(
            t.transform(&mut record, &context(&Slice::default()))
                .is_err()
        );
    }
}
