//! The CDK's `DEFAULT_ERROR_MAPPING` (what a status means when no filter of the manifest
//! matches) and `create_fallback_error_resolution` (what anything else means: retry).

use super::{ErrorResolution, FailureType, ResponseAction};
use crate::engine_error::EngineError;
use crate::http::HttpResponse;

/// The resolution `DEFAULT_ERROR_MAPPING` gives a status, when it has one.
pub fn default_resolution(status: u16) -> Option<ErrorResolution> {
    use FailureType::{ConfigError, SystemError, TransientError};
    use ResponseAction::{Fail, RateLimited, Retry};
    let (action, failure_type, message) = match status {
        400 => (
            Fail,
            SystemError,
            "HTTP Status Code: 400. Error: Bad request. Please check your request parameters.",
        ),
        401 => (
            Fail,
            ConfigError,
            "HTTP Status Code: 401. Error: Unauthorized. Please ensure you are authenticated correctly.",
        ),
        403 => (
            Fail,
            ConfigError,
            "HTTP Status Code: 403. Error: Forbidden. You don't have permission to access this resource.",
        ),
        404 => (
            Fail,
            SystemError,
            "HTTP Status Code: 404. Error: Not found. The requested resource was not found on the server.",
        ),
        405 => (
            Fail,
            SystemError,
            "HTTP Status Code: 405. Error: Method not allowed. Please check your request method.",
        ),
        408 => (
            Retry,
            TransientError,
            "HTTP Status Code: 408. Error: Request timeout.",
        ),
        429 => (
            RateLimited,
            TransientError,
            "HTTP Status Code: 429. Error: Too many requests.",
        ),
        500 => (
            Retry,
            TransientError,
            "HTTP Status Code: 500. Error: Internal server error.",
        ),
        502 => (
            Retry,
            TransientError,
            "HTTP Status Code: 502. Error: Bad gateway.",
        ),
        503 => (
            Retry,
            TransientError,
            "HTTP Status Code: 503. Error: Service unavailable.",
        ),
        504 => (
            Retry,
            TransientError,
            "HTTP Status Code: 504. Error: Gateway timeout.",
        ),
        _ => return None,
    };
    Some(ErrorResolution::with(action, failure_type, message))
}

/// `create_fallback_error_resolution`: retry, as a system error, with what went wrong.
pub fn fallback_resolution(
    outcome: std::result::Result<&HttpResponse, &EngineError>,
) -> ErrorResolution {
    let message = match outcome {
        Err(e) => format!("RequestException: {e}"),
        Ok(response) if response.ok() => {
            format!("Unexpected response with HTTP status {}", response.status)
        }
        Ok(response) => format!(
            "Response was not ok: `{}`. Response content is: {}",
            http_error_text(response),
            response.text()
        ),
    };
    ErrorResolution::with(ResponseAction::Retry, FailureType::SystemError, message)
}

/// What requests' `raise_for_status` says: `404 Client Error: Not Found for url: ...`.
pub fn http_error_text(response: &HttpResponse) -> String {
    let kind = if response.status < 500 {
        "Client"
    } else {
        "Server"
    };
    let reason = reqwest::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!(
        "{} {kind} Error: {reason} for url: {}",
        response.status, response.url
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_follows_the_cdk() {
        assert_eq!(
            default_resolution(401).map(|r| r.action),
            Some(ResponseAction::Fail)
        );
        assert_eq!(
            default_resolution(403).and_then(|r| r.failure_type),
            Some(FailureType::ConfigError)
        );
        assert_eq!(
            default_resolution(429).map(|r| r.action),
            Some(ResponseAction::RateLimited)
        );
        assert_eq!(
            default_resolution(503).map(|r| r.action),
            Some(ResponseAction::Retry)
        );
        // Statuses outside the mapping (422, 501) fall back to a retry, as in the CDK.
        assert!(default_resolution(422).is_none());
        let r = HttpResponse::new(422, vec![], b"bad".to_vec(), "https://a/x".into());
        let fallback = fallback_resolution(Ok(&r));
        assert_eq!(fallback.action, ResponseAction::Retry);
        assert_eq!(
            fallback.message.as_deref(),
            Some(
                "Response was not ok: `422 Client Error: Unprocessable Entity for url: https://a/x`. Response content is: bad"
            )
        );
    }
}
