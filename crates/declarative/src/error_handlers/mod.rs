//! Error handlers: what to do with a response (succeed, retry, ignore, fail) and how long to
//! wait before a retry, as the CDK's `DefaultErrorHandler`, `CompositeErrorHandler`,
//! `HttpResponseFilter` and backoff strategies decide it, and the retry budget the CDK's
//! `HttpClient` spends them with ([`Retrier`]).

mod backoff_strategy;
mod composite_error_handler;
mod constant_backoff_strategy;
mod default_error_handler;
mod default_error_mapping;
mod error_message_parser;
mod exponential_backoff_strategy;
mod http_response_filter;
mod retry;
mod wait_time_from_header;
mod wait_until_time_from_header;

pub use backoff_strategy::BackoffStrategy;
pub use composite_error_handler::CompositeErrorHandler;
pub use constant_backoff_strategy::ConstantBackoffStrategy;
pub use default_error_handler::DefaultErrorHandler;
pub use default_error_mapping::{default_resolution, fallback_resolution};
pub use error_message_parser::parse_response_error_message;
pub use exponential_backoff_strategy::ExponentialBackoffStrategy;
pub use http_response_filter::HttpResponseFilter;
pub use retry::{Retrier, RetryDecision, exhausted_error, fail_error};
pub use wait_time_from_header::WaitTimeFromHeader;
pub use wait_until_time_from_header::WaitUntilTimeFromHeader;

use std::sync::Arc;
use std::time::Duration;

use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::HttpResponse;

/// What to do with a response (the CDK's `ResponseAction`; the actions that reshape a read —
/// `RESET_PAGINATION`, `REFRESH_TOKEN_THEN_RETRY`, `REDUCE_PAGE_SIZE`, `SPLIT_REQUEST_WINDOW` —
/// are refused when the manifest is built).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseAction {
    /// Use it.
    Success,
    /// Send the request again (after a backoff).
    Retry,
    /// Stop the stream with an error.
    Fail,
    /// Skip it: a response that is not ok gives no records and ends pagination; an ok one is
    /// used as it is.
    Ignore,
    /// Rate limited: retry after a backoff; without a backoff strategy's wait, retried with an
    /// exponential wait and no time limit (the CDK's `RateLimitBackoffException`).
    RateLimited,
}

impl ResponseAction {
    /// From the manifest's `action`.
    pub fn parse(text: &str, at: &ManifestPath) -> Result<Self> {
        Ok(match text {
            "SUCCESS" => Self::Success,
            "RETRY" => Self::Retry,
            "FAIL" => Self::Fail,
            "IGNORE" => Self::Ignore,
            "RATE_LIMITED" => Self::RateLimited,
            "RESET_PAGINATION"
            | "REFRESH_TOKEN_THEN_RETRY"
            | "REDUCE_PAGE_SIZE"
            | "SPLIT_REQUEST_WINDOW" => {
                return Err(EngineError::manifest(
                    at,
                    format!(
                        "the native engine does not support the response action {text}; run this manifest with the Python CDK instead (`--use-python`)"
                    ),
                ));
            }
            other => {
                return Err(EngineError::manifest(
                    at,
                    format!(
                        "unknown response action {other:?}: expected SUCCESS, RETRY, FAIL, IGNORE or RATE_LIMITED"
                    ),
                ));
            }
        })
    }

    /// The CDK's name of the action (`RETRY`), as its messages show it (`ResponseAction.RETRY`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Retry => "RETRY",
            Self::Fail => "FAIL",
            Self::Ignore => "IGNORE",
            Self::RateLimited => "RATE_LIMITED",
        }
    }
}

/// Who is to blame for a failure (the protocol's `FailureType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureType {
    /// The connector (or the API) misbehaved.
    SystemError,
    /// The user's config is wrong (credentials, permissions).
    ConfigError,
    /// Try again later.
    TransientError,
}

impl FailureType {
    /// From the manifest's `failure_type`.
    pub fn parse(text: &str, at: &ManifestPath) -> Result<Self> {
        Ok(match text {
            "system_error" => Self::SystemError,
            "config_error" => Self::ConfigError,
            "transient_error" => Self::TransientError,
            other => {
                return Err(EngineError::manifest(
                    at,
                    format!(
                        "unknown failure_type {other:?}: expected system_error, config_error or transient_error"
                    ),
                ));
            }
        })
    }

    /// The protocol's name (`config_error`).
    pub fn name(self) -> &'static str {
        match self {
            Self::SystemError => "system_error",
            Self::ConfigError => "config_error",
            Self::TransientError => "transient_error",
        }
    }
}

/// An error handler's verdict on one response (the CDK's `ErrorResolution`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResolution {
    /// What to do.
    pub action: ResponseAction,
    /// Who is to blame when it fails.
    pub failure_type: Option<FailureType>,
    /// The message for the user (never empty: an empty message is `None`, as the CDK's
    /// `error_message or ...` treats it).
    pub message: Option<String>,
}

impl ErrorResolution {
    /// A verdict without a message or failure type.
    pub fn new(action: ResponseAction) -> Self {
        Self {
            action,
            failure_type: None,
            message: None,
        }
    }

    /// A verdict with its failure type and message (an empty message counts as none).
    pub fn with(
        action: ResponseAction,
        failure_type: FailureType,
        message: impl Into<String>,
    ) -> Self {
        let message = message.into();
        Self {
            action,
            failure_type: Some(failure_type),
            message: (!message.is_empty()).then_some(message),
        }
    }

    /// `SUCCESS_RESOLUTION`.
    pub fn success() -> Self {
        Self::new(ResponseAction::Success)
    }
}

/// An error handler.
pub trait ErrorHandler: Send + Sync + std::fmt::Debug {
    /// The verdict on a response (or on a transport failure). Errors are those of the
    /// manifest's templates (a predicate or an error message that cannot be evaluated).
    fn interpret(
        &self,
        outcome: std::result::Result<&HttpResponse, &EngineError>,
    ) -> Result<ErrorResolution>;
    /// How many times a request is retried at most (`max_retries`; the CDK's default is 5).
    fn max_retries(&self) -> u32;
    /// How long retries may go on (`max_time`, 10 minutes in the CDK).
    fn max_time(&self) -> Duration;
    /// The wait the backoff strategies ask for before retry after attempt number
    /// `attempt_count` (1-based: the count of requests sent so far), in seconds: the first
    /// strategy's non-zero answer, or `None` when no strategy answers (then the CDK's default
    /// exponential backoff applies). An error when a strategy refuses to wait that long
    /// (`max_waiting_time_in_seconds`).
    fn backoff_time(
        &self,
        response: Option<&HttpResponse>,
        attempt_count: u32,
    ) -> Result<Option<f64>>;
}

/// The error handler of a requester's `error_handler` node.
pub fn from_node(node: Node<'_>) -> Result<Arc<dyn ErrorHandler>> {
    Ok(match node.type_name() {
        "DefaultErrorHandler" => Arc::new(DefaultErrorHandler::from_node(node)?),
        "CompositeErrorHandler" => Arc::new(CompositeErrorHandler::from_node(node)?),
        _ => return Err(node.unsupported()),
    })
}

/// The handler a requester without `error_handler` has (a `DefaultErrorHandler` with the
/// CDK's defaults).
pub fn default_handler() -> Arc<dyn ErrorHandler> {
    Arc::new(DefaultErrorHandler::default())
}
