//! A manifest with Python components (`tests/fixtures/manifests/components_greeting`: a
//! `CustomTransformation` in the `components.py` beside it) runs through the Python CDK with
//! that code injected into the config (`__injected_components_py` and its md5), as PyAirbyte's
//! `source_manifest=Path` does. The end-to-end read installs airbyte-cdk from PyPI with our own
//! venv executor, into the install root the other CDK tests share (`manifest_cdk.rs`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use airbyte as ab;
use serde_json::{Value, json};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/manifests/components_greeting/manifest.yaml")
}

fn options() -> ab::SourceOptions {
    ab::SourceOptions {
        source_manifest: Some(ab::SourceManifest::Path(fixture())),
        ..Default::default()
    }
}

#[test]
fn the_components_beside_a_manifest_go_with_it_to_the_cdk() {
    let plan = ab::choose_executor("source-greeting", &options()).unwrap_or_else(|e| panic!("{e}"));
    let ab::ExecutorPlan::Declarative {
        manifest, native, ..
    } = &plan
    else {
        panic!("{plan:?}")
    };
    assert!(!native, "a CustomTransformation needs the Python CDK");
    let code = std::fs::read_to_string(fixture().with_file_name("components.py")).unwrap();
    use ab::declarative::components::{INJECTED_CHECKSUMS_KEY, INJECTED_COMPONENTS_KEY, md5_hex};
    assert_eq!(
        manifest[INJECTED_COMPONENTS_KEY],
        Value::String(code.clone())
    );
    assert_eq!(
        manifest[INJECTED_CHECKSUMS_KEY],
        json!({"md5": md5_hex(&code)})
    );
}

/// `GET /items`: three records.
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
        let body = json!({"data": [{"id": 1}, {"id": 2}, {"id": 3}]}).to_string();
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
fn a_manifest_with_components_reads_through_the_cdk() {
    let root = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".cache/airbyte-rs/test-venvs");
    let mut src = ab::get_source(
        "source-greeting",
        Some(json!({"base_url": mock_api()})),
        ab::SourceOptions {
            install_root: Some(root),
            ..options()
        },
    )
    .unwrap_or_else(|e| panic!("installing airbyte-cdk for the manifest: {e}"));
    assert!(
        src.executor().describe().contains("airbyte-cdk"),
        "{}",
        src.executor().describe()
    );
    src.select_all_streams().unwrap();
    let records: Vec<_> = src
        .get_records("items", None)
        .unwrap_or_else(|e| panic!("{e}"))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}"));
    let greetings: Vec<String> = records
        .iter()
        .map(|r| format!("{:?}", r.get("greeting")))
        .collect();
    assert_eq!(greetings.len(), 3, "{greetings:?}");
    assert!(greetings[0].contains("hello 1"), "{greetings:?}");
    assert!(greetings[2].contains("hello 3"), "{greetings:?}");
}
