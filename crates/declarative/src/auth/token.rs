//! Token authenticators: `NoAuth`, `ApiKeyAuthenticator`, `BearerAuthenticator`,
//! `BasicHttpAuthenticator`. Their tokens come from the config (evaluated for each request) or,
//! inside a `SessionTokenAuthenticator`, from a login request.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;

use super::Authenticator;
use super::session_token::SessionTokenProvider;
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::HttpClient;
use crate::interpolation::{Context, InterpolatedString};
use crate::requesters::{InjectInto, RequestOption, RequestOptions, python_str};

/// `NoAuth`.
#[derive(Debug, Clone, Copy)]
pub struct NoAuth;

impl Authenticator for NoAuth {
    fn request_options(&self, _client: &HttpClient) -> Result<RequestOptions> {
        Ok(RequestOptions::default())
    }
}

/// Where a token comes from (the CDK's `TokenProvider`s).
#[derive(Debug)]
pub enum TokenProvider {
    /// `InterpolatedStringTokenProvider`: `api_token` evaluated with the config, as text.
    Template {
        /// The template.
        token: InterpolatedString,
        /// Where it is written.
        path: ManifestPath,
    },
    /// `SessionTokenProvider`, through `InterpolatedSessionTokenProvider` when a template is
    /// given (`"Token {{ session_token }}"`).
    Session {
        /// The login.
        provider: Arc<SessionTokenProvider>,
        /// The template over `session_token`, if any.
        template: Option<InterpolatedString>,
        /// Where the template is written.
        path: ManifestPath,
    },
}

impl TokenProvider {
    /// `get_token()`: the token as text (Python's `str`). Tokens are masked from then on.
    pub fn get_token(&self, config: &Value, client: &HttpClient) -> Result<String> {
        let token = match self {
            Self::Template { token, path } => token
                .eval_to_string(&Context::new(config))
                .map_err(|e| EngineError::interpolation(path, e))?,
            Self::Session {
                provider,
                template,
                path,
            } => {
                let session_token = provider.get_token(client)?;
                match template {
                    None => python_str(&session_token),
                    Some(t) => t
                        .eval_to_string(&Context::new(config).with("session_token", &session_token))
                        .map_err(|e| EngineError::interpolation(path, e))?,
                }
            }
        };
        client.secrets().add(&token);
        Ok(token)
    }
}

/// `ApiKeyAuthenticator`: the token in a header, a query parameter or a body field.
#[derive(Debug)]
pub struct ApiKeyAuthenticator {
    token: TokenProvider,
    option: RequestOption,
    config: Value,
}

impl ApiKeyAuthenticator {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let option = api_key_option(&node)?;
        let token = TokenProvider::Template {
            token: InterpolatedString::new(
                node.opt_str("api_token")?.unwrap_or_default(),
                node.parameters(),
            ),
            path: node.child_path("api_token"),
        };
        Ok(Self {
            token,
            option,
            config: node.config().clone(),
        })
    }

    /// One whose token comes from `token` (a session login), injected as `inject_into` says.
    pub fn with_provider(token: TokenProvider, option: RequestOption, config: &Value) -> Self {
        Self {
            token,
            option,
            config: config.clone(),
        }
    }
}

/// `inject_into`, or the deprecated `header` (a header of that name); one of them, not both.
fn api_key_option(node: &Node<'_>) -> Result<RequestOption> {
    let option_path = node.child_path("inject_into");
    let inject_into = node.child("inject_into", &option_path)?;
    let header = node.opt_str("header")?;
    match (inject_into, header) {
        (Some(_), Some(_)) => Err(EngineError::manifest(
            node.path,
            "inject_into and header cannot be set both for ApiKeyAuthenticator - remove the deprecated header option",
        )),
        (Some(option), None) => RequestOption::from_node(option),
        (None, Some(header)) => {
            let synthetic = serde_json::json!({
                "type": "RequestOption", "inject_into": "header", "field_name": header,
                "$parameters": Value::Object(node.parameters().clone()),
            });
            RequestOption::from_node(node.node(&synthetic, node.path)?)
        }
        (None, None) => Err(EngineError::manifest(
            node.path,
            "Expected either inject_into or header to be set for ApiKeyAuthenticator",
        )),
    }
}

impl Authenticator for ApiKeyAuthenticator {
    fn request_options(&self, client: &HttpClient) -> Result<RequestOptions> {
        let token = self.token.get_token(&self.config, client)?;
        let mut options = RequestOptions::default();
        let target = options.target(self.option.inject_into);
        self.option
            .inject(target, Value::String(token), &self.config)?;
        if self.option.inject_into == InjectInto::Header {
            // `get_auth_header` sends nothing when the header name renders empty.
            options.headers.remove("");
        }
        Ok(options)
    }
}

/// `BearerAuthenticator`: `Authorization: Bearer <token>`.
#[derive(Debug)]
pub struct BearerAuthenticator {
    token: TokenProvider,
    config: Value,
}

impl BearerAuthenticator {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        Ok(Self {
            token: TokenProvider::Template {
                token: InterpolatedString::new(
                    node.opt_str("api_token")?.unwrap_or_default(),
                    node.parameters(),
                ),
                path: node.child_path("api_token"),
            },
            config: node.config().clone(),
        })
    }

    /// One whose token comes from `token` (a session login).
    pub fn with_provider(token: TokenProvider, config: &Value) -> Self {
        Self {
            token,
            config: config.clone(),
        }
    }
}

impl Authenticator for BearerAuthenticator {
    fn request_options(&self, client: &HttpClient) -> Result<RequestOptions> {
        let token = self.token.get_token(&self.config, client)?;
        let mut options = RequestOptions::default();
        options.headers.insert(
            "Authorization".into(),
            Value::String(format!("Bearer {token}")),
        );
        Ok(options)
    }
}

/// `BasicHttpAuthenticator`: `Authorization: Basic base64(username:password)`.
#[derive(Debug)]
pub struct BasicHttpAuthenticator {
    username: InterpolatedString,
    password: InterpolatedString,
    config: Value,
    path: ManifestPath,
}

impl BasicHttpAuthenticator {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        Ok(Self {
            username: node.interpolated("username")?,
            password: InterpolatedString::new(
                node.opt_str("password")?.unwrap_or_default(),
                node.parameters(),
            ),
            config: node.config().clone(),
            path: node.path.clone(),
        })
    }
}

impl Authenticator for BasicHttpAuthenticator {
    fn request_options(&self, client: &HttpClient) -> Result<RequestOptions> {
        let context = Context::new(&self.config);
        let eval = |s: &InterpolatedString, key: &str| {
            s.eval_to_string(&context)
                .map_err(|e| EngineError::interpolation(&self.path.key(key), e))
        };
        let username = eval(&self.username, "username")?;
        let password = eval(&self.password, "password")?;
        client.secrets().add(&password);
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        client.secrets().add(&encoded);
        let mut options = RequestOptions::default();
        options.headers.insert(
            "Authorization".into(),
            Value::String(format!("Basic {encoded}")),
        );
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use crate::http::{HttpClientOptions, Secrets};
    use serde_json::json;

    fn options(node: Value, config: Value) -> Result<RequestOptions> {
        let env = BuildEnv {
            config,
            directory: None,
            ..Default::default()
        };
        let path = ManifestPath::root();
        let auth = super::super::from_node(Node::new(&node, &path, &env)?)?;
        let client = HttpClient::new(&HttpClientOptions::default(), Secrets::default())?;
        auth.request_options(&client)
    }

    #[test]
    fn api_key_goes_where_inject_into_says() {
        let o = options(
            json!({"type": "ApiKeyAuthenticator", "api_token": "Token {{ config.key }}",
                "inject_into": {"type": "RequestOption", "inject_into": "header", "field_name": "X-Api-Key"}}),
            json!({"key": 123}),
        )
        .unwrap();
        assert_eq!(o.headers["X-Api-Key"], json!("Token 123"));
        let o = options(
            json!({"type": "ApiKeyAuthenticator", "api_token": "{{ config.key }}",
                "inject_into": {"type": "RequestOption", "inject_into": "request_parameter", "field_name": "api_key"}}),
            json!({"key": "k"}),
        )
        .unwrap();
        assert_eq!(o.params["api_key"], json!("k"));
        assert!(o.headers.is_empty());
        let o = options(
            json!({"type": "ApiKeyAuthenticator", "api_token": "k", "header": "X-Key"}),
            json!({}),
        )
        .unwrap();
        assert_eq!(o.headers["X-Key"], json!("k"));
        // Both, or neither: refused as the factory does.
        assert!(
            options(
                json!({"type": "ApiKeyAuthenticator", "api_token": "k"}),
                json!({})
            )
            .is_err()
        );
        assert!(
            options(
                json!({"type": "ApiKeyAuthenticator", "api_token": "k", "header": "X",
                    "inject_into": {"type": "RequestOption", "inject_into": "header", "field_name": "Y"}}),
                json!({})
            )
            .is_err()
        );
    }

    #[test]
    fn empty_tokens_are_sent_as_the_cdk_sends_them() {
        let o = options(
            json!({"type": "BearerAuthenticator", "api_token": ""}),
            json!({}),
        )
        .unwrap();
        assert_eq!(o.headers["Authorization"], json!("Bearer "));
        let o = options(
            json!({"type": "ApiKeyAuthenticator", "api_token": "",
                "inject_into": {"type": "RequestOption", "inject_into": "header", "field_name": "X-Key"}}),
            json!({}),
        )
        .unwrap();
        assert_eq!(o.headers["X-Key"], json!(""));
    }

    #[test]
    fn basic_encodes_username_and_password() {
        let o = options(
            json!({"type": "BasicHttpAuthenticator", "username": "{{ config.u }}"}),
            json!({"u": "me"}),
        )
        .unwrap();
        assert_eq!(o.headers["Authorization"], json!("Basic bWU6"));
        let o = options(
            json!({"type": "BasicHttpAuthenticator", "username": "a", "password": "{{ config.p }}"}),
            json!({"p": "b"}),
        )
        .unwrap();
        assert_eq!(o.headers["Authorization"], json!("Basic YTpi"));
    }
}
