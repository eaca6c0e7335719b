//! One conversation with `criu swrk`, CRIU's RPC service: a request, the notifications CRIU
//! sends while it works (each answered), and the final response.
//!
//! The messages are rust-criu's (generated from CRIU's rpc.proto); the session is ours
//! because rust-criu's `Criu` cannot do what runc's command line needs: a pre-dump, the LSM
//! options of a restore, the restored init's pid, notifications that capture state (its
//! callback is a plain `fn`), CRIU's placement in the container's cgroup between its start
//! and the request, and inherited fds at fixed numbers.

use crate::error::{Context, Error, Result};
use protobuf::Message;
use rust_criu::rust_criu_protobuf::rpc::{Criu_notify, Criu_req, Criu_req_type, Criu_resp};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The fd number of CRIU's end of the RPC socket (`criu swrk 3`); inherited fds follow it.
const SWRK_FD: RawFd = 3;

/// CRIU's answers are small (a few hundred bytes); runc reads them into 40 KiB too.
const MAX_MESSAGE: usize = 40 * 1024;

/// What CRIU's stdin, stdout and stderr are. A restore inherits ours: CRIU passes them to the
/// restored process where the dump marked a pipe as external (runc does the same).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum CriuStdio {
    Null,
    Inherit,
}

/// A running `criu swrk`.
pub(crate) struct Swrk {
    child: Child,
    sock: UnixDatagram,
}

/// Starts `criu swrk` with `extra` fds at 4, 5, ... (in that order).
pub(crate) fn start(criu: &Path, extra: &[BorrowedFd<'_>], stdio: CriuStdio) -> Result<Swrk> {
    let (ours, theirs) = crate::syscall::seqpacket_pair().ctx(|| "socketpair for criu")?;
    let mut moves: Vec<(RawFd, RawFd)> = vec![(theirs.as_raw_fd(), SWRK_FD)];
    moves.extend(
        extra
            .iter()
            .zip(SWRK_FD + 1..)
            .map(|(fd, to)| (fd.as_raw_fd(), to)),
    );
    let mut cmd = Command::new(criu);
    cmd.arg("swrk").arg(SWRK_FD.to_string());
    if stdio == CriuStdio::Null {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }
    // SAFETY: the closure runs between fork and exec and calls only fcntl and dup2, which
    // are async-signal-safe; it allocates nothing (`moves` was built before the fork).
    unsafe {
        cmd.pre_exec(move || place_fds(&moves));
    }
    let child = cmd.spawn().map_err(|e| Error::Criu {
        op: "start".into(),
        detail: format!("{}: {}", criu.display(), crate::error::io_text(&e)),
    })?;
    drop(theirs);
    Ok(Swrk {
        child,
        sock: UnixDatagram::from(ours),
    })
}

/// In the child: each fd to its number, without close-on-exec. Every source is first
/// duplicated above the targets, so a source that sits on another's target number is not
/// overwritten before it moves.
fn place_fds(moves: &[(RawFd, RawFd)]) -> std::io::Result<()> {
    const HIGH: RawFd = 1000;
    let mut high = [0 as RawFd; 16];
    if moves.len() > high.len() {
        return Err(std::io::Error::from_raw_os_error(libc::EMFILE));
    }
    for (i, (from, _)) in moves.iter().enumerate() {
        // SAFETY: F_DUPFD_CLOEXEC only makes a new fd; no memory is passed.
        let fd = unsafe { libc::fcntl(*from, libc::F_DUPFD_CLOEXEC, HIGH) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        high[i] = fd;
    }
    for (i, (_, to)) in moves.iter().enumerate() {
        // SAFETY: dup2 only changes the fd table; the new fd has no close-on-exec flag.
        if unsafe { libc::dup2(high[i], *to) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// What a notification handler gets: CRIU's notification and the fd it carried, if any
/// (the pty master of `orphan-pts-master`).
pub(crate) type Notify<'a> = &'a mut dyn FnMut(&Criu_notify, Option<OwnedFd>) -> Result<()>;

impl Swrk {
    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `req`, answers every notification with `on_notify`'s verdict, and returns
    /// CRIU's final response. CRIU's failure (or a failed notification) is an error naming
    /// `op`.
    pub(crate) fn call(
        mut self,
        req: &Criu_req,
        op: &str,
        on_notify: Notify<'_>,
    ) -> Result<Criu_resp> {
        let kind = req.type_();
        let result = self.converse(req, op, on_notify);
        // CRIU ends when its socket closes; after a pre-dump it would wait for the next
        // request otherwise (and then exits non-zero, which runc ignores too).
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
        let status = self.child.wait();
        let resp = result?;
        match status {
            Ok(s) if s.success() || kind == Criu_req_type::PRE_DUMP => Ok(resp),
            Ok(s) => Err(criu_error(op, format!("criu exited with {s}"))),
            Err(e) => Err(e).ctx(|| "wait for criu"),
        }
    }

    fn converse(&mut self, req: &Criu_req, op: &str, on_notify: Notify<'_>) -> Result<Criu_resp> {
        self.send(req)?;
        let mut buf = vec![0u8; MAX_MESSAGE];
        loop {
            let (n, fd) = crate::syscall::recv_message_with_fd(&self.sock, &mut buf)
                .ctx(|| "read from criu")?;
            if n == 0 {
                return Err(criu_error(
                    op,
                    "criu closed its socket without an answer".into(),
                ));
            }
            let resp = Criu_resp::parse_from_bytes(&buf[..n])
                .map_err(|e| criu_error(op, format!("undecodable answer: {e}")))?;
            if !resp.success() {
                return Err(criu_error(op, refusal(&resp)));
            }
            if resp.type_() != Criu_req_type::NOTIFY {
                if resp.type_() != req.type_() {
                    return Err(criu_error(
                        op,
                        format!("answer of type {:?} to {:?}", resp.type_(), req.type_()),
                    ));
                }
                return Ok(resp);
            }
            let verdict = on_notify(&resp.notify, fd);
            let mut ack = Criu_req::new();
            ack.set_type(Criu_req_type::NOTIFY);
            ack.set_notify_success(verdict.is_ok());
            self.send(&ack)?;
            verdict?;
        }
    }

    fn send(&self, req: &Criu_req) -> Result<()> {
        let bytes = req
            .write_to_bytes()
            .map_err(|e| Error::other(format!("encode criu request: {e}")))?;
        self.sock.send(&bytes).ctx(|| "write to criu")?;
        Ok(())
    }
}

/// CRIU's version as runc compares it: major × 10000 + minor × 100 + sublevel (3.16 is
/// 31600), from a VERSION request.
pub(crate) fn version(criu: &Path) -> Result<u32> {
    let mut req = Criu_req::new();
    req.set_type(Criu_req_type::VERSION);
    let resp = start(criu, &[], CriuStdio::Null)?.call(&req, "version", &mut |_, _| Ok(()))?;
    let v = &resp.version;
    Ok(version_number(
        v.major_number(),
        v.minor_number(),
        v.sublevel(),
    ))
}

fn version_number(major: i32, minor: i32, sublevel: i32) -> u32 {
    let part = |n: i32| n.max(0) as u32;
    part(major) * 10000 + part(minor) * 100 + part(sublevel)
}

/// `a.b` of a version number, for messages.
pub(crate) fn version_text(v: u32) -> String {
    format!("{}.{}", v / 10000, v / 100 % 100)
}

fn refusal(resp: &Criu_resp) -> String {
    let mut text = format!("{:?}", resp.type_());
    if resp.has_cr_errno() && resp.cr_errno() != 0 {
        text += &format!(" errno {}", resp.cr_errno());
    }
    if !resp.cr_errmsg().is_empty() {
        text += &format!(": {}", resp.cr_errmsg().trim());
    }
    text
}

fn criu_error(op: &str, detail: String) -> Error {
    Error::Criu {
        op: op.to_string(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_runcs() {
        assert_eq!(version_number(3, 16, 0), 31600);
        assert_eq!(version_number(3, 17, 1), 31701);
        assert!(version_number(3, 15, 9) < 31600);
        assert_eq!(version_text(31701), "3.17");
        assert_eq!(version_text(version_number(4, 0, 0)), "4.0");
    }
}
