//! Ctrl-C on `abrs records` stops the connector too (it runs in its own process group, so the
//! terminal's SIGINT does not reach it by itself).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn alive(pid: u32) -> bool {
    // Gone, or a zombie waiting to be reaped: both mean the connector stopped.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn sigint_stops_the_connector() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/source-fixture");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let pid_file = dir.path().join("connector.pid");
    let config =
        serde_json::json!({"mode": "hang", "count": 100, "pid_file": pid_file}).to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_abrs"))
        .args([
            "records",
            &fixture.to_string_lossy(),
            "--config",
            &config,
            "--stream",
            "users",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
    let mut lines = BufReader::new(stdout).lines();
    // Records flowing means the connector is registered for interrupts.
    for _ in 0..3 {
        let line = lines.next().unwrap_or_else(|| panic!("abrs ended early"));
        line.unwrap_or_else(|e| panic!("{e}"));
    }
    let connector: u32 = std::fs::read_to_string(&pid_file)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("pid file: {e}"));
    assert!(alive(connector));

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());
    let exit = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(!exit.success());

    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(connector) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !alive(connector),
        "connector {connector} still runs after abrs was interrupted"
    );
}
