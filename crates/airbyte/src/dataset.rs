//! `LazyDataset`: records straight from a running connector (PyAirbyte's `LazyDataset`).

use std::fmt;
use std::sync::Arc;

use abrs_caches::records::{StreamRecord, StreamRecordHandler};
use abrs_connectors::{ConnectorProcess, MessageIter};
use abrs_protocol::ConfiguredAirbyteStream;

use crate::error::{Error, Result};

/// A lazy iterator over one stream's records, read from a running connector.
///
/// Each item is a [`StreamRecord`], or the error that ended the read (then the iteration ends).
/// Reaching the limit, or dropping the dataset, stops the connector.
///
/// ```no_run
/// # fn demo(source: &airbyte::Source) -> airbyte::Result<()> {
/// let first: Vec<_> = source.get_records("users", Some(3))?.collect::<Result<_, _>>()?;
/// assert!(first.len() <= 3);
/// # Ok(()) }
/// ```
pub struct LazyDataset {
    connector: String,
    stream: ConfiguredAirbyteStream,
    handler: Arc<StreamRecordHandler>,
    messages: Option<MessageIter>,
    limit: Option<usize>,
    yielded: usize,
}

impl fmt::Debug for LazyDataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyDataset")
            .field("connector", &self.connector)
            .field("stream", &self.stream.stream.name)
            .field("limit", &self.limit)
            .field("yielded", &self.yielded)
            .field("running", &self.messages.is_some())
            .finish()
    }
}

impl LazyDataset {
    pub(crate) fn new(
        connector: String,
        stream: ConfiguredAirbyteStream,
        handler: Arc<StreamRecordHandler>,
        process: ConnectorProcess,
        limit: Option<usize>,
    ) -> Self {
        Self {
            connector,
            stream,
            handler,
            messages: Some(process.into_messages()),
            limit,
            yielded: 0,
        }
    }

    pub(crate) fn empty(
        connector: String,
        stream: ConfiguredAirbyteStream,
        handler: Arc<StreamRecordHandler>,
    ) -> Self {
        Self {
            connector,
            stream,
            handler,
            messages: None,
            limit: Some(0),
            yielded: 0,
        }
    }

    /// The configured stream being read (PyAirbyte's `stream_metadata`).
    pub fn stream_metadata(&self) -> &ConfiguredAirbyteStream {
        &self.stream
    }

    /// The stream's name.
    pub fn stream_name(&self) -> &str {
        &self.stream.stream.name
    }

    /// The handler shaping the records (keys, pruning).
    pub fn handler(&self) -> &Arc<StreamRecordHandler> {
        &self.handler
    }

    /// The pid of the connector process while it runs (also its process group).
    pub fn connector_pid(&self) -> Option<u32> {
        self.messages.as_ref().and_then(|m| m.process().pid())
    }

    /// Stops the connector now; the iteration ends.
    pub fn stop(&mut self) {
        self.messages = None;
    }
}

impl Iterator for LazyDataset {
    type Item = Result<StreamRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.limit.is_some_and(|l| self.yielded >= l) {
            self.messages = None;
            return None;
        }
        let messages = self.messages.as_mut()?;
        loop {
            match messages.next() {
                None => {
                    self.messages = None;
                    return None;
                }
                Some(Err(e)) => {
                    self.messages = None;
                    return Some(Err(Error::from_connector(&self.connector, e)));
                }
                Some(Ok(msg)) => {
                    let Some(record) = msg.record else { continue };
                    if record.stream != self.stream.stream.name {
                        continue;
                    }
                    self.yielded += 1;
                    let out = self.handler.record_from_message(&record);
                    if self.limit.is_some_and(|l| self.yielded >= l) {
                        // Stop the connector as soon as the last wanted record is in hand.
                        self.messages = None;
                    }
                    return Some(Ok(out));
                }
            }
        }
    }
}
