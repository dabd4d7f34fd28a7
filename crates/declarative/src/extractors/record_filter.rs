//! `RecordFilter`: keeps the records for which a condition holds.

use serde_json::Value;

use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::interpolation::{Context, InterpolatedBoolean};

/// A `RecordFilter`.
#[derive(Debug)]
pub struct RecordFilter {
    condition: InterpolatedBoolean,
    path: ManifestPath,
}

impl RecordFilter {
    /// Builds it from its node. A filter without a condition drops every record, as in the
    /// CDK (its default condition, `""`, evaluates to false).
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        if node.type_name() != "RecordFilter" {
            return Err(node.unsupported());
        }
        Ok(Self {
            condition: node
                .opt_condition("condition")
                .unwrap_or_else(|| InterpolatedBoolean::new("", node.parameters())),
            path: node.path.key("condition"),
        })
    }

    /// Whether `record` is kept; `context` holds what the CDK gives the condition: `config`,
    /// `stream_slice` (with `extra_fields`) and `next_page_token` (always null: the CDK's
    /// retriever does not pass the token to the selector).
    pub fn keep(&self, record: &Value, context: &Context) -> Result<bool> {
        let context = context.clone().with("record", record);
        self.condition
            .eval(&context)
            .map_err(|e| EngineError::interpolation(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use crate::slice::{Slice, request_context};
    use serde_json::json;

    fn filter(node: Value) -> RecordFilter {
        let env = BuildEnv::default();
        let path = ManifestPath::root();
        RecordFilter::from_node(Node::new(&node, &path, &env).unwrap()).unwrap()
    }

    #[test]
    fn conditions() {
        let mut slice = Slice::default();
        slice.partition.insert("id".into(), json!(1));
        slice.extra_fields.insert("name".into(), json!("n"));
        let context = request_context(&json!({"min": 2}), Some(&slice), None);
        let f =
            filter(json!({"type": "RecordFilter", "condition": "{{ record.v >= config.min }}"}));
        assert!(f.keep(&json!({"v": 3}), &context).unwrap());
        assert!(!f.keep(&json!({"v": 1}), &context).unwrap());
        let f = filter(
            json!({"type": "RecordFilter", "condition": "{{ record.p == stream_slice.id and stream_slice.extra_fields.name == 'n' }}"}),
        );
        assert!(f.keep(&json!({"p": 1}), &context).unwrap());
        let f =
            filter(json!({"type": "RecordFilter", "condition": "{{ next_page_token is none }}"}));
        assert!(f.keep(&json!({}), &context).unwrap());
        // No condition: nothing is kept.
        let f = filter(json!({"type": "RecordFilter"}));
        assert!(!f.keep(&json!({"v": 3}), &context).unwrap());
    }
}
