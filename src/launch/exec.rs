//! The parent side of `exec`: a new process in an existing container. It goes through the
//! same re-executed init as `create` (same sealed binary, same channel), which joins the
//! container init's namespaces instead of creating any, and is placed in the container's
//! cgroup (or a sub-cgroup with `--cgroup`) before it does.

use super::{
    Cleanup, Launched, Placement, check_console_flags, console_fds, socket_activation, spawn_init,
    write_pid_file,
};
use crate::container::{Container, ProcessId, Status};
use crate::error::{Context, Error, Result, at};
use crate::sync::{Channel, FromInit, InitConfig, PROTOCOL_VERSION, ToInit};
use oci_spec::runtime::Process;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The process to run, already merged from the container's config and the flags.
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    pub detach: bool,
    pub ignore_paused: bool,
    /// `--cgroup` values: `PATH` or `CONTROLLER[,CONTROLLER]:PATH`, below the container's.
    pub sub_cgroups: Vec<String>,
}

pub fn exec(container: &Container, opts: &ExecOptions) -> Result<Launched> {
    match container.status() {
        Status::Created | Status::Running => {}
        Status::Paused if opts.ignore_paused => {}
        Status::Paused => {
            return Err(Error::state(
                "cannot exec in a paused container (use --ignore-paused to override)",
            ));
        }
        Status::Stopped => return Err(Error::state("cannot exec in a stopped container")),
        Status::Creating => {
            return Err(Error::state(
                "cannot exec in a container that is being created",
            ));
        }
    }
    let terminal = opts.process.terminal().unwrap_or(false);
    let own_console = !opts.detach && opts.console_socket.is_none();
    check_console_flags(terminal, opts.console_socket.as_deref(), own_console)?;
    let cgroup_dirs = exec_cgroup_dirs(&container.state.cgroup, &opts.sub_cgroups)?;

    let mut spec = container.state.spec.clone();
    spec.set_process(Some(opts.process.clone()));
    let (console_keep, console_pass) = console_fds(terminal, opts.console_socket.as_deref())?;
    let (parent_sock, child_sock) = UnixStream::pair().ctx(|| "socketpair")?;
    let (listen_fds, extra_env) = socket_activation();
    let preserve_fds = opts.preserve_fds + listen_fds;

    let exe = super::sealed::sealed_self_exe()?;
    let mut inherit: Vec<RawFd> = vec![child_sock.as_raw_fd()];
    inherit.extend(console_pass.as_ref().map(|f| f.as_raw_fd()));
    inherit.extend(3..3 + preserve_fds);
    let mut cleanup = Cleanup {
        dir: None,
        cgroup: None,
        stage1: None,
        init_pid: None,
    };
    spawn_init(
        &exe,
        &inherit,
        child_sock.as_raw_fd(),
        &cgroup_dirs,
        &mut cleanup,
    )?;
    drop(child_sock);
    drop(exe);

    let mut chan = Channel::new(parent_sock);
    let config = InitConfig {
        protocol: PROTOCOL_VERSION,
        id: container.id().to_string(),
        spec,
        bundle: container.state.bundle.clone(),
        rootfs: container.state.rootfs.clone(),
        no_pivot: false,
        no_new_keyring: true,
        preserve_fds,
        fifo_fd: None,
        join_pid: Some(container.state.init),
        console_fd: console_pass.as_ref().map(|f| f.as_raw_fd()),
        extra_env,
        cgroup: container.state.cgroup.clone(),
    };
    chan.send(&ToInit::Config(Box::new(config)))
        .ctx(|| "send config to init")?;
    drop(console_pass);
    let process = drive_exec(&mut chan, &mut cleanup, opts.pid_file.as_deref(), container)?;
    cleanup.disarm();
    let console = match console_keep {
        Some(sock) => Some(crate::tty::receive_master(&sock)?),
        None => None,
    };
    Ok(Launched {
        init: process,
        console,
        terminal,
    })
}

fn drive_exec(
    chan: &mut Channel,
    cleanup: &mut Cleanup,
    pid_file: Option<&Path>,
    container: &Container,
) -> Result<ProcessId> {
    let mut process = None;
    loop {
        match super::recv_from_init(chan)? {
            Some(FromInit::Pid(pid)) => {
                process = Some(super::accept_init_pid(cleanup, pid)?);
                chan.send(&ToInit::Go(None)).ctx(|| "send to init")?;
            }
            Some(FromInit::SeccompListener) => {
                let pid = process.map(|p| p.pid).unwrap_or_default();
                let state = container.oci_state();
                super::forward_seccomp_listener(chan, &container.state.spec, pid, &state)?;
            }
            Some(FromInit::Ready) => {
                let p =
                    process.ok_or_else(|| Error::other("init was ready before it had a pid"))?;
                if let Some(path) = pid_file {
                    write_pid_file(path, p.pid)?;
                }
                chan.send(&ToInit::Commit).ctx(|| "send to init")?;
                return match super::recv_from_init(chan)? {
                    Some(FromInit::Committed) => Ok(p),
                    Some(FromInit::Error(e)) => Err(Error::other(e)),
                    _ => Err(Error::other("exec'd process exited before commit")),
                };
            }
            Some(FromInit::Error(e)) => return Err(Error::other(e)),
            Some(other) => {
                return Err(Error::other(format!(
                    "unexpected message from init: {other:?}"
                )));
            }
            None => return Err(super::init_died(cleanup)),
        }
    }
}

/// The directories the exec'd process joins: the container's cgroup in every hierarchy, or
/// with `--cgroup` a sub-cgroup of it, which must exist (runc's rule).
fn exec_cgroup_dirs(cg: &crate::cgroups::Cgroup, specs: &[String]) -> Result<Placement> {
    let mut dirs: Vec<(String, PathBuf)> = cg
        .paths
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for spec in specs {
        let (controllers, sub) = match spec.split_once(':') {
            Some((c, p)) => (
                Some(c.split(',').map(str::to_string).collect::<Vec<_>>()),
                p,
            ),
            None => (None, spec.as_str()),
        };
        if sub.is_empty()
            || Path::new(sub)
                .components()
                .any(|c| c == std::path::Component::ParentDir)
        {
            return Err(Error::config(
                "--cgroup",
                format!("invalid sub-cgroup {spec:?}"),
            ));
        }
        let mut matched = false;
        for (key, dir) in dirs.iter_mut() {
            let applies = match &controllers {
                None => true,
                Some(list) => list.iter().any(|c| {
                    key.split(',')
                        .any(|k| k == c || k.strip_prefix("name=") == Some(c))
                }),
            };
            if applies {
                let target = cg.paths[key.as_str()].join(sub.trim_start_matches('/'));
                if !target.is_dir() {
                    return Err(Error::config("--cgroup", at("no such cgroup", &target)));
                }
                *dir = target;
                matched = true;
            }
        }
        if !matched {
            return Err(Error::config(
                "--cgroup",
                format!("{spec:?} names no controller of this container"),
            ));
        }
    }
    Ok(Placement::new(
        dirs.iter().map(|(k, d)| (k.as_str(), d.as_path())),
    ))
}
