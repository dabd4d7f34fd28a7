//! `DeclarativeStream`: a stream's retriever, cursor and partition router, read slice by
//! slice with its state.

use serde_json::{Map, Value, json};

use crate::engine_error::{EngineError, Result};
use crate::factory::Node;
use crate::http::HttpClient;
use crate::incremental::{self, IncrementalCursor};
use crate::partition_routers::{self, PartitionRouter};
use crate::requesters::RequestOptions;
use crate::retrievers::Retriever;
use crate::schema;
use crate::slice::Slice;

/// The state a stream without a cursor emits once read (the CDK's `FinalStateCursor`).
pub fn no_cursor_state() -> Value {
    json!({"__ab_no_cursor_state_message": true})
}

/// A stream of the manifest.
#[derive(Debug)]
pub struct DeclarativeStream {
    /// Its name.
    pub name: String,
    /// Its primary key, as a list of field paths.
    pub primary_key: Vec<Vec<String>>,
    /// Its JSON schema.
    pub schema: Value,
    retriever: Retriever,
    cursor: Option<Box<dyn IncrementalCursor>>,
    router: Option<Box<dyn PartitionRouter>>,
    /// Partitions read at the same time (the manifest's `concurrency_level`).
    workers: usize,
    /// A `StateDelegatingStream`'s `incremental_stream`, read instead of this one (its
    /// `full_refresh_stream`) when the read has a state.
    incremental_delegate: Option<Box<DeclarativeStream>>,
}

/// Partitions read at once without a `concurrency_level` (the CDK's lowest safe level).
pub const DEFAULT_WORKERS: usize = 2;

/// What a partition reader sends the thread that emits records.
enum Delivery {
    Record(Value, std::sync::Arc<Slice>),
    Failed(EngineError),
}

impl DeclarativeStream {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        match node.type_name() {
            "DeclarativeStream" => {}
            "StateDelegatingStream" => return Self::state_delegating(node),
            _ => return Err(node.unsupported()),
        }
        let name = node
            .opt_str("name")?
            .or_else(|| {
                node.parameters()
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let primary_key = primary_key_of(node.get("primary_key"));
        let schema = schema::load_stream_schema(node, &name)?;
        let retriever_path = node.child_path("retriever");
        let retriever_node = node
            .child("retriever", &retriever_path)?
            .ok_or_else(|| node.error("retriever", "DeclarativeStream requires a retriever"))?;
        let retriever = Retriever::from_node(retriever_node, node, &name)?;
        let cursor_path = node.child_path("incremental_sync");
        let cursor = match node.child("incremental_sync", &cursor_path)? {
            Some(c) => Some(incremental::from_node(c)?),
            None => None,
        };
        let router_path = retriever_path.key("partition_router");
        let has_router = match retriever_node.get("partition_router") {
            None => false,
            Some(Value::Array(items)) => !items.is_empty(),
            Some(_) => true,
        };
        if has_router
            && node
                .get("incremental_sync")
                .and_then(|c| c.get("type"))
                .and_then(Value::as_str)
                == Some("IncrementingCountCursor")
        {
            return Err(
                incremental::incrementing_count_cursor::with_partition_router_error(
                    &cursor_path,
                    &name,
                ),
            );
        }
        let router = match retriever_node.get("partition_router") {
            None => None,
            Some(Value::Array(items)) if items.is_empty() => None,
            Some(value) => Some(partition_routers::from_value(
                retriever_node,
                value,
                &router_path,
            )?),
        };
        Ok(Self {
            name,
            primary_key,
            schema,
            retriever,
            cursor,
            router,
            workers: DEFAULT_WORKERS,
            incremental_delegate: None,
        })
    }

    /// A `StateDelegatingStream`: its `full_refresh_stream`, which hands reads that have a
    /// state to its `incremental_stream` (as the CDK's factory picks one by the stream's
    /// state; a parent stream by the state its child gives it).
    fn state_delegating(node: Node<'_>) -> Result<Self> {
        if node.get("api_retention_period").is_some() {
            return Err(EngineError::UnsupportedComponent {
                at: node.child_path("api_retention_period"),
                type_name: "StateDelegatingStream with api_retention_period".into(),
            });
        }
        let build = |key: &str| -> Result<Self> {
            let path = node.child_path(key);
            let child = node.child(key, &path)?.ok_or_else(|| {
                node.error(key, format!("StateDelegatingStream requires `{key}`"))
            })?;
            Self::from_node(child)
        };
        let mut full = build("full_refresh_stream")?;
        let incremental = build("incremental_stream")?;
        let name = node
            .opt_str("name")?
            .or_else(|| {
                node.parameters()
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default();
        if full.name != name || incremental.name != name {
            return Err(EngineError::manifest(
                node.path,
                format!(
                    "state_delegating_stream, full_refresh_stream name and incremental_stream must have equal names. Instead has {name}, {} and {}.",
                    full.name, incremental.name
                ),
            ));
        }
        full.incremental_delegate = Some(Box::new(incremental));
        Ok(full)
    }

    /// Reads up to `workers` partitions at the same time.
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self.incremental_delegate = self
            .incremental_delegate
            .map(|d| Box::new(d.with_workers(workers)));
        self
    }

    /// Whether the stream supports incremental reads.
    pub fn is_incremental(&self) -> bool {
        self.cursor.is_some()
    }

    /// The stream's entry in the catalog `discover` prints.
    pub fn catalog_entry(&self) -> Value {
        let mut stream = Map::new();
        stream.insert("name".into(), Value::String(self.name.clone()));
        stream.insert("json_schema".into(), self.schema.clone());
        let modes: Vec<&str> = if self.is_incremental() {
            vec!["full_refresh", "incremental"]
        } else {
            vec!["full_refresh"]
        };
        stream.insert("supported_sync_modes".into(), json!(modes));
        if let Some(cursor) = &self.cursor {
            stream.insert("source_defined_cursor".into(), Value::Bool(true));
            stream.insert(
                "default_cursor_field".into(),
                json!([cursor.cursor_field()]),
            );
        }
        if !self.primary_key.is_empty() {
            stream.insert("source_defined_primary_key".into(), json!(self.primary_key));
        }
        stream.insert("is_resumable".into(), Value::Bool(self.is_incremental()));
        stream.insert("is_file_based".into(), Value::Bool(false));
        Value::Object(stream)
    }

    /// Reads the stream: every record to `on_record` (which returns `false` to stop), every
    /// state to `on_state`. `state` is the stream's incoming state. When the read fails, the
    /// state reached so far is still emitted before the error is returned, as the CDK's
    /// `ensure_at_least_one_state_emitted` does.
    pub fn read(
        &self,
        client: &HttpClient,
        state: Option<&Value>,
        on_record: &mut dyn FnMut(Value) -> Result<bool>,
        on_state: &mut dyn FnMut(Value) -> Result<()>,
    ) -> Result<()> {
        self.read_sliced(client, state, &mut |record, _| on_record(record), on_state)
    }

    /// [`DeclarativeStream::read`], with the slice each record was read in (a substream's
    /// partitions carry their parent's slice).
    pub fn read_sliced(
        &self,
        client: &HttpClient,
        state: Option<&Value>,
        on_record: &mut dyn FnMut(Value, &Slice) -> Result<bool>,
        on_state: &mut dyn FnMut(Value) -> Result<()>,
    ) -> Result<()> {
        if let Some(incremental) = &self.incremental_delegate
            && state.is_some_and(crate::truthiness::truthy)
        {
            return incremental.read_sliced(client, state, on_record, on_state);
        }
        let no_options = |_: &Slice| Ok(RequestOptions::default());
        match (&self.router, &self.cursor) {
            (None, None) => {
                let slice = Slice::default();
                let result = self.retriever.read_slice(
                    client,
                    &slice,
                    &self.schema,
                    &no_options,
                    None,
                    &mut |r| on_record(r, &slice),
                );
                on_state(no_cursor_state())?;
                result
            }
            (Some(router), None) if self.workers > 1 => {
                let result =
                    self.read_partitions_concurrently(client, state, router.as_ref(), on_record);
                match result {
                    Ok(true) => Ok(()),
                    Ok(false) => on_state(no_cursor_state()),
                    Err(e) => {
                        on_state(no_cursor_state())?;
                        Err(e)
                    }
                }
            }
            (Some(router), None) => {
                let options = |s: &Slice| router.request_options(s);
                let mut stopped = false;
                let mut failure = None;
                let result = router.for_each_partition(client, state, &mut |slice| {
                    let mut keep_going = true;
                    let read = self.retriever.read_slice(
                        client,
                        &slice,
                        &self.schema,
                        &options,
                        None,
                        &mut |r| {
                            keep_going = on_record(r, &slice)?;
                            Ok(keep_going)
                        },
                    );
                    match read {
                        // The output is gone: nothing more can be delivered.
                        Err(EngineError::Output(e)) => return Err(EngineError::Output(e)),
                        // A failed partition fails the stream; the others are still read.
                        Err(e) => {
                            failure.get_or_insert(e);
                        }
                        Ok(()) => {}
                    }
                    stopped = !keep_going;
                    Ok(keep_going)
                });
                let result = match (result, failure) {
                    (Err(e), _) | (Ok(()), Some(e)) => Err(e),
                    (Ok(()), None) => Ok(()),
                };
                if stopped && result.is_ok() {
                    return Ok(());
                }
                on_state(no_cursor_state())?;
                result
            }
            (None, Some(cursor)) => {
                let run = std::cell::RefCell::new(cursor.start(state)?);
                let result = self.read_windows(client, &run, on_record, on_state);
                match result {
                    Ok(true) => Ok(()),
                    Ok(false) => on_state(run.borrow().state()),
                    Err(e) => {
                        on_state(run.borrow().state())?;
                        Err(e)
                    }
                }
            }
            (Some(router), Some(cursor)) => incremental::read_per_partition(
                &self.retriever,
                &self.schema,
                router.as_ref(),
                cursor.as_ref(),
                client,
                state,
                on_record,
                on_state,
            ),
        }
    }

    /// Reads a router's partitions `workers` at a time (as the CDK's thread pool does): the
    /// router (and its parent streams) runs on one thread, each reader on its own, and records
    /// reach `on_record` on the calling thread in the order they arrive. `Ok(true)` when
    /// `on_record` asked to stop. The first error stops every thread.
    fn read_partitions_concurrently(
        &self,
        client: &HttpClient,
        state: Option<&Value>,
        router: &dyn PartitionRouter,
        on_record: &mut dyn FnMut(Value, &Slice) -> Result<bool>,
    ) -> Result<bool> {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = AtomicBool::new(false);
        let (slice_tx, slice_rx) = crossbeam_channel::bounded::<Arc<Slice>>(self.workers);
        let (out_tx, out_rx) = crossbeam_channel::bounded::<Delivery>(1024);
        std::thread::scope(|scope| {
            let producer_out = out_tx.clone();
            let stop_ref = &stop;
            scope.spawn(move || {
                let result = router.for_each_partition(client, state, &mut |slice| {
                    if stop_ref.load(Ordering::Relaxed) {
                        return Ok(false);
                    }
                    Ok(slice_tx.send(Arc::new(slice)).is_ok())
                });
                drop(slice_tx);
                if let Err(e) = result {
                    let _ = producer_out.send(Delivery::Failed(e));
                }
            });
            for _ in 0..self.workers {
                let slices = slice_rx.clone();
                let out = out_tx.clone();
                let options = |s: &Slice| router.request_options(s);
                scope.spawn(move || {
                    for slice in slices {
                        if stop_ref.load(Ordering::Relaxed) {
                            return;
                        }
                        let result = self.retriever.read_slice(
                            client,
                            &slice,
                            &self.schema,
                            &options,
                            None,
                            &mut |record| {
                                if stop_ref.load(Ordering::Relaxed) {
                                    return Ok(false);
                                }
                                Ok(out
                                    .send(Delivery::Record(record, Arc::clone(&slice)))
                                    .is_ok())
                            },
                        );
                        // A failed partition fails the stream, but the other partitions are
                        // still read, as in the CDK's concurrent reader.
                        if let Err(e) = result
                            && out.send(Delivery::Failed(e)).is_err()
                        {
                            return;
                        }
                    }
                });
            }
            drop(out_tx);
            drop(slice_rx);
            let mut failure = None;
            let mut stopped = false;
            for delivery in out_rx {
                match delivery {
                    Delivery::Record(record, slice) if !stopped => {
                        match on_record(record, &slice) {
                            Ok(true) => {}
                            Ok(false) => {
                                stopped = true;
                                stop.store(true, Ordering::Relaxed);
                            }
                            Err(e) => {
                                failure = Some(e);
                                stop.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                    Delivery::Record(..) => {}
                    Delivery::Failed(e) => {
                        failure.get_or_insert(e);
                    }
                }
            }
            match failure {
                Some(e) => Err(e),
                None => Ok(stopped),
            }
        })
    }

    /// Reads a cursor's windows in order, emitting the state after each; `Ok(true)` when
    /// `on_record` asked to stop.
    fn read_windows(
        &self,
        client: &HttpClient,
        run: &std::cell::RefCell<Box<dyn incremental::CursorRun>>,
        on_record: &mut dyn FnMut(Value, &Slice) -> Result<bool>,
        on_state: &mut dyn FnMut(Value) -> Result<()>,
    ) -> Result<bool> {
        let windows = run.borrow_mut().windows()?;
        for window in windows {
            let slice = Slice {
                cursor_slice: window.clone(),
                ..Slice::default()
            };
            let window_options = run.borrow().request_options(&window)?;
            let options = |_: &Slice| Ok(window_options.clone());
            let stop = |last: &Value| run.borrow().stops_pagination(last);
            let mut stopped = false;
            self.retriever.read_slice(
                client,
                &slice,
                &self.schema,
                &options,
                Some(&stop),
                &mut |r| {
                    if run.borrow_mut().observe(&window, &r)? {
                        let go_on = on_record(r, &slice)?;
                        stopped = !go_on;
                        return Ok(go_on);
                    }
                    Ok(true)
                },
            )?;
            if stopped {
                return Ok(true);
            }
            run.borrow_mut().close_window(&window)?;
            on_state(run.borrow().state())?;
        }
        Ok(false)
    }

    /// Checks that the stream can be read, as the CDK's `check_availability`: the first record
    /// of its first slice (none is fine); a stream without any slice cannot be checked.
    pub fn check(&self, client: &HttpClient) -> Result<()> {
        let mut partition: Option<Slice> = None;
        match &self.router {
            Some(router) => router.for_each_partition(client, None, &mut |slice| {
                partition = Some(slice);
                Ok(false)
            })?,
            None => partition = Some(Slice::default()),
        }
        let no_slices = || {
            EngineError::Input(format!(
                "Cannot attempt to connect to stream {} - no stream slices were found",
                self.name
            ))
        };
        let mut slice = partition.ok_or_else(no_slices)?;
        let mut options = match &self.router {
            Some(router) => router.request_options(&slice)?,
            None => RequestOptions::default(),
        };
        if let Some(cursor) = &self.cursor {
            let run = cursor.start(None)?;
            let mut run = run;
            let window = run.windows()?.into_iter().next().ok_or_else(no_slices)?;
            options.combine(run.request_options(&window)?)?;
            slice.cursor_slice = window;
        }
        let options = move |_: &Slice| Ok(options.clone());
        self.retriever
            .read_slice(client, &slice, &self.schema, &options, None, &mut |_| {
                Ok(false)
            })
    }

    /// An error for a stream whose read failed, with its name.
    pub fn failed(&self, error: &EngineError) -> String {
        format!("stream {}: {error}", self.name)
    }
}

/// A manifest `primary_key` (a field, a list of fields, or a list of field paths) as a list of
/// field paths.
pub fn primary_key_of(value: Option<&Value>) -> Vec<Vec<String>> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if s.is_empty() => Vec::new(),
        Some(Value::String(s)) => vec![vec![s.clone()]],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(s) => Some(vec![s.clone()]),
                Value::Array(path) => Some(
                    path.iter()
                        .filter_map(|p| p.as_str().map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .collect(),
        Some(_) => Vec::new(),
    }
}
