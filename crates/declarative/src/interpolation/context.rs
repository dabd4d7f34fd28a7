//! [`Context`]: the variables a template sees (`config`, `stream_slice`, `response`, ...).

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Serde, Value};

/// The variables of one evaluation. `config` is always there; components add what the CDK
/// passes them (`stream_slice`, `next_page_token`, `response`, `headers`, `record`,
/// `last_record`, ...). `stream_interval` and `stream_partition` are aliases of
/// `stream_slice`, added at evaluation, as in the CDK. `parameters` comes from the component.
///
/// Values are converted to template values once, when set: build a context per slice or
/// request and evaluate many templates with it.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub(crate) vars: Arc<BTreeMap<String, Value>>,
}

impl Context {
    /// A context with `config`.
    pub fn new(config: &serde_json::Value) -> Self {
        let mut context = Self::default();
        context.set("config", config);
        context
    }

    /// Sets a variable from JSON (replacing a previous value).
    pub fn set(&mut self, name: &str, value: &serde_json::Value) -> &mut Self {
        Arc::make_mut(&mut self.vars).insert(name.to_string(), Value::from(Serde(value)));
        self
    }

    /// [`Context::set`] for a large JSON value held in an `Arc` (a response body): a mapping
    /// becomes a template mapping whose members are converted when a template reads them, so
    /// `response.next_page` does not convert the thousand records beside it.
    pub fn set_shared(&mut self, name: &str, value: &Arc<serde_json::Value>) -> &mut Self {
        let converted = match &**value {
            serde_json::Value::Object(_) => Value::from_object(LazyMap(Arc::clone(value))),
            other => Value::from(Serde(other)),
        };
        Arc::make_mut(&mut self.vars).insert(name.to_string(), converted);
        self
    }

    /// [`Context::set`], by value.
    pub fn with(mut self, name: &str, value: &serde_json::Value) -> Self {
        self.set(name, value);
        self
    }

    /// Sets a variable to a template value (e.g. a [`StreamSlice`] object).
    pub fn set_value(&mut self, name: &str, value: Value) -> &mut Self {
        Arc::make_mut(&mut self.vars).insert(name.to_string(), value);
        self
    }

    /// Sets `stream_slice` (and so `stream_interval`, `stream_partition`) to a CDK `StreamSlice`.
    pub fn with_stream_slice(mut self, slice: StreamSlice) -> Self {
        self.set_value("stream_slice", Value::from_object(slice));
        self
    }

    /// Whether a variable is declared (set, even to null).
    pub fn contains(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }
}

/// What a template sees: the context's variables, the component's `parameters`, and the
/// `stream_slice` aliases, layered without copying the context.
#[derive(Debug)]
pub(crate) struct Scope {
    pub(crate) vars: Arc<BTreeMap<String, Value>>,
    pub(crate) parameters: Option<Value>,
    pub(crate) slice: Option<Value>,
}

impl Scope {
    /// Whether `name` is declared.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.lookup(name).is_some()
    }

    fn lookup(&self, name: &str) -> Option<Value> {
        match name {
            "parameters" if self.parameters.is_some() => self.parameters.clone(),
            "stream_interval" | "stream_partition" if self.slice.is_some() => self.slice.clone(),
            _ => self.vars.get(name).cloned(),
        }
    }
}

impl Object for Scope {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.lookup(key.as_str()?)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<Value> = self.vars.keys().map(|k| Value::from(k.as_str())).collect();
        if self.parameters.is_some() {
            keys.push(Value::from("parameters"));
        }
        if self.slice.is_some() {
            keys.extend([
                Value::from("stream_interval"),
                Value::from("stream_partition"),
            ]);
        }
        Enumerator::Values(keys)
    }
}

/// A JSON mapping seen by templates with its members converted on access (see
/// [`Context::set_shared`]); it behaves as the converted mapping (members in order, `dict`).
#[derive(Debug)]
struct LazyMap(Arc<serde_json::Value>);

impl LazyMap {
    fn map(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.0.as_object()
    }
}

impl Object for LazyMap {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.map()?
            .get(key.as_str()?)
            .map(|v| Value::from(Serde(v)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.map()
                .map(|m| m.keys().map(|k| Value::from(k.as_str())).collect())
                .unwrap_or_default(),
        )
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.map().map_or(0, |m| m.len()))
    }
}

/// The CDK's `StreamSlice`: a mapping of its partition and cursor slice together
/// (`stream_slice['start_time']`, `stream_partition.parent_id`), with the attributes
/// `partition`, `cursor_slice` and `extra_fields` (`stream_slice.extra_fields['x']`).
#[derive(Debug, Clone, Default)]
pub struct StreamSlice {
    merged: serde_json::Map<String, serde_json::Value>,
    partition: Value,
    cursor_slice: Value,
    extra_fields: Value,
}

impl StreamSlice {
    /// A slice from its parts (JSON objects; anything else counts as empty).
    pub fn new(
        partition: &serde_json::Value,
        cursor_slice: &serde_json::Value,
        extra_fields: &serde_json::Value,
    ) -> Self {
        let empty = serde_json::Map::new();
        let as_map =
            |v: &serde_json::Value| v.as_object().cloned().unwrap_or_else(|| empty.clone());
        let mut merged = as_map(partition);
        for (k, v) in as_map(cursor_slice) {
            merged.insert(k, v);
        }
        let obj = |v: &serde_json::Value| Value::from(Serde(serde_json::Value::Object(as_map(v))));
        Self {
            merged,
            partition: obj(partition),
            cursor_slice: obj(cursor_slice),
            extra_fields: obj(extra_fields),
        }
    }
}

impl Object for StreamSlice {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        match key {
            // Attributes win, as Jinja's `getattr` looks at them first.
            "partition" | "_partition" => Some(self.partition.clone()),
            "cursor_slice" => Some(self.cursor_slice.clone()),
            "extra_fields" => Some(self.extra_fields.clone()),
            _ => self.merged.get(key).map(|v| Value::from(Serde(v))),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.merged
                .keys()
                .map(|k| Value::from(k.as_str()))
                .collect(),
        )
    }
}
