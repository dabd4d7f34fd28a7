//! `abrs read` killed with SIGKILL in the middle of a sync, then run again with merge: the table
//! ends with exactly the source's rows, no duplicates, no loss; and the second run resumes from
//! the state the first one committed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const COUNT: u64 = 20_000;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/source-fixture")
}

fn abrs(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_abrs"));
    cmd.current_dir(dir)
        .env("AIRBYTE_LOGGING_ROOT", dir.join("logs"))
        .env("NO_LIVE_PROGRESS", "1")
        .stdin(Stdio::null());
    cmd
}

/// `abrs read` of the fixture's users into `cache` with merge.
fn read_users(dir: &Path, cache: &Path, config: &serde_json::Value) -> Command {
    let mut cmd = abrs(dir);
    cmd.args([
        "read",
        fixture().to_str().expect("utf-8 path"),
        "--streams",
        "users",
    ])
    .args(["--write-strategy", "merge", "--cache"])
    .arg(cache)
    .arg("--config")
    .arg(config.to_string());
    cmd
}

fn query(dir: &Path, cache: &Path, sql: &str) -> String {
    let out = abrs(dir)
        .args(["query", "--format", "csv", "--cache"])
        .arg(cache)
        .arg(sql)
        .output()
        .expect("run abrs query");
    assert!(
        out.status.success(),
        "query failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

fn processed_records(stderr: &str) -> u64 {
    // "Completed `…` sync: 12,345 records in …"
    let after = stderr.split("sync: ").nth(1).expect("summary line");
    after
        .split(' ')
        .next()
        .unwrap_or("0")
        .replace(',', "")
        .parse()
        .expect("record count")
}

#[test]
fn sigkill_mid_sync_then_merge_rerun_gives_exact_rows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = dir.path().join("kill.duckdb");
    let pid_file = dir.path().join("connector.pid");
    let slow = serde_json::json!({
        "count": COUNT, "products_count": 0, "state_every": 200,
        "sleep_per_record": 0.0002, "pid_file": pid_file,
    });
    let mut child = read_users(dir.path(), &cache, &slow)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn abrs read");

    // Let the connector run long enough for several commits (one per second at most), then kill.
    let started = Instant::now();
    while !pid_file.exists() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(pid_file.exists(), "the connector never started");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        child.try_wait().expect("poll").is_none(),
        "the read finished before the kill"
    );
    child.kill().expect("SIGKILL abrs");
    child.wait().expect("reap abrs");
    // The orphaned connector dies on its broken pipe; make sure, so it cannot touch the cache.
    if let Ok(pid) = std::fs::read_to_string(&pid_file)
        && let Ok(pid) = pid.trim().parse::<i32>()
    {
        // SAFETY: kill(2) with a pid we read; at worst the process is already gone.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }

    // The cache opens after the crash and is consistent: rows committed with their state.
    let rows_after_kill: u64 = query(dir.path(), &cache, "select count(*) from users")
        .parse()
        .expect("count");
    let states = query(dir.path(), &cache, "select count(*) from _airbyte_state");
    assert!(
        rows_after_kill < COUNT,
        "the kill came too late: {rows_after_kill} rows"
    );
    assert!(
        rows_after_kill > 0,
        "nothing was committed in 2.5 s of reading"
    );
    assert_eq!(states, "1", "the users state was committed with the data");

    // Re-run with merge, fast: it resumes from the committed state.
    let full = serde_json::json!({"count": COUNT, "products_count": 0, "state_every": 200});
    let out = read_users(dir.path(), &cache, &full)
        .output()
        .expect("run abrs read again");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "re-run failed: {stderr}");
    let resumed = processed_records(&stderr);
    assert!(
        resumed < COUNT,
        "the re-run did not resume from the state: {resumed} records"
    );

    let totals = query(
        dir.path(),
        &cache,
        "select count(*), count(distinct id), min(id), max(id) from users",
    );
    assert_eq!(totals, format!("{COUNT},{COUNT},1,{COUNT}"));
}
