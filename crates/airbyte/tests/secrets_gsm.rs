//! Google Secret Manager against a local mock of its REST API and of Google's token endpoint.
//! The mock verifies the signed JWT (RS256 with the test key's public half; iss, scope, aud,
//! iat, exp) and checks every request (bearer token, paths, label filters, page tokens).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use ab::secrets::{GoogleGSMSecretManager, GsmError, GsmOptions, SecretString};
use airbyte as ab;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

const EMAIL: &str = "abrs-test@test-project.iam.gserviceaccount.com";
const KEY_ID: &str = "test-key-id";
const TOKEN: &str = "ya29.mock-access-token";
const PROJECT: &str = "test-project";
const SECRET_VALUE: &str = "s3cr3t-value-from-gsm";
const CONFIG_VALUE: &str = r#"{"credentials": {"personal_access_token": "ghp_from_gsm"}}"#;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The DER body of a PEM block.
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    STANDARD.decode(body).unwrap_or_else(|e| panic!("{e}"))
}

#[derive(Debug, Clone)]
struct Request {
    method: String,
    target: String,
    headers: HashMap<String, String>,
    body: String,
}

impl Request {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    fn query(&self) -> HashMap<String, String> {
        let q = self.target.split_once('?').map(|(_, q)| q).unwrap_or("");
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    }
}

/// Checks an assertion as Google's token endpoint would; the reason when it is refused.
fn verify_jwt(assertion: &str, token_uri: &str) -> Result<(), String> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return Err("not three parts".into());
    };
    let public = pem_der(&fixture("gsm_test_key.pub.pem"));
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "signature not base64url")?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, public)
        .verify(format!("{header}.{claims}").as_bytes(), &signature)
        .map_err(|_| "bad signature".to_string())?;
    let decode = |part: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    let header = decode(header)?;
    if header != json!({"alg": "RS256", "typ": "JWT", "kid": KEY_ID}) {
        return Err(format!("header {header}"));
    }
    let claims = decode(claims)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let iat = claims["iat"].as_u64().ok_or("no iat")?;
    let exp = claims["exp"].as_u64().ok_or("no exp")?;
    if claims["iss"] != EMAIL {
        return Err(format!("iss {}", claims["iss"]));
    }
    if claims["scope"] != "https://www.googleapis.com/auth/cloud-platform" {
        return Err(format!("scope {}", claims["scope"]));
    }
    if claims["aud"] != token_uri {
        return Err(format!("aud {}", claims["aud"]));
    }
    if iat.abs_diff(now) > 60 || exp != iat + 3600 {
        return Err(format!("iat {iat} exp {exp} now {now}"));
    }
    Ok(())
}

struct Mock {
    base: String,
    log: Arc<Mutex<Vec<Request>>>,
}

impl Mock {
    fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn token_uri(&self) -> String {
        format!("{}/token", self.base)
    }

    fn key_json(&self, email: &str) -> SecretString {
        SecretString::new(
            json!({
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": KEY_ID,
                "private_key": fixture("gsm_test_key.pem"),
                "client_email": email,
                "token_uri": self.token_uri(),
            })
            .to_string(),
        )
    }

    fn options(&self, email: &str) -> GsmOptions {
        GsmOptions {
            credentials_json: Some(self.key_json(email)),
            base_url: Some(format!("{}/v1", self.base)),
            ..Default::default()
        }
    }
}

fn payload(text: &str) -> (u16, Value) {
    (
        200,
        json!({"name": "x/versions/1", "payload": {"data": STANDARD.encode(text)}}),
    )
}

fn respond(req: &Request, token_uri: &str) -> (u16, Value) {
    if req.method == "POST" && req.path() == "/token" {
        let form: HashMap<String, String> = url::form_urlencoded::parse(req.body.as_bytes())
            .into_owned()
            .collect();
        if form.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return (400, json!({"error": "unsupported_grant_type"}));
        }
        return match verify_jwt(form.get("assertion").map_or("", |s| s), token_uri) {
            Ok(()) => (
                200,
                json!({"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"}),
            ),
            Err(why) => (
                400,
                json!({"error": "invalid_grant", "error_description": format!("Invalid JWT: {why}")}),
            ),
        };
    }
    if req.headers.get("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return (401, json!({"error": {"code": 401, "message": "no token"}}));
    }
    let secrets = format!("/v1/projects/{PROJECT}/secrets");
    match (req.method.as_str(), req.path()) {
        ("GET", p) if p == format!("{secrets}/API_KEY/versions/latest:access") => {
            payload(SECRET_VALUE)
        }
        ("GET", p) if p == format!("{secrets}/EMPTY/versions/latest:access") => payload(""),
        ("GET", p) if p == format!("{secrets}/FORBIDDEN/versions/latest:access") => (
            403,
            json!({"error": {"code": 403, "status": "PERMISSION_DENIED",
                "message": "Permission 'secretmanager.versions.access' denied"}}),
        ),
        ("GET", "/v1/projects/123/secrets/gh-config/versions/latest:access") => {
            payload(CONFIG_VALUE)
        }
        ("GET", p) if p == secrets => {
            let q = req.query();
            if q.get("pageSize").map(String::as_str) != Some("100") {
                return (400, json!({"error": {"message": "pageSize"}}));
            }
            match (
                q.get("filter").map(String::as_str),
                q.get("pageToken").map(String::as_str),
            ) {
                (Some("labels.connector=source-github"), None) => (
                    200,
                    json!({"secrets": [{"name": "projects/123/secrets/gh-config",
                        "labels": {"connector": "source-github", "kind": "config"}}],
                        "nextPageToken": "page-2", "totalSize": 2}),
                ),
                (Some("labels.connector=source-github"), Some("page-2")) => (
                    200,
                    json!({"secrets": [{"name": "projects/123/secrets/gh-other",
                        "labels": {"connector": "source-github"}}]}),
                ),
                (Some(_), None) => (200, json!({})),
                _ => (400, json!({"error": {"message": "unexpected query"}})),
            }
        }
        _ => (
            404,
            json!({"error": {"code": 404, "status": "NOT_FOUND", "message": "not found"}}),
        ),
    }
}

/// A one-request-per-connection HTTP server on 127.0.0.1.
fn mock() -> Mock {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let base = format!("http://127.0.0.1:{port}");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (log2, token_uri) = (log.clone(), format!("{base}/token"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Ok(clone) = stream.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(clone);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let target = parts.next().unwrap_or("").to_string();
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                match reader.read_line(&mut h) {
                    Ok(n) if n > 0 && !h.trim().is_empty() => {}
                    _ => break,
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let req = Request {
                method,
                target,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            let (status, body) = respond(&req, &token_uri);
            log2.lock().unwrap_or_else(|e| e.into_inner()).push(req);
            let body = body.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Mock { base, log }
}

fn no_leak(text: &str) {
    let key = fixture("gsm_test_key.pem");
    let key_line = key.lines().nth(3).unwrap_or("-");
    for leak in [SECRET_VALUE, TOKEN, key_line, "ghp_from_gsm"] {
        assert!(!text.contains(leak), "`{leak}` leaked into: {text}");
    }
}

#[test]
fn secrets_are_read_with_a_verified_service_account_token() {
    let mock = mock();
    let gsm =
        GoogleGSMSecretManager::new(PROJECT, mock.options(EMAIL)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(gsm.project(), PROJECT);
    let debug = format!("{gsm:?}");
    no_leak(&debug);

    let value = gsm.get_secret("API_KEY").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value.as_ref().map(SecretString::expose), Some(SECRET_VALUE));
    assert_eq!(gsm.get_secret("MISSING").ok(), Some(None));
    assert_eq!(gsm.get_secret("EMPTY").ok(), Some(None));
    // Not a valid secret id: no request at all.
    assert_eq!(gsm.get_secret("has spaces/../x").ok(), Some(None));

    let requests = mock.requests();
    let tokens: Vec<_> = requests.iter().filter(|r| r.path() == "/token").collect();
    assert_eq!(tokens.len(), 1, "the token is reused: {requests:?}");
    assert_eq!(
        tokens[0].headers.get("content-type").map(String::as_str),
        Some("application/x-www-form-urlencoded")
    );
    let gets: Vec<_> = requests.iter().filter(|r| r.method == "GET").collect();
    assert_eq!(
        gets.iter().map(|r| r.path()).collect::<Vec<_>>(),
        [
            "/v1/projects/test-project/secrets/API_KEY/versions/latest:access",
            "/v1/projects/test-project/secrets/MISSING/versions/latest:access",
            "/v1/projects/test-project/secrets/EMPTY/versions/latest:access",
        ]
    );
    for r in &gets {
        assert_eq!(
            r.headers.get("authorization"),
            Some(&format!("Bearer {TOKEN}"))
        );
    }

    // The mock really checks the signature: the same assertion with another claim is refused.
    let form: HashMap<String, String> = url::form_urlencoded::parse(tokens[0].body.as_bytes())
        .into_owned()
        .collect();
    let assertion = &form["assertion"];
    assert_eq!(verify_jwt(assertion, &mock.token_uri()), Ok(()));
    let parts: Vec<&str> = assertion.split('.').collect();
    let forged_claims = URL_SAFE_NO_PAD.encode(
        json!({"iss": "intruder@x", "scope": "s", "aud": mock.token_uri(), "iat": 0, "exp": 1})
            .to_string(),
    );
    let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
    assert_eq!(
        verify_jwt(&forged, &mock.token_uri()),
        Err("bad signature".into())
    );
}

#[test]
fn connector_secrets_are_listed_by_label_across_pages() {
    let mock = mock();
    let gsm =
        GoogleGSMSecretManager::new(PROJECT, mock.options(EMAIL)).unwrap_or_else(|e| panic!("{e}"));
    let handles = gsm
        .fetch_connector_secrets("source-github")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        handles.iter().map(|h| h.secret_name()).collect::<Vec<_>>(),
        [
            "projects/123/secrets/gh-config",
            "projects/123/secrets/gh-other"
        ]
    );
    assert_eq!(
        handles[0].labels().get("kind").map(String::as_str),
        Some("config")
    );
    let lists: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path() == "/v1/projects/test-project/secrets")
        .map(|r| r.query())
        .collect();
    assert_eq!(lists.len(), 2);
    assert_eq!(lists[0].get("pageToken"), None);
    assert_eq!(
        lists[1].get("pageToken").map(String::as_str),
        Some("page-2")
    );

    let first = gsm
        .fetch_connector_secret("source-github")
        .unwrap_or_else(|e| panic!("{e}"));
    let config = first.parse_json().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config["credentials"]["personal_access_token"],
        "ghp_from_gsm"
    );
    no_leak(&format!("{first:?}"));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("config.json");
    first
        .write_to_file(&path, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        std::fs::read_to_string(&path).ok().as_deref(),
        Some(CONFIG_VALUE)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
    }

    // A second listed secret with no readable version.
    let err = handles[1].get_value().err().map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("no enabled version")),
        "{err:?}"
    );

    let none = gsm.fetch_connector_secret("source-none").err();
    assert!(
        matches!(&none, Some(GsmError::NoConnectorSecret { connector_name, .. })
            if connector_name == "source-none"),
        "{none:?}"
    );
    let by_label = gsm
        .fetch_secrets_by_label("team", "data")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(by_label.is_empty());
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.query().get("filter").map(String::as_str) == Some("labels.team=data"))
    );
}

#[test]
fn failures_say_what_to_do_and_leak_nothing() {
    let mock = mock();
    let gsm =
        GoogleGSMSecretManager::new(PROJECT, mock.options(EMAIL)).unwrap_or_else(|e| panic!("{e}"));
    let err = gsm.get_secret("FORBIDDEN").err().map(|e| e.to_string());
    let err = err.unwrap_or_default();
    assert!(err.contains("403"), "{err}");
    assert!(err.contains("Secret Manager Secret Accessor"), "{err}");
    assert!(err.contains("FORBIDDEN"), "{err}");
    no_leak(&err);

    // A key the token endpoint refuses (the assertion's issuer is not the signer's).
    let other = GoogleGSMSecretManager::new(PROJECT, mock.options("intruder@x.iam"))
        .unwrap_or_else(|e| panic!("{e}"));
    let err = other.get_secret("API_KEY").err().map(|e| e.to_string());
    let err = err.unwrap_or_default();
    assert!(err.contains("access token"), "{err}");
    assert!(err.contains("invalid_grant"), "{err}");
    assert!(err.contains("iss"), "{err}");
    no_leak(&err);
    let assertion_in_log = mock
        .requests()
        .iter()
        .filter(|r| r.path() == "/token")
        .map(|r| r.body.clone())
        .collect::<Vec<_>>();
    for body in assertion_in_log {
        let jwt = body.rsplit('=').next().unwrap_or("").to_string();
        assert!(!err.contains(&jwt));
    }

    // Nothing listens here: a transport error, quickly.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let dead = format!(
        "http://127.0.0.1:{}",
        closed.local_addr().map(|a| a.port()).unwrap_or(0)
    );
    drop(closed);
    let options = GsmOptions {
        base_url: Some(format!("{dead}/v1")),
        timeout: std::time::Duration::from_secs(5),
        ..mock.options(EMAIL)
    };
    let unreachable =
        GoogleGSMSecretManager::new(PROJECT, options).unwrap_or_else(|e| panic!("{e}"));
    // The token comes from the mock; the API is down.
    let err = unreachable
        .get_secret("API_KEY")
        .err()
        .map(|e| e.to_string());
    let err = err.unwrap_or_default();
    assert!(err.contains(&dead), "{err}");
    no_leak(&err);

    // Credentials given twice, or not at all.
    let both = GsmOptions {
        credentials_path: Some("/nonexistent".into()),
        ..mock.options(EMAIL)
    };
    assert!(matches!(
        GoogleGSMSecretManager::new(PROJECT, both),
        Err(GsmError::BothCredentials)
    ));
    let missing_file = GsmOptions {
        credentials_path: Some("/nonexistent/key.json".into()),
        ..Default::default()
    };
    let err = GoogleGSMSecretManager::new(PROJECT, missing_file)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("/nonexistent/key.json"), "{err}");
}

/// Env-var credentials and GSM as a registered secret source. One test, as it changes the
/// environment and the process-wide list of sources.
#[test]
fn gsm_from_environment_credentials_as_a_secret_source() {
    let mock = mock();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let key_file = dir.path().join("key.json");
    std::fs::write(&key_file, mock.key_json(EMAIL).expose()).unwrap_or_else(|e| panic!("{e}"));
    let base_url = Some(format!("{}/v1", mock.base));

    // SAFETY: the only test of this binary that touches the environment; the others read
    // none of these variables.
    unsafe {
        std::env::remove_var("GOOGLE_APPLICATION_CREDENTIALS");
        std::env::remove_var("GCP_GSM_CREDENTIALS");
    }
    let err = GoogleGSMSecretManager::new(PROJECT, GsmOptions::default()).err();
    assert!(matches!(err, Some(GsmError::NoCredentials)), "{err:?}");
    assert!(err.map(|e| e.to_string()).is_some_and(
        |e| e.contains("GOOGLE_APPLICATION_CREDENTIALS") && e.contains("GCP_GSM_CREDENTIALS")
    ));

    unsafe { std::env::set_var("GCP_GSM_CREDENTIALS", mock.key_json(EMAIL).expose()) };
    let from_json_var = GoogleGSMSecretManager::new(
        "",
        GsmOptions {
            base_url: base_url.clone(),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // An empty project is the key's `project_id`.
    assert_eq!(from_json_var.project(), PROJECT);
    unsafe { std::env::set_var("GOOGLE_APPLICATION_CREDENTIALS", &key_file) };
    let gsm = GoogleGSMSecretManager::new(
        PROJECT,
        GsmOptions {
            base_url,
            auto_register: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    unsafe {
        std::env::remove_var("GOOGLE_APPLICATION_CREDENTIALS");
        std::env::remove_var("GCP_GSM_CREDENTIALS");
    }

    // Registered first: asked before the environment.
    let names: Vec<String> = ab::secrets::secret_sources()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    assert_eq!(names, ["google_gsm", "env", "dotenv", "prompt"]);
    unsafe { std::env::set_var("API_KEY", "from-env") };
    assert_eq!(
        ab::get_secret("API_KEY").ok().map(SecretString::into_inner),
        Some(SECRET_VALUE.to_string())
    );
    let hydrated = ab::secrets::hydrate_config(&json!({"k": "secret_reference::API_KEY"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hydrated, json!({"k": SECRET_VALUE}));
    // Only the environment, by kind.
    let env_only = ab::GetSecretOptions {
        sources: Some(vec![ab::SecretSourceEnum::Env.into()]),
        ..Default::default()
    };
    assert_eq!(
        ab::get_secret_with("API_KEY", env_only)
            .ok()
            .map(SecretString::into_inner),
        Some("from-env".to_string())
    );
    unsafe { std::env::remove_var("API_KEY") };

    // A failing store is skipped (the environment answers) and reported when no one has it.
    unsafe { std::env::set_var("FORBIDDEN", "env-has-it") };
    assert_eq!(
        ab::get_secret("FORBIDDEN")
            .ok()
            .map(SecretString::into_inner),
        Some("env-has-it".to_string())
    );
    unsafe { std::env::remove_var("FORBIDDEN") };
    let options = ab::GetSecretOptions {
        allow_prompt: false,
        ..Default::default()
    };
    let err = ab::get_secret_with("FORBIDDEN", options.clone())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("Secret `FORBIDDEN` was not found"), "{err}");
    assert!(
        err.contains("Google Secret Manager (project `test-project`, secret `FORBIDDEN`)"),
        "{err}"
    );
    assert!(err.contains("403"), "{err}");
    assert!(err.contains("environment variable `FORBIDDEN`"), "{err}");
    assert!(err.contains(".env"), "{err}");
    no_leak(&err);

    // Unregistered: an explicit GSM source is an input error; the handle still works.
    ab::secrets::disable_secret_source(ab::SecretSourceEnum::GoogleGsm);
    let gsm_only = ab::GetSecretOptions {
        sources: Some(vec![ab::SecretSourceEnum::GoogleGsm.into()]),
        ..options
    };
    let err = ab::get_secret_with("API_KEY", gsm_only.clone()).err();
    assert!(
        matches!(&err, Some(ab::Error::Input { message, .. })
            if message.contains("`google_gsm` is not registered") && message.contains("`env`")),
        "{err:?}"
    );
    let as_manager = ab::GetSecretOptions {
        sources: Some(vec![ab::secrets::SecretSource::Manager(Arc::new(
            gsm.clone(),
        ))]),
        ..gsm_only
    };
    assert_eq!(
        ab::get_secret_with("API_KEY", as_manager)
            .ok()
            .map(SecretString::into_inner),
        Some(SECRET_VALUE.to_string())
    );
}
