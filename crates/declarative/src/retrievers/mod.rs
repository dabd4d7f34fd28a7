//! Retrievers: `SimpleRetriever` (request, paginate, select records) and `AsyncRetriever`
//! (create, poll and download async jobs, [`async_job`]).

pub mod async_job;
mod async_retriever;
mod simple_retriever;

pub use async_retriever::AsyncRetriever;
pub use simple_retriever::{SimpleRetriever, SlicerOptions};

use serde_json::Value;

use crate::engine_error::Result;
use crate::factory::Node;
use crate::http::HttpClient;
use crate::slice::Slice;

/// A stream's retriever.
#[derive(Debug)]
pub enum Retriever {
    /// A `SimpleRetriever`.
    Simple(Box<SimpleRetriever>),
    /// An `AsyncRetriever`.
    Async(Box<AsyncRetriever>),
}

impl Retriever {
    /// Builds the retriever of a stream from its node; `stream` is the stream's node.
    pub fn from_node(node: Node<'_>, stream: Node<'_>, name: &str) -> Result<Self> {
        match node.type_name() {
            "AsyncRetriever" => Ok(Self::Async(Box::new(AsyncRetriever::from_node(
                node, stream, name,
            )?))),
            _ => Ok(Self::Simple(Box::new(SimpleRetriever::from_node(
                node, stream, name,
            )?))),
        }
    }

    /// Reads every record of `slice` (see [`SimpleRetriever::read_slice`]). An async retriever
    /// runs the slice's job; the slicer's request options and the stop condition do not apply
    /// to its requests (the CDK's job requesters send only their own options).
    pub fn read_slice(
        &self,
        client: &HttpClient,
        slice: &Slice,
        schema: &Value,
        slicer_options: SlicerOptions<'_>,
        stop_after: Option<&dyn Fn(&Value) -> bool>,
        on_record: &mut dyn FnMut(Value) -> Result<bool>,
    ) -> Result<()> {
        match self {
            Self::Simple(r) => {
                r.read_slice(client, slice, schema, slicer_options, stop_after, on_record)
            }
            Self::Async(r) => r.read_slice(client, slice, schema, on_record),
        }
    }
}
