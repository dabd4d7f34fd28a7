//! The CDK's `ConcurrentPerPartitionCursor`: a stream with both a partition router and an
//! incremental cursor runs one cursor per partition, and keeps its state in the per-partition
//! shape:
//!
//! ```json
//! {"use_global_cursor": false,
//!  "states": [{"partition": {"id": 1, "parent_slice": {}}, "cursor": {"updated_at": "..."}}],
//!  "state": {"updated_at": "..."}, "lookback_window": 1, "parent_state": {"parent": {...}}}
//! ```
//!
//! `state` is the global cursor (the latest cursor value of the whole read); a partition
//! without a state of its own starts from it, moved back by `lookback_window` (the seconds the
//! previous read took). Past 10,000 partitions (or with `global_substream_cursor`, or a
//! `GroupingPartitionRouter`) only the global cursor is kept (`use_global_cursor`).
//! `parent_state` is the partition router's parent states, for parents read with
//! `incremental_dependency`.
//!
//! The read is sequential, so a partition's windows are all closed before the next partition
//! is made; the CDK's bookkeeping for partitions still open is kept where it changes results
//! (a partition without any window never closes, so it is never read twice and holds back the
//! parent state).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::{CursorRun, IncrementalCursor};
use crate::engine_error::Result;
use crate::slice::Slice;

/// Partitions kept before the oldest are dropped (`DEFAULT_MAX_PARTITIONS_NUMBER`).
const MAX_PARTITIONS: usize = 25_000;
/// Partitions past which only the global cursor is kept (`SWITCH_TO_GLOBAL_LIMIT`).
const SWITCH_TO_GLOBAL_LIMIT: usize = 10_000;
/// Seconds between two intermediate state messages (`_throttle_state_message`).
const STATE_THROTTLE: Duration = Duration::from_secs(600);

/// A partition's identity (`PerPartitionKeySerializer`): its JSON with sorted keys.
/// A partition just opened: its key and its cursor windows.
pub(super) type OpenedPartition = (String, Vec<Map<String, Value>>);

fn partition_key(partition: &Map<String, Value>) -> String {
    sorted(&Value::Object(partition.clone())).to_string()
}

/// `value` with every mapping's keys sorted (what `json.loads(json.dumps(v, sort_keys=True))`
/// gives back).
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Python's `a < b` for cursor values (strings compare as text, numbers as numbers; anything
/// else is not ordered).
fn py_less(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) => a < b,
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a < b,
            _ => false,
        },
        _ => false,
    }
}

/// One partition's cursor.
#[derive(Debug)]
struct Entry {
    partition: Map<String, Value>,
    run: Box<dyn CursorRun>,
}

/// The per-partition state of one read.
#[derive(Debug)]
pub(super) struct PerPartitionCursor<'a> {
    cursor: &'a dyn IncrementalCursor,
    /// The partition cursors in the order they were made (incoming states first).
    entries: BTreeMap<u64, Entry>,
    /// Each partition key's place in `entries`.
    order: HashMap<String, u64>,
    next_order: u64,
    /// Partitions made and not yet closed, with their generation number.
    open: HashMap<String, u64>,
    open_sequences: BTreeSet<u64>,
    generated: u64,
    /// Windows of each open partition not closed yet.
    windows_left: HashMap<String, usize>,
    /// The parent state of each partition whose parent state differed from the previous one,
    /// by generation number (`_partition_parent_state_map`).
    parent_states: BTreeMap<u64, Option<Value>>,
    number_of_partitions: usize,
    use_global_cursor: bool,
    /// The global cursor partitions without state start from (`_global_cursor`).
    global_cursor: Option<Map<String, Value>>,
    /// The global cursor of this read so far (`_new_global_cursor`).
    new_global_cursor: Option<Map<String, Value>>,
    lookback_window: u64,
    parent_state: Option<Value>,
    synced_some_data: bool,
    /// Partitions that saw a record with a cursor value (the global cursor follows them in
    /// global mode).
    partitions_with_data: std::collections::HashSet<String>,
    started: Instant,
    last_emission: Option<Instant>,
}

impl<'a> PerPartitionCursor<'a> {
    /// The cursor of a read from `state` (`_set_initial_state`).
    pub(super) fn new(
        cursor: &'a dyn IncrementalCursor,
        use_global_cursor: bool,
        state: Option<&Value>,
    ) -> Result<Self> {
        let mut out = Self {
            cursor,
            entries: BTreeMap::new(),
            order: HashMap::new(),
            next_order: 0,
            open: HashMap::new(),
            open_sequences: BTreeSet::new(),
            generated: 0,
            windows_left: HashMap::new(),
            parent_states: BTreeMap::new(),
            number_of_partitions: 0,
            use_global_cursor,
            global_cursor: None,
            new_global_cursor: None,
            lookback_window: 0,
            parent_state: None,
            synced_some_data: false,
            partitions_with_data: Default::default(),
            started: Instant::now(),
            last_emission: None,
        };
        let Some(state) = state.and_then(Value::as_object).filter(|s| !s.is_empty()) else {
            return Ok(out);
        };
        if !state.contains_key("states") && !state.contains_key("state") {
            // A global state in the cursor's own shape, for every partition.
            out.set_global_state(state);
        } else {
            out.use_global_cursor = state
                .get("use_global_cursor")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            out.lookback_window = state
                .get("lookback_window")
                .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64)))
                .unwrap_or(0);
            for item in state
                .get("states")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(partition) = item.get("partition").and_then(Value::as_object) else {
                    continue;
                };
                out.number_of_partitions += 1;
                let run = cursor.start(item.get("cursor"))?;
                out.insert(partition.clone(), run);
            }
            if let Some(Value::Object(global)) = state.get("state") {
                out.set_global_state(global);
            }
        }
        if let Some(parent) = state
            .get("parent_state")
            .filter(|p| crate::paginators::truthy(p))
        {
            out.parent_state = Some(parent.clone());
        }
        Ok(out)
    }

    fn set_global_state(&mut self, state: &Map<String, Value>) {
        let field = self.cursor.cursor_field();
        if let Some(value) = state.get(field) {
            let mut global = Map::new();
            global.insert(field.to_string(), value.clone());
            self.global_cursor = Some(global.clone());
            self.new_global_cursor = Some(global);
        }
    }

    fn insert(&mut self, partition: Map<String, Value>, run: Box<dyn CursorRun>) {
        let key = partition_key(&partition);
        let place = self.next_order;
        self.next_order += 1;
        if let Some(old) = self.order.insert(key, place) {
            self.entries.remove(&old);
        }
        self.entries.insert(place, Entry { partition, run });
    }

    pub(super) fn run(&mut self, key: &str) -> &mut Box<dyn CursorRun> {
        let place = self.order[key];
        &mut self
            .entries
            .get_mut(&place)
            .expect("every ordered key has an entry")
            .run
    }

    /// A new cursor from the global cursor (less the lookback window when there is one).
    fn start_from_global(&self) -> Result<Box<dyn CursorRun>> {
        match &self.global_cursor {
            Some(global) if !global.is_empty() => {
                let state = Value::Object(global.clone());
                self.cursor
                    .start_with_runtime_lookback(Some(&state), self.lookback_window)
            }
            _ => self.cursor.start(None),
        }
    }

    /// Makes the windows of a new partition (`_generate_slices_from_partition`); `None` for a
    /// partition still open (a duplicate, skipped).
    pub(super) fn open_partition(
        &mut self,
        partition: &Slice,
        parent_state: Option<Value>,
    ) -> Result<Option<OpenedPartition>> {
        self.ensure_partition_limit();
        let key = partition_key(&partition.partition);
        if !self.order.contains_key(&key) {
            let run = self.start_from_global()?;
            self.number_of_partitions += 1;
            self.insert(partition.partition.clone(), run);
        }
        if self.open.contains_key(&key) {
            tracing::warn!("Partition duplication detected");
            return Ok(None);
        }
        let sequence = self.generated;
        self.generated += 1;
        self.open.insert(key.clone(), sequence);
        self.open_sequences.insert(sequence);
        let last = self.parent_states.values().next_back();
        if last.is_none() || last != Some(&parent_state) {
            self.parent_states.insert(sequence, parent_state);
        }
        let windows = self.run(&key).windows()?;
        // A partition without windows stays open (the CDK never closes it).
        self.windows_left.insert(key.clone(), windows.len());
        Ok(Some((key, windows)))
    }

    /// `_ensure_partition_limit`: the switch to the global cursor, and dropping the oldest
    /// partitions (closed ones first) past the maximum.
    fn ensure_partition_limit(&mut self) {
        if !self.use_global_cursor && self.number_of_partitions > SWITCH_TO_GLOBAL_LIMIT {
            tracing::info!(
                "Exceeded the 'SWITCH_TO_GLOBAL_LIMIT' of {SWITCH_TO_GLOBAL_LIMIT}. Switching to global cursor."
            );
            self.use_global_cursor = true;
        }
        while self.entries.len() > MAX_PARTITIONS - 1 {
            let closed = self
                .order
                .iter()
                .filter(|(key, _)| !self.open.contains_key(*key))
                .map(|(_, place)| *place)
                .min();
            let place = match closed.or_else(|| self.entries.keys().next().copied()) {
                Some(place) => place,
                None => break,
            };
            if let Some(entry) = self.entries.remove(&place) {
                self.order.remove(&partition_key(&entry.partition));
            }
        }
    }

    /// Sees a record of `window` of partition `key`; `false` when it must not be emitted.
    pub(super) fn observe(
        &mut self,
        key: &str,
        window: &Map<String, Value>,
        record: &Value,
    ) -> Result<bool> {
        if !self.run(key).observe(window, record)? {
            return Ok(false);
        }
        let field = self.cursor.cursor_field();
        if record.get(field).is_some_and(|v| !v.is_null()) {
            self.synced_some_data = true;
            self.partitions_with_data.insert(key.to_string());
        }
        Ok(true)
    }

    /// A window of partition `key` is read (`close_partition`); the state to emit then, if
    /// any (the first time, then at most every ten minutes).
    pub(super) fn close_window(
        &mut self,
        key: &str,
        window: &Map<String, Value>,
    ) -> Result<Option<Value>> {
        self.run(key).close_window(window)?;
        let left = self.windows_left.get_mut(key).map(|n| {
            *n = n.saturating_sub(1);
            *n
        });
        if left == Some(0) {
            let field = self.cursor.cursor_field().to_string();
            // Only the cursor's own value moves the global cursor: in global mode through
            // the records (which the partition's state follows), else at the partition's end.
            let moves_global = !self.use_global_cursor || self.partitions_with_data.contains(key);
            let value = self.run(key).state().get(&field).cloned();
            if let (true, Some(value)) = (moves_global, value) {
                self.update_global_cursor(&field, value);
            }
            self.windows_left.remove(key);
            if let Some(sequence) = self.open.remove(key) {
                self.open_sequences.remove(&sequence);
            }
        }
        self.check_and_update_parent_state();
        let now = Instant::now();
        if self
            .last_emission
            .is_some_and(|last| now.duration_since(last) <= STATE_THROTTLE)
        {
            return Ok(None);
        }
        self.last_emission = Some(now);
        if self.use_global_cursor
            && !self
                .parent_state
                .as_ref()
                .is_some_and(crate::paginators::truthy)
        {
            return Ok(None);
        }
        Ok(Some(self.state()))
    }

    fn update_global_cursor(&mut self, field: &str, value: Value) {
        let replace = match self.new_global_cursor.as_ref().and_then(|g| g.get(field)) {
            None => true,
            Some(current) => py_less(current, &value),
        };
        if replace {
            let mut global = Map::new();
            global.insert(field.to_string(), value);
            self.new_global_cursor = Some(global);
        }
    }

    /// The parent state of the latest partition made before every partition still open.
    fn check_and_update_parent_state(&mut self) {
        let first_open = self.open_sequences.iter().next().copied();
        let mut last_closed = None;
        while let Some((&sequence, _)) = self.parent_states.iter().next() {
            if first_open.is_some_and(|open| open <= sequence) {
                break;
            }
            last_closed = self.parent_states.remove(&sequence);
        }
        // `None` is the router's own "no parent state" (the CDK keeps the previous one).
        if let Some(Some(state)) = last_closed {
            self.parent_state = Some(state);
        }
    }

    /// The read is complete (`ensure_at_least_one_state_emitted`): the final state.
    pub(super) fn finish(&mut self, router_parent_state: Option<Value>) -> Value {
        if self.synced_some_data {
            self.global_cursor = self.new_global_cursor.clone();
            self.lookback_window = self.started.elapsed().as_nanos().div_ceil(1_000_000_000) as u64;
        }
        self.parent_state = router_parent_state;
        self.state()
    }

    /// The state in the CDK's per-partition shape.
    pub(super) fn state(&self) -> Value {
        let mut state = Map::new();
        state.insert(
            "use_global_cursor".into(),
            Value::Bool(self.use_global_cursor),
        );
        if !self.use_global_cursor {
            let states: Vec<Value> = self
                .entries
                .values()
                .filter_map(|entry| {
                    let cursor = entry.run.state();
                    crate::paginators::truthy(&cursor).then(|| {
                        let mut item = Map::new();
                        item.insert(
                            "partition".into(),
                            sorted(&Value::Object(entry.partition.clone())),
                        );
                        item.insert("cursor".into(), cursor);
                        Value::Object(item)
                    })
                })
                .collect();
            state.insert("states".into(), Value::Array(states));
        }
        if let Some(global) = self.global_cursor.as_ref().filter(|g| !g.is_empty()) {
            state.insert("state".into(), Value::Object(global.clone()));
        }
        state.insert("lookback_window".into(), Value::from(self.lookback_window));
        if let Some(parent) = &self.parent_state {
            state.insert("parent_state".into(), parent.clone());
        }
        Value::Object(state)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::incremental::per_partition_read::overlay;
    use crate::partition_routers::PartitionRouter;
    use crate::partition_routers::test_support::FixedRouter;
    use crate::requesters::RequestOptions;

    /// A cursor of two fixed windows whose state is the greatest `updated` seen (or the
    /// incoming one, or `"0"`); `start_with_runtime_lookback` notes the lookback it got.
    #[derive(Debug, Default)]
    struct TestCursor {
        global: bool,
        lookbacks: Mutex<Vec<u64>>,
    }

    #[derive(Debug)]
    struct TestRun {
        value: String,
        seen: Option<String>,
    }

    impl IncrementalCursor for TestCursor {
        fn cursor_field(&self) -> &str {
            "updated"
        }
        fn start(&self, state: Option<&Value>) -> Result<Box<dyn CursorRun>> {
            let value = state
                .and_then(|s| s.get("updated"))
                .and_then(Value::as_str)
                .unwrap_or("0")
                .to_string();
            Ok(Box::new(TestRun { value, seen: None }))
        }
        fn start_with_runtime_lookback(
            &self,
            state: Option<&Value>,
            lookback: u64,
        ) -> Result<Box<dyn CursorRun>> {
            self.lookbacks.lock().expect("lock").push(lookback);
            self.start(state)
        }
        fn global_substream_cursor(&self) -> bool {
            self.global
        }
    }

    impl CursorRun for TestRun {
        fn windows(&mut self) -> Result<Vec<Map<String, Value>>> {
            let w = |s: &str, e: &str| {
                json!({"start": s, "end": e})
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            };
            Ok(vec![w(&self.value, "5"), w("5", "9")])
        }
        fn request_options(&self, window: &Map<String, Value>) -> Result<RequestOptions> {
            let mut options = RequestOptions::default();
            options
                .params
                .insert("since".into(), window["start"].clone());
            options.params.insert("id".into(), json!("from-cursor"));
            Ok(options)
        }
        fn observe(&mut self, _window: &Map<String, Value>, record: &Value) -> Result<bool> {
            let Some(v) = record.get("updated").and_then(Value::as_str) else {
                return Ok(true);
            };
            if v < self.value.as_str() {
                return Ok(false);
            }
            if self.seen.as_deref().is_none_or(|s| s < v) {
                self.seen = Some(v.to_string());
            }
            Ok(true)
        }
        fn close_window(&mut self, _window: &Map<String, Value>) -> Result<()> {
            if let Some(seen) = self.seen.take()
                && seen > self.value
            {
                self.value = seen;
            }
            Ok(())
        }
        fn state(&self) -> Value {
            json!({"updated": self.value})
        }
    }

    fn partition(id: i64) -> Slice {
        Slice {
            partition: json!({"id": id, "parent_slice": {}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            ..Slice::default()
        }
    }

    /// Runs the tracker as `read_per_partition` does, with the records of each partition id.
    fn run(
        cursor: &TestCursor,
        use_global: bool,
        state: Option<Value>,
        partitions: &[(i64, Vec<Value>)],
        parent_state: Option<Value>,
    ) -> Value {
        let mut tracker =
            PerPartitionCursor::new(cursor, use_global, state.as_ref()).expect("tracker");
        for (id, records) in partitions {
            let Some((key, windows)) = tracker
                .open_partition(&partition(*id), parent_state.clone())
                .expect("open")
            else {
                continue;
            };
            for (i, window) in windows.iter().enumerate() {
                if i == 0 {
                    for r in records {
                        tracker.observe(&key, window, r).expect("observe");
                    }
                }
                tracker.close_window(&key, window).expect("close");
            }
        }
        tracker.finish(parent_state)
    }

    #[test]
    fn first_read_keeps_a_state_per_partition_and_the_global_latest() {
        let cursor = TestCursor::default();
        let state = run(
            &cursor,
            false,
            None,
            &[
                (1, vec![json!({"updated": "3"})]),
                (2, vec![json!({"updated": "4"}), json!({"x": 1})]),
            ],
            Some(json!({})),
        );
        assert_eq!(state["use_global_cursor"], json!(false));
        assert_eq!(
            state["states"],
            json!([
                {"partition": {"id": 1, "parent_slice": {}}, "cursor": {"updated": "3"}},
                {"partition": {"id": 2, "parent_slice": {}}, "cursor": {"updated": "4"}},
            ])
        );
        assert_eq!(state["state"], json!({"updated": "4"}));
        assert_eq!(state["parent_state"], json!({}));
        assert!(state["lookback_window"].as_u64().is_some_and(|n| n <= 1));
        assert!(cursor.lookbacks.lock().expect("lock").is_empty());
    }

    #[test]
    fn incoming_state_seeds_known_partitions_and_new_ones_start_from_global() {
        let cursor = TestCursor::default();
        let incoming = json!({
            "use_global_cursor": false,
            "states": [{"partition": {"parent_slice": {}, "id": 1}, "cursor": {"updated": "6"}},
                       {"partition": {"id": 9, "parent_slice": {}}, "cursor": {"updated": "2"}}],
            "state": {"updated": "6"},
            "lookback_window": 4,
            "parent_state": {"p": {"u": 1}}
        });
        let state = run(
            &cursor,
            false,
            Some(incoming),
            &[(1, vec![]), (3, vec![])],
            None,
        );
        // Partition 3 is new: it started from the global cursor, 4 seconds back.
        assert_eq!(*cursor.lookbacks.lock().expect("lock"), vec![4]);
        assert_eq!(
            state["states"],
            json!([
                {"partition": {"id": 1, "parent_slice": {}}, "cursor": {"updated": "6"}},
                {"partition": {"id": 9, "parent_slice": {}}, "cursor": {"updated": "2"}},
                {"partition": {"id": 3, "parent_slice": {}}, "cursor": {"updated": "6"}},
            ])
        );
        // No record: the global cursor and the lookback window stay; a router without parents
        // drops the parent state.
        assert_eq!(state["state"], json!({"updated": "6"}));
        assert_eq!(state["lookback_window"], json!(4));
        assert!(state.get("parent_state").is_none());
    }

    #[test]
    fn a_legacy_global_state_applies_to_every_partition() {
        let cursor = TestCursor::default();
        let state = run(
            &cursor,
            false,
            Some(json!({"updated": "7"})),
            &[(1, vec![json!({"updated": "8"})])],
            None,
        );
        assert_eq!(*cursor.lookbacks.lock().expect("lock"), vec![0]);
        assert_eq!(
            state["states"],
            json!([{"partition": {"id": 1, "parent_slice": {}}, "cursor": {"updated": "8"}}])
        );
        assert_eq!(state["state"], json!({"updated": "8"}));
    }

    #[test]
    fn global_mode_keeps_only_the_global_cursor() {
        let cursor = TestCursor {
            global: true,
            ..TestCursor::default()
        };
        let state = run(
            &cursor,
            true,
            None,
            &[(1, vec![json!({"updated": "3"})]), (2, vec![])],
            Some(json!({"parent": {"u": 2}})),
        );
        assert_eq!(state["use_global_cursor"], json!(true));
        assert!(state.get("states").is_none());
        assert_eq!(state["state"], json!({"updated": "3"}));
        assert_eq!(state["parent_state"], json!({"parent": {"u": 2}}));
    }

    #[test]
    fn records_before_the_partition_state_are_dropped_and_duplicates_reread_once_closed() {
        let cursor = TestCursor::default();
        let mut tracker = PerPartitionCursor::new(&cursor, false, None).expect("tracker");
        let (key, windows) = tracker
            .open_partition(&partition(1), None)
            .expect("open")
            .expect("new");
        assert!(
            tracker
                .observe(&key, &windows[0], &json!({"updated": "4"}))
                .expect("observe")
        );
        // The first closed window emits an intermediate state.
        assert!(
            tracker
                .close_window(&key, &windows[0])
                .expect("close")
                .is_some()
        );
        assert!(
            tracker
                .close_window(&key, &windows[1])
                .expect("close")
                .is_none()
        );
        // The same partition again, now closed: read again, from its own state.
        let (key, windows) = tracker
            .open_partition(&partition(1), None)
            .expect("open")
            .expect("again");
        assert_eq!(windows[0]["start"], json!("4"));
        assert!(
            !tracker
                .observe(&key, &windows[0], &json!({"updated": "1"}))
                .expect("observe")
        );
    }

    #[test]
    fn cursor_options_win_over_the_router_ones() {
        let router = FixedRouter::new(vec![json!({"id": 1})]);
        let mut options = router.request_options(&partition(1)).expect("options");
        let cursor = TestCursor::default();
        let mut run = cursor.start(None).expect("run");
        let window = run.windows().expect("windows").remove(0);
        overlay(&mut options, run.request_options(&window).expect("options"));
        assert_eq!(options.params.get("id"), Some(&json!("from-cursor")));
        assert_eq!(options.params.get("since"), Some(&json!("0")));
    }

    #[test]
    fn partition_keys_ignore_key_order() {
        let a = json!({"b": 1, "a": {"y": 1, "x": 2}});
        let b = json!({"a": {"x": 2, "y": 1}, "b": 1});
        assert_eq!(
            partition_key(a.as_object().expect("object")),
            partition_key(b.as_object().expect("object"))
        );
        assert_eq!(
            partition_key(a.as_object().expect("object")),
            r#"{"a":{"x":2,"y":1},"b":1}"#
        );
    }
}
