//! The one way a `corral init` is started, for `create` and `exec` alike (and for restore
//! next): console hand-off, the init's socket, socket activation, the sealed binary, the fds
//! it inherits, the spawn into its cgroups and the config message.

use super::cleanup::Cleanup;
use super::placement::{Placement, spawn_init};
use crate::error::{Context, Result, at};
use crate::sync::{Channel, InitConfig, ToInit};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// What the caller decides about the new init before it starts.
pub(crate) struct InitRequest<'a> {
    /// `process.terminal`: the init makes a pty and sends its master out.
    pub terminal: bool,
    /// Where the pty master goes; `None` with a terminal means we keep it ourselves.
    pub console_socket: Option<&'a Path>,
    /// `--preserve-fds`: fds 3.. the process inherits.
    pub preserve_fds: i32,
    /// The exec fifo (`create` only), inherited by the init.
    pub fifo: Option<&'a OwnedFd>,
    pub placement: &'a Placement,
}

/// The fds and environment the init inherited, for its config message.
pub(crate) struct Inherited {
    pub preserve_fds: i32,
    pub console_fd: Option<RawFd>,
    pub fifo_fd: Option<RawFd>,
    pub extra_env: Vec<String>,
}

/// An init that runs in its cgroups and waits for its config.
pub(crate) struct StartedInit {
    pub chan: Channel,
    pub stage1_pid: i32,
    pub inherited: Inherited,
    /// Our end of the console socketpair when we keep the pty master.
    console_keep: Option<UnixStream>,
    /// The init's end of the console hand-off, closed once the config is sent.
    console_pass: Option<UnixStream>,
}

/// runc's rules: a terminal needs somewhere to send the pty, and a console socket is only
/// for a terminal.
pub(crate) fn check_console_flags(
    terminal: bool,
    console_socket: Option<&Path>,
    own_console: bool,
) -> Result<()> {
    if terminal && console_socket.is_none() && !own_console {
        return Err(crate::error::Error::other(
            "cannot allocate tty if corral will detach without setting console socket",
        ));
    }
    if !terminal && console_socket.is_some() {
        return Err(crate::error::Error::other(
            "cannot use console socket if corral will not detach or allocate tty",
        ));
    }
    Ok(())
}

/// Spawns `corral init` from the sealed binary into `req.placement`; the stage-1 child is
/// recorded in `cleanup`.
pub(crate) fn start_init(req: &InitRequest, cleanup: &mut Cleanup) -> Result<StartedInit> {
    let (console_keep, console_pass) = console_fds(req.terminal, req.console_socket)?;
    let (parent_sock, child_sock) = UnixStream::pair().ctx(|| "socketpair")?;
    let (listen_fds, extra_env) = socket_activation();
    let preserve_fds = req.preserve_fds + listen_fds;

    let exe = super::sealed::sealed_self_exe()?;
    let mut inherit: Vec<RawFd> = vec![child_sock.as_raw_fd()];
    inherit.extend(req.fifo.map(|f| f.as_raw_fd()));
    inherit.extend(console_pass.as_ref().map(|f| f.as_raw_fd()));
    inherit.extend(3..3 + preserve_fds);
    let stage1_pid = spawn_init(
        &exe,
        &inherit,
        child_sock.as_raw_fd(),
        req.placement,
        cleanup,
    )?;
    Ok(StartedInit {
        chan: Channel::new(parent_sock),
        stage1_pid,
        inherited: Inherited {
            preserve_fds,
            console_fd: console_pass.as_ref().map(|f| f.as_raw_fd()),
            fifo_fd: req.fifo.map(|f| f.as_raw_fd()),
            extra_env,
        },
        console_keep,
        console_pass,
    })
}

impl StartedInit {
    /// Sends the init its config; the console end it inherited is ours to close then.
    pub(crate) fn send_config(&mut self, config: InitConfig) -> Result<()> {
        self.chan
            .send(&ToInit::Config(Box::new(config)))
            .ctx(|| "send config to init")?;
        self.console_pass = None;
        Ok(())
    }

    /// After the commit: the pty master, when we keep it.
    pub(crate) fn receive_console(self) -> Result<Option<OwnedFd>> {
        match self.console_keep {
            Some(sock) => Ok(Some(crate::tty::receive_master(&sock)?)),
            None => Ok(None),
        }
    }
}

/// (what we keep, what the init gets) for the console hand-off: a connection to the
/// caller's console socket, or a socketpair when we proxy the pty ourselves.
fn console_fds(
    terminal: bool,
    console_socket: Option<&Path>,
) -> Result<(Option<UnixStream>, Option<UnixStream>)> {
    if !terminal {
        return Ok((None, None));
    }
    if let Some(path) = console_socket {
        let sock = UnixStream::connect(path).ctx(|| at("connect to console socket", path))?;
        return Ok((None, Some(sock)));
    }
    let (keep, pass) = UnixStream::pair().ctx(|| "console socketpair")?;
    Ok((Some(keep), Some(pass)))
}

/// systemd socket activation: LISTEN_FDS fds after stdio pass through (when LISTEN_PID is
/// ours), and the process is told it is pid 1 of its namespace, as runc does.
pub(crate) fn socket_activation() -> (i32, Vec<String>) {
    // The fds are meant for us only when LISTEN_PID names us (sd_listen_fds(3)).
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    if !for_us {
        return (0, Vec::new());
    }
    let n = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(0);
    if n == 0 {
        return (0, Vec::new());
    }
    (
        n,
        vec![format!("LISTEN_FDS={n}"), "LISTEN_PID=1".to_string()],
    )
}
