//! Partition routers: `ListPartitionRouter` (a partition per value), `SubstreamPartitionRouter`
//! (a partition per parent record, [`ParentStreamConfig`]), a list of routers
//! ([`CartesianProductStreamSlicer`]), `GroupingPartitionRouter` (partitions in batches) and
//! `UnionPartitionRouter` (the deduplicated union of routers).

mod cartesian_product_stream_slicer;
mod grouping_partition_router;
mod list_partition_router;
mod parent_stream_config;
mod substream_partition_router;
mod union_partition_router;

pub use cartesian_product_stream_slicer::CartesianProductStreamSlicer;
pub use grouping_partition_router::GroupingPartitionRouter;
pub use list_partition_router::ListPartitionRouter;
pub use parent_stream_config::{CHILD_RESPONSE, ParentStreamConfig};
pub use substream_partition_router::SubstreamPartitionRouter;
pub use union_partition_router::UnionPartitionRouter;

use serde_json::Value;

use crate::engine_error::Result;
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::HttpClient;
use crate::requesters::RequestOptions;
use crate::slice::Slice;

/// A partition router component.
pub trait PartitionRouter: Send + Sync + std::fmt::Debug {
    /// Hands every partition to `f` in order (stopping when `f` returns `false`). A
    /// substream router reads its parent streams through `client` as it goes; `stream_state` is
    /// the stream's own incoming state, from which parents with `incremental_dependency` take
    /// theirs (its `parent_state` member, or its global `state`, or a legacy cursor value).
    fn for_each_partition(
        &self,
        client: &HttpClient,
        stream_state: Option<&Value>,
        f: &mut dyn FnMut(Slice) -> Result<bool>,
    ) -> Result<()>;
    /// What a partition adds to its requests.
    fn request_options(&self, slice: &Slice) -> Result<RequestOptions>;
    /// The CDK's `get_stream_state()` after the partitions handed out so far: the states of
    /// the parents read with `incremental_dependency` keyed by stream name (a substream router
    /// without such parents gives an empty mapping), `None` for routers without parents.
    fn parent_state(&self) -> Option<Value>;
    /// Whether the router is a `GroupingPartitionRouter` (its streams keep a global cursor).
    fn is_grouping(&self) -> bool {
        false
    }
}

/// The router of a retriever's `partition_router` value: a router node, or a list of them
/// (their cartesian product, as the CDK builds even for a list of one). `retriever` is the
/// retriever's node (for its environment).
pub fn from_value(
    retriever: Node<'_>,
    value: &Value,
    path: &ManifestPath,
) -> Result<Box<dyn PartitionRouter>> {
    if let Value::Array(items) = value {
        let mut routers = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_path = path.index(i);
            routers.push(from_node(retriever.node(item, &item_path)?)?);
        }
        return Ok(Box::new(CartesianProductStreamSlicer::new(routers)));
    }
    from_node(retriever.node(value, path)?)
}

/// The router of one router node.
pub fn from_node(node: Node<'_>) -> Result<Box<dyn PartitionRouter>> {
    Ok(match node.type_name() {
        "ListPartitionRouter" => Box::new(ListPartitionRouter::from_node(node)?),
        "SubstreamPartitionRouter" => Box::new(SubstreamPartitionRouter::from_node(node)?),
        "GroupingPartitionRouter" => Box::new(GroupingPartitionRouter::from_node(node)?),
        "UnionPartitionRouter" => Box::new(UnionPartitionRouter::from_node(node)?),
        _ => return Err(node.unsupported()),
    })
}

/// Python's truthiness of a JSON value (a router injects its value only when it is truthy).
pub(crate) use crate::paginators::truthy;

/// The lock's value even when another thread panicked while holding it (the routers' state is
/// plain data, always consistent).
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A router with fixed partitions, for the tests of routers built on others.

    use std::sync::Mutex;

    use serde_json::{Map, Value};

    use super::{PartitionRouter, lock};
    use crate::engine_error::Result;
    use crate::http::HttpClient;
    use crate::requesters::RequestOptions;
    use crate::slice::Slice;

    /// Fixed partitions; `parent_state` is a counter of the partitions handed out.
    #[derive(Debug)]
    pub struct FixedRouter {
        pub partitions: Vec<Slice>,
        pub state: Option<Value>,
        pub handed: Mutex<usize>,
    }

    impl FixedRouter {
        pub fn new(partitions: Vec<Value>) -> Self {
            Self {
                partitions: partitions
                    .into_iter()
                    .map(|p| Slice {
                        partition: p.as_object().cloned().unwrap_or_default(),
                        ..Slice::default()
                    })
                    .collect(),
                state: None,
                handed: Mutex::new(0),
            }
        }

        pub fn with_extra(mut self, index: usize, extra: Value) -> Self {
            if let (Some(slice), Value::Object(m)) = (self.partitions.get_mut(index), extra) {
                slice.extra_fields = m;
            }
            self
        }
    }

    impl PartitionRouter for FixedRouter {
        fn for_each_partition(
            &self,
            _client: &HttpClient,
            _stream_state: Option<&Value>,
            f: &mut dyn FnMut(Slice) -> Result<bool>,
        ) -> Result<()> {
            *lock(&self.handed) = 0;
            for slice in &self.partitions {
                *lock(&self.handed) += 1;
                if !f(slice.clone())? {
                    break;
                }
            }
            Ok(())
        }

        fn request_options(&self, slice: &Slice) -> Result<RequestOptions> {
            let mut options = RequestOptions::default();
            if let Some(v) = slice.partition.get("id") {
                options.params.insert("id".into(), v.clone());
            }
            Ok(options)
        }

        fn parent_state(&self) -> Option<Value> {
            self.state.as_ref().map(|_| {
                let mut m = Map::new();
                m.insert("handed".into(), Value::from(*lock(&self.handed)));
                Value::Object(m)
            })
        }
    }

    /// An HTTP client for tests that never send a request.
    pub fn client() -> HttpClient {
        HttpClient::new(&Default::default(), Default::default()).expect("a client")
    }
}
