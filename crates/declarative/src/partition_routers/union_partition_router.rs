//! `UnionPartitionRouter`: the partitions of several routers, each value of `partition_field`
//! once, normalised to `{partition_field: value}` (the other partition keys move to the extra
//! fields).

use serde_json::{Map, Value};

use super::{PartitionRouter, from_node};
use crate::engine_error::{EngineError, Result};
use crate::factory::Node;
use crate::http::HttpClient;
use crate::interpolation::{Context, InterpolatedString};
use crate::requesters::RequestOptions;
use crate::slice::Slice;

/// A `UnionPartitionRouter`.
#[derive(Debug)]
pub struct UnionPartitionRouter {
    routers: Vec<Box<dyn PartitionRouter>>,
    partition_field: String,
}

impl UnionPartitionRouter {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let routers_path = node.child_path("partition_routers");
        let items = node
            .opt_array("partition_routers")?
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if items.len() < 2 {
            return Err(node.error(
                "partition_routers",
                "UnionPartitionRouter needs at least 2 child partition routers",
            ));
        }
        let paths: Vec<_> = (0..items.len()).map(|i| routers_path.index(i)).collect();
        let mut routers = Vec::with_capacity(items.len());
        for (item, path) in items.iter().zip(&paths) {
            routers.push(from_node(node.node(item, path)?)?);
        }
        let partition_field =
            InterpolatedString::new(node.str("partition_field")?, node.parameters())
                .eval_to_string(&Context::new(node.config()))
                .map_err(|e| EngineError::interpolation(&node.child_path("partition_field"), e))?;
        Ok(Self {
            routers,
            partition_field,
        })
    }
}

impl PartitionRouter for UnionPartitionRouter {
    fn for_each_partition(
        &self,
        client: &HttpClient,
        stream_state: Option<&Value>,
        f: &mut dyn FnMut(Slice) -> Result<bool>,
    ) -> Result<()> {
        let mut seen: Vec<Value> = Vec::new();
        for router in &self.routers {
            let mut stopped = false;
            router.for_each_partition(client, stream_state, &mut |slice| {
                let Some(value) = slice.partition.get(&self.partition_field).cloned() else {
                    return Err(EngineError::Input(format!(
                        "UnionPartitionRouter expects all child partition routers to emit the partition field '{}'. Got {}",
                        self.partition_field,
                        Value::Object(slice.partition.clone())
                    )));
                };
                if matches!(value, Value::Array(_) | Value::Object(_)) {
                    return Err(EngineError::Input(format!(
                        "UnionPartitionRouter can only deduplicate hashable partition values. Got unhashable value {value} for partition field '{}'.",
                        self.partition_field
                    )));
                }
                if seen.contains(&value) {
                    return Ok(true);
                }
                seen.push(value.clone());
                let mut extra_fields = slice.extra_fields;
                for (k, v) in slice.partition {
                    if k != self.partition_field {
                        extra_fields.insert(k, v);
                    }
                }
                let mut partition = Map::new();
                partition.insert(self.partition_field.clone(), value);
                let go_on = f(Slice {
                    partition,
                    cursor_slice: Map::new(),
                    extra_fields,
                })?;
                stopped = !go_on;
                Ok(go_on)
            })?;
            if stopped {
                break;
            }
        }
        Ok(())
    }

    fn request_options(&self, _slice: &Slice) -> Result<RequestOptions> {
        Ok(RequestOptions::default())
    }

    fn parent_state(&self) -> Option<Value> {
        let mut merged = Map::new();
        for router in &self.routers {
            if let Some(Value::Object(state)) = router.parent_state() {
                merged.extend(state);
            }
        }
        Some(Value::Object(merged))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::partition_routers::test_support::{FixedRouter, client};

    #[test]
    fn the_union_keeps_the_first_of_each_value() {
        let union = UnionPartitionRouter {
            routers: vec![
                Box::new(FixedRouter::new(vec![
                    json!({"repo": "a"}),
                    json!({"repo": "b"}),
                ])),
                Box::new(FixedRouter::new(vec![
                    json!({"repo": "b", "parent_slice": {}}),
                    json!({"repo": "c", "parent_slice": {"x": 1}}),
                ])),
            ],
            partition_field: "repo".into(),
        };
        let mut out = Vec::new();
        union
            .for_each_partition(&client(), None, &mut |s| {
                out.push((Value::Object(s.partition), Value::Object(s.extra_fields)));
                Ok(true)
            })
            .expect("partitions");
        assert_eq!(
            out,
            vec![
                (json!({"repo": "a"}), json!({})),
                (json!({"repo": "b"}), json!({})),
                (json!({"repo": "c"}), json!({"parent_slice": {"x": 1}})),
            ]
        );
        assert_eq!(union.parent_state(), Some(json!({})));
    }
}
