//! One-answer commands: `spec`, `check`, `discover`.

use abrs_protocol::{
    AirbyteCatalog, AirbyteConnectionStatus, AirbyteMessage, ConnectorSpecification, MessageType,
};
use serde_json::Value;

use crate::error::ConnectorError;
use crate::executor::Executor;
use crate::invocation::Invocation;
use crate::process::ConnectorProcess;

/// Runs `process` to its end and returns its first message of type `expected`.
///
/// Once that message has arrived, a later failure (non-zero exit, TRACE ERROR) is logged but
/// does not hide the answer: many connectors report a failed `check` with a FAILED status *and*
/// a non-zero exit. Without the message, the failure is returned, or else
/// [`ConnectorError::MissingMessage`] with the log's tail.
pub fn expect_message(
    process: ConnectorProcess,
    expected: MessageType,
) -> Result<AirbyteMessage, ConnectorError> {
    let connector = process.connector().to_string();
    let verb = process.verb();
    let mut found: Option<AirbyteMessage> = None;
    let mut iter = process.into_messages();
    for item in iter.by_ref() {
        match item {
            Ok(m) if found.is_none() && m.r#type == expected => found = Some(m),
            Ok(_) => {}
            Err(e) => {
                if let Some(m) = found {
                    tracing::warn!("{e}");
                    return Ok(m);
                }
                return Err(e);
            }
        }
    }
    found.ok_or_else(|| ConnectorError::MissingMessage {
        connector,
        verb,
        expected: expected.to_string(),
        log_tail: iter.process().log_tail(),
        log_file: iter.process().log_file().map(Into::into),
    })
}

fn missing(executor: &dyn Executor, invocation: &Invocation, what: &str) -> ConnectorError {
    ConnectorError::MissingMessage {
        connector: executor.name().to_string(),
        verb: invocation.verb,
        expected: what.to_string(),
        log_tail: Vec::new(),
        log_file: None,
    }
}

/// Runs `spec` and returns the connector's specification.
pub fn spec(executor: &dyn Executor) -> Result<ConnectorSpecification, ConnectorError> {
    spec_with(executor, Invocation::spec())
}

/// As [`spec`], with a prepared invocation (grace period, callback).
pub fn spec_with(
    executor: &dyn Executor,
    invocation: Invocation,
) -> Result<ConnectorSpecification, ConnectorError> {
    let err = missing(executor, &invocation, "SPEC");
    let m = expect_message(executor.execute(invocation)?, MessageType::Spec)?;
    m.spec.ok_or(err)
}

/// Runs `check --config` and returns the status (FAILED is an answer, not an error).
pub fn check(
    executor: &dyn Executor,
    config: &Value,
) -> Result<AirbyteConnectionStatus, ConnectorError> {
    check_with(executor, Invocation::check(config.clone()))
}

/// As [`check`], with a prepared invocation.
pub fn check_with(
    executor: &dyn Executor,
    invocation: Invocation,
) -> Result<AirbyteConnectionStatus, ConnectorError> {
    let err = missing(executor, &invocation, "CONNECTION_STATUS");
    let m = expect_message(executor.execute(invocation)?, MessageType::ConnectionStatus)?;
    m.connection_status.ok_or(err)
}

/// Runs `discover --config` and returns the catalog.
pub fn discover(executor: &dyn Executor, config: &Value) -> Result<AirbyteCatalog, ConnectorError> {
    discover_with(executor, Invocation::discover(config.clone()))
}

/// As [`discover`], with a prepared invocation.
pub fn discover_with(
    executor: &dyn Executor,
    invocation: Invocation,
) -> Result<AirbyteCatalog, ConnectorError> {
    let err = missing(executor, &invocation, "CATALOG");
    let m = expect_message(executor.execute(invocation)?, MessageType::Catalog)?;
    m.catalog.ok_or(err)
}
