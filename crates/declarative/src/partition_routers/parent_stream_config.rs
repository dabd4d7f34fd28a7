//! `ParentStreamConfig`: a parent stream of a `SubstreamPartitionRouter` and how its records
//! become the child's partitions (`parent_key`, `partition_field`, `extra_fields`,
//! `request_option`, `incremental_dependency`).

use serde_json::{Map, Value};

use super::truthy;
use crate::declarative_stream::DeclarativeStream;
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::extractors::dpath;
use crate::factory::Node;
use crate::http::HttpClient;
use crate::interpolation::{Context, InterpolatedString};
use crate::requesters::{RequestOption, RequestOptions};
use crate::slice::Slice;

/// The marker a full-refresh stream checkpoints (`NO_CURSOR_STATE_KEY`).
const NO_CURSOR_STATE_KEY: &str = "__ab_no_cursor_state_message";

/// The extra field holding a lazily read child's first page (the CDK's `child_response`).
pub const CHILD_RESPONSE: &str = "child_response";

/// A `ParentStreamConfig`.
#[derive(Debug)]
pub struct ParentStreamConfig {
    /// The parent stream, a whole `DeclarativeStream` read as the CDK reads it.
    pub stream: DeclarativeStream,
    /// `parent_key`, evaluated and split at `/` (a `dpath` path into the parent record).
    parent_key: Vec<String>,
    /// `partition_field`, evaluated: the partition's key for the parent value.
    pub partition_field: String,
    /// `extra_fields`: paths into the parent record, evaluated.
    extra_fields: Vec<Vec<String>>,
    /// `request_option`: where the partition value goes in the child's requests.
    pub request_option: Option<RequestOption>,
    /// `incremental_dependency`: the parent is read from (and checkpoints into) the child's
    /// state.
    pub incremental_dependency: bool,
    /// `lazy_read_pointer`, evaluated: where in a parent record the child's first page is
    /// (the CDK's `LazySimpleRetriever` reads it from there instead of requesting it).
    pub lazy_read_pointer: Vec<String>,
    path: ManifestPath,
}

impl ParentStreamConfig {
    /// Builds it from its node (the parent stream included).
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let context = Context::new(node.config());
        let eval = |key: &str, s: InterpolatedString| {
            s.eval_to_string(&context)
                .map_err(|e| EngineError::interpolation(&node.child_path(key), e))
        };
        let parent_key = eval("parent_key", node.interpolated("parent_key")?)?;
        let partition_field = eval("partition_field", node.interpolated("partition_field")?)?;
        let extra_fields = match node.opt_array("extra_fields")? {
            None => Vec::new(),
            Some(paths) => paths
                .iter()
                .map(|p| {
                    let parts: Vec<String> = match p {
                        Value::Array(parts) => parts
                            .iter()
                            .map(|s| match s {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect(),
                        Value::String(s) => vec![s.clone()],
                        _ => {
                            return Err(
                                node.error("extra_fields", "expected a list of field paths")
                            );
                        }
                    };
                    parts
                        .into_iter()
                        .map(|part| {
                            eval(
                                "extra_fields",
                                InterpolatedString::new(part, node.parameters()),
                            )
                        })
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<Vec<_>>>()?,
        };
        let lazy_read_pointer = node
            .opt_str_list("lazy_read_pointer")?
            .unwrap_or_default()
            .into_iter()
            .map(|part| {
                eval(
                    "lazy_read_pointer",
                    InterpolatedString::new(part, node.parameters()),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        if lazy_read_pointer.iter().any(|p| p.contains('*')) {
            return Err(node.error(
                "lazy_read_pointer",
                "the '*' wildcard in 'lazy_read_pointer' is not supported: only direct paths are allowed",
            ));
        }
        let option_path = node.child_path("request_option");
        let request_option = match node.child("request_option", &option_path)? {
            Some(option) => Some(RequestOption::from_node(option)?),
            None => None,
        };
        let stream_path = node.child_path("stream");
        let stream_node = node
            .child("stream", &stream_path)?
            .ok_or_else(|| node.error("stream", "ParentStreamConfig requires a stream"))?;
        let stream = DeclarativeStream::from_node(stream_node)?;
        Ok(Self {
            stream,
            parent_key: split_path(&parent_key),
            partition_field,
            extra_fields,
            request_option,
            incremental_dependency: node.opt_bool("incremental_dependency")?.unwrap_or(false),
            lazy_read_pointer,
            path: node.path.clone(),
        })
    }

    /// The parent's incoming state, taken from the child's (`child_state`) as the CDK's
    /// `_instantiate_parent_stream_state_manager` does: only with `incremental_dependency`; the
    /// child's `parent_state[<parent name>]`, else its global `state`, else (a legacy child
    /// state of one scalar value) that value under the parent's cursor field.
    pub fn incoming_state(&self, child_state: Option<&Value>) -> Option<Value> {
        if !self.incremental_dependency {
            return None;
        }
        let mut child: Map<String, Value> = child_state?.as_object()?.clone();
        child.remove(NO_CURSOR_STATE_KEY);
        if child.is_empty() {
            return None;
        }
        if let Some(state) = child
            .get("parent_state")
            .and_then(Value::as_object)
            .and_then(|parents| parents.get(&self.stream.name))
        {
            return Some(state.clone());
        }
        if let Some(state) = child.get("state") {
            return Some(state.clone());
        }
        let mut values = child.values();
        match (values.next(), values.next()) {
            (Some(v @ (Value::String(_) | Value::Number(_))), None) => {
                let cursor_field = self
                    .stream
                    .catalog_entry()
                    .pointer("/default_cursor_field/0")
                    .and_then(Value::as_str)
                    .map(str::to_string)?;
                let mut state = Map::new();
                state.insert(cursor_field, v.clone());
                Some(Value::Object(state))
            }
            _ => None,
        }
    }

    /// Reads the parent stream from `parent_state` and hands a partition to `f` for each of
    /// its records with a parent value (`{partition_field: value, "parent_slice": <the
    /// record's partition>}`, extra fields beside); `on_parent_state` sees each state the parent
    /// checkpoints. Returns `false` when `f` stopped the read. With `lazy` (the child has no
    /// state yet) and a `lazy_read_pointer`, the extra field `child_response` holds what the
    /// pointer finds in the parent record (`[]` when nothing), the child's first page.
    pub fn read_partitions(
        &self,
        client: &HttpClient,
        parent_state: Option<&Value>,
        lazy: bool,
        f: &mut dyn FnMut(Slice) -> Result<bool>,
        on_parent_state: &mut dyn FnMut(Value),
    ) -> Result<bool> {
        let mut stopped = false;
        self.stream.read_sliced(
            client,
            parent_state,
            &mut |record, parent_slice| {
                let Some(mut slice) = self.partition_of(&record, parent_slice)? else {
                    return Ok(true);
                };
                if lazy && !self.lazy_read_pointer.is_empty() {
                    let page = dpath_lookup(&record, &self.lazy_read_pointer, &self.path)
                        .ok()
                        .flatten()
                        .cloned()
                        .unwrap_or_else(|| Value::Array(Vec::new()));
                    slice.extra_fields.insert(CHILD_RESPONSE.into(), page);
                }
                let go_on = f(slice)?;
                stopped = !go_on;
                Ok(go_on)
            },
            &mut |state| {
                on_parent_state(state);
                Ok(())
            },
        )?;
        Ok(!stopped)
    }

    /// The child partition of one parent record (`None` when its parent value is missing or
    /// null: the CDK skips such records).
    pub fn partition_of(&self, record: &Value, parent_slice: &Slice) -> Result<Option<Slice>> {
        let Some(value) = dpath_lookup(record, &self.parent_key, &self.path)? else {
            return Ok(None);
        };
        if value.is_null() {
            return Ok(None);
        }
        let mut partition = Map::new();
        partition.insert(self.partition_field.clone(), value.clone());
        partition.insert(
            "parent_slice".into(),
            Value::Object(parent_slice.partition.clone()),
        );
        let mut extra_fields = Map::new();
        for path in &self.extra_fields {
            let value = dpath_lookup(record, path, &self.path)
                .ok()
                .flatten()
                .cloned()
                .unwrap_or(Value::Null);
            extra_fields.insert(path.join("."), value);
        }
        Ok(Some(Slice {
            partition,
            cursor_slice: Map::new(),
            extra_fields,
        }))
    }

    /// Adds this parent's partition value to `options` (when it has a request option and the
    /// slice's value is truthy).
    pub fn inject(
        &self,
        slice: &Slice,
        options: &mut RequestOptions,
        config: &Value,
    ) -> Result<()> {
        let Some(option) = &self.request_option else {
            return Ok(());
        };
        let value = slice
            .cursor_slice
            .get(&self.partition_field)
            .or_else(|| slice.partition.get(&self.partition_field));
        if let Some(value) = value.filter(|v| truthy(v)) {
            option.inject(options.target(option.inject_into), value.clone(), config)?;
        }
        Ok(())
    }
}

/// A `dpath` string path as segments (a leading `/` is dropped, as the library does).
fn split_path(path: &str) -> Vec<String> {
    if path.is_empty() {
        return Vec::new();
    }
    path.trim_start_matches('/')
        .split('/')
        .map(str::to_string)
        .collect()
}

/// `dpath.get(record, path, default=None)`: the one value at `path` (globs allowed; several
/// matches are an error), `None` when absent; an empty path is the record itself.
fn dpath_lookup<'a>(
    record: &'a Value,
    path: &[String],
    at: &ManifestPath,
) -> Result<Option<&'a Value>> {
    dpath::get(record, &dpath::globs(path)).map_err(|e| EngineError::manifest(at, e))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dpath_paths_split_at_slashes() {
        assert_eq!(split_path("a/b"), vec!["a", "b"]);
        assert_eq!(split_path("/id"), vec!["id"]);
        assert!(split_path("").is_empty());
        let record = json!({"a": {"b": 7}, "items": [{"x": 1}]});
        let at = ManifestPath::root();
        assert_eq!(
            dpath_lookup(&record, &split_path("a/b"), &at)
                .ok()
                .flatten(),
            Some(&json!(7))
        );
        assert_eq!(
            dpath_lookup(&record, &split_path("items/0/x"), &at)
                .ok()
                .flatten(),
            Some(&json!(1))
        );
        assert_eq!(
            dpath_lookup(&record, &split_path("nope"), &at)
                .ok()
                .flatten(),
            None
        );
        assert_eq!(
            dpath_lookup(&record, &split_path("a/*"), &at)
                .ok()
                .flatten(),
            Some(&json!(7))
        );
    }
}
