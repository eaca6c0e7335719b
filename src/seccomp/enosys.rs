//! The -ENOSYS prologue for profiles that deny by default.
//!
//! A profile is written against the syscalls its author knew. Under a default action that
//! denies (an errno, kill, trap), a syscall newer than every one the profile names would get
//! that default: EPERM, typically. glibc and others probe new syscalls (`clone3`,
//! `faccessat2`, `openat2`, ...) and fall back to the old ones only on ENOSYS, so an EPERM
//! breaks them. runc (since 1.0.3) and crun therefore put a few instructions in front of the
//! filter: on each architecture of the profile, a syscall number above the largest one the
//! profile names returns ENOSYS, as the kernel would for a syscall it does not have.
//!
//! libseccomp 2.5 has no option for this, so the filter is exported as classic BPF and this
//! prologue is prepended to it (`super::load_exported` loads the result with seccomp(2)).

use libseccomp::{ScmpArch, ScmpSyscall};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};

// Classic BPF opcodes (linux/bpf_common.h).
const LD_W_ABS: u16 = 0x20;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGT_K: u16 = 0x25;
const JMP_JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

/// Offsets in `struct seccomp_data`.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
/// x32 syscalls are x86_64 syscalls with this bit set in their number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;

/// The kernel's AUDIT_ARCH_* for an architecture, and whether it is the x32 ABI (which the
/// kernel reports as x86_64). Architectures not listed get no prologue: their unknown
/// syscalls keep the default action, as before.
fn audit_arch(arch: ScmpArch) -> Option<(u32, bool)> {
    Some(match arch {
        ScmpArch::X86 => (0x4000_0003, false),
        ScmpArch::X8664 => (AUDIT_ARCH_X86_64, false),
        ScmpArch::X32 => (AUDIT_ARCH_X86_64, true),
        ScmpArch::Arm => (0x4000_0028, false),
        ScmpArch::Aarch64 => (0xC000_00B7, false),
        ScmpArch::Riscv64 => (0xC000_00F3, false),
        ScmpArch::Ppc64 => (0x8000_0015, false),
        ScmpArch::Ppc64Le => (0xC000_0015, false),
        _ => return None,
    })
}

/// Whether the profile's default action denies, so that unknown syscalls need the prologue.
/// Allow, log and trace are left alone (a tracer handles new syscalls itself), and so is a
/// default errno that already is ENOSYS.
pub fn needed(s: &LinuxSeccomp) -> bool {
    use LinuxSeccompAction as A;
    match s.default_action() {
        A::ScmpActAllow | A::ScmpActLog | A::ScmpActTrace => false,
        A::ScmpActErrno => s.default_errno_ret() != Some(libc::ENOSYS as u32),
        _ => true,
    }
}

/// The largest syscall number the profile names on `arch`; `None` if it names none there.
fn largest_syscall(s: &LinuxSeccomp, arch: ScmpArch) -> Option<u32> {
    s.syscalls()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .flat_map(|rule| rule.names())
        .filter_map(|name| ScmpSyscall::from_name_by_arch(name, arch).ok())
        .map(|nr| nr.as_raw_syscall())
        .filter(|nr| *nr >= 0)
        .map(|nr| nr as u32)
        .max()
}

/// The largest syscall per kernel architecture: (AUDIT_ARCH, native max, x32 max).
fn limits(s: &LinuxSeccomp, archs: &[ScmpArch]) -> Vec<(u32, Option<u32>, Option<u32>)> {
    let mut out: Vec<(u32, Option<u32>, Option<u32>)> = Vec::new();
    for arch in archs {
        let Some((audit, x32)) = audit_arch(*arch) else {
            continue;
        };
        let Some(max) = largest_syscall(s, *arch) else {
            continue;
        };
        let i = match out.iter().position(|l| l.0 == audit) {
            Some(i) => i,
            None => {
                out.push((audit, None, None));
                out.len() - 1
            }
        };
        if x32 {
            out[i].2 = Some(max | X32_SYSCALL_BIT);
        } else {
            out[i].1 = Some(max);
        }
    }
    out
}

/// Where a jump goes, resolved once the prologue's length is known.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    /// The next instruction.
    Next,
    /// An instruction of the prologue, by index.
    At(usize),
    /// The `ret ENOSYS` at the end of the prologue.
    Enosys,
    /// The first instruction of the profile's own filter.
    Filter,
}

struct Insn {
    code: u16,
    k: u32,
    jt: Target,
    jf: Target,
}

fn op(code: u16, k: u32) -> Insn {
    Insn {
        code,
        k,
        jt: Target::Next,
        jf: Target::Next,
    }
}

fn jump(code: u16, k: u32, jt: Target, jf: Target) -> Insn {
    Insn { code, k, jt, jf }
}

/// The prologue for `archs` (the profile's architectures plus the native one).
pub fn prologue(s: &LinuxSeccomp, archs: &[ScmpArch]) -> Vec<libc::sock_filter> {
    let limits = limits(s, archs);
    if limits.is_empty() {
        return Vec::new();
    }
    let mut insns: Vec<Insn> = Vec::new();
    for (i, (audit, native, x32)) in limits.iter().enumerate() {
        let next_arch = if i + 1 == limits.len() {
            Target::Filter
        } else {
            // Filled in below, once this section's length is known.
            Target::At(usize::MAX)
        };
        let start = insns.len();
        insns.push(op(LD_W_ABS, DATA_ARCH));
        insns.push(jump(JMP_JEQ_K, *audit, Target::Next, next_arch));
        insns.push(op(LD_W_ABS, DATA_NR));
        let above = |max: Option<u32>| match max {
            Some(max) => jump(JMP_JGT_K, max, Target::Enosys, Target::Filter),
            None => op(JMP_JA, 0).with_ja(Target::Filter),
        };
        if *audit == AUDIT_ARCH_X86_64 {
            // An x32 number (bit 30 set) is checked against the x32 table.
            let x32_check = insns.len() + 2;
            insns.push(jump(
                JMP_JSET_K,
                X32_SYSCALL_BIT,
                Target::At(x32_check),
                Target::Next,
            ));
            insns.push(above(*native));
            insns.push(above(*x32));
        } else {
            insns.push(above(*native));
        }
        let end = insns.len();
        for insn in &mut insns[start..end] {
            if insn.jf == Target::At(usize::MAX) {
                insn.jf = Target::At(end);
            }
        }
    }
    let enosys = insns.len();
    insns.push(op(RET_K, SECCOMP_RET_ERRNO | libc::ENOSYS as u32));
    let filter = insns.len();
    let offset = |from: usize, to: Target| -> usize {
        let to = match to {
            Target::Next => from + 1,
            Target::At(i) => i,
            Target::Enosys => enosys,
            Target::Filter => filter,
        };
        to - from - 1
    };
    insns
        .iter()
        .enumerate()
        .map(|(i, insn)| {
            let (jt, jf, k) = if insn.code == JMP_JA {
                (0, 0, offset(i, insn.jt) as u32)
            } else if insn.code & 0x07 == 0x05 {
                // A prologue of a few dozen instructions: every offset fits in a byte.
                (offset(i, insn.jt) as u8, offset(i, insn.jf) as u8, insn.k)
            } else {
                (0, 0, insn.k)
            };
            libc::sock_filter {
                code: insn.code,
                jt,
                jf,
                k,
            }
        })
        .collect()
}

impl Insn {
    /// An unconditional jump (`ja`) keeps its target in `jt` until resolved into `k`.
    fn with_ja(mut self, to: Target) -> Insn {
        self.jt = to;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a classic BPF program on (nr, arch) as the kernel would, for the instructions
    /// the prologue and a one-instruction stand-in filter use.
    fn run(prog: &[libc::sock_filter], nr: u32, arch: u32) -> u32 {
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                LD_W_ABS => a = if i.k == DATA_NR { nr } else { arch },
                JMP_JA => pc += i.k as usize,
                JMP_JEQ_K => pc += if a == i.k { i.jt } else { i.jf } as usize,
                JMP_JGT_K => pc += if a > i.k { i.jt } else { i.jf } as usize,
                JMP_JSET_K => pc += if a & i.k != 0 { i.jt } else { i.jf } as usize,
                RET_K => return i.k,
                other => panic!("opcode {other:#x}"),
            }
        }
    }

    fn profile(default: &str, names: &[&str]) -> LinuxSeccomp {
        serde_json::from_value(serde_json::json!({
            "defaultAction": default,
            "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
        }))
        .unwrap()
    }

    const FILTER_RET: u32 = 0x7fff_0000;

    fn program(s: &LinuxSeccomp, archs: &[ScmpArch]) -> Vec<libc::sock_filter> {
        let mut p = prologue(s, archs);
        p.push(libc::sock_filter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: FILTER_RET,
        });
        p
    }

    #[test]
    fn syscalls_above_the_profiles_largest_get_enosys() {
        let s = profile("SCMP_ACT_ERRNO", &["read", "write", "openat"]);
        let p = program(&s, &[ScmpArch::X8664]);
        let openat = ScmpSyscall::from_name_by_arch("openat", ScmpArch::X8664)
            .unwrap()
            .as_raw_syscall() as u32;
        let enosys = SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
        assert_eq!(run(&p, 0, AUDIT_ARCH_X86_64), FILTER_RET);
        assert_eq!(run(&p, openat, AUDIT_ARCH_X86_64), FILTER_RET);
        assert_eq!(run(&p, openat + 1, AUDIT_ARCH_X86_64), enosys);
        assert_eq!(run(&p, 1000, AUDIT_ARCH_X86_64), enosys);
        // Another architecture goes straight to the filter.
        assert_eq!(run(&p, 1000, 0x4000_0003), FILTER_RET);
        // x32 numbers are not judged by the x86_64 table when the profile has no x32.
        assert_eq!(
            run(&p, X32_SYSCALL_BIT | 1000, AUDIT_ARCH_X86_64),
            FILTER_RET
        );
    }

    #[test]
    fn each_architecture_has_its_own_limit() {
        let s = profile("SCMP_ACT_KILL", &["read", "write", "openat"]);
        let archs = [ScmpArch::X8664, ScmpArch::X86, ScmpArch::X32];
        let p = program(&s, &archs);
        let enosys = SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
        let i386_max = largest_syscall(&s, ScmpArch::X86).unwrap();
        assert_eq!(run(&p, i386_max, 0x4000_0003), FILTER_RET);
        assert_eq!(run(&p, i386_max + 1, 0x4000_0003), enosys);
        let x32_max = largest_syscall(&s, ScmpArch::X32).unwrap() | X32_SYSCALL_BIT;
        assert_eq!(run(&p, x32_max, AUDIT_ARCH_X86_64), FILTER_RET);
        assert_eq!(run(&p, x32_max + 1, AUDIT_ARCH_X86_64), enosys);
    }

    #[test]
    fn permissive_defaults_need_no_prologue() {
        assert!(!needed(&profile("SCMP_ACT_ALLOW", &["read"])));
        assert!(!needed(&profile("SCMP_ACT_LOG", &["read"])));
        assert!(needed(&profile("SCMP_ACT_ERRNO", &["read"])));
        assert!(needed(&profile("SCMP_ACT_KILL_PROCESS", &["read"])));
    }
}
