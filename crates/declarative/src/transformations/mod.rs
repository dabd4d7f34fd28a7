//! Record transformations (`AddFields`, `RemoveFields`, `KeysToLower`, `KeysToSnakeCase`,
//! `KeysReplace`, `DpathFlattenFields`, `FlattenFields`), applied in the manifest's order to
//! each selected record, as the CDK's `RecordTransformation`s.

mod add_fields;
mod dpath_flatten_fields;
mod flatten_fields;
mod keys_replace;
mod keys_to_lower;
mod keys_to_snake_case;
mod remove_fields;

pub use add_fields::AddFields;
pub use dpath_flatten_fields::DpathFlattenFields;
pub use flatten_fields::FlattenFields;
pub use keys_replace::KeysReplace;
pub use keys_to_lower::KeysToLower;
pub use keys_to_snake_case::{KeysToSnakeCase, snake_case_key};
pub use remove_fields::RemoveFields;

use serde_json::{Map, Value};

use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::interpolation::Context;

/// A transformation of one record, in place.
pub trait Transformation: Send + Sync + std::fmt::Debug {
    /// Transforms `record`; `context` holds what the CDK passes its transformations: `config`
    /// and `stream_slice` (and its aliases). The record itself is added by the
    /// transformations that read it (`record` in `AddFields` values).
    fn transform(&self, record: &mut Value, context: &Context) -> Result<()>;
}

/// The transformation of one node of a stream's `transformations` list.
pub fn from_node(node: Node<'_>) -> Result<Box<dyn Transformation>> {
    Ok(match node.type_name() {
        "AddFields" => Box::new(AddFields::from_node(node)?),
        "RemoveFields" => Box::new(RemoveFields::from_node(node)?),
        "KeysToLower" => Box::new(KeysToLower::from_node(node)?),
        "KeysToSnakeCase" => Box::new(KeysToSnakeCase::from_node(node)?),
        "KeysReplace" => Box::new(KeysReplace::from_node(node)?),
        "DpathFlattenFields" => Box::new(DpathFlattenFields::from_node(node)?),
        "FlattenFields" => Box::new(FlattenFields::from_node(node)?),
        _ => return Err(node.unsupported()),
    })
}

/// The record as a mapping; an error (the Python `AttributeError`/`TypeError` the CDK's
/// transformation raises) when it is not one.
fn record_map<'a>(
    record: &'a mut Value,
    what: &str,
    at: &ManifestPath,
) -> Result<&'a mut Map<String, Value>> {
    match record {
        Value::Object(map) => Ok(map),
        other => Err(EngineError::manifest(
            at,
            format!(
                "{what} cannot transform a record that is not a mapping (found {}); check the extractor's field_path",
                crate::factory::kind(other)
            ),
        )),
    }
}

/// A list of field paths from a manifest value (`[["a", "b"], ["c"]]`); numbers are written
/// as text, as pydantic coerces them.
fn field_pointers(node: &Node<'_>, key: &str) -> Result<Vec<Vec<String>>> {
    let Some(items) = node.opt_array(key)? else {
        return Err(node.error(
            key,
            format!("{} requires the field `{key}`", node.type_name()),
        ));
    };
    items
        .iter()
        .map(|item| match item {
            Value::Array(segments) => segments
                .iter()
                .map(|s| {
                    text_segment(s).ok_or_else(|| node.error(key, "expected a list of strings"))
                })
                .collect(),
            Value::String(s) => Ok(vec![s.clone()]),
            _ => Err(node.error(key, "expected a list of field paths (lists of strings)")),
        })
        .collect()
}

fn text_segment(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        _ => None,
    }
}
