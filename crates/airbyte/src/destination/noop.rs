//! The built-in no-op destination: reads everything, keeps nothing, confirms every state.
//!
//! It is a real destination as far as the protocol goes (`spec`, `check`, `write`), so a write
//! to it takes the same path as a write to any destination: [`crate::get_noop_destination`]
//! runs it in-process, and `abrs noop-destination` runs it as a subprocess.

use std::io::{self, BufRead, BufReader, Read, Write};

use crate::read::Counters;

use abrs_connectors::{
    ConnectorError, ConnectorProcess, Executor, InProcessDestination, Invocation, Verb,
};
use abrs_protocol::{
    AirbyteConnectionStatus, AirbyteMessage, AirbyteStateStats, ConnectionStatusKind,
    ConnectorSpecification, Decoded, DestinationSyncMode, LogLevel, MessageType, StateType,
    decode_line, peek_record_stream,
};

/// The no-op destination's name (the name its destination state is stored under).
pub const NOOP_DESTINATION_NAME: &str = "destination-noop";

/// Input is read in pieces this large.
const READ_BUFFER: usize = 256 * 1024;

/// The SPEC of the no-op destination: any config, every sync mode.
pub fn spec() -> ConnectorSpecification {
    ConnectorSpecification {
        documentation_url: None,
        changelog_url: None,
        connection_specification: serde_json::json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "No-op destination",
            "type": "object",
            "properties": {},
            "additionalProperties": true
        }),
        supports_incremental: Some(true),
        supports_normalization: None,
        supports_dbt: None,
        supported_destination_sync_modes: Some(vec![
            DestinationSyncMode::Overwrite,
            DestinationSyncMode::Append,
            DestinationSyncMode::AppendDedup,
        ]),
        advanced_auth: None,
        protocol_version: None,
        extra: Default::default(),
    }
}

/// What one `write` received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoopSummary {
    /// RECORD messages read.
    pub records: u64,
    /// STATE messages read (and echoed).
    pub states: u64,
}

/// Per-stream counts since each stream's last STATE (the read's counters, emptied at states).
struct SinceState {
    counts: Counters,
    all: u64,
}

impl SinceState {
    fn add(&mut self, stream: &str) {
        self.all += 1;
        self.counts.add(stream, 0);
    }

    /// Takes the count of one stream since its last state.
    fn take(&mut self, stream: &str) -> u64 {
        match self.counts.names.iter().position(|n| n == stream) {
            Some(i) => {
                let n = std::mem::take(&mut self.counts.counts[i]);
                self.all = self.all.saturating_sub(n);
                n
            }
            None => 0,
        }
    }

    /// Takes the count of every stream.
    fn take_all(&mut self) -> u64 {
        self.counts.counts.iter_mut().for_each(|c| *c = 0);
        std::mem::take(&mut self.all)
    }
}

/// Runs `write`: reads protocol lines from `input` until its end, echoes each STATE with
/// `destinationStats.recordCount` (the stream's records since its previous state; for GLOBAL
/// and LEGACY states, all records since the previous state) and ends with a LOG line.
pub fn write(input: &mut dyn Read, output: &mut dyn Write) -> io::Result<NoopSummary> {
    let mut reader = BufReader::with_capacity(READ_BUFFER, input);
    let mut line = Vec::with_capacity(4096);
    let mut since = SinceState {
        counts: Counters::new(Vec::new()),
        all: 0,
    };
    let mut summary = NoopSummary::default();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if let Some(stream) = peek_record_stream(text) {
            summary.records += 1;
            since.add(stream);
            continue;
        }
        match decode_line(text) {
            Ok(Decoded::Record(r)) => {
                summary.records += 1;
                since.add(&r.stream);
            }
            Ok(Decoded::Message(m)) if m.r#type == MessageType::State => {
                let Some(mut state) = m.state else { continue };
                summary.states += 1;
                let count = match (state.kind(), &state.stream) {
                    (StateType::Stream, Some(s)) => since.take(&s.stream_descriptor.name),
                    _ => since.take_all(),
                };
                state.destination_stats = Some(AirbyteStateStats {
                    record_count: Some(count as f64),
                    extra: Default::default(),
                });
                let mut out = AirbyteMessage::state(state).to_line();
                out.push('\n');
                output.write_all(out.as_bytes())?;
                output.flush()?;
            }
            // Everything else (logs, traces, lines that do not parse) is accepted and dropped.
            _ => {}
        }
    }
    let mut out = AirbyteMessage::log(
        LogLevel::Info,
        format!(
            "{NOOP_DESTINATION_NAME} received {} records and {} states",
            summary.records, summary.states
        ),
    )
    .to_line();
    out.push('\n');
    output.write_all(out.as_bytes())?;
    output.flush()?;
    Ok(summary)
}

/// Runs one verb of the no-op destination (what `abrs noop-destination VERB` does).
pub fn run(verb: Verb, input: &mut dyn Read, output: &mut dyn Write) -> io::Result<()> {
    let message = match verb {
        Verb::Spec => AirbyteMessage::spec(spec()),
        Verb::Check => AirbyteMessage::connection_status(AirbyteConnectionStatus {
            status: ConnectionStatusKind::Succeeded,
            message: None,
            extra: Default::default(),
        }),
        Verb::Write => return write(input, output).map(|_| ()),
        Verb::Discover | Verb::Read => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{NOOP_DESTINATION_NAME} is a destination: it has no `{verb}`"),
            ));
        }
    };
    let mut line = message.to_line();
    line.push('\n');
    output.write_all(line.as_bytes())?;
    output.flush()
}

/// Runs the no-op destination in-process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoopExecutor;

impl Executor for NoopExecutor {
    fn name(&self) -> &str {
        NOOP_DESTINATION_NAME
    }

    fn execute(&self, invocation: Invocation) -> Result<ConnectorProcess, ConnectorError> {
        let verb = invocation.verb;
        let consumer: InProcessDestination =
            Box::new(move |input, output| run(verb, input, output).map_err(|e| e.to_string()));
        ConnectorProcess::in_process_with_input(NOOP_DESTINATION_NAME, invocation, consumer)
    }

    fn ensure_installation(&self, _auto_fix: bool) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn install(&self) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn uninstall(&self) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn installed_version(&self) -> Option<String> {
        Some(env!("CARGO_PKG_VERSION").to_string())
    }

    fn describe(&self) -> String {
        format!("<built-in {NOOP_DESTINATION_NAME}>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_echoed_with_the_records_since_the_last_one() {
        let input = concat!(
            r#"{"type":"RECORD","record":{"stream":"a","data":{"id":1},"emitted_at":1}}"#,
            "\n",
            r#"{"type":"RECORD","record":{"emitted_at":1,"stream":"b","data":{"id":1}}}"#,
            "\n",
            r#"{"type":"RECORD","record":{"stream":"a","data":{"id":2},"emitted_at":1}}"#,
            "\n",
            "not json\n",
            r#"{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"a"},"stream_state":{"c":2}}}}"#,
            "\n",
            r#"{"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{},"stream_states":[]}}}"#,
            "\n",
        );
        let mut out = Vec::new();
        let summary = write(&mut input.as_bytes(), &mut out).unwrap();
        assert_eq!(
            summary,
            NoopSummary {
                records: 3,
                states: 2
            }
        );
        let lines: Vec<serde_json::Value> = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines[0]["state"]["destinationStats"]["recordCount"], 2.0);
        assert_eq!(lines[0]["state"]["stream"]["stream_state"]["c"], 2);
        assert_eq!(lines[1]["state"]["destinationStats"]["recordCount"], 1.0);
        assert!(lines[1]["state"]["global"].is_object());
        assert_eq!(lines[2]["type"], "LOG");
    }

    #[test]
    fn spec_and_check_answer() {
        let mut out = Vec::new();
        run(Verb::Spec, &mut io::empty(), &mut out).unwrap();
        assert!(String::from_utf8_lossy(&out).contains("append_dedup"));
        out.clear();
        run(Verb::Check, &mut io::empty(), &mut out).unwrap();
        assert!(String::from_utf8_lossy(&out).contains("SUCCEEDED"));
    }
}
