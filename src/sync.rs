//! The sync protocol: the one socketpair between the parent (`corral create`, `run`, `exec`;
//! `launch/`) and the init stages (the child; `init/`). Both sides use this module and nothing
//! else of each other. Typed, versioned messages, each a u32 length followed by JSON; two fds
//! travel beside them with SCM_RIGHTS.
//!
//! The order of a `create` (an `exec` is the same with no id maps, no hooks and no fifo, and
//! `Go` carries no state):
//!
//! ```text
//!  parent (launch/)                                 init (init/)
//!  ───────────────                                  ────────────
//!  Config ─────────────────────────────────────────► stage 1: joins/creates namespaces
//!          ◄──────────────────────────────────────── NeedIdMaps     (new user ns only)
//!  writes uid_map/gid_map
//!  IdMapsWritten ──────────────────────────────────►
//!                                                   forks stage 2 (CLONE_PARENT), exits
//!          ◄──────────────────────────────────────── Pid(n)         (checked: our child)
//!  records the pid, reaps stage 1
//!  Go(state) ──────────────────────────────────────► stage 2: mounts, devices
//!          ◄──────────────────────────────────────── RunHooks       (prestart/createRuntime)
//!  runs the hooks
//!  HooksDone ──────────────────────────────────────► createContainer hooks, pivot_root, ...
//!          ◄──────────────────────────────────────── SeccompListener + fd   (NOTIFY profiles)
//!  sends the fd to listenerPath; later reads are
//!  bounded (the agent may never answer)
//!          ◄──────────────────────────────────────── Ready
//!  writes the pid file, records `created`
//!  Commit ─────────────────────────────────────────►
//!          ◄──────────────────────────────────────── Committed; then blocks on the exec fifo
//! ```
//! At any step the init may send `Error(text)` instead and exit; the parent then undoes
//! everything. A closed socket before `Committed` means the init died.

use crate::cgroups::Cgroup;
use oci_spec::runtime::Spec;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

/// Env var naming the sync socket's fd in the init; nothing else passes through env.
pub const INIT_SOCK_ENV: &str = "_CORRAL_INIT_SOCK";

/// Bumped whenever a message changes shape; parent and init are the same binary, but a
/// mismatch would mean a stale init and is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// Everything the init needs, sent once, first.
#[derive(Debug, Serialize, Deserialize)]
pub struct InitConfig {
    pub protocol: u32,
    pub id: String,
    pub spec: Spec,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Fds 3 .. 3+n pass through to the container (`--preserve-fds` plus LISTEN_FDS).
    pub preserve_fds: i32,
    /// Read side of the exec fifo, inherited: the init blocks reading it until `start`.
    /// `None` for `exec`, which runs its process as soon as it is set up.
    pub fifo_fd: Option<i32>,
    /// For `exec`: the container's init, whose namespaces the new process joins instead of
    /// creating any (and whose rootfs is already in place).
    pub join_pid: Option<crate::container::ProcessId>,
    /// Connected console socket, inherited, when the process has a terminal.
    pub console_fd: Option<i32>,
    /// Added to the process env (LISTEN_FDS/LISTEN_PID from socket activation).
    pub extra_env: Vec<String>,
    pub cgroup: Cgroup,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum ToInit {
    Config(Box<InitConfig>),
    /// uid_map/gid_map are written; the init may go on in its user namespace.
    IdMapsWritten,
    /// The parent recorded the container's pid; the init may start setting up. Carries the
    /// state hooks get on stdin (`create` only).
    Go(Option<Box<crate::oci_state::OciState>>),
    /// prestart and createRuntime hooks have run.
    HooksDone,
    /// The parent recorded `created`; the init drops its parent-death signal.
    Commit,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum FromInit {
    /// The init made a user namespace and needs its id maps written by the parent.
    NeedIdMaps,
    /// pid (in the parent's pid namespace) of the container's pid 1.
    Pid(i32),
    /// Mounts are done, pivot_root is not: time for prestart and createRuntime hooks.
    RunHooks,
    /// The seccomp notify fd follows on the socket (SCM_RIGHTS on one byte), for the parent
    /// to pass to `linux.seccomp.listenerPath`.
    SeccompListener,
    /// Set-up is done; the init is about to block on the exec fifo.
    Ready,
    /// The commit was seen.
    Committed,
    Error(String),
}

pub struct Channel {
    sock: UnixStream,
}

impl Channel {
    pub fn new(sock: UnixStream) -> Channel {
        Channel { sock }
    }

    pub fn stream(&self) -> &UnixStream {
        &self.sock
    }

    pub fn send<T: Serialize>(&mut self, msg: &T) -> io::Result<()> {
        let body = serde_json::to_vec(msg).map_err(io::Error::other)?;
        let mut buf = Vec::with_capacity(body.len() + 4);
        buf.extend_from_slice(&(body.len() as u32).to_le_bytes());
        buf.extend_from_slice(&body);
        self.sock.write_all(&buf)
    }

    /// The next message, or `None` on a clean EOF (the other side exited).
    pub fn recv<T: DeserializeOwned>(&mut self) -> io::Result<Option<T>> {
        let mut len = [0u8; 4];
        match self.sock.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > 64 << 20 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "sync message too large",
            ));
        }
        let mut body = vec![0u8; len];
        self.sock.read_exact(&mut body)?;
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut a, mut b) = (Channel::new(a), Channel::new(b));
        a.send(&FromInit::Pid(42)).unwrap();
        a.send(&FromInit::Error("x".into())).unwrap();
        drop(a);
        assert!(matches!(
            b.recv::<FromInit>().unwrap(),
            Some(FromInit::Pid(42))
        ));
        assert!(matches!(b.recv::<FromInit>().unwrap(), Some(FromInit::Error(m)) if m == "x"));
        assert!(b.recv::<FromInit>().unwrap().is_none());
    }
}
