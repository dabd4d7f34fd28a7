//! How a write ended: the two sides' results judged together, and what was kept, in words.

use std::io;

use abrs_caches::Cache;
use abrs_connectors::{ConnectorError, RunSummary};

use super::confirm::{ConsumeError, Shared};
use super::feed::FeedError;
use crate::error::{Error, Result};

/// Judges the two sides of a write.
pub(crate) struct Outcome<'a> {
    pub(crate) destination: &'a str,
    pub(crate) source: &'a str,
    pub(crate) shared: &'a Shared,
    pub(crate) state_cache: Option<&'a Cache>,
    pub(crate) sent: u64,
    /// Whether earlier writes had stored destination state for this source.
    pub(crate) earlier_state: bool,
}

impl Outcome<'_> {
    /// What stays after a failure, in words.
    fn kept(&self) -> String {
        let n = self.shared.confirmed;
        match self.state_cache {
            None => "No destination state is kept (state_cache is off): the next write starts over."
                .to_string(),
            Some(_) if n == 0 && self.earlier_state => "The destination confirmed no state in this write; the state stored by earlier writes is kept, so the next write resends what this one sent.".to_string(),
            Some(_) if n == 0 => "The destination confirmed no state, so none was stored: the next write sends the same data again.".to_string(),
            Some(c) => {
                let keys: Vec<&str> = self.shared.latest.keys().map(String::as_str).collect();
                format!(
                    "The destination confirmed {n} state(s) before that ({}); they are stored in \
                     the state cache ({}), so the next write resumes from there.",
                    keys.join(", "),
                    c.describe()
                )
            }
        }
    }

    fn fail(&self, reason: String, source: Option<Error>) -> Error {
        Error::WriteFailed {
            destination: self.destination.to_string(),
            reason,
            kept: self.kept(),
            source: source.map(Box::new),
        }
    }

    pub(crate) fn judge(
        &self,
        fed: std::result::Result<(), FeedError>,
        consumed: std::result::Result<RunSummary, ConsumeError>,
        write_error: Option<io::ErrorKind>,
    ) -> Result<RunSummary> {
        let consumed = match consumed {
            Err(ConsumeError::Store(e)) => {
                return Err(self.fail(format!("storing a state it confirmed failed: {e}"), Some(e)));
            }
            Err(ConsumeError::Connector(e)) => Err(e),
            Ok(run) => Ok(run),
        };
        let destination_failure = |e: &ConnectorError| format!("the destination failed: {e}");
        match (fed, consumed) {
            (Err(FeedError::Source(e)), consumed) => {
                let after = match &consumed {
                    Ok(_) => "The destination was told the unfinished streams are incomplete \
                              (STREAM_STATUS INCOMPLETE) and committed what it had."
                        .to_string(),
                    Err(d) => format!("Then {}.", destination_failure(d)),
                };
                let source_error = Error::from_connector(self.source, e);
                Err(self.fail(
                    format!(
                        "the source `{}` failed after {} records were sent, so the write \
                         stopped: {source_error}. {after}",
                        self.source, self.sent
                    ),
                    Some(source_error),
                ))
            }
            (Err(FeedError::Other(e)), _) => {
                Err(self.fail(format!("the input could not be prepared: {e}"), Some(e)))
            }
            (fed, Err(e)) => {
                let stalled = matches!(&fed, Err(FeedError::Destination(io)) if io.kind() == io::ErrorKind::TimedOut);
                let how = if stalled {
                    format!(
                        "it stopped reading its input (after {} records were sent) and was \
                         stopped; ",
                        self.sent
                    )
                } else if fed.is_err() || write_error.is_some() {
                    format!(
                        "it stopped reading its input after {} records were sent; ",
                        self.sent
                    )
                } else {
                    format!(
                        "it failed after reading all of its input ({} records), so it may have \
                         committed some or all of them before failing; ",
                        self.sent
                    )
                };
                Err(self.fail(
                    format!("{how}{}", destination_failure(&e)),
                    Some(Error::from_connector(self.destination, e)),
                ))
            }
            (Err(FeedError::Destination(io)), Ok(_)) => Err(self.fail(
                format!(
                    "the destination exited successfully but without reading all of its input \
                     ({io}; {} records had been sent). It may have dropped data; check its log",
                    self.sent
                ),
                None,
            )),
            (Ok(()), Ok(run)) => match run.unread_input_bytes {
                Some(n) if n > 0 => Err(self.fail(
                    format!(
                        "the destination exited successfully but left {n} bytes of its input \
                         unread (of {} records sent). It may have dropped data; check its log{}",
                        self.sent,
                        run.log_file
                            .as_ref()
                            .map(|p| format!(" ({})", p.display()))
                            .unwrap_or_default()
                    ),
                    None,
                )),
                _ => Ok(run),
            },
        }
    }
}
