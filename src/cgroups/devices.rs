//! Device access rules: the config's `linux.resources.devices`, then the default allow-list
//! runc appends (so a container can always use its own /dev/null, tty, pts ...).

use super::write_file;
use crate::error::Result;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::path::Path;

/// runc's default allow-list, in its order: mknod of anything, the default nodes, pts, ptmx,
/// and /dev/net/tun.
const DEFAULT_ALLOW: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:8 rwm",
    "c 1:7 rwm",
    "c 5:0 rwm",
    "c 1:5 rwm",
    "c 1:9 rwm",
    "c 136:* rwm",
    "c 5:2 rwm",
    "c 10:200 rwm",
];

pub fn rule_string(rule: &LinuxDeviceCgroup) -> String {
    let typ = match rule.typ() {
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => "c",
        Some(LinuxDeviceType::B) => "b",
        Some(LinuxDeviceType::P) => "p",
        Some(LinuxDeviceType::A) | None => "a",
    };
    let num = |n: Option<i64>| match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".to_string(),
    };
    let access = rule.access().clone().unwrap_or_else(|| "rwm".to_string());
    format!("{typ} {}:{} {access}", num(rule.major()), num(rule.minor()))
}

/// Writes the rules to a v1 devices cgroup in order, after a deny-all: later rules refine
/// earlier ones.
pub fn apply_v1(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    write_file(&dir.join("devices.deny"), "a *:* rwm")?;
    for rule in rules {
        let file = if rule.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write_file(&dir.join(file), &rule_string(rule))?;
    }
    for rule in DEFAULT_ALLOW {
        write_file(&dir.join("devices.allow"), rule)?;
    }
    Ok(())
}

/// The allow rules (the config's, then the default list) as systemd's DeviceAllow entries,
/// for DevicePolicy=strict: `/dev/char/1:3` for one device, `char-pts` for a major by its name
/// in /proc/devices, `char-*` for all. Deny rules have no entry (strict denies what is not
/// listed); the cgroup's own rules, written after, stay exact. A major /proc/devices does not
/// name gets no entry.
pub fn systemd_device_allow(rules: &[LinuxDeviceCgroup]) -> Vec<(String, String)> {
    let names = std::fs::read_to_string("/proc/devices").unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::new();
    let defaults = DEFAULT_ALLOW.iter().filter_map(|r| Rule::parse(r));
    for rule in rules.iter().filter_map(Rule::from_oci).chain(defaults) {
        if !rule.allow {
            continue;
        }
        let access: String = [(2, 'r'), (4, 'w'), (1, 'm')]
            .iter()
            .filter(|(bit, _)| rule.access & bit != 0)
            .map(|(_, c)| *c)
            .collect();
        let kinds: &[(DevType, &str)] = match rule.typ {
            Some(DevType::Char) => &[(DevType::Char, "char")],
            Some(DevType::Block) => &[(DevType::Block, "block")],
            None => &[(DevType::Char, "char"), (DevType::Block, "block")],
        };
        for (kind, word) in kinds {
            let entry = match (rule.major, rule.minor) {
                (Some(maj), Some(min)) => Some(format!("/dev/{word}/{maj}:{min}")),
                (Some(maj), None) => device_name(&names, *kind, maj).map(|n| format!("{word}-{n}")),
                (None, _) => Some(format!("{word}-*")),
            };
            if let Some(e) = entry
                && !out.iter().any(|(p, a)| *p == e && *a == access)
            {
                out.push((e, access.clone()));
            }
        }
    }
    out
}

/// The driver name /proc/devices gives a major of this type.
fn device_name(proc_devices: &str, kind: DevType, major: i32) -> Option<String> {
    let header = match kind {
        DevType::Char => "Character devices:",
        DevType::Block => "Block devices:",
    };
    proc_devices
        .split("\n\n")
        .find(|section| section.trim_start().starts_with(header))?
        .lines()
        .skip(1)
        .find_map(|l| {
            let (num, name) = l.trim().split_once(' ')?;
            (num.parse::<i32>().ok()? == major).then(|| name.trim().to_string())
        })
}

/// cgroup v2 has no devices files: the same rules become an eBPF program attached to the
/// container's cgroup, which the kernel runs on every open/mknod of a device node.
pub fn apply_v2(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    use crate::error::Context;
    use std::os::fd::AsFd;
    let mut all: Vec<Rule> = rules.iter().filter_map(Rule::from_oci).collect();
    all.extend(
        DEFAULT_ALLOW
            .iter()
            .map(|r| Rule::parse(r).expect("valid default rule")),
    );
    let insns = program(&all);
    let prog = crate::syscall::bpf_load_device_program(&insns)
        .ctx(|| "linux.resources.devices: load the eBPF device filter")?;
    let cgroup = std::fs::File::open(dir).ctx(|| crate::error::at("open cgroup", dir))?;
    crate::syscall::bpf_attach_device_program(cgroup.as_fd(), prog.as_fd())
        .ctx(|| "linux.resources.devices: attach the eBPF device filter")
}

/// The device types the kernel's filter context names (BPF_DEVCG_DEV_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DevType {
    Block = 1,
    Char = 2,
}

/// A device rule in the form the filter program checks.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    allow: bool,
    /// None for every type.
    typ: Option<DevType>,
    major: Option<i32>,
    minor: Option<i32>,
    /// BPF_DEVCG_ACC_*: mknod 1, read 2, write 4.
    access: i32,
}

impl Rule {
    /// A rule of the config; `validate` has checked its access letters and numbers, and
    /// anything else it could hold (a number beyond 32 bits) matches no device. A fifo rule
    /// is none: a fifo is never a device the filter sees.
    fn from_oci(r: &LinuxDeviceCgroup) -> Option<Rule> {
        let typ = match r.typ() {
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Some(DevType::Char),
            Some(LinuxDeviceType::B) => Some(DevType::Block),
            Some(LinuxDeviceType::P) => return None,
            Some(LinuxDeviceType::A) | None => None,
        };
        let num = |n: Option<i64>| match n {
            Some(n) if n >= 0 => Some(i32::try_from(n).unwrap_or(i32::MAX)),
            _ => None,
        };
        Some(Rule {
            allow: r.allow(),
            typ,
            major: num(r.major()),
            minor: num(r.minor()),
            access: access_bits(r.access().as_deref().unwrap_or("rwm")),
        })
    }

    /// `c 1:3 rwm` (as in DEFAULT_ALLOW; always an allow rule).
    fn parse(s: &str) -> Option<Rule> {
        let mut parts = s.split_whitespace();
        let typ = match parts.next()? {
            "a" => None,
            "b" => Some(DevType::Block),
            "c" => Some(DevType::Char),
            _ => return None,
        };
        let (maj, min) = parts.next()?.split_once(':')?;
        let num = |n: &str| {
            if n == "*" {
                Some(None)
            } else {
                n.parse().ok().map(Some)
            }
        };
        Some(Rule {
            allow: true,
            typ,
            major: num(maj)?,
            minor: num(min)?,
            access: access_bits(parts.next()?),
        })
    }
}

/// BPF_DEVCG_ACC_* bits of an access string (`rwm`).
fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |acc, c| {
        acc | match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            _ => 0,
        }
    })
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> crate::syscall::BpfInsn {
    crate::syscall::BpfInsn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

// eBPF opcodes used below.
const LDX_W: u8 = 0x61; // r_dst = *(u32 *)(r_src + off)
const MOV64_X: u8 = 0xbf;
const MOV64_K: u8 = 0xb7;
const AND64_K: u8 = 0x57;
const RSH64_K: u8 = 0x77;
const JNE_K: u8 = 0x55;
const JEQ_K: u8 = 0x15;
const EXIT: u8 = 0x95;

/// The filter: the last rule that matches decides (v1 semantics, later rules refine earlier
/// ones), so rules are checked from the end; a request no rule matches is denied, as runc
/// starts every container from deny-all whatever its config's rules say.
fn program(rules: &[Rule]) -> Vec<crate::syscall::BpfInsn> {
    // r1 = ctx {u32 access_type; u32 major; u32 minor}; access_type = access << 16 | type.
    let mut out = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(MOV64_X, 3, 2, 0, 0),
        insn(AND64_K, 3, 0, 0, 0xffff),
        insn(RSH64_K, 2, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        let mut block = Vec::new();
        // Checks that jump past this block when the rule does not match; offsets fixed below.
        if let Some(t) = rule.typ {
            block.push(insn(JNE_K, 3, 0, 0, t as i32));
        }
        if let Some(m) = rule.major {
            block.push(insn(JNE_K, 4, 0, 0, m));
        }
        if let Some(m) = rule.minor {
            block.push(insn(JNE_K, 5, 0, 0, m));
        }
        block.push(insn(MOV64_X, 6, 2, 0, 0));
        if rule.allow {
            // Matches only if every requested access bit is allowed.
            block.push(insn(AND64_K, 6, 0, 0, !rule.access & 7));
            block.push(insn(JNE_K, 6, 0, 0, 0));
        } else {
            // Matches if any requested access bit is denied.
            block.push(insn(AND64_K, 6, 0, 0, rule.access));
            block.push(insn(JEQ_K, 6, 0, 0, 0));
        }
        block.push(insn(MOV64_K, 0, 0, 0, i32::from(rule.allow)));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K || ins.code == JEQ_K {
                ins.off = (len - i - 1) as i16;
            }
        }
        out.extend(block);
    }
    out.push(insn(MOV64_K, 0, 0, 0, 0));
    out.push(insn(EXIT, 0, 0, 0, 0));
    out
}

#[cfg(test)]
mod tests {
    /// Runs the filter program on one request, as the kernel would.
    fn eval(
        prog: &[crate::syscall::BpfInsn],
        typ: u64,
        access: u64,
        major: u64,
        minor: u64,
    ) -> u64 {
        let ctx = [(access << 16) | typ, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            let imm = i.imm as i64 as u64;
            pc += 1;
            match i.code {
                LDX_W => r[dst] = ctx[(i.off / 4) as usize],
                MOV64_X => r[dst] = r[src],
                MOV64_K => r[dst] = imm,
                AND64_K => r[dst] &= imm,
                RSH64_K => r[dst] >>= imm,
                JNE_K if r[dst] != imm => pc += i.off as usize,
                JEQ_K if r[dst] == imm => pc += i.off as usize,
                JNE_K | JEQ_K => {}
                EXIT => return r[0],
                other => panic!("unknown opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn allow_rules_become_systemd_entries() {
        let rules: Vec<oci_spec::runtime::LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rw"},
                {"allow": true, "type": "b", "access": "r"}]"#,
        )
        .unwrap();
        let entries = super::systemd_device_allow(&rules);
        let has = |p: &str, a: &str| entries.iter().any(|(x, y)| x == p && y == a);
        assert!(has("/dev/char/10:200", "rw"), "{entries:?}");
        assert!(has("block-*", "r"), "{entries:?}");
        // The default list: mknod of anything, /dev/null, the ptys by name.
        assert!(
            has("char-*", "m") && has("/dev/char/1:3", "rwm"),
            "{entries:?}"
        );
        assert!(has("char-pts", "rwm"), "{entries:?}");
        let text = "Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n";
        assert_eq!(
            super::device_name(text, super::DevType::Block, 8).as_deref(),
            Some("sd")
        );
        assert_eq!(super::device_name(text, super::DevType::Char, 8), None);
    }

    #[test]
    fn a_fifo_rule_never_reaches_the_filter() {
        let fifo: oci_spec::runtime::LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":true,"type":"p","access":"rwm"}"#).unwrap();
        assert_eq!(super::Rule::from_oci(&fifo), None);
        let all: oci_spec::runtime::LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":true,"access":"r"}"#).unwrap();
        assert_eq!(super::Rule::from_oci(&all).unwrap().typ, None);
    }

    #[test]
    fn filter_follows_v1_semantics() {
        let deny_all = Rule {
            allow: false,
            typ: None,
            major: None,
            minor: None,
            access: 7,
        };
        let mut rules = vec![deny_all];
        rules.extend(DEFAULT_ALLOW.iter().map(|r| Rule::parse(r).unwrap()));
        rules.push(Rule {
            allow: true,
            typ: Some(DevType::Char),
            major: Some(10),
            minor: Some(229),
            access: 6,
        });
        let p = program(&rules);
        let (chr, blk) = (2, 1);
        let (m, r, w) = (1, 2, 4);
        assert_eq!(eval(&p, chr, r | w, 1, 3), 1, "/dev/null rw");
        assert_eq!(eval(&p, chr, r, 1, 1), 0, "/dev/mem is denied");
        assert_eq!(eval(&p, blk, m, 8, 0), 1, "mknod of any block device");
        assert_eq!(eval(&p, blk, r, 8, 0), 0, "reading a disk is denied");
        assert_eq!(eval(&p, chr, r | w, 136, 4), 1, "pts");
        assert_eq!(eval(&p, chr, r | w, 10, 229), 1, "rule from the config");
        assert_eq!(eval(&p, chr, m, 10, 229), 1, "mknod allowed by c *:* m");
    }

    #[test]
    fn later_deny_beats_earlier_allow() {
        let rules = vec![
            Rule {
                allow: true,
                typ: None,
                major: None,
                minor: None,
                access: 7,
            },
            Rule {
                allow: false,
                typ: Some(DevType::Char),
                major: Some(1),
                minor: Some(3),
                access: 4,
            },
        ];
        let p = program(&rules);
        assert_eq!(eval(&p, 2, 4, 1, 3), 0);
        assert_eq!(eval(&p, 2, 2, 1, 3), 1);
        assert_eq!(eval(&p, 2, 6, 1, 5), 1);
    }

    #[test]
    fn no_rules_means_only_the_default_allow_list() {
        let rules: Vec<Rule> = DEFAULT_ALLOW
            .iter()
            .map(|r| Rule::parse(r).unwrap())
            .collect();
        let p = program(&rules);
        assert_eq!(
            eval(&p, 2, 2, 1, 1),
            0,
            "/dev/mem is denied without a deny-all rule"
        );
        assert_eq!(eval(&p, 1, 2, 8, 0), 0, "a disk is denied");
        assert_eq!(eval(&p, 2, 6, 1, 3), 1, "/dev/null is allowed");
    }

    #[test]
    fn parses_default_rules() {
        for r in DEFAULT_ALLOW {
            assert!(Rule::parse(r).is_some(), "{r}");
        }
    }

    use super::*;

    #[test]
    fn formats_rules() {
        let deny_all: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":false,"access":"rwm"}"#).unwrap();
        assert_eq!(rule_string(&deny_all), "a *:* rwm");
        let one: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}"#)
                .unwrap();
        assert_eq!(rule_string(&one), "c 1:3 rw");
    }
}
