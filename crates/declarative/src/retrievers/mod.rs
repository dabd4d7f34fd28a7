//! Retrievers: `SimpleRetriever` (request, paginate, select records).

mod simple_retriever;

pub use simple_retriever::SimpleRetriever;
