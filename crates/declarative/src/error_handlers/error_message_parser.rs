//! The CDK's `JsonErrorMessageParser`: the error message an API put in a response body.

use serde_json::Value;

use crate::http::HttpResponse;
use crate::truthiness::truthy as is_truthy;

/// The keys an API's error message is looked for under, in the CDK's order.
const MESSAGE_KEYS: &[&str] = &[
    "message",
    "messages",
    "error",
    "errors",
    "failures",
    "failure",
    "detail",
    "err",
    "error_message",
    "msg",
    "reason",
    "status_message",
];

/// `parse_response_error_message`: from a JSON body, the first message found (strings as they
/// are, lists joined with `, `, mappings by the first non-empty known key); from a body that is
/// not JSON, its text.
pub fn parse_response_error_message(response: &HttpResponse) -> Option<String> {
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(body) => try_get_error(&body),
        Err(_) => std::str::from_utf8(&response.body).ok().map(str::to_string),
    }
}

fn try_get_error(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(try_get_error)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Value::Object(map) => {
            // `value.get("message") or value.get("messages") or ...`: empty values are skipped.
            let found = MESSAGE_KEYS
                .iter()
                .filter_map(|k| map.get(*k))
                .find(|v| is_truthy(v))?;
            try_get_error(found)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &str) -> HttpResponse {
        HttpResponse::new(400, vec![], body.as_bytes().to_vec(), "https://a".into())
    }

    #[test]
    fn finds_messages_as_the_cdk_does() {
        assert_eq!(
            parse_response_error_message(&response(r#"{"message": "", "error": {"msg": "bad"}}"#)),
            Some("bad".into())
        );
        assert_eq!(
            parse_response_error_message(&response(r#"{"errors": [{"message": "a"}, 3, "b"]}"#)),
            Some("a, b".into())
        );
        assert_eq!(
            parse_response_error_message(&response(r#"{"code": 3}"#)),
            None
        );
        assert_eq!(
            parse_response_error_message(&response("plain text")),
            Some("plain text".into())
        );
    }
}
