//! The destination's side of a write: its output read on a thread of its own, each STATE echo
//! judged (`echo.rs`) and, when it confirms, stored in the state cache as it arrives.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use abrs_caches::{Cache, DestinationStreamProgress};
use abrs_connectors::{ConnectorError, Flow, RunSummary};
use abrs_protocol::{AirbyteStateMessage, Decoded, MessageType, StateType};

use super::echo::{Echo, EchoTracker, state_key};
use crate::error::{Error, Result};

/// Where confirmed states go.
#[derive(Clone)]
pub(crate) struct StateStore {
    pub(crate) cache: Cache,
    pub(crate) destination: String,
    pub(crate) source: String,
}

/// What the two threads share.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) tracker: EchoTracker,
    pub(crate) progress: BTreeMap<String, DestinationStreamProgress>,
    pub(crate) latest: BTreeMap<String, AirbyteStateMessage>,
    pub(crate) committed: HashMap<String, u64>,
    pub(crate) committed_unattributed: u64,
    pub(crate) stats_seen: bool,
    pub(crate) confirmed_by_stream: HashMap<String, u64>,
    pub(crate) confirmed: u64,
    pub(crate) warnings: Vec<String>,
}

pub(crate) fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why the destination's side failed.
pub(crate) enum ConsumeError {
    Connector(ConnectorError),
    Store(Error),
}

impl From<ConnectorError> for ConsumeError {
    fn from(e: ConnectorError) -> Self {
        Self::Connector(e)
    }
}

/// Saves the write's new generations, then reads the destination's output, storing each
/// confirmed state as it arrives.
pub(crate) fn consume(
    process: abrs_connectors::ConnectorProcess,
    shared: Arc<Mutex<Shared>>,
    store: Option<StateStore>,
    progress: Vec<(String, DestinationStreamProgress)>,
) -> std::result::Result<RunSummary, ConsumeError> {
    if let Some(store) = &store {
        // On failure the process is dropped, which stops the destination.
        store
            .cache
            .set_destination_progress_all(
                &store.destination,
                &store.source,
                progress.iter().map(|(k, p)| (k.as_str(), p)),
            )
            .map_err(|e| ConsumeError::Store(e.into()))?;
    }
    process.for_each(|decoded| -> std::result::Result<Flow, ConsumeError> {
        if let Decoded::Message(m) = decoded
            && m.r#type == MessageType::State
            && let Some(state) = m.state
        {
            on_echo(&shared, store.as_ref(), state).map_err(ConsumeError::Store)?;
        }
        Ok(Flow::Continue)
    })
}

fn on_echo(
    shared: &Mutex<Shared>,
    store: Option<&StateStore>,
    state: AirbyteStateMessage,
) -> Result<()> {
    let mut s = lock(shared);
    let verdict = s.tracker.echoed(&state);
    if verdict == Echo::Unknown {
        let text = format!(
            "the destination echoed a state that was never sent ({}); it was ignored",
            state_key(&state)
        );
        tracing::warn!("{text}");
        if s.warnings.len() < 20 {
            s.warnings.push(text);
        }
        return Ok(());
    }
    // Counts of stale echoes are real commits too.
    let stream = state
        .stream
        .as_ref()
        .filter(|_| state.kind() == StateType::Stream)
        .map(|st| st.stream_descriptor.name.clone());
    if let Some(n) = state
        .destination_stats
        .as_ref()
        .and_then(|d| d.record_count)
    {
        s.stats_seen = true;
        let n = n.max(0.0) as u64;
        match &stream {
            Some(name) => *s.committed.entry(name.clone()).or_default() += n,
            None => s.committed_unattributed += n,
        }
    }
    let Echo::Confirmed(marks) = verdict else {
        return Ok(());
    };
    if let Some(store) = store {
        store
            .cache
            .write_destination_state(&store.destination, &store.source, &state)?;
        for mark in marks {
            let progress = s.progress.entry(mark.stream.clone()).or_default();
            progress.replayed_table = Some(mark.table);
            progress.replayed_through = mark.through;
            let progress = progress.clone();
            store.cache.set_destination_progress(
                &store.destination,
                &store.source,
                &mark.stream,
                &progress,
            )?;
        }
    }
    s.confirmed += 1;
    let names: Vec<String> = match (&stream, &state.global) {
        (Some(name), _) => vec![name.clone()],
        (None, Some(g)) => g
            .stream_states
            .iter()
            .map(|st| st.stream_descriptor.name.clone())
            .collect(),
        _ => Vec::new(),
    };
    for name in names {
        *s.confirmed_by_stream.entry(name).or_default() += 1;
    }
    s.latest.insert(state_key(&state), state);
    Ok(())
}
