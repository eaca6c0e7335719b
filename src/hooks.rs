//! OCI hooks: programs the config asks the runtime to run at fixed points of the lifecycle,
//! with the container's state JSON on stdin.
//!
//! Where each kind runs (runtime-spec, config.md "POSIX-platform Hooks"):
//! - `prestart` (deprecated) and `createRuntime`: by the parent, in the runtime's namespaces,
//!   once the container's namespaces exist and before pivot_root;
//! - `createContainer`: by the init, in the container's namespaces, before pivot_root;
//! - `startContainer`: by the init, inside the container, after `start`, before exec;
//! - `poststart`: by `start`, after the process started;
//! - `poststop`: by `delete`, after the container is gone.
//!
//! A failing hook of the first four kinds fails the operation; poststart and poststop
//! failures are warnings and the operation goes on.

use crate::error::{Error, Result};
use crate::oci_state::OciState;
use oci_spec::runtime::{Hook, Hooks, Spec};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    pub fn json_name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    fn of(self, hooks: &Hooks) -> &[Hook] {
        let list = match self {
            Kind::Prestart => hooks.prestart(),
            Kind::CreateRuntime => hooks.create_runtime(),
            Kind::CreateContainer => hooks.create_container(),
            Kind::StartContainer => hooks.start_container(),
            Kind::Poststart => hooks.poststart(),
            Kind::Poststop => hooks.poststop(),
        };
        list.as_deref().unwrap_or_default()
    }

    pub const ALL: [Kind; 6] = [
        Kind::Prestart,
        Kind::CreateRuntime,
        Kind::CreateContainer,
        Kind::StartContainer,
        Kind::Poststart,
        Kind::Poststop,
    ];
}

/// The hooks of `kind` in the config (empty when there are none).
pub fn hooks_of(spec: &Spec, kind: Kind) -> &[Hook] {
    spec.hooks()
        .as_ref()
        .map(|h| kind.of(h))
        .unwrap_or_default()
}

/// Checks every hook: absolute path, positive timeout.
pub fn validate(spec: &Spec) -> Result<()> {
    for kind in Kind::ALL {
        for (i, hook) in hooks_of(spec, kind).iter().enumerate() {
            let at = format!("hooks.{}[{i}]", kind.json_name());
            if !hook.path().is_absolute() {
                return Err(Error::config(
                    format!("{at}.path"),
                    format!("{:?} is not an absolute path", hook.path()),
                ));
            }
            if hook.timeout().is_some_and(|t| t <= 0) {
                return Err(Error::config(
                    format!("{at}.timeout"),
                    "must be a positive number of seconds",
                ));
            }
        }
    }
    Ok(())
}

/// Runs the hooks of `kind` in order; the first failure stops them and is the error.
pub fn run(spec: &Spec, kind: Kind, state: &OciState) -> Result<()> {
    run_in(spec, kind, state, None)
}

/// Runs the hooks of `kind` with `dir` as their working directory (createContainer hooks run
/// in the rootfs, as with runc: the NVIDIA toolkit's CDI hooks use paths relative to it).
pub fn run_in(spec: &Spec, kind: Kind, state: &OciState, dir: Option<&Path>) -> Result<()> {
    let hooks = hooks_of(spec, kind);
    if hooks.is_empty() {
        return Ok(());
    }
    let json = serde_json::to_vec(state).map_err(|e| Error::other(format!("encode state: {e}")))?;
    for (i, hook) in hooks.iter().enumerate() {
        run_one(hook, &json, dir).map_err(|why| why.into_error(hook_name(kind, i, hook)))?;
    }
    Ok(())
}

/// How errors name a hook: `hooks.prestart[0] (/usr/bin/x)`.
fn hook_name(kind: Kind, i: usize, hook: &Hook) -> String {
    format!(
        "hooks.{}[{i}] ({})",
        kind.json_name(),
        hook.path().display()
    )
}

/// Why one hook failed.
#[derive(Debug, thiserror::Error)]
enum HookFailure {
    #[error("{step}: {err}")]
    Io {
        step: &'static str,
        err: std::io::Error,
    },
    #[error("timed out after {0}s")]
    TimedOut(i64),
    /// It ran and failed; what it printed (the first 4 KiB) says why.
    #[error("{status}: {output}")]
    Failed {
        status: std::process::ExitStatus,
        output: String,
    },
}

impl HookFailure {
    fn io(step: &'static str) -> impl FnOnce(std::io::Error) -> HookFailure {
        move |err| HookFailure::Io { step, err }
    }

    /// The crate's error, naming the hook; a failed system call keeps its errno.
    fn into_error(self, hook: String) -> Error {
        match self {
            HookFailure::Io { step, err } => Error::Io {
                context: format!("{hook}: {step}"),
                err,
            },
            other => Error::other(format!("{hook}: {other}")),
        }
    }
}

pub fn run_warning_only(spec: &Spec, kind: Kind, state: &OciState) {
    let Ok(json) = serde_json::to_vec(state) else {
        return;
    };
    for (i, hook) in hooks_of(spec, kind).iter().enumerate() {
        if let Err(why) = run_one(hook, &json, None) {
            crate::log::warn(format!("{}: {why}", hook_name(kind, i, hook)));
        }
    }
}

fn run_one(hook: &Hook, state: &[u8], dir: Option<&Path>) -> Result<(), HookFailure> {
    let mut cmd = Command::new(hook.path());
    let args = hook.args().clone().unwrap_or_default();
    if let Some((arg0, rest)) = args.split_first() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, arg0);
        cmd.args(rest);
    }
    cmd.env_clear();
    for kv in hook.env().as_deref().unwrap_or_default() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    // A hook gets stdio only, as with runc: never the init's exec fifo, console socket or
    // the fds preserved for the container.
    // SAFETY: runs between fork and exec and only makes the async-signal-safe close_range.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            crate::syscall::close_from(3);
            Ok(())
        });
    }
    let out = tempfile_for_output().map_err(HookFailure::io("memfd_create"))?;
    let dup = || out.try_clone().map_err(HookFailure::io("dup output"));
    cmd.stdin(Stdio::piped()).stdout(dup()?).stderr(dup()?);
    let mut child = cmd.spawn().map_err(HookFailure::io("start"))?;
    // The timeout covers writing the state too: a hook that never reads its stdin must not
    // block us on a full pipe. A timeout too large to add to now is no timeout.
    let deadline = hook
        .timeout()
        .and_then(|t| Instant::now().checked_add(Duration::from_secs(t.max(0) as u64)));
    let mut stdin = child.stdin.take().map(|p| (p, 0usize));
    if let Some((pipe, _)) = &stdin {
        nix::fcntl::fcntl(
            pipe,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .map_err(|e| HookFailure::io("stdin")(e.into()))?;
    }
    let status = loop {
        if let Some((pipe, written)) = &mut stdin
            && feed(pipe, state, written)
        {
            // All written, or the hook closed its stdin (that is its business): EOF for it.
            stdin = None;
        }
        if let Some(status) = child.try_wait().map_err(HookFailure::io("wait"))? {
            break status;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HookFailure::TimedOut(hook.timeout().unwrap_or_default()));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    if status.success() {
        return Ok(());
    }
    Err(HookFailure::Failed {
        status,
        output: read_output(out),
    })
}

/// Writes what the non-blocking pipe takes of `state` from `written` on; true once there is
/// nothing more to write (all of it, or the reader is gone).
fn feed(pipe: &mut std::process::ChildStdin, state: &[u8], written: &mut usize) -> bool {
    while *written < state.len() {
        match pipe.write(&state[*written..]) {
            Ok(n) => *written += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
    true
}

/// An unlinked temp file for the hook's stdout and stderr (a pipe could fill up and block it).
fn tempfile_for_output() -> std::io::Result<std::fs::File> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    Ok(memfd_create(c"corral-hook", MFdFlags::MFD_CLOEXEC)?.into())
}

fn read_output(mut f: std::fs::File) -> String {
    use std::io::{Read, Seek};
    let mut s = String::new();
    let _ = f.seek(std::io::SeekFrom::Start(0));
    let _ = f.take(4096).read_to_string(&mut s);
    s.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hooks: serde_json::Value) -> Spec {
        let text = serde_json::json!({"ociVersion": "1.0.2", "hooks": hooks}).to_string();
        crate::spec::parse_config(text.as_bytes()).unwrap()
    }

    fn state() -> OciState {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0", "id": "x", "pid": 1, "status": "creating",
            "bundle": "/b", "rootfs": "/b/rootfs", "created": "t", "owner": ""
        }))
        .unwrap()
    }

    #[test]
    fn relative_path_is_rejected() {
        let e = validate(&spec(
            serde_json::json!({"createRuntime": [{"path": "bin/x"}]}),
        ))
        .unwrap_err();
        assert!(
            e.to_string().starts_with("hooks.createRuntime[0].path"),
            "{e}"
        );
    }

    #[test]
    fn hook_gets_state_and_failure_names_it() {
        let s = spec(serde_json::json!({"prestart": [
            {"path": "/bin/sh", "args": ["sh", "-c", "grep -q '\"id\":\"x\"' && exit 3"]}
        ]}));
        let e = run(&s, Kind::Prestart, &state()).unwrap_err().to_string();
        assert!(e.starts_with("hooks.prestart[0] (/bin/sh)"), "{e}");
        assert!(e.contains('3'), "{e}");
    }

    #[test]
    fn timeout_kills_the_hook() {
        let s = spec(
            serde_json::json!({"poststop": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}),
        );
        let start = Instant::now();
        let e = run(&s, Kind::Poststop, &state()).unwrap_err().to_string();
        assert!(e.contains("timed out"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn the_timeout_covers_a_hook_that_never_reads_its_stdin() {
        let s = spec(serde_json::json!({"poststop": [
            {"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}));
        // A state far larger than a pipe holds.
        let mut big = state();
        big.annotations.insert("big".into(), "x".repeat(4 << 20));
        let start = Instant::now();
        let e = run(&s, Kind::Poststop, &big).unwrap_err().to_string();
        assert!(e.contains("timed out"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_huge_timeout_is_no_timeout() {
        let s = spec(serde_json::json!({"poststop": [
            {"path": "/bin/true", "timeout": i64::MAX}]}));
        run(&s, Kind::Poststop, &state()).unwrap();
    }
}
