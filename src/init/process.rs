//! The process's environment, applied in stage 2 after the rootfs is entered: rlimits,
//! scheduling, personality, user and groups, capabilities, no_new_privs, umask, cwd, and the
//! executable looked up through the container's PATH.

use crate::error::{Context, Error, Result, io_text};
use crate::sync::InitConfig;
use caps::CapSet;
use nix::sys::personality::Persona;
use nix::sys::resource::Resource;
use oci_spec::runtime::{
    Capabilities, IOPriorityClass, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, PosixRlimitType, Process,
};
use std::collections::HashSet;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Everything execve needs, resolved before we report ready.
pub struct Exec {
    pub path: PathBuf,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

impl Exec {
    pub fn exec(&self) -> nix::Error {
        let path = CString::new(self.path.as_os_str().as_encoded_bytes()).expect("checked path");
        match nix::unistd::execve(&path, &self.argv, &self.envp) {
            Err(e) => e,
            Ok(never) => match never {},
        }
    }
}

/// Receives the seccomp notify listener fd the moment the filter is loaded (SCMP_ACT_NOTIFY
/// profiles). It must reach the agent before the init makes any syscall the filter may
/// send to it, or the init would wait on an agent that has no fd yet.
pub type ListenerHandOff<'a> = &'a mut dyn FnMut(std::os::fd::OwnedFd) -> Result<()>;

/// What stage 1 learnt from the host's /proc before the container's /proc could stand in for
/// it (a container may mount its own procfs, or an image may shadow /proc).
#[derive(Clone, Copy, Debug)]
pub struct HostFacts {
    /// The user namespace allows setgroups(2) (`/proc/PID/setgroups` is not `deny`).
    pub setgroups_allowed: bool,
}

pub fn prepare(
    cfg: &InitConfig,
    p: &Process,
    facts: HostFacts,
    hand_off: ListenerHandOff,
) -> Result<Exec> {
    set_rlimits(p)?;
    set_scheduler(p)?;
    set_io_priority(p)?;
    set_personality(cfg)?;
    set_memory_policy(cfg)?;
    let user = p.user();
    give_stdio_to_user(user.uid(), user.gid(), p.terminal().unwrap_or(false));
    let caps = CapsPlan::from_process(p)?;
    caps.drop_bounding()?;
    // As root first, as runc does: a cwd only root may enter still works for another user
    // (and is checked before a seccomp filter could deny getcwd).
    let cwd_done = enter_cwd_as_root(p.cwd())?;
    let seccomp = cfg.spec.linux().as_ref().and_then(|l| l.seccomp().clone());
    let nnp = p.no_new_privileges().unwrap_or(false);
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we have it.
    if let Some(s) = seccomp.as_ref().filter(|_| !nnp)
        && let Some(fd) = crate::seccomp::load(s)?
    {
        hand_off(fd)?;
    }
    if let Some(profile) = p.apparmor_profile().as_deref().filter(|a| !a.is_empty()) {
        // Before dropping privileges, as runc: the profile takes effect at execve.
        crate::lsm::set_exec_profile(profile).ctx(|| "process.apparmorProfile")?;
    }
    if let Some(label) = selinux_label(p) {
        crate::lsm::set_selinux_exec_label(label).ctx(|| "process.selinuxLabel")?;
    }
    switch_user(p, facts.setgroups_allowed)?;
    caps.apply()?;
    if nnp {
        nix::sys::prctl::set_no_new_privs().ctx(|| "process.noNewPrivileges: prctl")?;
    }
    let umask = user.umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    if !cwd_done {
        enter_cwd(p.cwd())?;
    }
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    env.extend(cfg.extra_env.iter().cloned());
    let mut env = dedup_env(env);
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home_of(user.uid())));
    }
    let args = p.args().clone().unwrap_or_default();
    let path = lookup_executable(&args[0], &env)?;
    // Last, so the filter constrains as little of our own set-up as possible.
    if let Some(s) = seccomp.as_ref().filter(|_| nnp)
        && let Some(fd) = crate::seccomp::load(s)?
    {
        hand_off(fd)?;
    }
    Ok(Exec {
        path,
        argv: to_cstrings(&args, "process.args")?,
        envp: to_cstrings(&env, "process.env")?,
    })
}

/// chdir to the cwd while still root; false when root may not enter it (a directory of a
/// user namespace's unmapped owner, NFS root squashing), to be tried again as the user.
fn enter_cwd_as_root(cwd: &Path) -> Result<bool> {
    match nix::unistd::chdir(cwd) {
        Ok(()) => check_cwd_inside_root().map(|_| true),
        Err(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM) => Ok(false),
        Err(e) => Err(e).ctx(|| format!("chdir to cwd ({cwd:?}) set in config.json failed")),
    }
}

fn enter_cwd(cwd: &Path) -> Result<()> {
    nix::unistd::chdir(cwd).ctx(|| format!("chdir to cwd ({cwd:?}) set in config.json failed"))?;
    check_cwd_inside_root()
}

/// CVE-2024-21626: a cwd reached through a leaked host fd (`/proc/self/fd/N`) lies outside
/// our root; the kernel then reports it as "(unreachable)/...", which getcwd refuses.
fn check_cwd_inside_root() -> Result<()> {
    match std::env::current_dir() {
        Ok(p) if p.is_absolute() => Ok(()),
        _ => Err(Error::config(
            "process.cwd",
            "the working directory is outside the container's root",
        )),
    }
}

/// Later entries win for a repeated name (`exec --env` overriding the config), as runc does.
fn dedup_env(env: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(env.len());
    for e in env {
        let name = e.split('=').next().unwrap_or("").to_string();
        if let Some(i) = out
            .iter()
            .position(|o| o.split('=').next() == Some(name.as_str()))
        {
            out.remove(i);
        }
        out.push(e);
    }
    out
}

fn to_cstrings(items: &[String], what: &str) -> Result<Vec<CString>> {
    items
        .iter()
        .map(|s| {
            CString::new(s.as_bytes())
                .map_err(|_| Error::config(what, format!("{s:?} contains a NUL byte")))
        })
        .collect()
}

fn rlimit_resource(t: PosixRlimitType) -> Resource {
    use PosixRlimitType as R;
    match t {
        R::RlimitCpu => Resource::RLIMIT_CPU,
        R::RlimitFsize => Resource::RLIMIT_FSIZE,
        R::RlimitData => Resource::RLIMIT_DATA,
        R::RlimitStack => Resource::RLIMIT_STACK,
        R::RlimitCore => Resource::RLIMIT_CORE,
        R::RlimitRss => Resource::RLIMIT_RSS,
        R::RlimitNproc => Resource::RLIMIT_NPROC,
        R::RlimitNofile => Resource::RLIMIT_NOFILE,
        R::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        R::RlimitAs => Resource::RLIMIT_AS,
        R::RlimitLocks => Resource::RLIMIT_LOCKS,
        R::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        R::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        R::RlimitNice => Resource::RLIMIT_NICE,
        R::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        R::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

fn set_rlimits(p: &Process) -> Result<()> {
    for (i, r) in p
        .rlimits()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        nix::sys::resource::setrlimit(rlimit_resource(r.typ()), r.soft(), r.hard())
            .ctx(|| format!("process.rlimits[{i}] ({}): setrlimit", r.typ()))?;
    }
    Ok(())
}

fn set_scheduler(p: &Process) -> Result<()> {
    let Some(s) = p.scheduler() else {
        return Ok(());
    };
    use LinuxSchedulerPolicy as P;
    let policy = match s.policy() {
        P::SchedOther => libc::SCHED_OTHER,
        P::SchedFifo => libc::SCHED_FIFO,
        P::SchedRr => libc::SCHED_RR,
        P::SchedBatch => libc::SCHED_BATCH,
        P::SchedIdle => libc::SCHED_IDLE,
        P::SchedDeadline => 6,
        P::SchedIso => {
            return Err(Error::config(
                "process.scheduler.policy",
                "SCHED_ISO is not in the Linux kernel",
            ));
        }
    };
    let mut flags = 0u64;
    for f in s.flags().as_deref().unwrap_or_default() {
        use LinuxSchedulerFlag as F;
        flags |= match f {
            F::SchedResetOnFork => 0x01,
            F::SchedFlagReclaim => 0x02,
            F::SchedFlagDLOverrun => 0x04,
            F::SchedFlagKeepPolicy => 0x08,
            F::SchedFlagKeepParams => 0x10,
            F::SchedFlagUtilClampMin => 0x20,
            F::SchedFlagUtilClampMax => 0x40,
        };
    }
    let mut attr = crate::syscall::SchedAttr {
        policy: policy as u32,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..Default::default()
    };
    crate::syscall::sched_setattr(&mut attr).ctx(|| "process.scheduler: sched_setattr")
}

fn set_io_priority(p: &Process) -> Result<()> {
    let Some(io) = p.io_priority() else {
        return Ok(());
    };
    let class = match io.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    crate::syscall::ioprio_set(class, io.priority() as i32).ctx(|| "process.ioPriority: ioprio_set")
}

/// As runc: the policy the config asks for, for the init and every exec'd process alike.
fn set_memory_policy(cfg: &InitConfig) -> Result<()> {
    let Some(linux) = cfg.spec.linux().as_ref() else {
        return Ok(());
    };
    let Some(policy) = crate::spec::mempolicy::from_config(linux)? else {
        return Ok(());
    };
    crate::syscall::set_mempolicy(policy.mode, &policy.mask, policy.nodes)
        .ctx(|| "linux.memoryPolicy: set_mempolicy")
}

fn set_personality(cfg: &InitConfig) -> Result<()> {
    let Some(pers) = cfg
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.personality().clone())
    else {
        return Ok(());
    };
    if pers.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(Error::config(
            "linux.personality.flags",
            "personality flags are not supported",
        ));
    }
    // The execution domains of personality(2): PER_LINUX and PER_LINUX32 (nix names only
    // the flag bits).
    let domain = match pers.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    nix::sys::personality::set(Persona::from_bits_retain(domain))
        .ctx(|| "linux.personality: personality")?;
    Ok(())
}

/// Lets a non-root process reopen its own stdio (/proc/self/fd/N) when it is a pipe or a
/// socket, and use the terminal corral made for it: that pty (the container's own devpts)
/// goes to the user, its group left as devpts set it (`gid=5`), as runc does. Other devices
/// and files are never chowned: chowning an inherited /dev/null would change the host's
/// /dev/null for everyone (runc issue 3674), and a caller's terminal is the caller's.
fn give_stdio_to_user(uid: u32, gid: u32, own_pty: bool) {
    if uid == 0 && gid == 0 {
        return;
    }
    use std::os::fd::AsFd;
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    for borrowed in [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()] {
        let Ok(st) = nix::sys::stat::fstat(borrowed) else {
            continue;
        };
        let kind = st.st_mode & libc::S_IFMT;
        if own_pty && kind == libc::S_IFCHR && is_pty_slave(st.st_rdev) {
            let _ = nix::unistd::fchown(borrowed, Some(nix::unistd::Uid::from_raw(uid)), None);
        } else if kind == libc::S_IFIFO || kind == libc::S_IFSOCK {
            let _ = nix::unistd::fchown(
                borrowed,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            );
        }
    }
}

/// Unix98 pty slaves have majors 136 to 143.
fn is_pty_slave(rdev: libc::dev_t) -> bool {
    (136..=143).contains(&libc::major(rdev))
}

/// Whether the user namespace at `/proc/{pid}` lets its processes call setgroups(2). Read
/// from the host's /proc by stage 1, never from the container's.
pub fn setgroups_allowed(proc_pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{proc_pid}/setgroups"))
        .map(|s| s.trim() != "deny")
        .unwrap_or(true)
}

/// setgroups, setresgid, setresuid, with PR_SET_KEEPCAPS so the permitted set survives
/// leaving uid 0; capabilities are then set explicitly from the config.
fn switch_user(p: &Process, setgroups_allowed: bool) -> Result<()> {
    let user = p.user();
    if setgroups_allowed {
        let groups: Vec<nix::unistd::Gid> = user
            .additional_gids()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&groups).ctx(|| "process.user.additionalGids: setgroups")?;
    }
    let _ = nix::sys::prctl::set_keepcaps(true);
    let gid = nix::unistd::Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid)
        .ctx(|| format!("process.user.gid: setresgid({})", user.gid()))?;
    let uid = nix::unistd::Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid)
        .ctx(|| format!("process.user.uid: setresuid({})", user.uid()))?;
    let _ = nix::sys::prctl::set_keepcaps(false);
    Ok(())
}

/// The five capability sets of the config, translated to the caps crate.
struct CapsPlan {
    bounding: HashSet<caps::Capability>,
    effective: HashSet<caps::Capability>,
    permitted: HashSet<caps::Capability>,
    inheritable: HashSet<caps::Capability>,
    ambient: HashSet<caps::Capability>,
}

fn translate(set: &Option<Capabilities>, field: &str) -> Result<HashSet<caps::Capability>> {
    let mut out = HashSet::new();
    for cap in set.iter().flatten() {
        // oci-spec prints `SYS_ADMIN`; the caps crate parses `CAP_SYS_ADMIN`.
        let name = format!("CAP_{cap}");
        let c = caps::Capability::from_str(&name).map_err(|_| {
            Error::config(
                format!("process.capabilities.{field}"),
                format!("unknown capability {name}"),
            )
        })?;
        out.insert(c);
    }
    Ok(out)
}

impl CapsPlan {
    fn from_process(p: &Process) -> Result<CapsPlan> {
        let c = p.capabilities().clone();
        let get = |f: fn(&oci_spec::runtime::LinuxCapabilities) -> &Option<Capabilities>| {
            c.as_ref().map(|c| f(c).clone()).unwrap_or_default()
        };
        Ok(CapsPlan {
            bounding: translate(&get(|c| c.bounding()), "bounding")?,
            effective: translate(&get(|c| c.effective()), "effective")?,
            permitted: translate(&get(|c| c.permitted()), "permitted")?,
            inheritable: translate(&get(|c| c.inheritable()), "inheritable")?,
            ambient: translate(&get(|c| c.ambient()), "ambient")?,
        })
    }

    /// Dropping from the bounding set needs CAP_SETPCAP, so it happens while we are root.
    /// Every number up to the kernel's last capability is dropped unless kept, including
    /// capabilities newer than the caps crate knows.
    fn drop_bounding(&self) -> Result<()> {
        let keep: HashSet<u8> = self.bounding.iter().map(|c| c.index()).collect();
        for cap in 0..=last_cap() {
            if keep.contains(&cap) {
                continue;
            }
            crate::syscall::capbset_drop(u32::from(cap))
                .ctx(|| format!("drop capability {cap} from the bounding set"))?;
        }
        Ok(())
    }

    /// Effective first (it must stay within permitted), then permitted, inheritable, and
    /// ambient. Ambient caps not in both permitted and inheritable cannot be raised; runc
    /// skips them too (its default config lists ambient caps with no inheritable set).
    fn apply(&self) -> Result<()> {
        let known = |s: &HashSet<caps::Capability>| -> caps::CapsHashSet {
            s.iter()
                .copied()
                .filter(|c| c.index() <= last_cap())
                .collect()
        };
        caps::set(None, CapSet::Effective, &known(&self.effective))
            .map_err(|e| Error::other(format!("process.capabilities.effective: {e}")))?;
        caps::set(None, CapSet::Permitted, &known(&self.permitted))
            .map_err(|e| Error::other(format!("process.capabilities.permitted: {e}")))?;
        caps::set(None, CapSet::Inheritable, &known(&self.inheritable))
            .map_err(|e| Error::other(format!("process.capabilities.inheritable: {e}")))?;
        let ambient: caps::CapsHashSet = known(&self.ambient)
            .into_iter()
            .filter(|c| self.permitted.contains(c) && self.inheritable.contains(c))
            .collect();
        caps::clear(None, CapSet::Ambient).ok();
        for cap in ambient {
            caps::raise(None, CapSet::Ambient, cap).map_err(|e| {
                Error::other(format!("process.capabilities.ambient: raise {cap}: {e}"))
            })?;
        }
        Ok(())
    }
}

/// The highest capability the running kernel knows, asked of the kernel itself
/// (PR_CAPBSET_READ fails with EINVAL past the last one), never of a /proc the container's
/// image could fake (the CVE-2019-16884 class: a fake cap_last_cap left the bounding set
/// whole). Computed once per process.
fn last_cap() -> u8 {
    static LAST: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        let known = |cap: u8| crate::syscall::capbset_read(u32::from(cap)).is_ok();
        // Capabilities are numbered densely from 0; 63 is the most a 64-bit set can hold.
        let (mut lo, mut hi) = (0u8, 63u8);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if known(mid) { lo = mid } else { hi = mid - 1 }
        }
        lo
    })
}

/// HOME from the container's /etc/passwd, or `/` as runc does.
fn home_of(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
        })
        .next()
        .unwrap_or_else(|| "/".to_string())
}

/// The executable, looked up as exec(3p) does, with the wording docker and podman match on
/// ("executable file not found", "no such file or directory").
pub fn lookup_executable(arg0: &str, env: &[String]) -> Result<PathBuf> {
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        return match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => Err(Error::other(format!("exec: {arg0:?}: is a directory"))),
            Ok(_) => Ok(p),
            Err(e) => Err(Error::other(format!(
                "exec: {arg0:?}: stat {arg0}: {}",
                io_text(&e)
            ))),
        };
    }
    let path_var = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(arg0);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(Error::other(format!(
        "exec: {arg0:?}: executable file not found in $PATH"
    )))
}

fn is_executable(p: &Path) -> bool {
    let Ok(m) = std::fs::metadata(p) else {
        return false;
    };
    m.is_file() && nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok()
}

/// The process's SELinux label, if it has one and SELinux is on (ignored otherwise, as runc).
pub fn selinux_label(p: &oci_spec::runtime::Process) -> Option<&str> {
    p.selinux_label()
        .as_deref()
        .filter(|l| !l.is_empty() && crate::lsm::selinux_enabled())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_reports_like_go() {
        let env = vec!["PATH=/nonexistent-a:/nonexistent-b".to_string()];
        let e = lookup_executable("frob", &env).unwrap_err().to_string();
        assert_eq!(e, "exec: \"frob\": executable file not found in $PATH");
        let e = lookup_executable("/nonexistent/x", &env)
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("no such file or directory"), "{e}");
    }

    #[test]
    fn later_env_entries_win() {
        let env = dedup_env(vec!["A=1".into(), "B=2".into(), "A=3".into()]);
        assert_eq!(env, vec!["B=2".to_string(), "A=3".to_string()]);
    }

    #[test]
    fn lookup_finds_sh() {
        let env = vec!["PATH=/usr/bin:/bin".to_string()];
        assert!(lookup_executable("sh", &env).is_ok());
    }

    #[test]
    fn a_capability_of_the_config_translates() {
        let set: Capabilities = [oci_spec::runtime::Capability::Kill].into_iter().collect();
        assert_eq!(translate(&Some(set), "bounding").unwrap().len(), 1);
    }

    #[test]
    fn every_capability_both_crates_know_translates_to_itself() {
        let mut checked = 0;
        for cap in caps::all() {
            let name = cap.to_string();
            let Ok(oci) = oci_spec::runtime::Capability::from_str(&name["CAP_".len()..]) else {
                continue;
            };
            let set: Capabilities = [oci].into_iter().collect();
            let got = translate(&Some(set), "bounding").unwrap();
            assert_eq!(got.into_iter().collect::<Vec<_>>(), vec![cap], "{name}");
            checked += 1;
        }
        assert!(checked >= 38, "only {checked} capabilities checked");
    }
}
