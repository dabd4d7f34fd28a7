//! `IncrementingCountCursor`: an integer cursor (an auto-incremented id), as the CDK runs it
//! (a `ConcurrentCursor` with its integer state converter and no slice boundaries): one
//! window from the state's value (or `start_value`, 0 by default) on, `start_value_option`
//! carrying that value; every record is emitted; the state is the incoming state with the
//! cursor field set to the greatest value seen (or the start).

use serde_json::{Map, Value};

use super::{CursorRun, IncrementalCursor};
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::interpolation::{Context, InterpolatedString};
use crate::requesters::{RequestOption, RequestOptions};

/// The window's key for its lower bound (the concurrent cursor's `START_KEY`).
const START_KEY: &str = "start";

/// An `IncrementingCountCursor`.
#[derive(Debug)]
pub struct IncrementingCountCursor {
    cursor_field: String,
    start_value: i64,
    start_value_option: Option<RequestOption>,
    config: Value,
}

impl IncrementingCountCursor {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let context = Context::new(node.config());
        let cursor_field = node
            .interpolated("cursor_field")?
            .eval_to_string(&context)
            .map_err(|e| EngineError::interpolation(&node.child_path("cursor_field"), e))?;
        let start_value = match node.opt_str("start_value")? {
            None => 0,
            Some(text) => {
                let value = InterpolatedString::new(text, node.parameters())
                    .eval_to_string(&context)
                    .map_err(|e| EngineError::interpolation(&node.child_path("start_value"), e))?;
                value.trim().parse().map_err(|_| {
                    node.error(
                        "start_value",
                        format!("must evaluate to an integer, found {value:?}"),
                    )
                })?
            }
        };
        let option_path = node.child_path("start_value_option");
        let start_value_option = match node.child("start_value_option", &option_path)? {
            Some(o) => Some(RequestOption::from_node(o)?),
            None => None,
        };
        Ok(Self {
            cursor_field,
            start_value,
            start_value_option,
            config: node.config().clone(),
        })
    }
}

impl IncrementalCursor for IncrementingCountCursor {
    fn cursor_field(&self) -> &str {
        &self.cursor_field
    }

    fn start(&self, state: Option<&Value>) -> Result<Box<dyn CursorRun>> {
        let legacy = state
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        // `_get_sync_start`: the state's value when it is truthy and not below the start.
        let sync_start = match legacy.get(&self.cursor_field) {
            Some(v) if crate::truthiness::truthy(v) => match v.as_i64() {
                Some(n) if n >= self.start_value => n,
                Some(_) => self.start_value,
                None => {
                    return Err(EngineError::Input(format!(
                        "the state's {} is {v}, not an integer: IncrementingCountCursor counts with integers",
                        self.cursor_field
                    )));
                }
            },
            _ => self.start_value,
        };
        Ok(Box::new(Run {
            cursor_field: self.cursor_field.clone(),
            start_value: self.start_value,
            start_value_option: self.start_value_option.clone(),
            config: self.config.clone(),
            legacy,
            sync_start,
            most_recent: None,
        }))
    }
}

/// One read of an [`IncrementingCountCursor`].
#[derive(Debug)]
struct Run {
    cursor_field: String,
    start_value: i64,
    start_value_option: Option<RequestOption>,
    config: Value,
    legacy: Map<String, Value>,
    sync_start: i64,
    most_recent: Option<i64>,
}

impl CursorRun for Run {
    fn windows(&mut self) -> Result<Vec<Map<String, Value>>> {
        let mut window = Map::new();
        window.insert(START_KEY.into(), Value::from(self.sync_start));
        Ok(vec![window])
    }

    fn request_options(&self, window: &Map<String, Value>) -> Result<RequestOptions> {
        let mut options = RequestOptions::default();
        if let (Some(option), Some(start)) = (&self.start_value_option, window.get(START_KEY)) {
            let target = options.target(option.inject_into);
            option.inject(target, start.clone(), &self.config)?;
        }
        Ok(options)
    }

    fn observe(&mut self, _window: &Map<String, Value>, record: &Value) -> Result<bool> {
        if let Some(value) = record.get(&self.cursor_field).and_then(Value::as_i64)
            && self.most_recent.is_none_or(|m| m < value)
        {
            self.most_recent = Some(value);
        }
        Ok(true)
    }

    fn close_window(&mut self, _window: &Map<String, Value>) -> Result<()> {
        Ok(())
    }

    fn state(&self) -> Value {
        // The merged interval's most recent value, else its start.
        let latest = match self.most_recent {
            Some(m) if m != 0 => m.max(self.sync_start),
            _ if self.sync_start != 0 => self.sync_start,
            _ => self.start_value,
        };
        let mut state = self.legacy.clone();
        state.insert(self.cursor_field.clone(), Value::from(latest));
        Value::Object(state)
    }
}

/// The error the CDK raises for this cursor under a partition router.
pub fn with_partition_router_error(at: &ManifestPath, stream: &str) -> EngineError {
    EngineError::manifest(
        at,
        format!(
            "The low-code framework does not currently support usage of a PartitionRouter and an IncrementingCountCursor at the same time. Please specify only one of these options for stream {stream}."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use serde_json::json;

    fn cursor(node: Value) -> IncrementingCountCursor {
        let env = BuildEnv {
            config: json!({"from": "10"}),
            ..Default::default()
        };
        let path = ManifestPath::root();
        IncrementingCountCursor::from_node(Node::new(&node, &path, &env).unwrap()).unwrap()
    }

    #[test]
    fn one_window_from_the_state_and_the_greatest_value_as_state() {
        let c = cursor(
            json!({"type": "IncrementingCountCursor", "cursor_field": "id", "start_value": "{{ config.from }}",
            "start_value_option": {"type": "RequestOption", "inject_into": "request_parameter", "field_name": "since_id"}}),
        );
        let mut run = c.start(None).unwrap();
        let windows = run.windows().unwrap();
        assert_eq!(
            windows,
            vec![json!({"start": 10}).as_object().unwrap().clone()]
        );
        assert_eq!(
            run.request_options(&windows[0]).unwrap().params["since_id"],
            10
        );
        assert_eq!(run.state(), json!({"id": 10}));
        for id in [12, 30, 11] {
            assert!(run.observe(&windows[0], &json!({"id": id})).unwrap());
        }
        assert_eq!(run.state(), json!({"id": 30}));
        // A state below the start counts from the start; the incoming state's keys stay.
        let run = c.start(Some(&json!({"id": 3, "other": 1}))).unwrap();
        assert_eq!(run.state(), json!({"id": 10, "other": 1}));
        let mut run = c.start(Some(&json!({"id": 50}))).unwrap();
        assert_eq!(run.windows().unwrap()[0]["start"], 50);
        assert_eq!(run.state(), json!({"id": 50}));
    }

    #[test]
    fn without_a_start_value_it_counts_from_zero() {
        let c = cursor(json!({"type": "IncrementingCountCursor", "cursor_field": "n"}));
        let mut run = c.start(None).unwrap();
        assert_eq!(run.windows().unwrap()[0]["start"], 0);
        assert_eq!(run.state(), json!({"n": 0}));
    }
}
