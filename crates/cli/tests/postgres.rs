//! `abrs read/query --cache postgresql://…` against the real server (127.0.0.1:5432, user
//! `postgres`, database `test`), each test in a schema of its own, dropped afterwards; skipped,
//! saying so, when the server is unreachable. The kill test of `read_kill.rs`, on PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use airbyte as ab;

const COUNT: u64 = 20_000;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/source-fixture")
}

/// The schema's URL, or `None` (with a message) when the server is unreachable.
struct Schema {
    url: String,
    cache: ab::PostgresCache,
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self.cache.execute(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.cache.schema_name()
        ));
    }
}

fn schema(name: &str) -> Option<Schema> {
    let schema = format!("abrs_cli_{name}_{}", std::process::id());
    let url = format!("postgresql://postgres@127.0.0.1:5432/test?schema={schema}");
    let cache =
        ab::PostgresCache::new("127.0.0.1", 5432, "test", "postgres").with_schema_name(&schema);
    if let Err(e) = cache.check() {
        eprintln!("SKIPPED: PostgreSQL at 127.0.0.1:5432 is unreachable ({e})");
        return None;
    }
    let s = Schema { url, cache };
    let _ = s
        .cache
        .execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"));
    Some(s)
}

fn abrs(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_abrs"));
    cmd.current_dir(dir)
        .env("AIRBYTE_LOGGING_ROOT", dir.join("logs"))
        .env("NO_LIVE_PROGRESS", "1")
        .env_remove("PGPASSWORD")
        .stdin(Stdio::null());
    cmd
}

fn read_users(dir: &Path, url: &str, config: &serde_json::Value) -> Command {
    let mut cmd = abrs(dir);
    cmd.args([
        "read",
        fixture().to_str().expect("utf-8 path"),
        "--streams",
        "users",
        "--write-strategy",
        "merge",
        "--cache",
        url,
        "--config",
    ])
    .arg(config.to_string());
    cmd
}

fn query(dir: &Path, url: &str, sql: &str) -> String {
    let out = abrs(dir)
        .args(["query", "--format", "csv", "--cache", url, sql])
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
fn sigkill_mid_sync_into_postgres_then_merge_rerun_gives_exact_rows() {
    let Some(s) = schema("kill") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let pid_file = dir.path().join("connector.pid");
    let slow = serde_json::json!({
        "count": COUNT, "products_count": 0, "state_every": 200,
        "sleep_per_record": 0.0002, "pid_file": pid_file,
    });
    let mut child = read_users(dir.path(), &s.url, &slow)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn abrs read");
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
    if let Ok(pid) = std::fs::read_to_string(&pid_file)
        && let Ok(pid) = pid.trim().parse::<i32>()
    {
        // SAFETY: kill(2) with a pid we read; at worst the process is already gone.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    // The server rolls back the killed session's open transaction once it notices the
    // connection is gone; wait for that session to end.
    let started = Instant::now();
    loop {
        let sessions = query(
            dir.path(),
            &s.url,
            &format!(
                "select count(*) from pg_stat_activity where application_name = 'abrs load {}'",
                s.cache.schema_name()
            ),
        );
        if sessions == "0" || started.elapsed() > Duration::from_secs(30) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    let rows_after_kill: u64 = query(dir.path(), &s.url, "select count(*) from users")
        .parse()
        .expect("count");
    assert!(
        rows_after_kill < COUNT,
        "the kill came too late: {rows_after_kill}"
    );
    assert!(
        rows_after_kill > 0,
        "nothing was committed in 2.5 s of reading"
    );
    let states = query(dir.path(), &s.url, "select count(*) from _airbyte_state");
    assert_eq!(states, "1", "the users state was committed with the data");

    let full = serde_json::json!({"count": COUNT, "products_count": 0, "state_every": 200});
    let out = read_users(dir.path(), &s.url, &full)
        .output()
        .expect("run abrs read again");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "re-run failed: {stderr}");
    assert!(
        stderr.contains("postgresql://postgres@127.0.0.1:5432/test"),
        "{stderr}"
    );
    let resumed = processed_records(&stderr);
    assert!(
        resumed < COUNT,
        "the re-run did not resume: {resumed} records"
    );
    let totals = query(
        dir.path(),
        &s.url,
        "select count(*), count(distinct id), min(id), max(id) from users",
    );
    assert_eq!(totals, format!("{COUNT},{COUNT},1,{COUNT}"));
}

#[test]
fn bad_cache_urls_and_a_down_server_fail_before_the_connector_starts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pid_file = dir.path().join("connector.pid");
    let config = serde_json::json!({"count": 10, "pid_file": pid_file});
    for (url, needles) in [
        (
            "postgresql://someone:hunter2@127.0.0.1:1/test",
            &[
                "127.0.0.1:1",
                "\"someone\"",
                "check that the server is running",
            ][..],
        ),
        (
            "postgresql://someone:hunter2@127.0.0.1:5432",
            &["database is missing"][..],
        ),
        (
            "postgresql://someone:hunter2@h:5432/db?colour=red",
            &["unknown parameter"][..],
        ),
    ] {
        let out = read_users(dir.path(), url, &config)
            .output()
            .expect("run abrs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url}: {stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "{url}: {needle}: {stderr}");
        }
        assert!(!stderr.contains("hunter2"), "{url}: {stderr}");
        assert!(!pid_file.exists(), "{url}: the connector started");
    }
}
