//! Reading a stream with both a partition router and a cursor, partition after partition,
//! with a [`PerPartitionCursor`] keeping the CDK's per-partition state.

use serde_json::Value;

use super::IncrementalCursor;
use super::per_partition_cursor::PerPartitionCursor;
use crate::engine_error::{EngineError, Result};
use crate::http::HttpClient;
use crate::partition_routers::PartitionRouter;
use crate::requesters::RequestOptions;
use crate::retrievers::Retriever;
use crate::slice::Slice;

/// Reads a stream with both a partition router and a cursor: a cursor per partition, state in
/// the CDK's per-partition shape (`states`, `state`, `parent_state`, `lookback_window`,
/// `use_global_cursor`). `on_record` gets every record with its slice and returns `false` to
/// stop; `on_state` gets the states to emit (the last one is the stream's final state).
#[allow(clippy::too_many_arguments)]
pub fn read_per_partition(
    retriever: &Retriever,
    schema: &Value,
    router: &dyn PartitionRouter,
    cursor: &dyn IncrementalCursor,
    client: &HttpClient,
    state: Option<&Value>,
    on_record: &mut dyn FnMut(Value, &Slice) -> Result<bool>,
    on_state: &mut dyn FnMut(Value) -> Result<()>,
) -> Result<()> {
    let use_global = router.is_grouping() || cursor.global_substream_cursor();
    let mut tracker = PerPartitionCursor::new(cursor, use_global, state)?;
    let mut stopped = false;
    let mut failure: Option<EngineError> = None;
    let routed = router.for_each_partition(client, state, &mut |partition| {
        // The router's parent state right after it made this partition.
        let parent_state = router.parent_state();
        let Some((key, windows)) = tracker.open_partition(&partition, parent_state)? else {
            return Ok(true);
        };
        // What the router adds is computed from the partition alone, what the cursor adds
        // from the window alone; the cursor's options win (`PerPartitionRequestOptionsProvider`).
        let partition_only = Slice {
            partition: partition.partition.clone(),
            ..Slice::default()
        };
        let partition_options = router.request_options(&partition_only)?;
        for window in windows {
            let slice = Slice {
                partition: partition.partition.clone(),
                cursor_slice: window.clone(),
                extra_fields: partition.extra_fields.clone(),
            };
            let mut options = partition_options.clone();
            overlay(&mut options, tracker.run(&key).request_options(&window)?);
            let slicer_options = |_: &Slice| Ok(options.clone());
            let read = retriever.read_slice(
                client,
                &slice,
                schema,
                &slicer_options,
                None,
                &mut |record| {
                    if !tracker.observe(&key, &window, &record)? {
                        return Ok(true);
                    }
                    let go_on = on_record(record, &slice)?;
                    stopped = !go_on;
                    Ok(go_on)
                },
            );
            match read {
                Err(EngineError::Output(e)) => return Err(EngineError::Output(e)),
                // A failed partition fails the stream and stays open (its state does not
                // move); the other partitions are still read, as in the CDK's concurrent reader.
                Err(e) => {
                    failure.get_or_insert(e);
                    return Ok(true);
                }
                Ok(()) => {}
            }
            if stopped {
                return Ok(false);
            }
            if let Some(state) = tracker.close_window(&key, &window)? {
                on_state(state)?;
            }
        }
        Ok(true)
    });
    if let Err(e) = routed {
        if let EngineError::Output(e) = e {
            return Err(EngineError::Output(e));
        }
        failure.get_or_insert(e);
    }
    if let Some(e) = failure {
        // `ensure_at_least_one_state_emitted` with partitions still open: the state as it is.
        on_state(tracker.state())?;
        return Err(e);
    }
    if stopped {
        return Ok(());
    }
    on_state(tracker.finish(router.parent_state()))
}

/// The options of `over` replacing those of `base` key by key (Python's `dict | dict`).
pub(super) fn overlay(base: &mut RequestOptions, over: RequestOptions) {
    base.params.extend(over.params);
    base.headers.extend(over.headers);
    base.body_data.extend(over.body_data);
    base.body_json.extend(over.body_json);
    if over.body_text.is_some() {
        base.body_text = over.body_text;
    }
}
