//! `abrs manifest test-read`: one stream read two pages deep against a mock API, printed per
//! slice and page as text and as JSON, the token masked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;

use serde_json::{Value, json};

const TOKEN: &str = "cli-test-read-token";

const MANIFEST: &str = r#"
version: 6.0.0
type: DeclarativeSource
check: {type: CheckStream, stream_names: [items]}
streams:
  - type: DeclarativeStream
    name: items
    schema_loader: {type: InlineSchemaLoader, schema: {type: object}}
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: "{{ config['base_url'] }}"
        path: /items
        authenticator: {type: BearerAuthenticator, api_token: "{{ config['token'] }}"}
      record_selector:
        type: RecordSelector
        extractor: {type: DpathExtractor, field_path: [data]}
      paginator:
        type: DefaultPaginator
        page_token_option: {type: RequestOption, inject_into: request_parameter, field_name: page}
        pagination_strategy:
          type: CursorPagination
          cursor_value: "{{ response.next }}"
          stop_condition: "{{ not response.next }}"
spec:
  type: Spec
  connection_specification:
    type: object
    properties:
      base_url: {type: string}
      token: {type: string, airbyte_secret: true}
"#;

/// `/items?page=N`: two records a page, a next page up to page 9.
fn mock_api() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn serve(mut stream: std::net::TcpStream) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        let _ = reader.read_exact(&mut body);
        let page: u32 = target
            .split_once("page=")
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(1);
        let body =
            json!({"data": [{"id": page * 10 + 1}, {"id": page * 10 + 2}], "next": page + 1})
                .to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn test_read_prints_requests_responses_and_records_per_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dir.path().join("manifest.yaml");
    std::fs::write(&manifest, MANIFEST).expect("manifest");
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        json!({"base_url": mock_api(), "token": TOKEN}).to_string(),
    )
    .expect("config");
    let run = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_abrs"))
            .args(["manifest", "test-read"])
            .arg(&manifest)
            .arg("--config")
            .arg(&config)
            .args(["--stream", "items", "--pages", "2", "--format", format])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!stdout.contains(TOKEN), "{stdout}");
        stdout
    };
    let text = run("text");
    assert!(text.contains("page 2\n"), "{text}");
    assert!(!text.contains("page 3\n"), "{text}");
    assert!(text.contains("request: GET http://127.0.0.1:"), "{text}");
    assert!(text.contains("Authorization: ****"), "{text}");
    assert!(text.contains("response: 200"), "{text}");
    assert!(text.contains(r#"{"id":22}"#), "{text}");
    assert!(
        text.contains("4 record(s) of stream items in 1 slice(s)"),
        "{text}"
    );

    let read: Value = serde_json::from_str(&run("json")).expect("JSON output");
    let pages = read["slices"][0]["pages"].as_array().expect("pages");
    assert_eq!(pages.len(), 2);
    assert!(
        pages[1]["request"]["url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/items?page=2"))
    );
    assert_eq!(pages[1]["records"], json!([{"id": 21}, {"id": 22}]));
    assert_eq!(pages[0]["response"]["status"], 200);
}
