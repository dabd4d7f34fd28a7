//! Records as users see them: case-insensitive maps shaped by the stream's JSON schema
//! (PyAirbyte's `airbyte/records.py`).
//!
//! A [`StreamRecordHandler`] is built once per stream from its JSON schema. It knows the keys the
//! schema declares (in their display case, as the schema spells them), their normalized form
//! (PyAirbyte's `LowerCaseNormalizer`, see [`crate::names`]) and how to go from one to the
//! other. Every [`StreamRecord`] of the stream shares the handler.
//!
//! A record starts with every declared key set to `null`, then takes the values of the message's
//! `data`. In prune mode (the default) keys the schema does not declare are dropped. Lookups
//! ([`StreamRecord::get`], [`StreamRecord::contains_key`], [`StreamRecord::remove`]) ignore case
//! and accept the display, the normalized, or any spelling that normalizes to the same name.
//!
//! ```
//! use abrs_caches::records::{RecordOptions, StreamRecordHandler};
//! use serde_json::json;
//!
//! let schema = json!({"properties": {"Id": {"type": "integer"}, "Full Name": {"type": "string"}}});
//! let handler = StreamRecordHandler::new(&schema, RecordOptions::default()).into_shared();
//! let data = json!({"id": 7, "extra": true});
//! let record = handler.record_from_data(data.as_object().cloned().unwrap_or_default(), None);
//! assert_eq!(record.get("ID"), Some(&json!(7)));
//! assert_eq!(record.get("full_name"), Some(&json!(null))); // declared, absent → null
//! assert!(!record.contains_key("extra")); // undeclared → pruned
//! let keys: Vec<&str> = record.keys().collect();
//! assert_eq!(keys, ["Id", "Full Name", "_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta"]);
//! ```

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use abrs_protocol::{AirbyteRecordMessage, RecordRef};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// `_airbyte_raw_id`: a unique id per record (a UUIDv7 string, as PyAirbyte writes it).
pub const AB_RAW_ID_COLUMN: &str = "_airbyte_raw_id";
/// `_airbyte_extracted_at`: when the connector emitted the record (RFC 3339, UTC).
pub const AB_EXTRACTED_AT_COLUMN: &str = "_airbyte_extracted_at";
/// `_airbyte_meta`: per-record metadata (e.g. `changes` made on the way).
pub const AB_META_COLUMN: &str = "_airbyte_meta";
/// The internal columns, in the order PyAirbyte adds them.
pub const AB_INTERNAL_COLUMNS: [&str; 3] =
    [AB_RAW_ID_COLUMN, AB_EXTRACTED_AT_COLUMN, AB_META_COLUMN];

/// How records of a stream are shaped.
///
/// The default is what PyAirbyte's `Source.get_records` does: keys in display case, undeclared
/// keys pruned, internal columns added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordOptions {
    /// Store keys normalized (`My Field` → `my_field`) rather than as the schema spells them.
    pub normalize_keys: bool,
    /// Drop keys the stream's schema does not declare.
    pub prune_extra_fields: bool,
    /// Add `_airbyte_raw_id`, `_airbyte_extracted_at` and `_airbyte_meta`.
    pub with_internal_columns: bool,
}

impl Default for RecordOptions {
    fn default() -> Self {
        Self {
            normalize_keys: false,
            prune_extra_fields: true,
            with_internal_columns: true,
        }
    }
}

/// Normalizes a name with PyAirbyte's `LowerCaseNormalizer`, falling back to the lower-cased
/// name when it cannot be normalized (e.g. `"!!"`): lookups must never fail on odd keys.
fn normalize(name: &str) -> String {
    crate::names::normalize(name).unwrap_or_else(|_| name.to_lowercase())
}

/// The per-stream lookup tables shared by all records of a stream.
#[derive(Debug, Clone)]
pub struct StreamRecordHandler {
    options: RecordOptions,
    /// The keys a record starts with, in schema order, as stored (display or normalized case).
    index_keys: Vec<String>,
    index_set: HashSet<String>,
    /// normalized name → display (schema) case, for declared keys and internal columns.
    display_case: HashMap<String, String>,
    /// Whether the schema declares properties at all. A schema without `properties` declares
    /// nothing, and pruning it would drop every field (PyAirbyte does): we keep them instead.
    declares_properties: bool,
}

impl StreamRecordHandler {
    /// Builds the handler from a stream's JSON schema (its top-level `properties`).
    ///
    /// ```
    /// use abrs_caches::records::{RecordOptions, StreamRecordHandler};
    /// let schema = serde_json::json!({"properties": {"User-Name": {}}});
    /// let opts = RecordOptions { normalize_keys: true, ..RecordOptions::default() };
    /// let handler = StreamRecordHandler::new(&schema, opts);
    /// assert_eq!(handler.index_keys(), ["user_name"]);
    /// assert_eq!(handler.to_display_case("USER_NAME"), "User-Name");
    /// ```
    pub fn new(json_schema: &Value, options: RecordOptions) -> Self {
        let properties = json_schema.get("properties").and_then(Value::as_object);
        let expected: Vec<&str> = properties
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let index_keys: Vec<String> = expected
            .iter()
            .filter(|k| !k.is_empty())
            .map(|k| {
                if options.normalize_keys {
                    normalize(k)
                } else {
                    (*k).to_string()
                }
            })
            .collect();
        let mut display_case = HashMap::new();
        for key in expected.iter().copied().chain(AB_INTERNAL_COLUMNS) {
            display_case
                .entry(normalize(key))
                .or_insert_with(|| key.to_string());
        }
        Self {
            options,
            index_set: index_keys.iter().cloned().collect(),
            index_keys,
            display_case,
            declares_properties: properties.is_some_and(|p| !p.is_empty()),
        }
    }

    /// Wraps the handler in an [`Arc`], as records need it.
    pub fn into_shared(self) -> Arc<Self> {
        Arc::new(self)
    }

    /// The options the handler was built with.
    pub fn options(&self) -> RecordOptions {
        self.options
    }

    /// The declared keys, as records store them (display or normalized case), in schema order.
    pub fn index_keys(&self) -> &[String] {
        &self.index_keys
    }

    /// The key as the schema spells it; a key the schema does not know is returned as given.
    pub fn to_display_case<'k>(&self, key: &'k str) -> Cow<'k, str> {
        match self.display_case.get(&normalize(key)) {
            Some(display) => Cow::Owned(display.clone()),
            None => Cow::Borrowed(key),
        }
    }

    /// The key as records store it: normalized with `normalize_keys`, else in display case.
    pub fn to_index_case<'k>(&self, key: &'k str) -> Cow<'k, str> {
        if self.options.normalize_keys {
            Cow::Owned(normalize(key))
        } else {
            self.to_display_case(key)
        }
    }

    fn keeps(&self, index_key: &str) -> bool {
        !self.options.prune_extra_fields
            || !self.declares_properties
            || self.index_set.contains(index_key)
            || AB_INTERNAL_COLUMNS.contains(&index_key)
    }

    /// A record from a stream's `data` object. `extracted_at` defaults to now.
    pub fn record_from_data(
        self: &Arc<Self>,
        data: Map<String, Value>,
        extracted_at: Option<DateTime<Utc>>,
    ) -> StreamRecord {
        self.build(data, extracted_at, None)
    }

    /// A record from a RECORD message; `_airbyte_extracted_at` is its `emitted_at`, and
    /// `_airbyte_meta` its `meta` when it has one.
    pub fn record_from_message(self: &Arc<Self>, message: &AirbyteRecordMessage) -> StreamRecord {
        let meta = message
            .meta
            .as_ref()
            .and_then(|m| serde_json::to_value(m).ok());
        self.build(
            message.data.clone(),
            extracted_at_of(message.emitted_at),
            meta,
        )
    }

    /// A record from an unparsed RECORD (the decoder's fast path); fails only when `data` or
    /// `meta` is not valid JSON of the right shape.
    pub fn record_from_ref(
        self: &Arc<Self>,
        record: &RecordRef<'_>,
    ) -> Result<StreamRecord, serde_json::Error> {
        let data: Map<String, Value> = serde_json::from_str(record.data.get())?;
        let meta = match record.meta {
            Some(raw) => serde_json::from_str::<Option<Value>>(raw.get())?,
            None => None,
        };
        Ok(self.build(data, extracted_at_of(record.emitted_at), meta))
    }

    fn build(
        self: &Arc<Self>,
        data: Map<String, Value>,
        extracted_at: Option<DateTime<Utc>>,
        meta: Option<Value>,
    ) -> StreamRecord {
        let mut map = Map::with_capacity(self.index_keys.len() + AB_INTERNAL_COLUMNS.len());
        for key in &self.index_keys {
            map.insert(key.clone(), Value::Null);
        }
        for (key, value) in data {
            if key.is_empty() {
                tracing::debug!("empty key in a record ignored");
                continue;
            }
            let index_key = self.to_index_case(&key).into_owned();
            if self.keeps(&index_key) {
                map.insert(index_key, value);
            }
        }
        if self.options.with_internal_columns {
            let at = extracted_at.unwrap_or_else(Utc::now);
            map.insert(
                AB_RAW_ID_COLUMN.into(),
                Value::String(uuid::Uuid::now_v7().to_string()),
            );
            map.insert(
                AB_EXTRACTED_AT_COLUMN.into(),
                Value::String(at.to_rfc3339_opts(SecondsFormat::Micros, false)),
            );
            map.insert(
                AB_META_COLUMN.into(),
                meta.unwrap_or_else(|| Value::Object(Map::new())),
            );
        }
        StreamRecord {
            map,
            handler: Arc::clone(self),
        }
    }
}

fn extracted_at_of(emitted_at_ms: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(emitted_at_ms)
}

/// One record of a stream: a JSON object with case-insensitive access (PyAirbyte's
/// `StreamRecord`). Keys keep their insertion order: declared keys in schema order first.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    map: Map<String, Value>,
    handler: Arc<StreamRecordHandler>,
}

impl StreamRecord {
    /// The stored key that `key` designates, if any: exact match first, then the index case,
    /// then any stored key with the same normalized name.
    fn resolve(&self, key: &str) -> Option<String> {
        if self.map.contains_key(key) {
            return Some(key.to_string());
        }
        let index_key = self.handler.to_index_case(key);
        if self.map.contains_key(index_key.as_ref()) {
            return Some(index_key.into_owned());
        }
        let wanted = normalize(key);
        self.map.keys().find(|k| normalize(k) == wanted).cloned()
    }

    /// The value of a key, looked up case-insensitively.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self.map.get(key) {
            Some(v) => Some(v),
            None => self.resolve(key).and_then(|k| self.map.get(&k)),
        }
    }

    /// Whether the record has the key (case-insensitively).
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets a key (stored in index case). In prune mode an undeclared key is ignored and `false`
    /// is returned, as PyAirbyte does.
    pub fn insert(&mut self, key: &str, value: Value) -> bool {
        let index_key = match self.resolve(key) {
            Some(existing) => existing,
            None => self.handler.to_index_case(key).into_owned(),
        };
        if !self.handler.keeps(&index_key) {
            return false;
        }
        self.map.insert(index_key, value);
        true
    }

    /// Removes a key (case-insensitively) and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let stored = self.resolve(key)?;
        self.map.shift_remove(&stored)
    }

    /// The number of keys, internal columns included.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the record has no keys at all.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The keys as stored.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// The key/value pairs as stored.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The record as a JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// The record as a JSON object, without the internal columns.
    pub fn data_without_internal_columns(&self) -> Map<String, Value> {
        self.map
            .iter()
            .filter(|(k, _)| !AB_INTERNAL_COLUMNS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Consumes the record into its JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        self.map
    }

    /// The handler of the record's stream.
    pub fn handler(&self) -> &Arc<StreamRecordHandler> {
        &self.handler
    }
}

impl From<StreamRecord> for Value {
    fn from(record: StreamRecord) -> Self {
        Value::Object(record.map)
    }
}

impl Serialize for StreamRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(serializer)
    }
}

/// Two records are equal when they hold the same keys and values.
impl PartialEq for StreamRecord {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

/// A record equals a plain JSON object when their lower-cased keys and values match (PyAirbyte's
/// `StreamRecord.__eq__` against a `dict`).
impl PartialEq<Map<String, Value>> for StreamRecord {
    fn eq(&self, other: &Map<String, Value>) -> bool {
        let lower = |m: &Map<String, Value>| -> HashMap<String, Value> {
            m.iter()
                .map(|(k, v)| (k.to_lowercase(), v.clone()))
                .collect()
        };
        lower(&self.map) == lower(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "Id": {"type": "integer"}, "Full Name": {"type": "string"}, "camelCase": {}
        }})
    }

    #[test]
    fn starts_with_declared_keys_null_and_prunes() {
        let h = StreamRecordHandler::new(&schema(), RecordOptions::default()).into_shared();
        let r = h.record_from_data(obj(json!({"ID": 1, "undeclared": 2})), None);
        assert_eq!(r.get("id"), Some(&json!(1)));
        assert_eq!(r.get("Full Name"), Some(&Value::Null));
        assert_eq!(r.get("full_name"), Some(&Value::Null));
        assert!(!r.contains_key("undeclared"));
        let keys: Vec<&str> = r.keys().collect();
        assert_eq!(&keys[..3], ["Id", "Full Name", "camelCase"]);
        assert_eq!(&keys[3..], AB_INTERNAL_COLUMNS);
    }

    #[test]
    fn keeps_extra_fields_without_pruning_and_normalizes() {
        let opts = RecordOptions {
            normalize_keys: true,
            prune_extra_fields: false,
            with_internal_columns: false,
        };
        let h = StreamRecordHandler::new(&schema(), opts).into_shared();
        let mut r = h.record_from_data(obj(json!({"Full Name": "a", "New-Col": 3})), None);
        assert_eq!(
            r.as_map(),
            &obj(json!({"id": null, "full_name": "a", "camelcase": null, "new_col": 3}))
        );
        assert_eq!(r.get("NEW-COL"), Some(&json!(3)));
        assert_eq!(r.get("CamelCase"), Some(&Value::Null));
        assert_eq!(r.remove("Full Name"), Some(json!("a")));
        assert!(!r.contains_key("full_name"));
    }

    #[test]
    fn insert_undeclared_is_ignored_when_pruning() {
        let opts = RecordOptions {
            with_internal_columns: false,
            ..RecordOptions::default()
        };
        let h = StreamRecordHandler::new(&schema(), opts).into_shared();
        let mut r = h.record_from_data(Map::new(), None);
        assert!(!r.insert("nope", json!(1)));
        assert!(r.insert("ID", json!(5)));
        assert_eq!(r.as_map().get("Id"), Some(&json!(5)));
        assert_eq!(
            r,
            obj(json!({"id": 5, "full name": null, "camelcase": null}))
        );
    }

    #[test]
    fn schema_without_properties_keeps_everything() {
        let h = StreamRecordHandler::new(&json!({"type": "object"}), RecordOptions::default())
            .into_shared();
        let r = h.record_from_data(obj(json!({"a": 1})), None);
        assert_eq!(r.get("A"), Some(&json!(1)));
    }

    #[test]
    fn internal_columns_from_message() {
        let h = StreamRecordHandler::new(&schema(), RecordOptions::default()).into_shared();
        let msg: AirbyteRecordMessage = serde_json::from_value(json!({
            "stream": "s", "data": {"Id": 1}, "emitted_at": 1_700_000_000_000_i64
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let r = h.record_from_message(&msg);
        assert_eq!(
            r.get(AB_EXTRACTED_AT_COLUMN),
            Some(&json!("2023-11-14T22:13:20.000000+00:00"))
        );
        assert_eq!(r.get(AB_META_COLUMN), Some(&json!({})));
        assert!(
            r.get(AB_RAW_ID_COLUMN)
                .and_then(Value::as_str)
                .is_some_and(|s| s.len() == 36)
        );
        assert_eq!(r.data_without_internal_columns().len(), 3);
    }
}
