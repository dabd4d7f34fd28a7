//! Ctrl-C (SIGINT) and SIGTERM while a connector runs.
//!
//! Connectors run in their own process group (so that a terminal's Ctrl-C does not hit them
//! half-way through a write); when `abrs` itself is interrupted, it must stop them: the handler
//! sends SIGTERM to the registered connector's process group, then lets the signal end `abrs`
//! as usual.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The process group of the running connector (its pid), 0 when none.
static CONNECTOR_PGID: AtomicI32 = AtomicI32::new(0);
/// Whether the first interrupt only stops the connector and lets `abrs` finish (a sync: the
/// write then tells the destination the streams are incomplete and it commits what it has).
static GRACEFUL: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

extern "C" fn on_signal(signal: libc::c_int) {
    let pgid = CONNECTOR_PGID.load(Ordering::SeqCst);
    // Only async-signal-safe calls here: atomics, kill, signal, raise.
    // SAFETY: plain libc calls with valid arguments.
    unsafe {
        if pgid > 0 {
            libc::kill(-pgid, libc::SIGTERM);
        }
        if pgid > 0 && GRACEFUL.swap(false, Ordering::SeqCst) {
            // Once: a second interrupt ends `abrs` at once.
            return;
        }
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// While alive, an interrupt of `abrs` also stops the connector with this pid.
#[derive(Debug)]
pub struct ConnectorGuard(());

impl Drop for ConnectorGuard {
    fn drop(&mut self) {
        CONNECTOR_PGID.store(0, Ordering::SeqCst);
        GRACEFUL.store(false, Ordering::SeqCst);
    }
}

/// Registers the source of a sync: the first interrupt stops it (and only it), so that the
/// write ends as after a source failure, the destination committing what it had; a second
/// interrupt ends `abrs` at once.
pub fn guard_sync_source(pid: Option<u32>) -> ConnectorGuard {
    let guard = guard_connector(pid);
    GRACEFUL.store(true, Ordering::SeqCst);
    guard
}

/// Registers the running connector (its pid is its process group).
pub fn guard_connector(pid: Option<u32>) -> ConnectorGuard {
    INSTALL.call_once(|| {
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: installing a handler that only makes async-signal-safe calls.
        unsafe {
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
        }
    });
    let pgid = pid.and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
    CONNECTOR_PGID.store(pgid, Ordering::SeqCst);
    ConnectorGuard(())
}
