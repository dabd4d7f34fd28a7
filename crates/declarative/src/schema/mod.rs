//! Schema loaders (`InlineSchemaLoader`, `JsonFileSchemaLoader`, the default loader of a
//! stream without one, a list of loaders combined) and the records' schema normalization.
//!
//! The schema a loader gives is what `discover` prints as the stream's `json_schema` and
//! what `schema_normalization: Default` normalizes records against.

mod composite_schema_loader;
mod default_schema_loader;
mod inline_schema_loader;
mod json_file_schema_loader;
mod normalization;
mod refs;

pub use composite_schema_loader::CompositeSchemaLoader;
pub use default_schema_loader::DefaultSchemaLoader;
pub use inline_schema_loader::InlineSchemaLoader;
pub use json_file_schema_loader::JsonFileSchemaLoader;
pub use normalization::SchemaNormalizer;

use serde_json::{Map, Value};

use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::{BuildEnv, Node};

/// Why a schema could not be loaded, by the Python exception the CDK raises: the default
/// loader of a stream without `schema_loader` turns the first two into an empty schema.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaError {
    /// An `OSError` (no such file, a package that cannot be found).
    Os(String),
    /// A `ValueError` (an empty package name, a reference to something not a mapping).
    Value(String),
    /// Anything else (a file that is not JSON, an unresolvable `$ref`).
    Other(String),
}

impl SchemaError {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Self::Os(m) | Self::Value(m) | Self::Other(m) => m,
        }
    }

    fn at(self, at: &ManifestPath) -> EngineError {
        EngineError::manifest(at, format!("cannot load the schema: {}", self.message()))
    }
}

/// The JSON schema of stream `stream` (its node), from its `schema_loader`: one loader, a
/// list of them (combined), or none (the default file, or `{}` when there is no such file).
pub fn load_stream_schema(stream: Node<'_>, stream_name: &str) -> Result<Value> {
    let path = stream.child_path("schema_loader");
    match stream.get("schema_loader") {
        None => {
            // The CDK builds the default loader with the stream's $parameters and its name.
            let mut parameters = stream.parameters().clone();
            parameters
                .entry("name")
                .or_insert_with(|| Value::String(stream_name.to_string()));
            DefaultSchemaLoader::new(&parameters, stream.env)
                .get_json_schema()
                .map_err(|e| e.at(&path))
        }
        Some(Value::Array(items)) => {
            let mut loaders = Vec::with_capacity(items.len());
            let paths: Vec<ManifestPath> = (0..items.len()).map(|i| path.index(i)).collect();
            for (item, item_path) in items.iter().zip(&paths) {
                loaders.push((stream.node(item, item_path)?, item_path));
            }
            let mut schemas = Vec::with_capacity(loaders.len());
            for (node, item_path) in loaders {
                schemas.push((load_one(node, stream_name)?, item_path.clone()));
            }
            CompositeSchemaLoader::combine(schemas)
        }
        Some(_) => {
            let node = stream
                .child("schema_loader", &path)?
                .ok_or_else(|| stream.error("schema_loader", "expected a schema loader"))?;
            load_one(node, stream_name)
        }
    }
}

/// The schema of one loader node (`None`: the default loader of a stream named
/// `stream_name`).
pub fn load_schema(node: Option<Node<'_>>, stream_name: &str, env: &BuildEnv) -> Result<Value> {
    match node {
        Some(node) => load_one(node, stream_name),
        None => {
            let mut parameters = Map::new();
            parameters.insert("name".into(), Value::String(stream_name.to_string()));
            DefaultSchemaLoader::new(&parameters, env)
                .get_json_schema()
                .map_err(|e| e.at(&ManifestPath::root()))
        }
    }
}

fn load_one(node: Node<'_>, stream_name: &str) -> Result<Value> {
    match node.type_name() {
        "InlineSchemaLoader" => Ok(InlineSchemaLoader::from_node(node)?.get_json_schema()),
        "JsonFileSchemaLoader" | "" => JsonFileSchemaLoader::from_node(node, stream_name)?
            .get_json_schema()
            .map_err(|e| e.at(node.path)),
        _ => Err(node.unsupported()),
    }
}
