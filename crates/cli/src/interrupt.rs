//! Ctrl-C (SIGINT) and SIGTERM while a connector runs.
//!
//! Connectors run in their own process group (so that a terminal's Ctrl-C does not hit them
//! half-way through a write); when `abrs` itself is interrupted, it must stop them: the handler
//! sends SIGTERM to the registered connector's process group, then lets the signal end `abrs`
//! as usual.

use std::sync::Once;
use std::sync::atomic::{AtomicI32, Ordering};

/// The process group of the running connector (its pid), 0 when none.
static CONNECTOR_PGID: AtomicI32 = AtomicI32::new(0);
static INSTALL: Once = Once::new();

extern "C" fn on_signal(signal: libc::c_int) {
    let pgid = CONNECTOR_PGID.load(Ordering::SeqCst);
    // Only async-signal-safe calls here: kill, signal, raise.
    // SAFETY: plain libc calls with valid arguments.
    unsafe {
        if pgid > 0 {
            libc::kill(-pgid, libc::SIGTERM);
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
    }
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
