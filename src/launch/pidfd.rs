//! `--pidfd-socket` (runc 1.2, for create, run and exec): a pidfd of the container's init or
//! of the exec'd process, sent over the AF_UNIX socket at the path given with SCM_RIGHTS,
//! the way the console socket receives the pty master. The message's bytes say which kind
//! of process it is, as runc's do: `standard` for an init, `setns` for an exec'd process.

use crate::container::ProcessId;
use crate::error::{Context, Error, Result, at};
use sendfd::SendWithFd;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Which process the pidfd names.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Init,
    Exec,
}

/// Connects to the socket before anything is made, so a wrong path is bad input that
/// leaves nothing behind.
pub fn connect(path: Option<&Path>) -> Result<Option<UnixStream>> {
    path.map(|p| UnixStream::connect(p).ctx(|| at("--pidfd-socket: connect", p)))
        .transpose()
}

/// Sends a pidfd of `process` (checked to be that process still, by its start time).
pub fn send(sock: &UnixStream, process: ProcessId, kind: Kind) -> Result<()> {
    let pidfd = crate::syscall::pidfd_open(process.pid).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOSYS) => Error::other("--pidfd-socket needs Linux 5.3 or later (pidfd_open)"),
        _ => Error::other(format!("--pidfd-socket: pidfd_open({}): {e}", process.pid)),
    })?;
    if !process.is_alive() {
        return Err(Error::other(
            "--pidfd-socket: the process exited before its pidfd was sent",
        ));
    }
    let name: &[u8] = match kind {
        Kind::Init => b"standard",
        Kind::Exec => b"setns",
    };
    sock.send_with_fd(name, &[pidfd.as_raw_fd()])
        .ctx(|| "--pidfd-socket: send the pidfd")?;
    Ok(())
}
