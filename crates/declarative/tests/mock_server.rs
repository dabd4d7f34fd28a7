//! The tests' mock HTTP API itself (`support/`): requests on one kept-alive connection,
//! bodies by Content-Length and chunked, query and header recording, `*` path segments, and a
//! 404 for anything without a route.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use serde_json::json;
use support::{MockResponse, MockServer, Routes};

fn server() -> MockServer {
    MockServer::start(
        Routes::new()
            .get(
                "/items",
                |r| json!({"page": r.param("page"), "n": r.query.len()}),
            )
            .get("/things/*/parts", |r| json!({"path": r.path}))
            .route("POST", "/echo", |r| {
                MockResponse::json(json!({"body": r.body_text()})).header("X-Seen", "yes")
            }),
    )
}

/// Reads one response from a kept-alive connection: status line, headers, Content-Length body.
fn read_response(reader: &mut BufReader<TcpStream>) -> (String, Vec<String>, String) {
    let mut status = String::new();
    reader.read_line(&mut status).expect("status line");
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).expect("header");
        let h = h.trim_end().to_string();
        if h.is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().expect("a length");
        }
        headers.push(h);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    (
        status.trim_end().to_string(),
        headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[test]
fn several_requests_share_one_connection() {
    let server = server();
    let stream = TcpStream::connect(server.url().trim_start_matches("http://")).expect("connect");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);

    writer
        .write_all(b"GET /items?page=2&q=a+b HTTP/1.1\r\nHost: x\r\nX-Api-Key: k\r\n\r\n")
        .expect("write");
    let (status, headers, body) = read_response(&mut reader);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.iter().any(|h| h == "Connection: keep-alive"),
        "{headers:?}"
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).ok(),
        Some(json!({"page": "2", "n": 2}))
    );

    writer
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\na=1&b=2")
        .expect("write");
    let (_, headers, body) = read_response(&mut reader);
    assert!(headers.iter().any(|h| h == "X-Seen: yes"), "{headers:?}");
    assert_eq!(body, r#"{"body":"a=1&b=2"}"#);

    writer
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        .expect("write");
    let (_, _, body) = read_response(&mut reader);
    assert_eq!(body, r#"{"body":"abcde"}"#);

    writer
        .write_all(b"GET /things/t%201/parts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let (_, headers, body) = read_response(&mut reader);
    assert!(
        headers.iter().any(|h| h == "Connection: close"),
        "{headers:?}"
    );
    assert_eq!(body, r#"{"path":"/things/t 1/parts"}"#);
    // The server closed the connection after the request that asked it to.
    let mut rest = Vec::new();
    assert_eq!(reader.read_to_end(&mut rest).ok(), Some(0));

    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[0].line(), "GET /items?page=2&q=a b");
    assert_eq!(requests[0].header("x-api-key"), Some("k"));
    assert_eq!(
        requests[1].form(),
        [
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string())
        ]
    );
    assert_eq!(requests[2].body_text(), "abcde");
    assert_eq!(requests[3].path, "/things/t 1/parts");
}

#[test]
fn an_unknown_route_is_a_404_and_is_recorded() {
    let server = server();
    let stream = TcpStream::connect(server.url().trim_start_matches("http://")).expect("connect");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    writer
        .write_all(b"DELETE /items HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let (status, _, body) = read_response(&mut reader);
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert!(body.contains("no route for DELETE /items"), "{body}");
    assert_eq!(server.requests_to("/items").len(), 1);
    server.clear();
    assert!(server.requests().is_empty());
}
