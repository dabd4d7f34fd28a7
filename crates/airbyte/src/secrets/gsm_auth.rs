//! Google service-account credentials: the key file, the signed JWT, and the OAuth2 JWT-bearer
//! token exchange (what `google-auth` does for PyAirbyte's Secret Manager client).

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

use super::SecretString;
use super::gsm::GsmError;

/// The OAuth2 scope the Secret Manager API needs.
pub(crate) const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Where Google's keys send token requests when they do not say.
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The JWT-bearer grant type (RFC 7523).
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long a signed assertion is valid (Google's maximum).
const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// A token is renewed this long before it expires.
const TOKEN_RENEW_MARGIN: Duration = Duration::from_secs(60);

/// A parsed service-account key: what signs the assertions.
pub(crate) struct ServiceAccountKey {
    client_email: String,
    private_key_id: Option<String>,
    token_uri: String,
    project_id: Option<String>,
    key_pair: RsaKeyPair,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// Parses a service-account key (the JSON of a key file). `origin` says where it came from,
    /// for errors; errors never quote the key.
    pub(crate) fn parse(json_text: &SecretString, origin: &str) -> Result<Self, GsmError> {
        let invalid = |reason: String| GsmError::InvalidCredentials {
            origin: origin.to_string(),
            reason,
        };
        // serde_json's messages give a position, not the text.
        let value: Value = serde_json::from_str(json_text.expose())
            .map_err(|e| invalid(format!("not valid JSON ({e})")))?;
        let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
        match field("type").as_deref() {
            Some("service_account") | None => {}
            Some(other) => {
                return Err(invalid(format!(
                    "its `type` is `{other}`; only `service_account` keys are supported"
                )));
            }
        }
        let client_email =
            field("client_email").ok_or_else(|| invalid("`client_email` is missing".into()))?;
        let pem = field("private_key").ok_or_else(|| invalid("`private_key` is missing".into()))?;
        let pem = SecretString(pem);
        let key_pair = parse_private_key(&pem).map_err(invalid)?;
        Ok(Self {
            client_email,
            private_key_id: field("private_key_id"),
            token_uri: field("token_uri").unwrap_or_else(|| DEFAULT_TOKEN_URI.to_string()),
            project_id: field("project_id"),
            key_pair,
        })
    }

    /// The key's project, when it names one.
    pub(crate) fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }

    /// The token endpoint.
    pub(crate) fn token_uri(&self) -> &str {
        &self.token_uri
    }

    /// A signed RS256 JWT asserting the service account's identity, for `scope`.
    pub(crate) fn assertion(&self, scope: &str) -> Result<String, GsmError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.private_key_id {
            header["kid"] = json!(kid);
        }
        let claims = json!({
            "iss": self.client_email,
            "scope": scope,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key_pair.public().modulus_len()];
        self.key_pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| GsmError::Token {
                url: self.token_uri.clone(),
                reason: "signing the JWT assertion with the service account key failed".into(),
            })?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// Reads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`, what Google's key files hold) or
/// PKCS#1 (`BEGIN RSA PRIVATE KEY`).
fn parse_private_key(pem: &SecretString) -> Result<RsaKeyPair, String> {
    let text = pem.expose();
    let (label, body) = pem_body(text).ok_or_else(|| {
        "`private_key` is not a PEM key (no `-----BEGIN ... PRIVATE KEY-----` block)".to_string()
    })?;
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| "the PEM block of `private_key` is not valid base64".to_string())?;
    let parsed = match label {
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
        other => {
            return Err(format!(
                "`private_key` is a `{other}` block; an RSA `PRIVATE KEY` (PKCS#8) is needed"
            ));
        }
    };
    parsed.map_err(|e| format!("`private_key` is not a usable RSA key ({e})"))
}

/// The label and the base64 body of the first PEM block.
fn pem_body(text: &str) -> Option<(&str, &str)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    let label = &rest[..label_end];
    let body_and_end = &rest[label_end + "-----".len()..];
    let end = body_and_end.find("-----END ")?;
    Some((label, &body_and_end[..end]))
}

/// An access token and when to renew it.
pub(crate) struct CachedToken {
    pub(crate) token: SecretString,
    pub(crate) renew_at: Instant,
}

impl CachedToken {
    pub(crate) fn is_fresh(&self) -> bool {
        Instant::now() < self.renew_at
    }
}

/// Exchanges a signed assertion for an access token at the key's `token_uri`.
pub(crate) fn fetch_token(
    client: &reqwest::blocking::Client,
    key: &ServiceAccountKey,
) -> Result<CachedToken, GsmError> {
    let url = key.token_uri().to_string();
    let failed = |reason: String| GsmError::Token {
        url: url.clone(),
        reason,
    };
    let assertion = key.assertion(CLOUD_PLATFORM_SCOPE)?;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", JWT_BEARER_GRANT)
        .append_pair("assertion", &assertion)
        .finish();
    let response = client
        .post(url.as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .map_err(|e| failed(crate::http_error::describe(&e)))?;
    let status = response.status();
    let text = response
        .text()
        .map_err(|e| failed(crate::http_error::describe(&e)))?;
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    if !status.is_success() {
        // OAuth2 errors: {"error": "invalid_grant", "error_description": "..."}; never the
        // body as a whole.
        let detail = parsed
            .as_ref()
            .map(|v| {
                [v.get("error"), v.get("error_description")]
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(": ")
            })
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "no OAuth2 error in the response".into());
        return Err(failed(format!(
            "HTTP {status} ({})",
            truncate(&detail, 300)
        )));
    }
    let parsed = parsed.ok_or_else(|| failed("the response is not JSON".into()))?;
    let token = parsed
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| failed("the response has no `access_token`".into()))?;
    let lifetime = parsed
        .get("expires_in")
        .and_then(Value::as_u64)
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(ASSERTION_LIFETIME_SECS));
    Ok(CachedToken {
        token: SecretString(token.to_string()),
        renew_at: Instant::now() + lifetime.saturating_sub(TOKEN_RENEW_MARGIN),
    })
}

/// At most `max` characters.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_are_not_service_account_keys_are_refused_without_quoting_them() {
        let err = |text: &str| {
            ServiceAccountKey::parse(&SecretString::new(text), "from `credentials_json`")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let e = err("{\"type\": \"authorized_user\", \"refresh_token\": \"rt-SECRET\"}");
        assert!(e.contains("only `service_account`"), "{e}");
        assert!(!e.contains("rt-SECRET"), "{e}");
        let e = err("{\"client_email\": \"a@b\", \"private_key\": \"not-a-pem-SECRET\"}");
        assert!(e.contains("not a PEM key"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
        let e = err("{\"client_email\": \"a@b\", \"private_key\": \
             \"-----BEGIN PRIVATE KEY-----\\nQUFBQVNFQ1JFVA==\\n-----END PRIVATE KEY-----\\n\"}");
        assert!(e.contains("not a usable RSA key"), "{e}");
        assert!(!e.contains("QUFBQVNFQ1JFVA"), "{e}");
        let e = err("{not json SECRET");
        assert!(e.contains("not valid JSON"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
    }

    #[test]
    fn pem_blocks_are_found() {
        assert_eq!(
            pem_body("x\n-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----\n"),
            Some(("PRIVATE KEY", "\nQUJD\n"))
        );
        assert_eq!(pem_body("nothing"), None);
        assert_eq!(truncate("abcdef", 3), "abc...");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
