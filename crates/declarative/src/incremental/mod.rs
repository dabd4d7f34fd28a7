//! Incremental sync: `DatetimeBasedCursor` (windows of time, state in the CDK's shape) and
//! `IncrementingCountCursor` (an integer cursor).
//!
//! A cursor component is immutable; each read starts a [`CursorRun`] from the stream's state,
//! which yields the windows to read, sees every record, and gives the state to emit.

use serde_json::{Map, Value};

use crate::engine_error::Result;
use crate::factory::Node;
use crate::requesters::RequestOptions;

pub mod datetime_based_cursor;
pub mod datetime_parser;
pub mod incrementing_count_cursor;
pub mod min_max_datetime;
mod per_partition_cursor;
mod per_partition_read;

pub use per_partition_read::read_per_partition;

/// An incremental cursor component.
pub trait IncrementalCursor: Send + Sync + std::fmt::Debug {
    /// The record field the cursor follows (`updated_at`).
    fn cursor_field(&self) -> &str;
    /// Starts a read from the stream's state (`None`: no state).
    fn start(&self, state: Option<&Value>) -> Result<Box<dyn CursorRun>>;
    /// Starts a read from `state` with its cursor value first moved back by `lookback_seconds`
    /// (the CDK's `runtime_lookback_window`: a partition without a state of its own starts from
    /// the global cursor less the seconds the previous read took; 0 moves nothing). The
    /// default ignores the lookback.
    fn start_with_runtime_lookback(
        &self,
        state: Option<&Value>,
        lookback_seconds: u64,
    ) -> Result<Box<dyn CursorRun>> {
        let _ = lookback_seconds;
        self.start(state)
    }
    /// `global_substream_cursor`: with a partition router, keep only the global cursor.
    fn global_substream_cursor(&self) -> bool {
        false
    }
}

/// One read of an incremental cursor.
pub trait CursorRun: Send + std::fmt::Debug {
    /// The cursor windows to read, in order (`{"start_time": ..., "end_time": ...}`).
    fn windows(&mut self) -> Result<Vec<Map<String, Value>>>;
    /// What a window adds to its requests (`start_time_option`, `end_time_option`).
    fn request_options(&self, window: &Map<String, Value>) -> Result<RequestOptions>;
    /// Sees a record read in `window`; `false` when the record must not be emitted (outside
    /// the window the CDK filters on).
    fn observe(&mut self, window: &Map<String, Value>, record: &Value) -> Result<bool>;
    /// The window is read completely.
    fn close_window(&mut self, window: &Map<String, Value>) -> Result<()>;
    /// The state to emit now.
    fn state(&self) -> Value;
    /// Whether pagination must stop after a page whose last record (as the paginator sees
    /// it) is `last_record`: a data feed (`is_data_feed`) stops at the first page that reaches
    /// records older than the state (the CDK's `StopConditionPaginationStrategyDecorator`).
    fn stops_pagination(&self, _last_record: &Value) -> bool {
        false
    }
}

/// The cursor of a stream's `incremental_sync` node.
pub fn from_node(node: Node<'_>) -> Result<Box<dyn IncrementalCursor>> {
    match node.type_name() {
        "DatetimeBasedCursor" => datetime_based_cursor::from_node(node),
        "IncrementingCountCursor" => Ok(Box::new(
            incrementing_count_cursor::IncrementingCountCursor::from_node(node)?,
        )),
        _ => Err(node.unsupported()),
    }
}
