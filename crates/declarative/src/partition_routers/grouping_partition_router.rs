//! `GroupingPartitionRouter`: the partitions of another router in batches of `group_size`
//! (`{"board_ids": [1, 2, 3]}`), for APIs that take several partition values at once.

use std::sync::Mutex;

use serde_json::{Map, Value};

use super::{PartitionRouter, from_node, lock};
use crate::engine_error::{EngineError, Result};
use crate::factory::Node;
use crate::http::HttpClient;
use crate::requesters::RequestOptions;
use crate::slice::Slice;

/// A `GroupingPartitionRouter`.
#[derive(Debug)]
pub struct GroupingPartitionRouter {
    group_size: usize,
    underlying: Box<dyn PartitionRouter>,
    deduplicate: bool,
    /// The underlying router's parent state when the last batch was made (`{}` before any).
    state: Mutex<Option<Value>>,
}

impl GroupingPartitionRouter {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let group_size = node.opt_i64("group_size")?.ok_or_else(|| {
            node.error("group_size", "GroupingPartitionRouter requires group_size")
        })?;
        if group_size < 1 {
            return Err(node.error(
                "group_size",
                format!("Group size must be greater than 0, got {group_size}"),
            ));
        }
        let underlying_path = node.child_path("underlying_partition_router");
        let underlying_node = node
            .child("underlying_partition_router", &underlying_path)?
            .ok_or_else(|| {
                node.error(
                    "underlying_partition_router",
                    "GroupingPartitionRouter requires underlying_partition_router",
                )
            })?;
        // Request options are per partition and cannot be grouped (the CDK refuses them).
        let has_option = match underlying_node.type_name() {
            "ListPartitionRouter" => underlying_node.get("request_option").is_some(),
            "SubstreamPartitionRouter" => underlying_node
                .opt_array("parent_stream_configs")?
                .is_some_and(|configs| {
                    configs
                        .iter()
                        .any(|c| c.get("request_option").is_some_and(|o| !o.is_null()))
                }),
            _ => false,
        };
        if has_option {
            return Err(EngineError::manifest(
                &underlying_path,
                "Request options are not supported for GroupingPartitionRouter.",
            ));
        }
        Ok(Self {
            group_size: group_size as usize,
            underlying: from_node(underlying_node)?,
            deduplicate: node.opt_bool("deduplicate")?.unwrap_or(true),
            state: Mutex::new(Some(Value::Object(Map::new()))),
        })
    }

    fn grouped(batch: &[Slice]) -> Slice {
        let mut partition = Map::new();
        if let Some(first) = batch.first() {
            for key in first.partition.keys() {
                let values = batch
                    .iter()
                    .map(|p| p.partition.get(key).cloned().unwrap_or(Value::Null))
                    .collect();
                partition.insert(key.clone(), Value::Array(values));
            }
        }
        let mut extra_fields = Map::new();
        let mut keys: Vec<&String> = batch.iter().flat_map(|p| p.extra_fields.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let values = batch
                .iter()
                .map(|p| p.extra_fields.get(key).cloned().unwrap_or(Value::Null))
                .collect();
            extra_fields.insert(key.clone(), Value::Array(values));
        }
        Slice {
            partition,
            cursor_slice: Map::new(),
            extra_fields,
        }
    }
}

impl PartitionRouter for GroupingPartitionRouter {
    fn for_each_partition(
        &self,
        client: &HttpClient,
        stream_state: Option<&Value>,
        f: &mut dyn FnMut(Slice) -> Result<bool>,
    ) -> Result<()> {
        let mut batch: Vec<Slice> = Vec::new();
        let mut seen: Vec<Value> = Vec::new();
        let mut stopped = false;
        self.underlying
            .for_each_partition(client, stream_state, &mut |slice| {
                let keys: Vec<&String> = slice
                    .partition
                    .keys()
                    .filter(|k| *k != "parent_slice")
                    .collect();
                let [key] = keys.as_slice() else {
                    return Err(EngineError::Input(format!(
                        "GroupingPartitionRouter expects a single partition key-value pair. Got {}",
                        Value::Object(slice.partition.clone())
                    )));
                };
                let value = slice.partition.get(*key).cloned().unwrap_or(Value::Null);
                if self.deduplicate {
                    if seen.contains(&value) {
                        return Ok(true);
                    }
                    seen.push(value);
                }
                batch.push(slice);
                if batch.len() == self.group_size {
                    *lock(&self.state) = self.underlying.parent_state();
                    let grouped = Self::grouped(&batch);
                    batch.clear();
                    if !f(grouped)? {
                        stopped = true;
                        return Ok(false);
                    }
                }
                Ok(true)
            })?;
        if stopped {
            return Ok(());
        }
        *lock(&self.state) = self.underlying.parent_state();
        if !batch.is_empty() {
            f(Self::grouped(&batch))?;
        }
        Ok(())
    }

    fn request_options(&self, _slice: &Slice) -> Result<RequestOptions> {
        Ok(RequestOptions::default())
    }

    fn parent_state(&self) -> Option<Value> {
        lock(&self.state).clone()
    }

    fn is_grouping(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::partition_routers::test_support::{FixedRouter, client};

    fn router(
        partitions: Vec<Value>,
        group_size: usize,
        deduplicate: bool,
    ) -> GroupingPartitionRouter {
        GroupingPartitionRouter {
            group_size,
            underlying: Box::new(FixedRouter::new(partitions).with_extra(1, json!({"name": "b"}))),
            deduplicate,
            state: Mutex::new(Some(json!({}))),
        }
    }

    fn run(router: &GroupingPartitionRouter) -> Vec<(Value, Value)> {
        let mut out = Vec::new();
        router
            .for_each_partition(&client(), None, &mut |s| {
                out.push((Value::Object(s.partition), Value::Object(s.extra_fields)));
                Ok(true)
            })
            .expect("partitions");
        out
    }

    #[test]
    fn batches_with_lists_and_a_short_last_one() {
        let r = router(
            vec![
                json!({"id": 1, "parent_slice": {}}),
                json!({"id": 2, "parent_slice": {}}),
                json!({"id": 1, "parent_slice": {}}),
                json!({"id": 3, "parent_slice": {}}),
            ],
            2,
            true,
        );
        assert_eq!(
            run(&r),
            vec![
                (
                    json!({"id": [1, 2], "parent_slice": [{}, {}]}),
                    json!({"name": [null, "b"]})
                ),
                (json!({"id": [3], "parent_slice": [{}]}), json!({})),
            ]
        );
        assert_eq!(r.parent_state(), None);
        let r = router(vec![json!({"id": 1}), json!({"id": 1})], 5, false);
        assert_eq!(
            run(&r),
            vec![(json!({"id": [1, 1]}), json!({"name": [null, "b"]}))]
        );
    }

    #[test]
    fn more_than_one_key_is_an_error() {
        let r = router(vec![json!({"a": 1, "b": 2})], 2, true);
        assert!(
            r.for_each_partition(&client(), None, &mut |_| Ok(true))
                .is_err()
        );
    }
}
