//! OCI `linux.seccomp` -> a libseccomp filter, loaded by the init as late as it can be.
//!
//! Follows runc where clients rely on it: a syscall name libseccomp does not know is
//! skipped (profiles name syscalls of newer kernels), a rule whose action equals the
//! default action is dropped (libseccomp refuses it), arguments that repeat an index become
//! one rule each (libseccomp cannot AND two conditions on one argument). An unknown action,
//! architecture or flag is an error naming the field (the config parser already refuses
//! unknown enum values). With SCMP_ACT_NOTIFY the init hands the listener fd to the parent,
//! which sends it to `listenerPath` with the container's state (`listener.rs`).

mod enosys;
pub mod listener;

use crate::error::{Error, Result};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag as Flag,
    LinuxSeccompOperator, LinuxSyscall,
};
use std::os::fd::OwnedFd;
use std::str::FromStr;

const EPERM: u32 = 1;

fn err(path: impl Into<String>, e: impl std::fmt::Display) -> Error {
    Error::config(path, e.to_string())
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> ScmpAction {
    match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno.unwrap_or(EPERM) as i32),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(errno.unwrap_or(EPERM) as u16),
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    }
}

fn compare(arg: &LinuxSeccompArg, path: &str) -> Result<ScmpArgCompare> {
    let op = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            // OCI: value is the mask, valueTwo what the masked argument must equal.
            return Ok(ScmpArgCompare::new(
                arg.index() as u32,
                ScmpCompareOp::MaskedEqual(arg.value()),
                arg.value_two().unwrap_or(0),
            ));
        }
    };
    if arg.index() > 5 {
        return Err(Error::config(
            path,
            format!("argument index {} is not 0..=5", arg.index()),
        ));
    }
    Ok(ScmpArgCompare::new(arg.index() as u32, op, arg.value()))
}

/// Builds the filter (without loading it), checking every field.
pub fn build(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    let default = action(s.default_action(), s.default_errno_ret());
    check_notify_settings(s)?;
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| err(BASE, e))?;
    // no_new_privs is the config's business (process.noNewPrivileges), not libseccomp's.
    ctx.set_ctl_nnp(false).map_err(|e| err(BASE, e))?;
    add_architectures(&mut ctx, s)?;
    apply_flags(&mut ctx, s)?;
    for (i, sc) in s
        .syscalls()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        add_syscall_rules(&mut ctx, sc, default, &format!("{BASE}.syscalls[{i}]"))?;
    }
    Ok(ctx)
}

const BASE: &str = "linux.seccomp";

/// runc's rules for SCMP_ACT_NOTIFY: never the default (the init's own syscalls would all
/// wait on the agent), and an absolute listenerPath whenever an action notifies.
fn check_notify_settings(s: &LinuxSeccomp) -> Result<()> {
    if s.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(Error::config(
            format!("{BASE}.defaultAction"),
            "SCMP_ACT_NOTIFY cannot be the default action",
        ));
    }
    if notifies(s)
        && s.listener_path()
            .as_ref()
            .is_none_or(|p| p.as_os_str().is_empty())
    {
        return Err(Error::config(
            format!("{BASE}.listenerPath"),
            "is required when an action is SCMP_ACT_NOTIFY",
        ));
    }
    if let Some(p) = s.listener_path()
        && !p.is_absolute()
    {
        return Err(Error::config(
            format!("{BASE}.listenerPath"),
            format!("{} is not an absolute path", p.display()),
        ));
    }
    Ok(())
}

fn add_architectures(ctx: &mut ScmpFilterContext, s: &LinuxSeccomp) -> Result<()> {
    for (i, arch) in s
        .architectures()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = format!("{BASE}.architectures[{i}]");
        // oci-spec names an architecture as the config does (`SCMP_ARCH_X86_64`), which is
        // libseccomp's name for it.
        let name = arch.to_string();
        let a = ScmpArch::from_str(&name).map_err(|_| err(&path, format!("unknown {name}")))?;
        match ctx.add_arch(a) {
            Ok(_) => {}
            // The native architecture is in every filter already.
            Err(e) if e.errno() == Some(libseccomp::error::SeccompErrno::EEXIST) => {}
            Err(e) => return Err(err(path, e)),
        }
    }
    Ok(())
}

fn apply_flags(ctx: &mut ScmpFilterContext, s: &LinuxSeccomp) -> Result<()> {
    for (i, flag) in s.flags().as_deref().unwrap_or_default().iter().enumerate() {
        let path = format!("{BASE}.flags[{i}]");
        let r = match flag {
            Flag::SeccompFilterFlagLog => ctx.set_ctl_log(true).map(|_| ()),
            Flag::SeccompFilterFlagSpecAllow => ctx.set_ctl_ssb(true).map(|_| ()),
            Flag::SeccompFilterFlagWaitKillableRecv => {
                check_wait_killable(s, &path)?;
                Ok(())
            }
            // The init loads the filter while single-threaded: no other thread to synchronise.
            Flag::SeccompFilterFlagTsync => Ok(()),
        };
        r.map_err(|e| err(path, e))?;
    }
    Ok(())
}

/// One entry of `syscalls`: a rule per name libseccomp knows (unknown names are skipped, as
/// runc does, so one profile serves several kernels).
fn add_syscall_rules(
    ctx: &mut ScmpFilterContext,
    sc: &LinuxSyscall,
    default: ScmpAction,
    path: &str,
) -> Result<()> {
    let act = action(sc.action(), sc.errno_ret());
    if act == default {
        return Ok(());
    }
    let conditions = sc.args().as_deref().unwrap_or_default();
    let args: Vec<ScmpArgCompare> = conditions
        .iter()
        .map(|a| compare(a, &format!("{path}.args")))
        .collect::<Result<_>>()?;
    // Two conditions on one argument cannot hold at once in one libseccomp rule: runc then
    // adds one rule per condition (any of them matches).
    let mut indices: Vec<usize> = conditions.iter().map(|a| a.index()).collect();
    indices.sort_unstable();
    let repeated = indices.windows(2).any(|w| w[0] == w[1]);
    for name in sc.names() {
        let Ok(call) = ScmpSyscall::from_name(name) else {
            crate::log::debug(format!("{path}: skipping unknown syscall {name:?}"));
            continue;
        };
        let added = if args.is_empty() {
            ctx.add_rule(act, call)
        } else if repeated {
            args.iter()
                .try_for_each(|a| ctx.add_rule_conditional(act, call, &[*a]).map(|_| ()))
                .map(|_| &mut *ctx)
        } else {
            ctx.add_rule_conditional(act, call, &args)
        };
        added.map_err(|e| err(format!("{path} ({name})"), e))?;
    }
    Ok(())
}

const WAIT_KILLABLE_RECV: &str = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV";

fn has_flag(s: &LinuxSeccomp, flag: Flag) -> bool {
    s.flags().as_deref().unwrap_or_default().contains(&flag)
}

/// libseccomp gained an attribute for WAIT_KILLABLE_RECV only in 2.6 (Debian 12 has 2.5.4), so
/// a filter with it is exported as BPF and loaded by `load_exported`. Checked when the config
/// is validated, so an unusable flag fails create before anything exists.
fn check_wait_killable(s: &LinuxSeccomp, path: &str) -> Result<()> {
    if !notifies(s) {
        return Err(Error::config(
            path,
            format!(
                "{WAIT_KILLABLE_RECV} needs an SCMP_ACT_NOTIFY rule (it applies to a listener)"
            ),
        ));
    }
    if !kernel_knows(WAIT_KILLABLE_PROBE) {
        return Err(Error::config(
            path,
            format!("{WAIT_KILLABLE_RECV} is not supported by this kernel (Linux 5.19 or later)"),
        ));
    }
    Ok(())
}

/// WAIT_KILLABLE_RECV is valid only with NEW_LISTENER, so it is probed with both.
const WAIT_KILLABLE_PROBE: libc::c_ulong =
    libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;

/// The `flags` values corral accepts on this kernel (for `features`).
pub fn supported_flags() -> Vec<&'static str> {
    let mut flags = vec![
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    ];
    if kernel_knows(WAIT_KILLABLE_PROBE) {
        flags.push(WAIT_KILLABLE_RECV);
    }
    flags
}

/// Whether the kernel accepts these filter flags: with no program it fails with EFAULT if it
/// does (the flags are checked first), EINVAL if not.
fn kernel_knows(flags: libc::c_ulong) -> bool {
    matches!(crate::syscall::seccomp_set_filter(flags, None),
        Err(e) if e.raw_os_error() == Some(libc::EFAULT))
}

/// The kernel flags for the profile's `flags`, as libseccomp would pass them, plus
/// WAIT_KILLABLE_RECV.
fn kernel_flags(s: &LinuxSeccomp) -> libc::c_ulong {
    let mut flags = 0;
    if notifies(s) {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
    }
    if has_flag(s, Flag::SeccompFilterFlagLog) {
        flags |= libc::SECCOMP_FILTER_FLAG_LOG;
    }
    if has_flag(s, Flag::SeccompFilterFlagSpecAllow) {
        flags |= libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    }
    if has_flag(s, Flag::SeccompFilterFlagWaitKillableRecv) {
        flags |= libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    }
    flags
}

/// The filter as the classic BPF program libseccomp generates, read back from a memfd.
fn export_program(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>> {
    use std::io::{Read, Seek};
    let memfd =
        nix::sys::memfd::memfd_create("corral-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| err("linux.seccomp", format!("memfd_create: {e}")))?;
    let mut file = std::fs::File::from(memfd);
    ctx.export_bpf(&file)
        .map_err(|e| err("linux.seccomp", format!("export the filter: {e}")))?;
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| err("linux.seccomp", format!("read the exported filter: {e}")))?;
    Ok(bytes
        .chunks_exact(8)
        .map(|i| libc::sock_filter {
            code: u16::from_ne_bytes([i[0], i[1]]),
            jt: i[2],
            jf: i[3],
            k: u32::from_ne_bytes([i[4], i[5], i[6], i[7]]),
        })
        .collect())
}

/// The profile's architectures and the native one, which every filter includes.
fn architectures(s: &LinuxSeccomp) -> Vec<ScmpArch> {
    let mut archs: Vec<ScmpArch> = s
        .architectures()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|a| ScmpArch::from_str(&a.to_string()).ok())
        .collect();
    archs.push(ScmpArch::native());
    archs
}

/// Loads the exported program with seccomp(2) itself, for what libseccomp 2.5 cannot do:
/// the WAIT_KILLABLE_RECV flag, and the -ENOSYS prologue (`enosys.rs`).
fn load_exported(ctx: &ScmpFilterContext, s: &LinuxSeccomp) -> Result<Option<OwnedFd>> {
    let mut program = if enosys::needed(s) {
        enosys::prologue(s, &architectures(s))
    } else {
        Vec::new()
    };
    program.extend(export_program(ctx)?);
    crate::syscall::seccomp_set_filter(kernel_flags(s), Some(&program))
        .map_err(|e| err("linux.seccomp", format!("load the filter: {e}")))
}

/// Whether the profile uses the notify action (and so yields a listener fd).
pub fn notifies(s: &LinuxSeccomp) -> bool {
    s.default_action() == LinuxSeccompAction::ScmpActNotify
        || s.syscalls()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|c| c.action() == LinuxSeccompAction::ScmpActNotify)
}

/// Builds and loads the filter into the calling thread (the container's init, just before
/// exec). Returns the notify listener fd when the profile has SCMP_ACT_NOTIFY rules.
pub fn load(s: &LinuxSeccomp) -> Result<Option<OwnedFd>> {
    let ctx = build(s)?;
    if has_flag(s, Flag::SeccompFilterFlagWaitKillableRecv) || enosys::needed(s) {
        return load_exported(&ctx, s);
    }
    ctx.load()
        .map_err(|e| err("linux.seccomp", format!("load the filter: {e}")))?;
    if !notifies(s) {
        return Ok(None);
    }
    let fd = ctx
        .get_notify_fd()
        .map_err(|e| err("linux.seccomp", format!("get the notify fd: {e}")))?;
    // Our own copy: the filter context may close its fd when dropped.
    // SAFETY: libseccomp's notify fd stays open while `ctx` lives, which covers the dup.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let own = borrowed
        .try_clone_to_owned()
        .map_err(|e| err("linux.seccomp", format!("dup the notify fd: {e}")))?;
    Ok(Some(own))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_architectures_are_libseccomp_names() {
        use oci_spec::runtime::Arch;
        for a in [
            Arch::ScmpArchX86,
            Arch::ScmpArchX86_64,
            Arch::ScmpArchX32,
            Arch::ScmpArchAarch64,
            Arch::ScmpArchArm,
            Arch::ScmpArchMips64n32,
            Arch::ScmpArchPpc64le,
            Arch::ScmpArchS390x,
            Arch::ScmpArchRiscv64,
        ] {
            assert!(ScmpArch::from_str(&a.to_string()).is_ok(), "{a}");
        }
    }

    fn seccomp(v: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn builds_a_profile_with_args_and_unknown_names() {
        let s = seccomp(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [
                {"names": ["mkdir", "not_a_syscall_anywhere"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 1, "value": 9, "op": "SCMP_CMP_EQ"},
                    {"index": 1, "value": 15, "op": "SCMP_CMP_EQ"}]},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}
            ]
        }));
        build(&s).unwrap();
    }

    #[test]
    fn kernel_flags_follow_the_profile() {
        let s = seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/run/agent.sock",
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}));
        assert_eq!(
            kernel_flags(&s),
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
                | libc::SECCOMP_FILTER_FLAG_LOG
                | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        );
    }

    #[test]
    fn the_exported_program_ends_in_a_return() {
        let s = seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}));
        let program = export_program(&build(&s).unwrap()).unwrap();
        assert!(program.len() > 4);
        // BPF_RET | BPF_K: a classic BPF program must end in a return.
        assert_eq!(program.last().unwrap().code, 0x06);
    }

    #[test]
    fn notify_needs_an_absolute_listener_path() {
        let s = seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}));
        let e = build(&s).err().unwrap().to_string();
        assert!(e.starts_with("linux.seccomp.listenerPath"), "{e}");
        let s =
            seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "rel"}));
        assert!(
            build(&s)
                .err()
                .unwrap()
                .to_string()
                .starts_with("linux.seccomp.listenerPath")
        );
    }

    #[test]
    fn bad_argument_index_is_refused() {
        let s = seccomp(
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
        );
        let e = build(&s).err().unwrap().to_string();
        assert!(e.contains("linux.seccomp.syscalls[0].args"), "{e}");
    }
}
