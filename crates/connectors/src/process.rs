//! A running connector: its output as decoded messages, its log, and a clean stop.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use abrs_protocol::{
    AirbyteErrorTraceMessage, AirbyteMessage, Decoded, MemberSpan, MessageType, OrchestratorType,
    TraceType, decode_line_with, peek_record_stream,
};
use crossbeam_channel::{Receiver, Sender, bounded};

use crate::error::{ConnectorError, ConnectorFailure, ExitInfo};
use crate::input::{ConnectorStdin, InputPipe, InputProbe, spawn_stdin_pump};
use crate::invocation::{ConfigChangeCallback, Invocation, PreparedFiles, Verb};
use crate::log::ConnectorLog;

/// What the callback of [`ConnectorProcess::for_each`] wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// Stop now: the connector is stopped and the run ends without error.
    Stop,
}

/// A line of output for [`ConnectorProcess::for_each_passthrough`].
#[derive(Debug)]
pub enum PassLine<'a> {
    /// A RECORD line of the usual shape: its stream; the rest of the line is not read.
    Record(&'a str),
    /// Any other message (a RECORD of another shape included), decoded.
    Message(Decoded<'a>),
}

/// Counts of one run of a connector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummary {
    /// RECORD messages delivered.
    pub records: u64,
    /// Bytes read from the connector's stdout.
    pub bytes: u64,
    /// Lines of stdout that were not protocol messages (logged, not delivered).
    pub unparsable_lines: u64,
    /// Messages seen, by protocol type (`"RECORD"`, `"STATE"`, `"LOG"`, …).
    pub messages_by_type: BTreeMap<String, u64>,
    /// Time from start to end.
    pub elapsed: Duration,
    /// Whether the run was stopped early by the caller ([`Flow::Stop`]).
    pub stopped_early: bool,
    /// How the process ended (`None` for an in-process connector that is still detached).
    pub exit: Option<ExitInfo>,
    /// The connector's log file.
    pub log_file: Option<PathBuf>,
    /// For a connector given input on stdin: bytes of it left unread in the pipe when it
    /// exited (`Some(0)`: it read everything it was sent so far). `None` without stdin.
    pub unread_input_bytes: Option<u64>,
}

/// A command line to run a connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorCommand {
    /// The program (an absolute path, or a name resolved by the OS on PATH).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment variables set for the child (on top of the inherited environment).
    pub env: Vec<(String, String)>,
}

impl ConnectorCommand {
    /// The command line as a shell would show it.
    pub fn display(&self) -> String {
        let mut parts = vec![self.program.to_string_lossy().into_owned()];
        parts.extend(self.args.iter().cloned());
        shlex::try_join(parts.iter().map(String::as_str)).unwrap_or_else(|_| parts.join(" "))
    }
}

/// Produces protocol lines for an in-process connector (e.g. a declarative YAML source run
/// natively). It writes newline-terminated messages; a write error means the reader is gone and
/// the producer should return. An `Err` is reported like a connector's non-zero exit.
pub type InProcessProducer = Box<dyn FnOnce(&mut dyn Write) -> Result<(), String> + Send>;

/// An in-process destination: reads its input (protocol lines) and writes its output
/// (STATE echoes, LOGs), as a child would on stdin and stdout. An `Err` is reported like a
/// connector's non-zero exit.
pub type InProcessDestination =
    Box<dyn FnOnce(&mut dyn Read, &mut dyn Write) -> Result<(), String> + Send>;

/// Size a chunk of stdout aims for before it is handed over.
const CHUNK_TARGET: usize = 256 * 1024;
/// Bytes asked for in one read.
const READ_SIZE: usize = 64 * 1024;
/// Chunks buffered between the reader thread and the consumer (back-pressure beyond that).
const CHANNEL_CHUNKS: usize = 8;

enum Chunk {
    Data(Vec<u8>),
    Failed(io::Error),
}

enum Backend {
    Child {
        child: Child,
        pid: libc::pid_t,
    },
    InProcess {
        handle: Option<JoinHandle<Result<(), String>>>,
    },
}

/// A running connector.
///
/// Consume it with [`ConnectorProcess::for_each`] (fast path, records unparsed) or
/// [`ConnectorProcess::into_messages`] (owned messages). Dropping it before the end stops the
/// connector: SIGTERM to its process group, a grace period, then SIGKILL, and the child is reaped.
pub struct ConnectorProcess {
    connector: String,
    verb: Verb,
    command: String,
    backend: Backend,
    rx: Option<Receiver<Chunk>>,
    spare_tx: Sender<Vec<u8>>,
    reader: Option<Worker>,
    stderr_thread: Option<Worker>,
    log: Arc<ConnectorLog>,
    files: Option<PreparedFiles>,
    callback: Option<ConfigChangeCallback>,
    grace: Duration,
    trace_error: Option<AirbyteErrorTraceMessage>,
    records: u64,
    bytes: u64,
    unparsable: u64,
    by_type: BTreeMap<String, u64>,
    started: Instant,
    exit: Option<ExitInfo>,
    finished: bool,
    stopped_early: bool,
    stopped_by_us: bool,
    /// The write end of stdin, until the caller takes it ([`ConnectorProcess::take_stdin`]).
    stdin: Option<ConnectorStdin>,
    /// Our copy of stdin's read end, closed once the child is gone (see `input.rs`).
    input_probe: Option<InputProbe>,
    unread_input: Option<u64>,
    /// Set (under the lock) when the child is reaped, so that a [`StopHandle`] never signals
    /// a process group id that may have been reused.
    reaped: Arc<Mutex<bool>>,
}

/// Stops a running connector from another thread (say, one that feeds its stdin while the
/// owner of the [`ConnectorProcess`] waits on its output). See [`ConnectorProcess::stop_handle`].
#[derive(Debug, Clone)]
pub struct StopHandle {
    pid: Option<libc::pid_t>,
    reaped: Arc<Mutex<bool>>,
    grace: Duration,
}

impl StopHandle {
    /// SIGTERM to the connector's process group, then SIGKILL after its grace period if it is
    /// still there. Nothing happens once the connector has ended. The owner of the process
    /// then sees its output end and the exit by signal.
    pub fn stop(&self) {
        let Some(pid) = self.pid else {
            return;
        };
        {
            let reaped = self.reaped.lock().unwrap_or_else(PoisonError::into_inner);
            if *reaped {
                return;
            }
            signal_group(pid, libc::SIGTERM);
        }
        if !wait_exited_within(pid, self.grace) {
            let reaped = self.reaped.lock().unwrap_or_else(PoisonError::into_inner);
            if !*reaped {
                signal_group(pid, libc::SIGKILL);
            }
        }
    }
}

impl std::fmt::Debug for ConnectorProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorProcess")
            .field("connector", &self.connector)
            .field("verb", &self.verb)
            .field("command", &self.command)
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

/// A helper thread whose end can be awaited with a time limit: a pipe held open by something
/// outside the connector's process group must not hang us.
struct Worker {
    handle: JoinHandle<()>,
    done: Receiver<()>,
}

impl Worker {
    fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<Self> {
        let (done_tx, done) = bounded::<()>(0);
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // Dropped when `f` returns or unwinds: that disconnects `done`.
                let _done = done_tx;
                f();
            })?;
        Ok(Self { handle, done })
    }

    /// Joins the thread if it ends within `limit`; otherwise leaves it running detached.
    fn join_within(self, limit: Duration) {
        match self.done.recv_timeout(limit) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                tracing::debug!("a connector I/O thread is still blocked; leaving it detached");
            }
            _ => {
                let _ = self.handle.join();
            }
        }
    }
}

/// How long to wait for the I/O threads once the connector is gone.
const IO_THREAD_WAIT: Duration = Duration::from_secs(2);

fn spawn_reader(
    mut src: impl Read + Send + 'static,
    tx: Sender<Chunk>,
    spare_rx: Receiver<Vec<u8>>,
) -> io::Result<Worker> {
    Worker::spawn("connector-stdout", move || {
        let mut carry: Vec<u8> = Vec::new();
        loop {
            let mut buf = spare_rx
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(CHUNK_TARGET));
            buf.clear();
            buf.append(&mut carry);
            let eof = loop {
                let len = buf.len();
                buf.resize(len + READ_SIZE, 0);
                let n = match src.read(&mut buf[len..]) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                        buf.truncate(len);
                        continue;
                    }
                    Err(e) => {
                        buf.truncate(len);
                        if !buf.is_empty() {
                            let _ = tx.send(Chunk::Data(buf));
                        }
                        let _ = tx.send(Chunk::Failed(e));
                        return;
                    }
                };
                buf.truncate(len + n);
                if n == 0 && buf.len() == len {
                    break true;
                }
                // Hand over what we have as soon as it holds a whole line, unless more is very
                // likely waiting (the read filled its buffer) and the chunk is still small.
                let more_waiting = n == READ_SIZE && buf.len() < CHUNK_TARGET;
                if !more_waiting && memchr::memchr(b'\n', &buf[len..]).is_some() {
                    break false;
                }
            };
            if eof {
                if !buf.is_empty() {
                    let _ = tx.send(Chunk::Data(buf));
                }
                return;
            }
            if let Some(last) = memchr::memrchr(b'\n', &buf) {
                carry.extend_from_slice(&buf[last + 1..]);
                buf.truncate(last + 1);
            }
            if tx.send(Chunk::Data(buf)).is_err() {
                return; // The consumer is gone: stop reading, the child gets EPIPE.
            }
        }
    })
}

fn spawn_stderr_copier(
    stderr: impl Read + Send + 'static,
    log: Arc<ConnectorLog>,
) -> io::Result<Worker> {
    Worker::spawn("connector-stderr", move || {
        let mut reader = BufReader::new(stderr);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => log.line("STDERR", &String::from_utf8_lossy(&line)),
            }
        }
        log.flush();
    })
}

/// The lines of a chunk, without their newlines (a last piece without newline included).
fn lines(chunk: &[u8]) -> Lines<'_> {
    Lines { rest: Some(chunk) }
}

struct Lines<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]).filter(|r| !r.is_empty());
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// Whether `pid` has exited, without reaping it (so its pid and group id stay reserved).
fn has_exited(pid: libc::pid_t) -> bool {
    // SAFETY: siginfo_t is plain data; waitid only writes into it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: a plain syscall on our own child.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // An error (ECHILD) means there is nothing left to wait for.
    // SAFETY: si_pid is valid for a WEXITED waitid result (0 when nothing has exited yet).
    r != 0 || unsafe { info.si_pid() } != 0
}

/// Waits up to `limit` for `pid` to exit, without reaping it; whether it has exited.
fn wait_exited_within(pid: libc::pid_t, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_micros(200);
    loop {
        if has_exited(pid) {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: plain syscall; the group id is our child's pid, still reserved (not reaped).
    unsafe {
        libc::killpg(pgid, signal);
    }
}

impl ConnectorProcess {
    /// Starts `command` as connector `connector` for `invocation`.
    ///
    /// `files` (from [`crate::prepare_files`]) is kept until the process ends, then removed.
    /// Executors call this; use it directly only to run a hand-made command.
    pub fn spawn(
        connector: &str,
        command: ConnectorCommand,
        invocation: Invocation,
        files: Option<PreparedFiles>,
    ) -> Result<Self, ConnectorError> {
        let shown = command.display();
        tracing::debug!(connector, command = %shown, "starting connector");
        let log = Arc::new(ConnectorLog::open(connector).masking(invocation.log_secrets.clone()));
        log.line("INFO", &format!("Executing command: {shown}"));
        let spawn_err = |source| ConnectorError::Spawn {
            connector: connector.to_string(),
            command: shown.clone(),
            source,
        };
        let mut invocation = invocation;
        let input = match &invocation.stdin {
            Some(_) => Some(InputPipe::new().map_err(spawn_err)?),
            None => None,
        };
        let (child_stdin, input_rest) = match input {
            Some(p) => (Stdio::from(p.child_end), Some((p.probe, p.writer))),
            None => (Stdio::null(), None),
        };
        let mut cmd = Command::new(&command.program);
        cmd.args(&command.args)
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(child_stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group: stopping it also stops what a wrapper script started.
            .process_group(0);
        let mut child = cmd.spawn().map_err(spawn_err)?;
        // The child has its copy of stdin's read end: ours must not stay open in `cmd`.
        drop(cmd);
        let pid = child.id() as libc::pid_t;
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        // From here on `process` owns the child: an error below drops it, which stops and reaps
        // the half-started connector.
        let mut process = Self::new_parts(
            connector,
            &invocation,
            shown.clone(),
            log,
            files,
            Backend::Child { child, pid },
        );
        let (tx, rx) = bounded(CHANNEL_CHUNKS);
        let (spare_tx, spare_rx) = bounded(CHANNEL_CHUNKS / 2);
        process.rx = Some(rx);
        process.spare_tx = spare_tx;
        let Some(stdout) = stdout else {
            return Err(spawn_err(io::Error::other("no stdout pipe")));
        };
        process.reader = Some(spawn_reader(stdout, tx, spare_rx).map_err(spawn_err)?);
        if let Some(stderr) = stderr {
            process.stderr_thread =
                Some(spawn_stderr_copier(stderr, process.log.clone()).map_err(spawn_err)?);
        }
        if let (Some((probe, writer)), Some(source)) = (input_rest, invocation.stdin.take()) {
            process.input_probe = Some(probe);
            if matches!(source, crate::StdinSource::Pipe) {
                process.stdin = Some(ConnectorStdin::new(writer));
            } else {
                // Not joined: it may wait on its source; it ends on EOF or EPIPE.
                spawn_stdin_pump(writer, source).map_err(spawn_err)?;
            }
        }
        Ok(process)
    }

    /// Runs an in-process connector: `producer` writes protocol lines that are read exactly as
    /// a child's stdout (same decoding, logging, errors). The seam for native executors.
    pub fn in_process(
        connector: &str,
        invocation: Invocation,
        producer: InProcessProducer,
    ) -> Result<Self, ConnectorError> {
        Self::in_process_with_input(connector, invocation, Box::new(move |_, out| producer(out)))
    }

    /// Runs an in-process destination: `consumer` reads the invocation's stdin (empty when it
    /// has none) and writes protocol lines, which are read exactly as a child's stdout.
    pub fn in_process_with_input(
        connector: &str,
        mut invocation: Invocation,
        consumer: InProcessDestination,
    ) -> Result<Self, ConnectorError> {
        let display = format!("<in-process {connector}>");
        let log = Arc::new(ConnectorLog::open(connector).masking(invocation.log_secrets.clone()));
        let spawn_err = |source| ConnectorError::Spawn {
            connector: connector.to_string(),
            command: display.clone(),
            source,
        };
        let (pipe_reader, mut pipe_writer) = io::pipe().map_err(spawn_err)?;
        let (mut input_reader, input_writer) = io::pipe().map_err(spawn_err)?;
        let stdin = invocation.stdin.take();
        let mut caller_stdin = None;
        match stdin {
            None => drop(input_writer),
            Some(crate::StdinSource::Pipe) => {
                caller_stdin = Some(ConnectorStdin::new(input_writer))
            }
            Some(source) => {
                spawn_stdin_pump(input_writer, source).map_err(spawn_err)?;
            }
        }
        let handle = std::thread::Builder::new()
            .name(format!("in-process-{connector}"))
            .spawn(move || {
                let result = consumer(&mut input_reader, &mut pipe_writer);
                let _ = pipe_writer.flush();
                result
            })
            .map_err(spawn_err)?;
        let (tx, rx) = bounded(CHANNEL_CHUNKS);
        let (spare_tx, spare_rx) = bounded(CHANNEL_CHUNKS / 2);
        let mut process = Self::new_parts(
            connector,
            &invocation,
            display.clone(),
            log,
            None,
            Backend::InProcess {
                handle: Some(handle),
            },
        );
        process.stdin = caller_stdin;
        process.rx = Some(rx);
        process.spare_tx = spare_tx;
        process.reader = Some(spawn_reader(pipe_reader, tx, spare_rx).map_err(spawn_err)?);
        Ok(process)
    }

    fn new_parts(
        connector: &str,
        invocation: &Invocation,
        command: String,
        log: Arc<ConnectorLog>,
        files: Option<PreparedFiles>,
        backend: Backend,
    ) -> Self {
        let (spare_tx, _) = bounded(1);
        Self {
            connector: connector.to_string(),
            verb: invocation.verb,
            command,
            backend,
            rx: None,
            spare_tx,
            reader: None,
            stderr_thread: None,
            log,
            files,
            callback: invocation.config_change_callback.clone(),
            grace: invocation.grace_period,
            trace_error: None,
            records: 0,
            bytes: 0,
            unparsable: 0,
            by_type: BTreeMap::new(),
            started: Instant::now(),
            exit: None,
            finished: false,
            stopped_early: false,
            stopped_by_us: false,
            stdin: None,
            input_probe: None,
            unread_input: None,
            reaped: Arc::new(Mutex::new(false)),
        }
    }
}

impl ConnectorProcess {
    /// The connector's name.
    pub fn connector(&self) -> &str {
        &self.connector
    }

    /// The verb it runs.
    pub fn verb(&self) -> Verb {
        self.verb
    }

    /// The command line it was started with.
    pub fn command_line(&self) -> &str {
        &self.command
    }

    /// The child's pid (also its process group id), for a child process.
    pub fn pid(&self) -> Option<u32> {
        match &self.backend {
            Backend::Child { pid, .. } => Some(*pid as u32),
            Backend::InProcess { .. } => None,
        }
    }

    /// The connector's log file, when it could be opened.
    pub fn log_file(&self) -> Option<&Path> {
        self.log.path().map(PathBuf::as_path)
    }

    /// The last lines of the connector's log so far.
    pub fn log_tail(&self) -> Vec<String> {
        self.log.tail()
    }

    /// The private directory holding the config/catalog/state files, while the process runs.
    pub fn files_dir(&self) -> Option<&Path> {
        self.files.as_ref().map(PreparedFiles::dir)
    }

    /// Sets the time between SIGTERM and SIGKILL when the connector is stopped early.
    pub fn set_grace_period(&mut self, grace: Duration) {
        self.grace = grace;
    }

    /// The write end of the connector's stdin, once, when it was started with
    /// [`crate::StdinSource::Pipe`]. Write the input from another thread than the one that
    /// consumes the output, and drop it to close the input.
    pub fn take_stdin(&mut self) -> Option<ConnectorStdin> {
        self.stdin.take()
    }

    /// A handle that stops this connector from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            pid: match &self.backend {
                Backend::Child { pid, .. } => Some(*pid),
                Backend::InProcess { .. } => None,
            },
            reaped: Arc::clone(&self.reaped),
            grace: self.grace,
        }
    }

    /// Reads all output, handing each message to `f`. RECORDs arrive unparsed.
    ///
    /// LOG messages and lines that are not protocol messages go to the log file and are
    /// counted, never to `f`. CONTROL/CONNECTOR_CONFIG messages call the config-change callback
    /// and are passed on. A TRACE ERROR is passed on and makes the run fail at the end, even when
    /// the connector exits 0 (or is stopped early). `Ok(Flow::Stop)` stops the connector and
    /// ends the run without error; an `Err` from `f` stops the connector and is returned as is.
    ///
    /// At the end, a non-zero exit (other than our own stop) or a TRACE ERROR is
    /// [`ConnectorError::Failed`], converted into `E`.
    pub fn for_each<E, F>(self, mut f: F) -> Result<RunSummary, E>
    where
        E: From<ConnectorError>,
        F: FnMut(Decoded<'_>) -> Result<Flow, E>,
    {
        self.for_each_line(|_, decoded| f(decoded))
    }

    /// As [`ConnectorProcess::for_each`], with each message's line as the connector wrote it
    /// (without its newline).
    pub fn for_each_line<E, F>(self, mut f: F) -> Result<RunSummary, E>
    where
        E: From<ConnectorError>,
        F: FnMut(&[u8], Decoded<'_>) -> Result<Flow, E>,
    {
        self.drive(false, |line, passed| match passed {
            PassLine::Message(decoded) => f(line, decoded),
            // Not produced without peeking.
            PassLine::Record(_) => Ok(Flow::Continue),
        })
    }

    /// Reads all output to pass it on unchanged (a sync straight into a destination): RECORD
    /// lines of the usual shape (`{"type":"RECORD","record":{"stream":…`) arrive as
    /// [`PassLine::Record`] with their stream name only, their `data` neither parsed nor
    /// validated; every other line is handled as in [`ConnectorProcess::for_each`] (LOGs and
    /// junk logged, TRACE ERROR remembered, CONTROL config callback) and arrives decoded.
    pub fn for_each_passthrough<E, F>(self, f: F) -> Result<RunSummary, E>
    where
        E: From<ConnectorError>,
        F: FnMut(&[u8], PassLine<'_>) -> Result<Flow, E>,
    {
        self.drive(true, f)
    }

    fn drive<E, F>(mut self, peek: bool, mut f: F) -> Result<RunSummary, E>
    where
        E: From<ConnectorError>,
        F: FnMut(&[u8], PassLine<'_>) -> Result<Flow, E>,
    {
        // The members of each record's `data`, found by the decoder (reused across lines).
        let mut members = Vec::new();
        while let Some(chunk) = self.next_chunk() {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    self.stop();
                    return Err(e.into());
                }
            };
            let mut stop = false;
            for line in lines(&chunk) {
                let passed = match peek.then(|| peek_record_stream(line)).flatten() {
                    Some(stream) => {
                        self.records += 1;
                        PassLine::Record(stream)
                    }
                    None => match self.handle_line(line, &mut members) {
                        Some(decoded) => PassLine::Message(decoded),
                        None => continue,
                    },
                };
                match f(line, passed) {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::Stop) => {
                        stop = true;
                        break;
                    }
                    Err(e) => {
                        self.stop();
                        return Err(e);
                    }
                }
            }
            self.recycle(chunk);
            if stop {
                self.stopped_early = true;
                self.stop();
                return self.conclude().map_err(E::from);
            }
        }
        self.finish();
        self.conclude().map_err(E::from)
    }

    /// The output as owned messages (RECORD data parsed), ending with an error item when the
    /// connector failed. Dropping the iterator early stops the connector.
    pub fn into_messages(self) -> MessageIter {
        MessageIter {
            process: self,
            chunk: Vec::new(),
            pos: 0,
            done: false,
            members: Vec::new(),
        }
    }

    fn next_chunk(&mut self) -> Option<Result<Vec<u8>, ConnectorError>> {
        match self.rx.as_ref()?.recv() {
            Ok(Chunk::Data(buf)) => {
                self.bytes += buf.len() as u64;
                Some(Ok(buf))
            }
            Ok(Chunk::Failed(source)) => Some(Err(ConnectorError::Io {
                connector: self.connector.clone(),
                source,
            })),
            Err(_) => None,
        }
    }

    fn recycle(&self, buf: Vec<u8>) {
        let _ = self.spare_tx.try_send(buf);
    }

    fn count(&mut self, ty: &MessageType) {
        match self.by_type.get_mut(ty.as_str()) {
            Some(n) => *n += 1,
            None => {
                self.by_type.insert(ty.as_str().to_string(), 1);
            }
        }
    }

    /// Decodes one line; `None` when it is not for the consumer (blank, LOG, unparsable).
    fn handle_line<'a>(
        &mut self,
        line: &'a [u8],
        members: &'a mut Vec<MemberSpan>,
    ) -> Option<Decoded<'a>> {
        match decode_line_with(line, members) {
            Ok(Decoded::Blank) => None,
            Ok(Decoded::Record(r)) => {
                self.records += 1;
                Some(Decoded::Record(r))
            }
            Ok(Decoded::Message(m)) => {
                self.count(&m.r#type);
                match m.r#type {
                    MessageType::Log => {
                        if let Some(log) = &m.log {
                            self.log.line(log.level.as_str(), &log.message);
                            if let Some(st) = &log.stack_trace {
                                self.log.line(log.level.as_str(), st);
                            }
                        }
                        None
                    }
                    MessageType::Trace => {
                        if let Some(err) = m
                            .trace
                            .as_ref()
                            .filter(|t| t.r#type == TraceType::Error)
                            .and_then(|t| t.error.as_ref())
                        {
                            self.log
                                .line("ERROR", &format!("Connector error: {}", err.message));
                            if let Some(st) = &err.stack_trace {
                                self.log.line("ERROR", st);
                            }
                            if self.trace_error.is_none() {
                                self.trace_error = Some(err.clone());
                            }
                        }
                        Some(Decoded::Message(m))
                    }
                    MessageType::Control => {
                        if let Some(ctl) = &m.control
                            && ctl.r#type == OrchestratorType::ConnectorConfig
                            && let (Some(cb), Some(cc)) = (&self.callback, &ctl.connector_config)
                        {
                            cb(cc.config.clone());
                        }
                        Some(Decoded::Message(m))
                    }
                    _ => Some(Decoded::Message(m)),
                }
            }
            Err(e) => {
                self.unparsable += 1;
                let text = match &e {
                    abrs_protocol::DecodeError::NotJson { .. } => {
                        String::from_utf8_lossy(line).into_owned()
                    }
                    other => other.to_string(),
                };
                self.log
                    .line("INFO", &format!("Unparsable line from connector: {text}"));
                None
            }
        }
    }

    /// Waits for the end after stdout's EOF, reaps the child and cleans up.
    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.rx = None;
        if let Some(w) = self.reader.take() {
            w.join_within(IO_THREAD_WAIT);
        }
        match &mut self.backend {
            Backend::Child { child, pid } => {
                let pid = *pid;
                // Its stdout is closed, so it should be exiting; one that lingers is stopped.
                if !wait_exited_within(pid, self.grace) {
                    tracing::warn!(
                        connector = %self.connector,
                        "connector closed its output but did not exit within {:?}; stopping it",
                        self.grace
                    );
                    self.log.line(
                        "WARN",
                        "Connector closed its output but did not exit; sent SIGTERM",
                    );
                    // Its output is complete, so this stop is not a failure of the run.
                    self.stopped_by_us = true;
                    signal_group(pid, libc::SIGTERM);
                    wait_exited_within(pid, self.grace);
                }
                // Whatever the connector left running in its group would hold our pipes open.
                signal_group(pid, libc::SIGKILL);
                let mut reaped = self.reaped.lock().unwrap_or_else(PoisonError::into_inner);
                self.exit = child.wait().ok().map(|s| ExitInfo {
                    code: s.code(),
                    signal: s.signal(),
                });
                *reaped = true;
                drop(reaped);
                self.close_input_probe();
            }
            Backend::InProcess { handle } => {
                let result = handle.take().map(|h| h.join());
                self.exit = Some(match result {
                    Some(Ok(Ok(()))) | None => ExitInfo {
                        code: Some(0),
                        signal: None,
                    },
                    Some(Ok(Err(msg))) => {
                        self.log.line("ERROR", &msg);
                        ExitInfo {
                            code: Some(1),
                            signal: None,
                        }
                    }
                    Some(Err(_)) => {
                        self.log.line("ERROR", "the in-process connector panicked");
                        ExitInfo {
                            code: Some(101),
                            signal: None,
                        }
                    }
                });
            }
        }
        self.cleanup();
    }

    /// Stops the connector early: SIGTERM to its group, grace period, SIGKILL, reap.
    fn stop(&mut self) {
        if self.finished {
            return;
        }
        // Dropping the receiver unblocks the reader thread if it waits on a full channel.
        self.rx = None;
        match &mut self.backend {
            Backend::Child { child, pid } => {
                let pid = *pid;
                if !has_exited(pid) {
                    self.stopped_by_us = true;
                    signal_group(pid, libc::SIGTERM);
                    if !wait_exited_within(pid, self.grace) {
                        tracing::warn!(
                            connector = %self.connector,
                            "connector did not stop within {:?} of SIGTERM; killing it",
                            self.grace
                        );
                        self.log
                            .line("WARN", "Connector ignored SIGTERM; sent SIGKILL");
                    }
                }
                signal_group(pid, libc::SIGKILL);
                let mut reaped = self.reaped.lock().unwrap_or_else(PoisonError::into_inner);
                self.exit = child.wait().ok().map(|s| ExitInfo {
                    code: s.code(),
                    signal: s.signal(),
                });
                *reaped = true;
                drop(reaped);
                self.close_input_probe();
            }
            Backend::InProcess { handle } => {
                // The producer's next write fails once the reader is gone; it is not joined, as
                // it may be busy elsewhere (e.g. waiting on the network).
                self.stopped_by_us = true;
                handle.take();
            }
        }
        if let Some(w) = self.reader.take() {
            // An in-process producer may be busy elsewhere: do not wait for it.
            let wait = match self.backend {
                Backend::Child { .. } => IO_THREAD_WAIT,
                Backend::InProcess { .. } => Duration::ZERO,
            };
            w.join_within(wait);
        }
        self.cleanup();
    }

    /// Notes what the child left unread of its input and closes our read end, so that a
    /// writer still blocked on the pipe gets EPIPE.
    fn close_input_probe(&mut self) {
        if let Some(probe) = self.input_probe.take() {
            self.unread_input = probe.unread_bytes();
        }
    }

    fn cleanup(&mut self) {
        if let Some(w) = self.stderr_thread.take() {
            w.join_within(IO_THREAD_WAIT);
        }
        self.log.flush();
        self.files = None;
        self.finished = true;
    }

    fn summary(&self) -> RunSummary {
        let mut by_type = self.by_type.clone();
        if self.records > 0 {
            by_type.insert("RECORD".into(), self.records);
        }
        RunSummary {
            records: self.records,
            bytes: self.bytes,
            unparsable_lines: self.unparsable,
            messages_by_type: by_type,
            elapsed: self.started.elapsed(),
            stopped_early: self.stopped_early,
            exit: self.exit,
            log_file: self.log.path().cloned(),
            unread_input_bytes: self.unread_input,
        }
    }

    /// The end result, once the process has finished or been stopped.
    fn conclude(&mut self) -> Result<RunSummary, ConnectorError> {
        let summary = self.summary();
        let exit_failed = match self.exit {
            Some(e) => !e.success() && !self.stopped_by_us,
            None => false,
        };
        if self.trace_error.is_none() && !exit_failed {
            return Ok(summary);
        }
        let err = self.trace_error.take();
        let tail = self.log.tail();
        tracing::debug!(connector = %self.connector, verb = %self.verb, "connector failed");
        Err(ConnectorError::Failed(Box::new(ConnectorFailure {
            connector: self.connector.clone(),
            verb: self.verb,
            exit: self.exit,
            message: err.as_ref().map(|e| e.message.clone()),
            failure_type: err.as_ref().and_then(|e| e.failure_type.clone()),
            internal_message: err.as_ref().and_then(|e| e.internal_message.clone()),
            log_tail: tail,
            log_file: self.log.path().cloned(),
        })))
    }
}

impl Drop for ConnectorProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Owned messages of a connector run; see [`ConnectorProcess::into_messages`].
#[derive(Debug)]
pub struct MessageIter {
    process: ConnectorProcess,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
    /// The decoder's buffer for the members of records' `data` (unused here, kept to reuse it).
    members: Vec<MemberSpan>,
}

impl MessageIter {
    /// The running process (for its pid, log file, …).
    pub fn process(&self) -> &ConnectorProcess {
        &self.process
    }

    /// The counts so far (final once the iterator returned `None`).
    pub fn summary(&self) -> RunSummary {
        self.process.summary()
    }

    /// Stops the connector now (SIGTERM, grace, SIGKILL); the iterator then ends.
    pub fn stop(&mut self) {
        self.done = true;
        self.process.stopped_early = true;
        self.process.stop();
    }
}

impl Iterator for MessageIter {
    type Item = Result<AirbyteMessage, ConnectorError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if self.pos >= self.chunk.len() {
                let old = std::mem::take(&mut self.chunk);
                self.process.recycle(old);
                self.pos = 0;
                match self.process.next_chunk() {
                    Some(Ok(c)) => self.chunk = c,
                    Some(Err(e)) => {
                        self.done = true;
                        self.process.stop();
                        return Some(Err(e));
                    }
                    None => {
                        self.done = true;
                        self.process.finish();
                        return self.process.conclude().err().map(Err);
                    }
                }
                continue;
            }
            let rest = &self.chunk[self.pos..];
            let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            let line = &self.chunk[self.pos..self.pos + len];
            self.pos += len + 1;
            let owned = match self.process.handle_line(line, &mut self.members) {
                None | Some(Decoded::Blank) => continue,
                Some(Decoded::Message(m)) => Ok(*m),
                Some(Decoded::Record(r)) => r.to_owned_message().map(AirbyteMessage::record),
            };
            match owned {
                Ok(m) => return Some(Ok(m)),
                Err(e) => {
                    // Valid JSON but not a valid record (e.g. a malformed `meta`).
                    self.process.records -= 1;
                    self.process.unparsable += 1;
                    self.process
                        .log
                        .line("INFO", &format!("Unparsable RECORD from connector: {e}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lines;

    #[test]
    fn lines_split_like_the_protocol() {
        let got: Vec<&[u8]> = lines(b"a\nbb\n\nc").collect();
        assert_eq!(got, [&b"a"[..], b"bb", b"", b"c"]);
        let got: Vec<&[u8]> = lines(b"a\n").collect();
        assert_eq!(got, [&b"a"[..]]);
        assert_eq!(lines(b"").count(), 1);
    }
}
