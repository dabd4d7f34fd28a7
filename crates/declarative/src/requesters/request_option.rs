//! `RequestOption`: where a value goes in a request (a query parameter, a header, a form or
//! JSON body field, or a nested JSON body path).

use serde_json::{Map, Value};

use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::interpolation::{Context, InterpolatedString};

/// The part of a request a [`RequestOption`] writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InjectInto {
    /// A query parameter.
    RequestParameter,
    /// A header.
    Header,
    /// A form body field.
    BodyData,
    /// A JSON body field.
    BodyJson,
}

impl InjectInto {
    /// From the manifest's `inject_into`.
    pub fn parse(text: &str, at: &ManifestPath) -> Result<Self> {
        Ok(match text {
            "request_parameter" => Self::RequestParameter,
            "header" => Self::Header,
            "body_data" => Self::BodyData,
            "body_json" => Self::BodyJson,
            other => {
                return Err(EngineError::manifest(
                    at,
                    format!(
                        "unknown inject_into {other:?}: expected request_parameter, header, body_data or body_json"
                    ),
                ));
            }
        })
    }
}

/// A `RequestOption` component.
#[derive(Debug, Clone)]
pub struct RequestOption {
    /// Where the value goes.
    pub inject_into: InjectInto,
    field_name: Option<InterpolatedString>,
    field_path: Option<Vec<InterpolatedString>>,
    path: ManifestPath,
}

impl RequestOption {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let inject_into =
            InjectInto::parse(&node.str("inject_into")?, &node.child_path("inject_into"))?;
        let field_name = node.opt_interpolated("field_name")?;
        let field_path = node.opt_str_list("field_path")?.map(|parts| {
            parts
                .into_iter()
                .map(|p| InterpolatedString::new(p, node.parameters()))
                .collect::<Vec<_>>()
        });
        if field_name.is_none() && field_path.is_none() {
            return Err(EngineError::manifest(
                node.path,
                "RequestOption requires field_name or field_path",
            ));
        }
        if field_path.is_some() && inject_into != InjectInto::BodyJson {
            return Err(EngineError::manifest(
                node.path,
                "Nested field injection is only supported for body JSON injection. Please use a top-level field_name for other injection types.",
            ));
        }
        Ok(Self {
            inject_into,
            field_name,
            field_path,
            path: node.path.clone(),
        })
    }

    /// Writes `value` into `target` (`inject_into_request`): at the field name, or at the
    /// nested path, creating the mappings on the way. Names are evaluated with `config` only.
    pub fn inject(
        &self,
        target: &mut Map<String, Value>,
        value: Value,
        config: &Value,
    ) -> Result<()> {
        let context = Context::new(config);
        let eval = |s: &InterpolatedString| -> Result<String> {
            s.eval_to_string(&context)
                .map_err(|e| EngineError::interpolation(&self.path, e))
        };
        if let Some(path) = &self.field_path {
            let mut parts = path.iter().map(eval).collect::<Result<Vec<_>>>()?;
            let Some(last) = parts.pop() else {
                return Err(EngineError::manifest(&self.path, "field_path is empty"));
            };
            let mut current = target;
            for part in parts {
                let entry = current
                    .entry(part)
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                let Value::Object(next) = entry else {
                    return Err(EngineError::manifest(
                        &self.path,
                        "field_path runs through a value that is not a mapping",
                    ));
                };
                current = next;
            }
            current.insert(last, value);
        } else if let Some(name) = &self.field_name {
            target.insert(eval(name)?, value);
        }
        Ok(())
    }
}
