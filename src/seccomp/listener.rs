//! Handing a seccomp notify fd to the `listenerPath` socket, as the runtime-spec describes:
//! one message whose body is the container process state (`containerProcessState`) and whose
//! SCM_RIGHTS carry the fds it names.

use crate::error::{Error, Result};
use crate::oci_state::OciState;
use oci_spec::runtime::LinuxSeccomp;
use sendfd::SendWithFd;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

pub fn send(s: &LinuxSeccomp, fd: &OwnedFd, pid: i32, state: &OciState) -> Result<()> {
    let field = "linux.seccomp.listenerPath";
    let path = s
        .listener_path()
        .clone()
        .ok_or_else(|| Error::config(field, "is required when an action is SCMP_ACT_NOTIFY"))?;
    let msg = serde_json::json!({
        "ociVersion": crate::oci_state::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": s.listener_metadata().clone().unwrap_or_default(),
        "state": state,
    });
    let body = serde_json::to_vec(&msg)
        .map_err(|e| Error::other(format!("encode listener message: {e}")))?;
    let sock = UnixStream::connect(&path)
        .map_err(|e| Error::config(field, format!("connect to {}: {e}", path.display())))?;
    sock.send_with_fd(&body, &[fd.as_raw_fd()])
        .map_err(|e| Error::config(field, format!("send to {}: {e}", path.display())))?;
    Ok(())
}
