//! `ListPartitionRouter`: a partition `{cursor_field: value}` per value of a list (written in
//! the manifest, or a template that evaluates to one).

use serde_json::{Map, Value};

use super::{PartitionRouter, truthy};
use crate::engine_error::{EngineError, Result};
use crate::factory::{Node, kind};
use crate::http::HttpClient;
use crate::interpolation::{Context, InterpolatedString};
use crate::requesters::{RequestOption, RequestOptions};
use crate::slice::Slice;

/// A `ListPartitionRouter`.
#[derive(Debug)]
pub struct ListPartitionRouter {
    values: Vec<Value>,
    cursor_field: String,
    request_option: Option<RequestOption>,
    config: Value,
}

impl ListPartitionRouter {
    /// Builds it from its node: `values` and `cursor_field` are evaluated with the config once,
    /// as the CDK does in `__post_init__`.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let context = Context::new(node.config());
        let cursor_field = node
            .interpolated("cursor_field")?
            .eval_to_string(&context)
            .map_err(|e| EngineError::interpolation(&node.child_path("cursor_field"), e))?;
        let values = match node.required("values")? {
            // The schema's `List[str]`: pydantic writes numbers and booleans as text.
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::String(_) => Ok(v.clone()),
                    Value::Number(n) => Ok(Value::String(n.to_string())),
                    Value::Bool(b) => Ok(Value::String(if *b { "True" } else { "False" }.into())),
                    other => Err(node.error(
                        "values",
                        format!("expected a list of strings, found {} in it", kind(other)),
                    )),
                })
                .collect::<Result<Vec<_>>>()?,
            Value::String(s) => {
                let evaluated = InterpolatedString::new(s.clone(), node.parameters())
                    .eval(&context)
                    .map_err(|e| EngineError::interpolation(&node.child_path("values"), e))?;
                iterate(evaluated).map_err(|found| {
                    node.error(
                        "values",
                        format!("expected a list, the template gave {found}"),
                    )
                })?
            }
            other => {
                return Err(node.error(
                    "values",
                    format!("expected a list or a template, found {}", kind(other)),
                ));
            }
        };
        let option_path = node.child_path("request_option");
        let request_option = match node.child("request_option", &option_path)? {
            Some(option) => Some(RequestOption::from_node(option)?),
            None => None,
        };
        Ok(Self {
            values,
            cursor_field,
            request_option,
            config: node.config().clone(),
        })
    }

    /// Whether the router injects its value into requests.
    pub fn has_request_option(&self) -> bool {
        self.request_option.is_some()
    }
}

/// What Python's `for value in evaluated` walks: a list's items, a string's characters, a
/// mapping's keys; anything else is not iterable (its kind is the error).
fn iterate(evaluated: Value) -> std::result::Result<Vec<Value>, &'static str> {
    match evaluated {
        Value::Array(items) => Ok(items),
        Value::String(s) => Ok(s.chars().map(|c| Value::String(c.to_string())).collect()),
        Value::Object(m) => Ok(m.into_iter().map(|(k, _)| Value::String(k)).collect()),
        other => Err(kind(&other)),
    }
}

impl PartitionRouter for ListPartitionRouter {
    fn for_each_partition(
        &self,
        _client: &HttpClient,
        _stream_state: Option<&Value>,
        f: &mut dyn FnMut(Slice) -> Result<bool>,
    ) -> Result<()> {
        for value in &self.values {
            let mut partition = Map::new();
            partition.insert(self.cursor_field.clone(), value.clone());
            let slice = Slice {
                partition,
                ..Slice::default()
            };
            if !f(slice)? {
                break;
            }
        }
        Ok(())
    }

    fn request_options(&self, slice: &Slice) -> Result<RequestOptions> {
        let mut options = RequestOptions::default();
        let Some(option) = &self.request_option else {
            return Ok(options);
        };
        if slice.is_empty() {
            return Ok(options);
        }
        // `stream_slice.get(cursor_field)`: the partition and the cursor slice together.
        let value = slice
            .cursor_slice
            .get(&self.cursor_field)
            .or_else(|| slice.partition.get(&self.cursor_field));
        if let Some(value) = value.filter(|v| truthy(v)) {
            option.inject(
                options.target(option.inject_into),
                value.clone(),
                &self.config,
            )?;
        }
        Ok(options)
    }

    fn parent_state(&self) -> Option<Value> {
        None
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ManifestPath;
    use crate::factory::BuildEnv;
    use crate::partition_routers::test_support::client;

    fn build(node: Value, config: Value) -> Result<ListPartitionRouter> {
        let env = BuildEnv {
            config,
            directory: None,
            ..Default::default()
        };
        let path = ManifestPath::root();
        ListPartitionRouter::from_node(Node::new(&node, &path, &env)?)
    }

    fn partitions(router: &ListPartitionRouter) -> Vec<Value> {
        let mut out = Vec::new();
        router
            .for_each_partition(&client(), None, &mut |s| {
                out.push(Value::Object(s.partition));
                Ok(true)
            })
            .expect("partitions");
        out
    }

    #[test]
    fn a_partition_per_listed_value() {
        let router = build(
            json!({"type": "ListPartitionRouter", "values": ["a", 1, true], "cursor_field": "section"}),
            json!({}),
        )
        .expect("router");
        assert_eq!(
            partitions(&router),
            vec![
                json!({"section": "a"}),
                json!({"section": "1"}),
                json!({"section": "True"})
            ]
        );
    }

    #[test]
    fn values_from_a_template_and_cursor_field_from_config() {
        let router = build(
            json!({"type": "ListPartitionRouter", "values": "{{ config['ids'] }}",
                   "cursor_field": "{{ config['key'] }}"}),
            json!({"ids": [3, 4], "key": "account"}),
        )
        .expect("router");
        assert_eq!(
            partitions(&router),
            vec![json!({"account": 3}), json!({"account": 4})]
        );
    }

    #[test]
    fn a_template_giving_a_string_iterates_its_characters() {
        let router = build(
            json!({"type": "ListPartitionRouter", "values": "ab", "cursor_field": "c"}),
            json!({}),
        )
        .expect("router");
        assert_eq!(
            partitions(&router),
            vec![json!({"c": "a"}), json!({"c": "b"})]
        );
    }

    #[test]
    fn request_option_injects_truthy_values_only() {
        let router = build(
            json!({"type": "ListPartitionRouter", "values": ["x", ""], "cursor_field": "c",
                   "request_option": {"type": "RequestOption", "inject_into": "header", "field_name": "X-Section"}}),
            json!({}),
        )
        .expect("router");
        let slice = |v: &str| Slice {
            partition: json!({"c": v}).as_object().cloned().unwrap_or_default(),
            ..Slice::default()
        };
        let options = router.request_options(&slice("x")).expect("options");
        assert_eq!(options.headers.get("X-Section"), Some(&json!("x")));
        assert!(options.params.is_empty());
        let options = router.request_options(&slice("")).expect("options");
        assert!(options.headers.is_empty());
        assert_eq!(router.parent_state(), None);
    }
}
