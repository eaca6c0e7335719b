//! The parent's half of the sync protocol (`crate::sync` draws the message order): one loop
//! for every kind of init, with what differs between `create` and `exec` behind
//! [`ParentSide`].

use super::cleanup::Cleanup;
use crate::container::ProcessId;
use crate::error::{Context, Error, Result};
use crate::oci_state::OciState;
use crate::sync::{Channel, FromInit, ToInit};
use nix::sys::wait::WaitStatus;
use oci_spec::runtime::Spec;

/// What the parent does at each step of the protocol. Steps an init of this kind never asks
/// for are protocol errors.
pub(crate) trait ParentSide {
    /// The init's pid was accepted: record it, and return the state the init's hooks see
    /// (`None` when it runs none).
    fn accepted(&mut self, pid: ProcessId) -> Result<Option<OciState>>;
    /// The config the init runs (for `linux.seccomp.listenerPath`).
    fn spec(&self) -> &Spec;
    /// The state handed to a seccomp agent with the listener fd.
    fn oci_state(&self) -> OciState;
    /// The init made its user namespace and waits for its id maps.
    fn write_id_maps(&mut self, _stage1_pid: i32) -> Result<()> {
        Err(unexpected(&FromInit::NeedIdMaps))
    }
    /// prestart and createRuntime hooks.
    fn run_hooks(&mut self) -> Result<()> {
        Err(unexpected(&FromInit::RunHooks))
    }
    /// The process is ready to be committed (pid file, `created`).
    fn ready(&mut self, pid: ProcessId) -> Result<()>;
    /// Said when the init dies before its commit.
    fn died_before_commit(&self) -> &'static str;
    /// The command this side is (`create`, `exec`): names its fault points.
    fn command(&self) -> &'static str;
}

fn unexpected(msg: &FromInit) -> Error {
    Error::other(format!("unexpected message from init: {msg:?}"))
}

/// Runs the protocol until the init has committed; returns its process.
pub(crate) fn drive(
    chan: &mut Channel,
    cleanup: &mut Cleanup,
    stage1_pid: i32,
    side: &mut impl ParentSide,
) -> Result<ProcessId> {
    let mut process = None;
    loop {
        match recv_from_init(chan)? {
            Some(FromInit::NeedIdMaps) => {
                side.write_id_maps(stage1_pid)?;
                chan.send(&ToInit::IdMapsWritten).ctx(|| "send to init")?;
            }
            Some(FromInit::Pid(pid)) => {
                let p = accept_init_pid(cleanup, pid)?;
                process = Some(p);
                let hook_state = side.accepted(p)?;
                crate::fault::step(side.command(), "accepted");
                chan.send(&ToInit::Go(hook_state.map(Box::new)))
                    .ctx(|| "send to init")?;
            }
            Some(FromInit::SeccompListener) => {
                let pid = process.map(|p| p.pid).unwrap_or_default();
                forward_seccomp_listener(chan, side.spec(), pid, &side.oci_state())?;
            }
            Some(FromInit::RunHooks) => {
                side.run_hooks()?;
                crate::fault::step(side.command(), "hooks-run");
                chan.send(&ToInit::HooksDone).ctx(|| "send to init")?;
            }
            Some(FromInit::Ready) => {
                let p =
                    process.ok_or_else(|| Error::other("init was ready before it had a pid"))?;
                side.ready(p)?;
                crate::fault::step(side.command(), "ready");
                chan.send(&ToInit::Commit).ctx(|| "send to init")?;
                return match recv_from_init(chan)? {
                    Some(FromInit::Committed) => Ok(p),
                    Some(FromInit::Error(e)) => Err(Error::other(e)),
                    _ => Err(Error::other(side.died_before_commit())),
                };
            }
            Some(FromInit::Error(e)) => return Err(Error::other(e)),
            Some(other @ FromInit::Committed) => return Err(unexpected(&other)),
            None => return Err(init_died(cleanup)),
        }
    }
}

/// How long the parent waits for the init's next message once a seccomp agent holds the
/// listener: the init's remaining syscalls may each wait on the agent, and an agent that
/// never answers must fail the command rather than hang it. Debug builds (the tests) may
/// shorten it with `CORRAL_TEST_SECCOMP_AGENT_TIMEOUT_MS`.
fn seccomp_agent_timeout() -> std::time::Duration {
    let default = std::time::Duration::from_secs(30);
    if cfg!(debug_assertions)
        && let Some(ms) = std::env::var("CORRAL_TEST_SECCOMP_AGENT_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
    {
        return std::time::Duration::from_millis(ms);
    }
    default
}

/// Receives the notify fd the init sent and passes it to `linux.seccomp.listenerPath`; from
/// then on, reads from the init are bounded by [`seccomp_agent_timeout`].
fn forward_seccomp_listener(chan: &Channel, spec: &Spec, pid: i32, state: &OciState) -> Result<()> {
    let fd = crate::syscall::recv_fd(chan.stream()).ctx(|| "receive the seccomp notify fd")?;
    if let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        crate::seccomp::listener::send(s, &fd, pid, state)?;
    }
    chan.stream()
        .set_read_timeout(Some(seccomp_agent_timeout()))
        .ctx(|| "set a timeout on the init socket")
}

/// The init's next message; a read that timed out (see [`forward_seccomp_listener`]) means
/// the seccomp agent left the init waiting.
fn recv_from_init(chan: &mut Channel) -> Result<Option<FromInit>> {
    match chan.recv() {
        Ok(msg) => Ok(msg),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(Error::config(
                "linux.seccomp.listenerPath",
                format!(
                    "the seccomp agent did not answer the container init's system calls within {}s",
                    seccomp_agent_timeout().as_secs_f32()
                ),
            ))
        }
        Err(e) => Err(e).ctx(|| "read from init"),
    }
}

/// The init's pid message is believed only as far as it can be checked: exactly one, naming
/// a child of this process (stage 2 is forked with CLONE_PARENT). A forged pid (from a
/// process that ptraced the init) would otherwise be signalled, killed on failure and
/// written to the pid file (CVE-2016-9962 class).
pub(crate) fn accept_init_pid(cleanup: &mut Cleanup, pid: i32) -> Result<ProcessId> {
    if cleanup.init_pid.is_some() {
        return Err(Error::other("container init reported a second pid"));
    }
    if pid <= 0 || ProcessId::parent_of(pid) != Some(std::process::id() as i32) {
        return Err(Error::other(format!(
            "container init reported pid {pid}, which is not a child of this process"
        )));
    }
    cleanup.init_pid = Some(pid);
    wait_stage1(cleanup)?;
    ProcessId::of(pid).ok_or_else(|| Error::other("container init exited during setup"))
}

/// Stage 1 exits right after reporting the container's pid; reap it.
fn wait_stage1(cleanup: &mut Cleanup) -> Result<()> {
    if let Some(child) = cleanup.stage1.take() {
        let status = child.wait().ctx(|| "wait for init stage 1")?;
        if status != WaitStatus::Exited(nix::unistd::Pid::from_raw(child.pid), 0) {
            return Err(Error::other(format!("init stage 1 failed: {status:?}")));
        }
    }
    Ok(())
}

fn init_died(cleanup: &mut Cleanup) -> Error {
    if let Some(child) = cleanup.stage1.take()
        && let Ok(status) = child.wait()
    {
        return Error::other(format!("container init exited during setup ({status:?})"));
    }
    Error::other("container init exited during setup")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_pid_of_our_own_child_is_accepted() {
        // pid 1 is nobody's child of ours: a forged message naming it is refused, and it is
        // not recorded (so the cleanup would never signal it).
        let mut cleanup = Cleanup::default();
        let e = accept_init_pid(&mut cleanup, 1).unwrap_err().to_string();
        assert!(e.contains("not a child of this process"), "{e}");
        assert_eq!(cleanup.init_pid, None);
        assert!(accept_init_pid(&mut cleanup, -5).is_err());

        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let id = accept_init_pid(&mut cleanup, pid).unwrap();
        assert_eq!(id.pid, pid);
        let e = accept_init_pid(&mut cleanup, pid).unwrap_err().to_string();
        assert!(e.contains("second pid"), "{e}");
        cleanup.init_pid = None;
        let _ = child.kill();
        let _ = child.wait();
    }
}
