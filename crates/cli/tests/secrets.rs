//! `--config` values `SECRET:NAME` (pyab's syntax): resolved from the environment and `./.env`,
//! a missing one named with the places looked in, and the value never shown.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/source-fixture")
        .to_string_lossy()
        .into_owned()
}

/// Runs abrs in `dir` with only these secret variables set (stdin is not a terminal, so it
/// never prompts).
fn abrs(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_abrs"));
    cmd.args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap_or_else(|e| panic!("running abrs: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tempdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().to_path_buf();
    (dir, path)
}

#[test]
fn secret_values_come_from_the_environment_and_dotenv_and_reach_the_connector() {
    let (_guard, dir) = tempdir();
    let pid_file = dir.join("pid.txt");
    std::fs::write(dir.join(".env"), "ABRS_CLI_FROM_DOTENV=dotenv-key-123\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let pid_path = pid_file.to_string_lossy().into_owned();
    let config = r#"{count: 1, api_key: "SECRET:ABRS_CLI_FROM_DOTENV", pid_file: "SECRET: ABRS_CLI_PID_FILE"}"#;

    let o = abrs(
        &dir,
        &["check", &fixture(), "--config", config],
        &[("ABRS_CLI_PID_FILE", &pid_path)],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("dotenv-key-123"), "{}", text(&o));

    // The resolved value is what the connector got: it writes its pid to that path.
    let o = abrs(
        &dir,
        &[
            "records",
            &fixture(),
            "--config",
            config,
            "--stream",
            "users",
            "--limit",
            "1",
        ],
        &[("ABRS_CLI_PID_FILE", &pid_path)],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(pid_file.is_file(), "{}", text(&o));
    assert!(!text(&o).contains("dotenv-key-123"), "{}", text(&o));

    // The same in a config file.
    let file = dir.join("config.yaml");
    std::fs::write(
        &file,
        "count: 1\napi_key: SECRET:ABRS_CLI_FROM_DOTENV\nnested: [\"SECRET:ABRS_CLI_PID_FILE\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let o = abrs(
        &dir,
        &["check", &fixture(), "--config", &file.to_string_lossy()],
        &[("ABRS_CLI_PID_FILE", &pid_path)],
    );
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_missing_secret_is_named_with_the_places_looked_in() {
    let (_guard, dir) = tempdir();
    let o = abrs(
        &dir,
        &[
            "check",
            &fixture(),
            "--config",
            r#"{api_key: "SECRET:ABRS_CLI_NOWHERE"}"#,
        ],
        &[],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("Secret `ABRS_CLI_NOWHERE` was not found"),
        "{out}"
    );
    assert!(
        out.contains("the environment variable `ABRS_CLI_NOWHERE`"),
        "{out}"
    );
    assert!(
        out.contains(&format!("{}", dir.join(".env").display())),
        "{out}"
    );
    assert!(
        out.contains("no prompt (not an interactive terminal)"),
        "{out}"
    );
}

#[test]
fn a_secret_in_an_invalid_field_is_masked_in_the_validation_error() {
    let (_guard, dir) = tempdir();
    let o = abrs(
        &dir,
        &[
            "check",
            &fixture(),
            "--config",
            r#"{mode: "SECRET:ABRS_CLI_MODE"}"#,
        ],
        &[("ABRS_CLI_MODE", "hunter2-not-a-mode")],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("/mode"), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
}

/// Drives abrs on a pseudo-terminal: answers the first secret prompt with `answer`; prints
/// everything the terminal showed, exits with abrs's code.
const PTY_DRIVER: &str = r#"
import os, pty, select, sys, time
answer, argv = sys.argv[1], sys.argv[2:]
env = {k: v for k, v in os.environ.items() if k != "CI"}
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(argv[0], argv, env)
out, sent, deadline = b"", False, time.time() + 60
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.2)
    if fd in ready:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
        if not sent and b"Enter the value for secret" in out:
            time.sleep(0.2)
            os.write(fd, answer.encode() + b"\n")
            sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

#[test]
fn on_a_terminal_a_missing_secret_is_asked_once_without_echo() {
    let (_guard, dir) = tempdir();
    let pid_file = dir.join("prompted-pid.txt");
    let answer = pid_file.to_string_lossy().into_owned();
    let config = r#"{count: 1, pid_file: "SECRET:ABRS_CLI_PROMPTED"}"#;
    let o = Command::new("python3")
        .args(["-c", PTY_DRIVER, &answer, env!("CARGO_BIN_EXE_abrs")])
        .args(["records", &fixture(), "--config", config])
        .args(["--stream", "users", "--limit", "1"])
        .current_dir(&dir)
        .env_remove("ABRS_CLI_PROMPTED")
        .output()
        .unwrap_or_else(|e| panic!("running python3: {e}"));
    let shown = String::from_utf8_lossy(&o.stdout).into_owned();
    let all = format!("{shown}\nstderr:\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{all}");
    // Asked once, although the config is hydrated for validation and for the read.
    assert_eq!(
        shown
            .matches("Enter the value for secret 'ABRS_CLI_PROMPTED': ")
            .count(),
        1,
        "{all}"
    );
    // Not echoed, and the connector got it (it writes its pid to that path).
    assert!(!shown.contains(&answer), "{all}");
    assert!(pid_file.is_file(), "{all}");
}
