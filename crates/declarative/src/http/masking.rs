//! Secrets that must never reach a log or an error: config values the spec marks
//! `airbyte_secret`, and tokens the authenticators obtain.

use std::sync::{Arc, RwLock};

/// A shared, growing set of secret strings, replaced by `****` in anything shown.
#[derive(Debug, Clone, Default)]
pub struct Secrets(Arc<RwLock<Vec<String>>>);

impl Secrets {
    /// Adds a secret (short ones are ignored: masking `a` would garble every message).
    pub fn add(&self, secret: &str) {
        if secret.len() < 4 {
            return;
        }
        if let Ok(mut list) = self.0.write()
            && !list.iter().any(|s| s == secret)
        {
            list.push(secret.to_string());
            // Longest first, so a secret containing another is masked whole.
            list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// Adds every value of `config` at a path the spec marks `airbyte_secret: true`.
    pub fn add_from_spec(&self, spec_schema: &serde_json::Value, config: &serde_json::Value) {
        collect_secrets(spec_schema, config, self);
    }

    /// `text` with every secret (and its URL-encoded form) masked.
    pub fn mask(&self, text: &str) -> String {
        let Ok(list) = self.0.read() else {
            return text.to_string();
        };
        let mut out = text.to_string();
        for secret in list.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "****");
            }
            let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            if encoded != *secret && out.contains(&encoded) {
                out = out.replace(&encoded, "****");
            }
        }
        out
    }
}

fn collect_secrets(schema: &serde_json::Value, config: &serde_json::Value, secrets: &Secrets) {
    use serde_json::Value;
    let Value::Object(schema) = schema else {
        return;
    };
    if schema.get("airbyte_secret").and_then(Value::as_bool) == Some(true) {
        match config {
            Value::String(s) => secrets.add(s),
            Value::Number(n) => secrets.add(&n.to_string()),
            _ => {}
        }
    }
    if let (Some(Value::Object(props)), Value::Object(values)) = (schema.get("properties"), config)
    {
        for (k, sub) in props {
            if let Some(v) = values.get(k) {
                collect_secrets(sub, v, secrets);
            }
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(options)) = schema.get(key) {
            for option in options {
                collect_secrets(option, config, secrets);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_spec_secrets_and_their_url_encoding() {
        let secrets = Secrets::default();
        let spec = json!({"properties": {"api_key": {"type": "string", "airbyte_secret": true},
            "creds": {"oneOf": [{"properties": {"token": {"airbyte_secret": true}}}]}}});
        secrets.add_from_spec(
            &spec,
            &json!({"api_key": "k3y/with space", "creds": {"token": "tok-123"}}),
        );
        assert_eq!(
            secrets.mask("GET /x?key=k3y%2Fwith+space&t=tok-123"),
            "GET /x?key=****&t=****"
        );
    }
}
