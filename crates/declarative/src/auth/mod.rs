//! Authenticators: what a request carries to prove who sends it.

mod jwt;
mod legacy_session_token;
mod oauth;
mod selective;
mod session_token;
#[cfg(test)]
mod test_server;
mod token;

pub use jwt::JwtAuthenticator;
pub use legacy_session_token::LegacySessionTokenAuthenticator;
pub use oauth::OAuthAuthenticator;
pub use session_token::SessionTokenProvider;
pub use token::{
    ApiKeyAuthenticator, BasicHttpAuthenticator, BearerAuthenticator, NoAuth, TokenProvider,
};

use std::sync::Arc;

use crate::engine_error::Result;
use crate::factory::Node;
use crate::http::HttpClient;
use crate::requesters::RequestOptions;

/// An authenticator: the headers, query parameters or body fields it adds to each request.
/// Authenticators that fetch tokens (OAuth, session tokens) do so through `client`, once, and
/// again when the token expires.
pub trait Authenticator: Send + Sync + std::fmt::Debug {
    /// The options to add to the next request.
    fn request_options(&self, client: &HttpClient) -> Result<RequestOptions>;
}

/// What an authenticator is built with besides its node: from its requester.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthEnv<'a> {
    /// The requester's `url` or `url_base` as written (`LegacySessionTokenAuthenticator`
    /// logs in relative to it).
    pub url_base: Option<&'a str>,
}

/// The authenticator of an `authenticator` node.
pub fn from_node(node: Node<'_>) -> Result<Arc<dyn Authenticator>> {
    from_node_in(node, &AuthEnv::default())
}

/// The authenticator of an `HttpRequester` node's `authenticator` node.
pub fn from_requester_node(node: Node<'_>, requester: Node<'_>) -> Result<Arc<dyn Authenticator>> {
    let url_base = requester
        .get("url")
        .or_else(|| requester.get("url_base"))
        .and_then(serde_json::Value::as_str);
    from_node_in(node, &AuthEnv { url_base })
}

/// The authenticator of an `authenticator` node, with its requester's environment.
pub fn from_node_in(node: Node<'_>, env: &AuthEnv<'_>) -> Result<Arc<dyn Authenticator>> {
    Ok(match node.type_name() {
        "NoAuth" => Arc::new(NoAuth),
        "ApiKeyAuthenticator" => Arc::new(ApiKeyAuthenticator::from_node(node)?),
        "BearerAuthenticator" => Arc::new(BearerAuthenticator::from_node(node)?),
        "BasicHttpAuthenticator" => Arc::new(BasicHttpAuthenticator::from_node(node)?),
        "OAuthAuthenticator" => Arc::new(OAuthAuthenticator::from_node(node)?),
        "JwtAuthenticator" => Arc::new(JwtAuthenticator::from_node(node)?),
        "SessionTokenAuthenticator" => session_token::from_node(node)?,
        "SelectiveAuthenticator" => selective::from_node(node, env)?,
        "LegacySessionTokenAuthenticator" => Arc::new(LegacySessionTokenAuthenticator::from_node(
            node,
            env.url_base,
        )?),
        _ => return Err(node.unsupported()),
    })
}

/// The headers Python requests sends by default, which the CDK's token and login requests
/// (made with `requests.request`/`requests.post`, outside the stream's session) carry; set
/// unless the manifest sets them. A manifest that names `User-Agent` or `Accept` gets them
/// compared, so they are sent as the reference sends them.
pub(crate) fn add_requests_default_headers(headers: &mut Vec<(String, String)>) {
    for (name, value) in [("User-Agent", REQUESTS_USER_AGENT), ("Accept", "*/*")] {
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
            headers.push((name.to_string(), value.to_string()));
        }
    }
}

/// The `User-Agent` of the reference's requests (airbyte-cdk 7.39.1's pinned requests).
pub const REQUESTS_USER_AGENT: &str = "python-requests/2.34.2";

/// No authentication.
pub fn no_auth() -> Arc<dyn Authenticator> {
    Arc::new(NoAuth)
}
