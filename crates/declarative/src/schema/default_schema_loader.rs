//! The schema loader of a stream without `schema_loader` (the CDK's `DefaultSchemaLoader`):
//! the default `JsonFileSchemaLoader`, or `{}` when its file cannot be found.

use serde_json::{Map, Value};

use super::{JsonFileSchemaLoader, SchemaError};
use crate::factory::BuildEnv;

/// A `DefaultSchemaLoader`.
#[derive(Debug)]
pub struct DefaultSchemaLoader {
    loader: JsonFileSchemaLoader,
}

impl DefaultSchemaLoader {
    /// The loader with the stream's parameters (its `name` among them).
    pub fn new(parameters: &Map<String, Value>, env: &BuildEnv) -> Self {
        Self {
            loader: JsonFileSchemaLoader::new(None, parameters, env),
        }
    }

    /// The schema: the default file's, or `{}` when it is missing (an `OSError` or a
    /// `ValueError` in the CDK); other failures (a file that is not JSON) are errors.
    pub fn get_json_schema(&self) -> Result<Value, SchemaError> {
        match self.loader.get_json_schema() {
            Ok(schema) => Ok(schema),
            Err(SchemaError::Os(message) | SchemaError::Value(message)) => {
                tracing::info!("Could not find schema ({message}), defaulting to the empty schema");
                Ok(Value::Object(Map::new()))
            }
            Err(other) => Err(other),
        }
    }
}
