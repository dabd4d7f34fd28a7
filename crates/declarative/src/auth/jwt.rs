//! `JwtAuthenticator`: a JSON Web Token signed for each request (as the CDK's, with PyJWT's
//! encoding: the header's keys sorted, the payload's in the CDK's order), sent in
//! `Authorization` (or where `request_option` says). HMAC (`HS256/384/512`) signs with the
//! secret key; RSA (`RS256/384/512`, `PS256/384/512`), ECDSA (`ES256`, `ES384`) and `EdDSA`
//! (Ed25519) sign with a PEM private key (PKCS#8, or PKCS#1 for RSA), all with `ring`.

use base64::Engine as _;
use ring::signature;
use serde_json::Value;

use super::Authenticator;
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::HttpClient;
use crate::interpolation::{Context, InterpolatedMapping, InterpolatedString};
use crate::requesters::{InjectInto, RequestOption, RequestOptions};

/// The signing algorithms the engine implements.
#[derive(Clone, Copy)]
enum Algorithm {
    Hs(ring::hmac::Algorithm, &'static str),
    Rsa(&'static dyn signature::RsaEncoding, &'static str),
    Ecdsa(&'static signature::EcdsaSigningAlgorithm, &'static str),
    EdDsa,
}

impl Algorithm {
    fn parse(name: &str) -> Option<Self> {
        use signature::{
            ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, RSA_PKCS1_SHA256,
            RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, RSA_PSS_SHA256, RSA_PSS_SHA384, RSA_PSS_SHA512,
        };
        Some(match name {
            "HS256" => Self::Hs(ring::hmac::HMAC_SHA256, "HS256"),
            "HS384" => Self::Hs(ring::hmac::HMAC_SHA384, "HS384"),
            "HS512" => Self::Hs(ring::hmac::HMAC_SHA512, "HS512"),
            "RS256" => Self::Rsa(&RSA_PKCS1_SHA256, "RS256"),
            "RS384" => Self::Rsa(&RSA_PKCS1_SHA384, "RS384"),
            "RS512" => Self::Rsa(&RSA_PKCS1_SHA512, "RS512"),
            "PS256" => Self::Rsa(&RSA_PSS_SHA256, "PS256"),
            "PS384" => Self::Rsa(&RSA_PSS_SHA384, "PS384"),
            "PS512" => Self::Rsa(&RSA_PSS_SHA512, "PS512"),
            "ES256" => Self::Ecdsa(&ECDSA_P256_SHA256_FIXED_SIGNING, "ES256"),
            "ES384" => Self::Ecdsa(&ECDSA_P384_SHA384_FIXED_SIGNING, "ES384"),
            "EdDSA" => Self::EdDsa,
            _ => return None,
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Hs(_, n) | Self::Rsa(_, n) | Self::Ecdsa(_, n) => n,
            Self::EdDsa => "EdDSA",
        }
    }
}

impl std::fmt::Debug for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A `JwtAuthenticator`.
#[derive(Debug)]
pub struct JwtAuthenticator {
    algorithm: Algorithm,
    secret_key: InterpolatedString,
    base64_encode_secret_key: bool,
    token_duration: Option<i64>,
    header_prefix: Option<InterpolatedString>,
    /// `kid`, `typ`, `cty` (templates), in that order.
    headers: Vec<(&'static str, InterpolatedString)>,
    /// `iss`, `sub`, `aud` (templates), in that order.
    claims: Vec<(&'static str, InterpolatedString)>,
    additional_headers: InterpolatedMapping,
    additional_payload: InterpolatedMapping,
    option: RequestOption,
    config: Value,
    path: ManifestPath,
}

impl JwtAuthenticator {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let name = node.str("algorithm")?;
        let algorithm = Algorithm::parse(&name).ok_or_else(|| {
            node.error(
                "algorithm",
                format!("the native engine does not sign JWTs with {name:?} (it signs HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384 and EdDSA); run this manifest with the Python CDK instead (`--use-python`)"),
            )
        })?;
        if node.get("passphrase").is_some() {
            return Err(EngineError::UnsupportedComponent {
                at: node.child_path("passphrase"),
                type_name: "JwtAuthenticator with an encrypted private key (passphrase)".into(),
            });
        }
        let params = node.parameters();
        let templates = |key: &str, fields: &[&'static str], defaults: &[(&str, &str)]| {
            let map = node.opt_object(key)?;
            let mut out = Vec::new();
            for field in fields {
                let written = match map {
                    Some(m) => m.get(*field).and_then(|v| match v {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    }),
                    None => defaults
                        .iter()
                        .find(|(k, _)| k == field)
                        .map(|(_, v)| v.to_string()),
                };
                // The model's default `typ` is "JWT" also inside a `jwt_headers` without it.
                let written = written
                    .or_else(|| (map.is_some() && *field == "typ").then(|| "JWT".to_string()));
                if let Some(w) = written.filter(|w| !w.is_empty()) {
                    out.push((*field, InterpolatedString::new(w, params)));
                }
            }
            Ok::<_, EngineError>(out)
        };
        let headers = templates("jwt_headers", &["kid", "typ", "cty"], &[("typ", "JWT")])?;
        let claims = templates("jwt_payload", &["iss", "sub", "aud"], &[])?;
        let mapping = |key: &str| -> Result<InterpolatedMapping> {
            Ok(InterpolatedMapping::new(
                node.opt_object(key)?.cloned().unwrap_or_default(),
                params,
            ))
        };
        let option_path = node.child_path("request_option");
        let option = match node.child("request_option", &option_path)? {
            Some(o) => RequestOption::from_node(o)?,
            None => {
                let synthetic = serde_json::json!({
                    "type": "RequestOption", "inject_into": "header", "field_name": "Authorization",
                });
                RequestOption::from_node(node.node(&synthetic, node.path)?)?
            }
        };
        Ok(Self {
            algorithm,
            secret_key: node.interpolated("secret_key")?,
            base64_encode_secret_key: node.opt_bool("base64_encode_secret_key")?.unwrap_or(false),
            token_duration: Some(node.opt_i64("token_duration")?.unwrap_or(1200)),
            header_prefix: node.opt_interpolated("header_prefix")?,
            headers,
            claims,
            additional_headers: mapping("additional_jwt_headers")?,
            additional_payload: mapping("additional_jwt_payload")?,
            option,
            config: node.config().clone(),
            path: node.path.clone(),
        })
    }

    /// The signed token (with its prefix), for a token issued at `now` (epoch seconds).
    pub fn token(&self, now: i64) -> Result<String> {
        let context = Context::new(&self.config);
        let fail = |message: String| EngineError::manifest(&self.path, message);
        let interpolation = |key: &str, e| EngineError::interpolation(&self.path.key(key), e);
        let mut header = self
            .additional_headers
            .eval(&context, None)
            .map_err(|e| interpolation("additional_jwt_headers", e))?;
        if ["kid", "alg", "typ", "cty"]
            .iter()
            .any(|k| header.contains_key(*k))
        {
            return Err(fail("'kid', 'alg', 'typ', 'cty' are reserved headers and should not be set as part of 'additional_jwt_headers'".into()));
        }
        for (key, template) in &self.headers {
            let value = template
                .eval(&context)
                .map_err(|e| interpolation("jwt_headers", e))?;
            header.insert((*key).into(), value);
        }
        header.insert("alg".into(), Value::String(self.algorithm.name().into()));
        // PyJWT starts from {"typ": "JWT", "alg": ...}, drops a falsy `typ`, sorts the keys.
        if !header.contains_key("typ") {
            header.insert("typ".into(), Value::String("JWT".into()));
        }
        if !header.get("typ").is_some_and(crate::truthiness::truthy) {
            header.remove("typ");
        }
        header.sort_keys();
        let mut payload = self
            .additional_payload
            .eval(&context, None)
            .map_err(|e| interpolation("additional_jwt_payload", e))?;
        if ["iss", "sub", "aud", "iat", "exp", "nbf"]
            .iter()
            .any(|k| payload.contains_key(*k))
        {
            return Err(fail("'iss', 'sub', 'aud', 'iat', 'exp', 'nbf' are reserved properties and should not be set as part of 'additional_jwt_payload'".into()));
        }
        for (key, template) in &self.claims {
            let value = template
                .eval(&context)
                .map_err(|e| interpolation("jwt_payload", e))?;
            payload.insert((*key).into(), value);
        }
        payload.insert("iat".into(), Value::from(now));
        payload.insert(
            "exp".into(),
            Value::from(now + self.token_duration.unwrap_or(0)),
        );
        payload.insert("nbf".into(), Value::from(now));
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let signing_input = format!(
            "{}.{}",
            b64.encode(compact_json(&Value::Object(header))),
            b64.encode(compact_json(&Value::Object(payload)))
        );
        let secret = self
            .secret_key
            .eval_to_string(&context)
            .map_err(|e| interpolation("secret_key", e))?;
        let signature = self
            .sign(signing_input.as_bytes(), &secret)
            .map_err(|m| fail(format!("Failed to sign token: {m}")))?;
        let token = format!("{signing_input}.{}", b64.encode(signature));
        let prefix = match &self.header_prefix {
            Some(p) => p
                .eval_to_string(&context)
                .map_err(|e| interpolation("header_prefix", e))?,
            None => String::new(),
        };
        Ok(if prefix.is_empty() {
            token
        } else {
            format!("{prefix} {token}")
        })
    }

    fn sign(&self, message: &[u8], secret: &str) -> std::result::Result<Vec<u8>, String> {
        let rng = ring::rand::SystemRandom::new();
        match self.algorithm {
            Algorithm::Hs(alg, _) => {
                let key = if self.base64_encode_secret_key {
                    base64::engine::general_purpose::STANDARD
                        .encode(secret)
                        .into_bytes()
                } else {
                    secret.as_bytes().to_vec()
                };
                Ok(ring::hmac::sign(&ring::hmac::Key::new(alg, &key), message)
                    .as_ref()
                    .to_vec())
            }
            Algorithm::Rsa(encoding, _) => {
                let (label, der) = pem_der(secret)?;
                let key = if label == "RSA PRIVATE KEY" {
                    signature::RsaKeyPair::from_der(&der)
                } else {
                    signature::RsaKeyPair::from_pkcs8(&der)
                }
                .map_err(|e| format!("the secret key is not an RSA private key: {e}"))?;
                let mut out = vec![0; key.public().modulus_len()];
                key.sign(encoding, &rng, message, &mut out)
                    .map_err(|_| "RSA signing failed".to_string())?;
                Ok(out)
            }
            Algorithm::Ecdsa(alg, _) => {
                let (_, der) = pem_der(secret)?;
                let key = signature::EcdsaKeyPair::from_pkcs8(alg, &der, &rng).map_err(|e| {
                    format!("the secret key is not a PKCS#8 EC private key of this curve: {e}")
                })?;
                key.sign(&rng, message)
                    .map(|s| s.as_ref().to_vec())
                    .map_err(|_| "ECDSA signing failed".to_string())
            }
            Algorithm::EdDsa => {
                let (_, der) = pem_der(secret)?;
                let key = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                    .map_err(|e| format!("the secret key is not a PKCS#8 Ed25519 key: {e}"))?;
                Ok(key.sign(message).as_ref().to_vec())
            }
        }
    }
}

impl Authenticator for JwtAuthenticator {
    fn request_options(&self, client: &HttpClient) -> Result<RequestOptions> {
        let token = self.token(chrono::Utc::now().timestamp())?;
        client.secrets().add(&token);
        let mut options = RequestOptions::default();
        let target = options.target(self.option.inject_into);
        self.option
            .inject(target, Value::String(token), &self.config)?;
        if self.option.inject_into == InjectInto::Header {
            options.headers.remove("");
        }
        Ok(options)
    }
}

/// JSON as Python's `json.dumps(v, separators=(",", ":"))` writes it (non-ASCII escaped).
fn compact_json(value: &Value) -> Vec<u8> {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out.into_bytes()
}

/// The label and DER bytes of a PEM block.
fn pem_der(pem: &str) -> std::result::Result<(String, Vec<u8>), String> {
    let pem = pem.trim().replace("\\n", "\n");
    let begin = pem
        .find("-----BEGIN ")
        .ok_or("the secret key is not a PEM private key (no -----BEGIN line)")?;
    let rest = &pem[begin + "-----BEGIN ".len()..];
    let label_end = rest.find("-----").ok_or("the PEM header is malformed")?;
    let label = rest[..label_end].to_string();
    let body_start = label_end + 5;
    let end = rest
        .find("-----END ")
        .ok_or("the PEM private key has no -----END line")?;
    let body: String = rest[body_start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("the PEM private key is not base64: {e}"))?;
    Ok((label, der))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use serde_json::json;

    fn authenticator(node: Value, config: Value) -> JwtAuthenticator {
        let env = BuildEnv {
            config,
            ..Default::default()
        };
        let path = ManifestPath::root();
        JwtAuthenticator::from_node(Node::new(&node, &path, &env).unwrap()).unwrap()
    }

    fn parts(token: &str) -> (Value, Value, Vec<u8>, String) {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let pieces: Vec<&str> = token.split('.').collect();
        let header: Value = serde_json::from_slice(&b64.decode(pieces[0]).unwrap()).unwrap();
        let payload: Value = serde_json::from_slice(&b64.decode(pieces[1]).unwrap()).unwrap();
        (
            header,
            payload,
            b64.decode(pieces[2]).unwrap(),
            format!("{}.{}", pieces[0], pieces[1]),
        )
    }

    #[test]
    fn hs256_as_pyjwt_signs_it() {
        let auth = authenticator(
            json!({"type": "JwtAuthenticator", "secret_key": "{{ config.secret }}", "algorithm": "HS256",
                   "token_duration": 60, "header_prefix": "Bearer",
                   "jwt_headers": {"kid": "{{ config.kid }}"}, "jwt_payload": {"iss": "me", "aud": "api"},
                   "additional_jwt_payload": {"scope": "read"}}),
            json!({"secret": "s3cr3t", "kid": "key-1"}),
        );
        let token = auth.token(1_700_000_000).unwrap();
        let token = token.strip_prefix("Bearer ").unwrap();
        let (header, payload, signature, input) = parts(token);
        assert_eq!(
            header,
            json!({"alg": "HS256", "kid": "key-1", "typ": "JWT"})
        );
        // PyJWT sorts the header's keys: `alg`, `kid`, `typ`.
        assert!(
            token.starts_with(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(br#"{"alg":"HS256","kid":"key-1","typ":"JWT"}"#)
            )
        );
        assert_eq!(
            payload,
            json!({"scope": "read", "iss": "me", "aud": "api", "iat": 1_700_000_000, "exp": 1_700_000_060, "nbf": 1_700_000_000})
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cr3t");
        ring::hmac::verify(&key, input.as_bytes(), &signature).expect("a valid HS256 signature");
        // What PyJWT 2 (the CDK's) gives for the same header, payload and key.
        assert_eq!(
            token,
            "eyJhbGciOiJIUzI1NiIsImtpZCI6ImtleS0xIiwidHlwIjoiSldUIn0.eyJzY29wZSI6InJlYWQiLCJpc3MiOiJtZSIsImF1ZCI6ImFwaSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAwMDYwLCJuYmYiOjE3MDAwMDAwMDB9.FHLathj9J_yOyaKpb2cC9uXWanNNpuUglPmKX3t3yro"
        );
    }

    #[test]
    fn base64_encoded_secret_hs512_and_reserved_claims() {
        let auth = authenticator(
            json!({"type": "JwtAuthenticator", "secret_key": "k", "algorithm": "HS512", "base64_encode_secret_key": true}),
            json!({}),
        );
        let (_, payload, signature, input) = parts(&auth.token(10).unwrap());
        assert_eq!(payload["exp"], 1210, "the default duration is 1200 s");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA512, b"aw==");
        ring::hmac::verify(&key, input.as_bytes(), &signature).expect("signed with base64(k)");
        let auth = authenticator(
            json!({"type": "JwtAuthenticator", "secret_key": "k", "algorithm": "HS384", "additional_jwt_payload": {"exp": 1}}),
            json!({}),
        );
        assert!(auth.token(10).unwrap_err().to_string().contains("reserved"));
    }

    #[test]
    fn rs256_with_a_pkcs8_pem_key() {
        let pem = include_str!("../../tests/fixtures/jwt_rsa_2048.pem");
        let auth = authenticator(
            json!({"type": "JwtAuthenticator", "secret_key": "{{ config.key }}", "algorithm": "RS256"}),
            json!({"key": pem}),
        );
        let (header, _, signature, input) = parts(&auth.token(5).unwrap());
        assert_eq!(header, json!({"alg": "RS256", "typ": "JWT"}));
        let (_, der) = pem_der(pem).unwrap();
        let pair = signature::RsaKeyPair::from_pkcs8(&der).unwrap();
        signature::UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            pair.public().as_ref(),
        )
        .verify(input.as_bytes(), &signature)
        .expect("a valid RS256 signature");
        let bad = authenticator(
            json!({"type": "JwtAuthenticator", "secret_key": "not a key", "algorithm": "RS256"}),
            json!({}),
        );
        assert!(
            bad.token(5)
                .unwrap_err()
                .to_string()
                .contains("Failed to sign token")
        );
    }

    #[test]
    fn an_algorithm_ring_lacks_is_a_clear_error() {
        let env = BuildEnv::default();
        let path = ManifestPath::root();
        let node = json!({"type": "JwtAuthenticator", "secret_key": "k", "algorithm": "ES256K"});
        let e = JwtAuthenticator::from_node(Node::new(&node, &path, &env).unwrap()).unwrap_err();
        assert!(e.to_string().contains("--use-python"), "{e}");
    }
}
