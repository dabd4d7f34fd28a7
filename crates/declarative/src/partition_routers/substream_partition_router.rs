//! `SubstreamPartitionRouter`: a partition per record of each parent stream, in the order of
//! its `parent_stream_configs`.

use std::sync::Mutex;

use serde_json::{Map, Value};

use super::{ParentStreamConfig, PartitionRouter, lock};
use crate::engine_error::Result;
use crate::factory::Node;
use crate::http::HttpClient;
use crate::requesters::RequestOptions;
use crate::slice::Slice;

/// A `SubstreamPartitionRouter`.
#[derive(Debug)]
pub struct SubstreamPartitionRouter {
    parents: Vec<ParentStreamConfig>,
    config: Value,
    /// The last state each parent with `incremental_dependency` checkpointed, by stream name.
    parent_states: Mutex<Map<String, Value>>,
}

impl SubstreamPartitionRouter {
    /// Builds it from its node (every parent stream included).
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let configs_path = node.child_path("parent_stream_configs");
        let configs = node
            .opt_array("parent_stream_configs")?
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if configs.is_empty() {
            return Err(node.error(
                "parent_stream_configs",
                "SubstreamPartitionRouter needs at least 1 parent stream",
            ));
        }
        let mut parents = Vec::with_capacity(configs.len());
        let paths: Vec<_> = (0..configs.len()).map(|i| configs_path.index(i)).collect();
        for (config, path) in configs.iter().zip(&paths) {
            parents.push(ParentStreamConfig::from_node(node.node(config, path)?)?);
        }
        Ok(Self {
            parents,
            config: node.config().clone(),
            parent_states: Mutex::new(Map::new()),
        })
    }

    /// The parent stream configs.
    pub fn parents(&self) -> &[ParentStreamConfig] {
        &self.parents
    }
}

impl PartitionRouter for SubstreamPartitionRouter {
    fn for_each_partition(
        &self,
        client: &HttpClient,
        stream_state: Option<&Value>,
        f: &mut dyn FnMut(Slice) -> Result<bool>,
    ) -> Result<()> {
        lock(&self.parent_states).clear();
        // A child without state reads its first pages out of the parents' records
        // (`lazy_read_pointer`), as the CDK's factory picks `LazySimpleRetriever` then.
        let lazy = !stream_state.is_some_and(super::truthy);
        for parent in &self.parents {
            let incoming = parent.incoming_state(stream_state);
            let name = parent.stream.name.clone();
            let tracked = parent.incremental_dependency;
            let completed =
                parent.read_partitions(client, incoming.as_ref(), lazy, f, &mut |state| {
                    if tracked {
                        lock(&self.parent_states).insert(name.clone(), state);
                    }
                })?;
            if !completed {
                break;
            }
        }
        Ok(())
    }

    fn request_options(&self, slice: &Slice) -> Result<RequestOptions> {
        let mut options = RequestOptions::default();
        if slice.is_empty() {
            return Ok(options);
        }
        for parent in &self.parents {
            parent.inject(slice, &mut options, &self.config)?;
        }
        Ok(options)
    }

    fn parent_state(&self) -> Option<Value> {
        Some(Value::Object(lock(&self.parent_states).clone()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ManifestPath;
    use crate::factory::BuildEnv;

    fn parent_config(incremental_dependency: bool) -> Value {
        json!({
            "type": "ParentStreamConfig",
            "parent_key": "owner/id",
            "partition_field": "owner_id",
            "incremental_dependency": incremental_dependency,
            "extra_fields": [["name"], ["meta", "kind"]],
            "request_option": {"type": "RequestOption", "inject_into": "request_parameter", "field_name": "owner"},
            "stream": {
                "type": "DeclarativeStream",
                "name": "owners",
                "retriever": {
                    "type": "SimpleRetriever",
                    "requester": {"type": "HttpRequester", "url_base": "http://127.0.0.1:9", "path": "/owners"},
                    "record_selector": {"type": "RecordSelector",
                                        "extractor": {"type": "DpathExtractor", "field_path": []}}
                },
                "schema_loader": {"type": "InlineSchemaLoader", "schema": {}}
            }
        })
    }

    fn with_config(value: Value, f: impl FnOnce(Node<'_>)) {
        let env = BuildEnv::default();
        let path = ManifestPath::root();
        let node = Node::new(&value, &path, &env).expect("node");
        f(node);
    }

    #[test]
    fn a_parent_record_becomes_a_partition_with_extra_fields() {
        with_config(parent_config(false), |node| {
            let config = ParentStreamConfig::from_node(node).expect("config");
            let record = json!({"owner": {"id": 7}, "name": "n", "meta": {"kind": "k"}});
            let parent_slice = Slice {
                partition: json!({"p": 1}).as_object().cloned().unwrap_or_default(),
                ..Slice::default()
            };
            let slice = config
                .partition_of(&record, &parent_slice)
                .expect("ok")
                .expect("a slice");
            assert_eq!(
                Value::Object(slice.partition.clone()),
                json!({"owner_id": 7, "parent_slice": {"p": 1}})
            );
            assert_eq!(
                Value::Object(slice.extra_fields.clone()),
                json!({"name": "n", "meta.kind": "k"})
            );
            let mut options = RequestOptions::default();
            config
                .inject(&slice, &mut options, &json!({}))
                .expect("inject");
            assert_eq!(options.params.get("owner"), Some(&json!(7)));
            // A record without the parent key (or with a null one) gives no partition.
            assert!(
                config
                    .partition_of(&json!({"owner": {"id": null}}), &parent_slice)
                    .expect("ok")
                    .is_none()
            );
            assert!(
                config
                    .partition_of(&json!({"name": "x"}), &parent_slice)
                    .expect("ok")
                    .is_none()
            );
            // Without the extra field: null.
            let slice = config
                .partition_of(&json!({"owner": {"id": 0}}), &Slice::default())
                .expect("ok")
                .expect("a slice");
            assert_eq!(slice.extra_fields.get("name"), Some(&Value::Null));
            // A falsy value is a partition but is not injected.
            let mut options = RequestOptions::default();
            config
                .inject(&slice, &mut options, &json!({}))
                .expect("inject");
            assert!(options.params.is_empty());
        });
    }

    #[test]
    fn parent_state_comes_from_the_child_state() {
        with_config(parent_config(true), |node| {
            let config = ParentStreamConfig::from_node(node).expect("config");
            let child = json!({"states": [], "parent_state": {"owners": {"updated": "2024"}}, "state": {"u": "g"}});
            assert_eq!(
                config.incoming_state(Some(&child)),
                Some(json!({"updated": "2024"}))
            );
            let child = json!({"states": [], "state": {"u": "g"}});
            assert_eq!(config.incoming_state(Some(&child)), Some(json!({"u": "g"})));
            assert_eq!(
                config.incoming_state(Some(&json!({"__ab_no_cursor_state_message": true}))),
                None
            );
            assert_eq!(config.incoming_state(None), None);
        });
        with_config(parent_config(false), |node| {
            let config = ParentStreamConfig::from_node(node).expect("config");
            let child = json!({"parent_state": {"owners": {"updated": "2024"}}});
            assert_eq!(config.incoming_state(Some(&child)), None);
        });
    }

    #[test]
    fn needs_a_parent() {
        with_config(
            json!({"type": "SubstreamPartitionRouter", "parent_stream_configs": []}),
            |node| {
                assert!(SubstreamPartitionRouter::from_node(node).is_err());
            },
        );
    }
}
