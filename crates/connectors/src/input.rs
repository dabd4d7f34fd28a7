//! A destination's stdin: the pipe we write its input into, and how we learn whether it read all
//! of it.
//!
//! A destination that exits without reading its whole input must be a failed write, not a
//! success (PyAirbyte reports success: destinations.md §1.7). Two signals tell: our write fails
//! with EPIPE (it closed its end while we still had input), or input is left in the pipe when it
//! exits. The second needs a look into the pipe after the child is gone, so we keep a duplicate
//! of the pipe's read end ([`InputProbe`]) until the child has exited, ask the kernel how many
//! bytes are still unread (`FIONREAD`), then close it. Holding the read end also means our
//! writes cannot see EPIPE while the child lives; once the probe is closed they do.

use std::io::{self, PipeReader, PipeWriter, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::invocation::StdinSource;

/// Size of the buffer in front of the pipe when we pump lines ourselves.
const PUMP_BUFFER: usize = 256 * 1024;

/// Our duplicate of the read end of a connector's stdin pipe (see the module doc).
#[derive(Debug)]
pub(crate) struct InputProbe {
    reader: PipeReader,
}

impl InputProbe {
    /// Bytes written into the pipe that nobody has read.
    pub(crate) fn unread_bytes(&self) -> Option<u64> {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one c_int into `n`; the fd is ours and open.
        let r = unsafe { libc::ioctl(self.reader.as_raw_fd(), libc::FIONREAD, &mut n) };
        (r == 0).then_some(n.max(0) as u64)
    }
}

/// The pipe for a connector's stdin: the child's end, our probe, and the write end.
pub(crate) struct InputPipe {
    pub(crate) child_end: PipeReader,
    pub(crate) probe: InputProbe,
    pub(crate) writer: PipeWriter,
}

impl InputPipe {
    /// A new pipe. Both ends are close-on-exec, so no other child (say, the source of the same
    /// sync) inherits the write end and keeps the destination from ever seeing EOF.
    pub(crate) fn new() -> io::Result<Self> {
        let (reader, writer) = io::pipe()?;
        let child_end = reader.try_clone()?;
        Ok(Self {
            child_end,
            probe: InputProbe { reader },
            writer,
        })
    }
}

/// The write end of a connector's stdin, handed to the caller by
/// [`crate::ConnectorProcess::take_stdin`] when it was started with [`StdinSource::Pipe`].
///
/// Writes block while the pipe is full, which paces the producer to the connector's speed.
/// With a stall timeout, a write that cannot make progress for that long fails with
/// [`io::ErrorKind::TimedOut`] instead of waiting for ever on a connector that stopped reading.
/// A write after the connector is gone fails with [`io::ErrorKind::BrokenPipe`]. Dropping it
/// closes the pipe: the connector sees the end of its input.
#[derive(Debug)]
pub struct ConnectorStdin {
    writer: PipeWriter,
    stall_timeout: Option<Duration>,
    written: u64,
}

impl ConnectorStdin {
    pub(crate) fn new(writer: PipeWriter) -> Self {
        Self {
            writer,
            stall_timeout: None,
            written: 0,
        }
    }

    /// Sets how long a write may wait for the connector to read before it fails with
    /// [`io::ErrorKind::TimedOut`] (`None`: wait as long as it takes).
    pub fn set_stall_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        set_nonblocking(&self.writer, timeout.is_some())?;
        self.stall_timeout = timeout;
        Ok(())
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Waits until the pipe takes more input, up to `limit`; whether it does.
    fn wait_writable(&self, limit: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut pfd = libc::pollfd {
                fd: self.writer.as_fd().as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            };
            let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
            // SAFETY: one valid pollfd for the duration of the call.
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            // POLLERR (reader gone) also ends the wait: the next write reports EPIPE.
            return Ok(r > 0);
        }
    }
}

fn set_nonblocking(writer: &PipeWriter, on: bool) -> io::Result<()> {
    let fd = writer.as_raw_fd();
    // SAFETY: plain fcntl calls on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        let new = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        if libc::fcntl(fd, libc::F_SETFL, new) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl Write for ConnectorStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.writer.write(buf) {
                Ok(n) => {
                    self.written += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let limit = self.stall_timeout.unwrap_or(Duration::from_secs(3600));
                    if !self.wait_writable(limit)? && self.stall_timeout.is_some() {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!(
                                "the connector read none of its input for {} s",
                                limit.as_secs_f64()
                            ),
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Copies `source` into the connector's stdin on a thread of its own (the
/// [`StdinSource::Lines`] and [`StdinSource::Reader`] cases). Not joined: it may wait on its
/// source; it ends at the end of the source or when the connector is gone.
pub(crate) fn spawn_stdin_pump(
    writer: PipeWriter,
    source: StdinSource,
) -> io::Result<Option<JoinHandle<()>>> {
    let source = match source {
        StdinSource::Pipe => return Ok(None),
        other => other,
    };
    let handle = std::thread::Builder::new()
        .name("connector-stdin".into())
        .spawn(move || {
            let mut stdin = writer;
            let result = match source {
                StdinSource::Reader(mut r) => io::copy(&mut r, &mut stdin).map(|_| ()),
                StdinSource::Lines(lines) => {
                    let mut w = io::BufWriter::with_capacity(PUMP_BUFFER, &mut stdin);
                    let mut res = Ok(());
                    for mut line in lines {
                        if line.last() != Some(&b'\n') {
                            line.push(b'\n');
                        }
                        if let Err(e) = w.write_all(&line) {
                            res = Err(e);
                            break;
                        }
                    }
                    res.and_then(|()| w.flush())
                }
                StdinSource::Pipe => Ok(()),
            };
            if let Err(e) = result {
                // A destination that exits early closes its stdin: that is its own error to
                // report (the probe sees the unread input).
                tracing::debug!("writing to the connector's stdin stopped: {e}");
            }
            // Dropping the writer closes it: the destination sees EOF.
        })?;
    Ok(Some(handle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_probe_counts_unread_input() {
        let pipe = InputPipe::new().unwrap();
        let InputPipe {
            child_end,
            probe,
            mut writer,
        } = pipe;
        writer.write_all(b"hello\nworld\n").unwrap();
        assert_eq!(probe.unread_bytes(), Some(12));
        let mut r = child_end;
        let mut buf = [0u8; 6];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(probe.unread_bytes(), Some(6));
    }

    #[test]
    fn a_stalled_reader_times_out_and_a_gone_one_breaks_the_pipe() {
        let InputPipe {
            child_end,
            probe,
            writer,
        } = InputPipe::new().unwrap();
        let mut stdin = ConnectorStdin::new(writer);
        stdin
            .set_stall_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        let err = loop {
            if let Err(e) = stdin.write_all(&chunk) {
                break e;
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(stdin.bytes_written() > 0);
        drop(child_end);
        drop(probe);
        let err = stdin.write_all(b"more").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
    }
}
