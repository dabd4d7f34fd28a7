//! A loopback HTTP server of fixed answers per path, changeable while it runs: for the registry
//! and manifest downloads. A path answered with [`Answer::Stall`] accepts the request and never
//! answers (a registry that hangs).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a path answers.
#[derive(Debug, Clone)]
#[allow(dead_code)] // each test file that includes this module uses some of the answers
pub enum Answer {
    /// A status line (e.g. `200 OK`) and a body.
    Body(&'static str, String),
    /// Nothing, for a minute.
    Stall,
}

/// The server: its base URL, its answers, and the paths it was asked for.
pub struct FilesServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl FilesServer {
    /// Starts a server; unknown paths answer 404.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let answers: Arc<Mutex<HashMap<String, Answer>>> = Arc::default();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let (a, s) = (answers.clone(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (a, s) = (a.clone(), s.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                            break;
                        }
                    }
                    s.lock().unwrap().push(path.clone());
                    let answer = a.lock().unwrap().get(&path).cloned();
                    let (status, body) = match answer {
                        Some(Answer::Body(status, body)) => (status, body),
                        Some(Answer::Stall) => {
                            std::thread::sleep(Duration::from_secs(60));
                            return;
                        }
                        None => ("404 Not Found", "not found".to_string()),
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        Self {
            base,
            answers,
            seen,
        }
    }

    /// Sets what `path` answers.
    pub fn set(&self, path: &str, answer: Answer) {
        self.answers
            .lock()
            .unwrap()
            .insert(path.to_string(), answer);
    }

    /// How many times `path` was asked for.
    pub fn hits(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}
