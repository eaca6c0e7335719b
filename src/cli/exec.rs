use super::GlobalOptions;
use super::foreground::{attach_and_wait, block_signals};
use crate::launch::{self, ExecOptions};
use anyhow::{Context, Result, bail};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, Process};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path to an AF_UNIX socket which will receive the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Path to an AF_UNIX socket which will receive a pidfd of the exec'd process
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// Current working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (repeatable)
    #[arg(short = 'e', long)]
    pub env: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// UID[:GID] to run the process as
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional gids (repeatable)
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Path to a process.json describing the process (instead of a command)
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Detach from the process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// SELinux label for the process (ignored while SELinux is disabled, as runc does)
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// AppArmor profile for the process
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability to the bounding, effective and permitted sets (repeatable)
    #[arg(short = 'c', long)]
    pub cap: Vec<String>,
    /// Pass N additional file descriptors (from 3 on) to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    /// Allow exec in a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Run in a sub-cgroup: PATH or CONTROLLER[,CONTROLLER]:PATH (repeatable)
    #[arg(long = "cgroup")]
    pub cgroup: Vec<String>,
    /// Container id
    pub id: String,
    /// Command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// runc exits 255 when exec itself fails (not the process), with "exec failed: ..." as the
/// message; shims and tests key on both.
#[inline(never)]
pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    exec(g, a)
        .map_err(|e| anyhow::Error::new(super::Failed::new(255, format!("exec failed: {e:#}"))))
}

fn exec(g: &GlobalOptions, a: Args) -> Result<i32> {
    let root = g.state_root()?;
    let container = root.load(&a.id)?;
    let process = build_process(&a, container.state.spec.process().as_ref())?;
    if a.preserve_fds < 0 {
        bail!("--preserve-fds: must not be negative");
    }
    let opts = ExecOptions {
        process,
        console_socket: a.console_socket.clone(),
        pidfd_socket: a.pidfd_socket.clone(),
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        detach: a.detach,
        ignore_paused: a.ignore_paused,
        sub_cgroups: a.cgroup.clone(),
    };
    let signals = if a.detach {
        None
    } else {
        Some(block_signals()?)
    };
    let launched = launch::exec(&container, &opts)?;
    match signals {
        None => Ok(0),
        Some(set) => attach_and_wait(launched, set),
    }
}

/// The process to run: `--process` JSON as it is, or the container's process with the
/// command and the flags applied over it.
fn build_process(a: &Args, base: Option<&Process>) -> Result<Process> {
    let mut p = match &a.process {
        Some(path) => {
            if !a.command.is_empty() {
                bail!("--process and a command cannot be used together");
            }
            inherit_from_container(load_process(path)?, base)
        }
        None => {
            if a.command.is_empty() {
                bail!("exec needs a command or --process");
            }
            let mut p = base.cloned().unwrap_or_default();
            p.set_args(Some(a.command.clone()));
            p
        }
    };
    if a.tty {
        p.set_terminal(Some(true));
    } else if a.process.is_none() {
        p.set_terminal(Some(false));
    }
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if !a.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        env.extend(a.env.iter().cloned());
        p.set_env(Some(env));
    }
    if let Some(u) = &a.user {
        let (uid, gid) = parse_user(u)?;
        p.user_mut().set_uid(uid);
        if let Some(gid) = gid {
            p.user_mut().set_gid(gid);
        }
    }
    if !a.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        add_caps(&mut p, &a.cap)?;
    }
    if let Some(profile) = &a.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &a.process_label {
        p.set_selinux_label(Some(label.clone()));
    }
    check_process(&p)?;
    Ok(p)
}

/// A `--process` file. Fields the runtime-spec makes optional may be left out: no `user`
/// is uid 0 and gid 0, no `cwd` is `/`.
fn load_process(path: &std::path::Path) -> Result<Process> {
    let text = std::fs::read(path).with_context(|| format!("--process {}", path.display()))?;
    let mut value: serde_json::Value = crate::spec::parse_json_tracked(&text)
        .map_err(|(at, msg)| anyhow::anyhow!("--process {}: {at}: {msg}", path.display()))?;
    let dropped = value
        .get_mut("capabilities")
        .map(crate::spec::drop_unknown_capabilities)
        .unwrap_or_default();
    if !dropped.is_empty() {
        crate::spec::warn_unknown_capabilities(&dropped);
    }
    if let Some(obj) = value.as_object_mut() {
        obj.entry("user")
            .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
        obj.entry("cwd").or_insert_with(|| serde_json::json!("/"));
    }
    let text = serde_json::to_vec(&value)?;
    crate::spec::parse_json_tracked(&text)
        .map_err(|(at, msg)| anyhow::anyhow!("--process {}: {at}: {msg}", path.display()))
}

/// What a `--process` file leaves out comes from the container's own process, as with runc:
/// capabilities, no_new_privileges, the AppArmor profile and SELinux label (an exec must not
/// escape the container's confinement by omitting them), rlimits, I/O priority, scheduler
/// and CPU affinity.
fn inherit_from_container(mut p: Process, base: Option<&Process>) -> Process {
    let Some(base) = base else {
        return p;
    };
    if p.capabilities().is_none() {
        p.set_capabilities(base.capabilities().clone());
    }
    if p.no_new_privileges().is_none() {
        p.set_no_new_privileges(base.no_new_privileges());
    }
    if p.apparmor_profile().as_deref().is_none_or(str::is_empty) {
        p.set_apparmor_profile(base.apparmor_profile().clone());
    }
    if p.selinux_label().as_deref().is_none_or(str::is_empty) {
        p.set_selinux_label(base.selinux_label().clone());
    }
    if p.rlimits().as_deref().is_none_or(<[_]>::is_empty) {
        p.set_rlimits(base.rlimits().clone());
    }
    if p.io_priority().is_none() {
        p.set_io_priority(*base.io_priority());
    }
    if p.scheduler().is_none() {
        p.set_scheduler(base.scheduler().clone());
    }
    if p.exec_cpu_affinity().is_none() {
        p.set_exec_cpu_affinity(base.exec_cpu_affinity().clone());
    }
    p
}

/// The checks create applies to config.json's process, for the exec'd one.
fn check_process(p: &Process) -> Result<()> {
    crate::spec::cpus::validate_affinity("process", p)?;
    if p.args()
        .as_ref()
        .is_none_or(|a| a.is_empty() || a[0].is_empty())
    {
        bail!("process.args: must not be empty");
    }
    if !p.cwd().is_absolute() {
        bail!("process.cwd: {:?} is not an absolute path", p.cwd());
    }
    if p.apparmor_profile().as_ref().is_some_and(|a| !a.is_empty())
        && !crate::lsm::apparmor_enabled()
    {
        bail!("--apparmor: apparmor profile specified but apparmor is not enabled on this system");
    }
    Ok(())
}

/// `UID[:GID]`, numbers only, as runc's exec takes them.
fn parse_user(u: &str) -> Result<(u32, Option<u32>)> {
    let (uid, gid) = match u.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (u, None),
    };
    let uid = uid
        .parse()
        .with_context(|| format!("--user {u:?}: uid is not a number"))?;
    let gid = gid
        .map(|g| {
            g.parse()
                .with_context(|| format!("--user {u:?}: gid is not a number"))
        })
        .transpose()?;
    Ok((uid, gid))
}

/// `--cap` adds to the bounding, effective and permitted sets, and to ambient only when the
/// process has inheritable caps (ambient needs them), as runc does.
fn add_caps(p: &mut Process, names: &[String]) -> Result<()> {
    let mut caps = p.capabilities().clone().unwrap_or_else(empty_caps);
    let mut parsed = Vec::new();
    let mut unknown = Vec::new();
    for n in names {
        let name = if n.to_ascii_uppercase().starts_with("CAP_") {
            n.to_ascii_uppercase()
        } else {
            format!("CAP_{}", n.to_ascii_uppercase())
        };
        // Ignored with runc's warning, as in config.json (runtime-spec: "SHOULD NOT fail").
        match serde_json::from_value::<Capability>(serde_json::Value::String(name.clone())) {
            Ok(c) => parsed.push(c),
            Err(_) => unknown.push(name),
        }
    }
    if !unknown.is_empty() {
        crate::spec::warn_unknown_capabilities(&unknown);
    }
    let add = |set: &Option<Capabilities>| -> Option<Capabilities> {
        let mut s = set.clone().unwrap_or_default();
        s.extend(parsed.iter().copied());
        Some(s)
    };
    caps.set_bounding(add(caps.bounding()));
    caps.set_effective(add(caps.effective()));
    caps.set_permitted(add(caps.permitted()));
    if caps.inheritable().as_ref().is_some_and(|i| !i.is_empty()) {
        caps.set_ambient(add(caps.ambient()));
    }
    p.set_capabilities(Some(caps));
    Ok(())
}

fn empty_caps() -> LinuxCapabilities {
    let mut c = LinuxCapabilities::default();
    c.set_bounding(None);
    c.set_effective(None);
    c.set_permitted(None);
    c.set_inheritable(None);
    c.set_ambient(None);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_users() {
        assert_eq!(parse_user("1000").unwrap(), (1000, None));
        assert_eq!(parse_user("1000:50").unwrap(), (1000, Some(50)));
        assert!(parse_user("bob").is_err());
        assert!(parse_user("1:x").is_err());
    }

    #[test]
    fn command_and_process_are_exclusive() {
        let a = <crate::cli::Cli as clap::Parser>::try_parse_from([
            "corral",
            "exec",
            "--process",
            "/p.json",
            "id",
            "ls",
        ])
        .unwrap();
        let Some(crate::cli::Command::Exec(a)) = a.command else {
            panic!()
        };
        assert!(build_process(&a, None).is_err());
    }

    #[test]
    fn flags_after_the_id_belong_to_the_command() {
        let a = <crate::cli::Cli as clap::Parser>::try_parse_from([
            "corral",
            "exec",
            "-t",
            "id",
            "sh",
            "-c",
            "echo -e x",
        ])
        .unwrap();
        let Some(crate::cli::Command::Exec(a)) = a.command else {
            panic!()
        };
        assert!(a.tty);
        assert_eq!(a.command, vec!["sh", "-c", "echo -e x"]);
    }
}
