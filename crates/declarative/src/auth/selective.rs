//! `SelectiveAuthenticator`: one of several authenticators, chosen by a config value
//! (`authenticator_selection_path`, e.g. `["credentials", "auth_type"]`).

use std::sync::Arc;

use serde_json::Value;

use super::{AuthEnv, Authenticator, from_node_in};
use crate::engine_error::{EngineError, Result};
use crate::factory::Node;
use crate::requesters::python_str;

/// The authenticator a `SelectiveAuthenticator` node selects (the CDK's `__new__` returns the
/// selected authenticator itself). Only the selected one is built: the others may use
/// components the native engine lacks without being in the way.
pub fn from_node(node: Node<'_>, env: &AuthEnv<'_>) -> Result<Arc<dyn Authenticator>> {
    let path = node
        .opt_str_list("authenticator_selection_path")?
        .ok_or_else(|| {
            node.error(
                "authenticator_selection_path",
                "SelectiveAuthenticator requires authenticator_selection_path",
            )
        })?;
    let authenticators = node.opt_object("authenticators")?.ok_or_else(|| {
        node.error(
            "authenticators",
            "SelectiveAuthenticator requires authenticators",
        )
    })?;
    let mut current = node.config();
    for key in &path {
        let next = match current {
            Value::Object(map) => map.get(key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        current = next.ok_or_else(|| {
            EngineError::Input(format!(
                "The path from `authenticator_selection_path` ({path:?}) is not found in the config ({})",
                node.path
            ))
        })?;
    }
    let selected = python_str(current);
    let chosen = authenticators.get(&selected).ok_or_else(|| {
        EngineError::Input(format!(
            "The authenticator `{selected}` is not found (config at {path:?}; {} has {:?})",
            node.path,
            authenticators.keys().collect::<Vec<_>>()
        ))
    })?;
    let at = node.child_path("authenticators").key(&selected);
    from_node_in(node.node(chosen, &at)?, env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ManifestPath;
    use crate::factory::BuildEnv;
    use crate::http::{HttpClient, HttpClientOptions, Secrets};
    use serde_json::json;

    fn select(config: Value) -> Result<Arc<dyn Authenticator>> {
        let node = json!({"type": "SelectiveAuthenticator",
            "authenticator_selection_path": ["credentials", "auth_type"],
            "authenticators": {
                "token": {"type": "BearerAuthenticator", "api_token": "{{ config.credentials.token }}"},
                "jwt": {"type": "JwtAuthenticator"}}});
        let env = BuildEnv {
            config,
            directory: None,
            ..Default::default()
        };
        let path = ManifestPath::root();
        from_node(Node::new(&node, &path, &env)?, &AuthEnv::default())
    }

    #[test]
    fn selects_by_the_config_value() {
        let auth = select(json!({"credentials": {"auth_type": "token", "token": "t1"}})).unwrap();
        let client = HttpClient::new(&HttpClientOptions::default(), Secrets::default()).unwrap();
        let o = auth.request_options(&client).unwrap();
        assert_eq!(o.headers["Authorization"], json!("Bearer t1"));
        assert!(select(json!({"credentials": {}})).is_err());
        assert!(select(json!({"credentials": {"auth_type": "other"}})).is_err());
        // The unselected, unsupported JwtAuthenticator is not built; selecting it is an error.
        assert!(select(json!({"credentials": {"auth_type": "jwt"}})).is_err());
    }
}
