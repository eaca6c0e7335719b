use super::GlobalOptions;
use anyhow::Result;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct Args {}

/// What this build really supports, in runc's `features` shape. Keep it true: clients use
/// it to decide what to ask for.
#[inline(never)]
pub fn run(g: &GlobalOptions, _a: Args) -> Result<i32> {
    let features = json!({
        "ociVersionMin": crate::spec::OCI_VERSION_MIN,
        "ociVersionMax": crate::spec::OCI_VERSION,
        "hooks": crate::hooks::Kind::ALL.iter().map(|k| k.json_name()).collect::<Vec<_>>(),
        "mountOptions": crate::rootfs::options::known_options(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps::all().iter().map(|c| c.to_string()).collect::<std::collections::BTreeSet<_>>(),
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
                            "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                              "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
                "supportedFlags": crate::seccomp::supported_flags()
            },
            "apparmor": {"enabled": true},
            "netDevices": {"enabled": true},
            // As runc: what the runtime implements; whether the host has resctrl is checked
            // when a config asks for it.
            "intelRdt": {"enabled": true, "schemata": true, "monitoring": true},
            "memoryPolicy": {
                "modes": ["MPOL_BIND", "MPOL_DEFAULT", "MPOL_INTERLEAVE", "MPOL_LOCAL", "MPOL_PREFERRED",
                          "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE"],
                "flags": ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]
            },
            // As runc: the runtime implements them and the kernel has mount_setattr; whether
            // a source's filesystem takes an idmapping is only known per mount.
            "mountExtensions": {"idmap": {"enabled": crate::syscall::syscall_exists(libc::SYS_mount_setattr)}},
            "selinux": {"enabled": crate::lsm::selinux_enabled()}
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features.corral.version": env!("CARGO_PKG_VERSION"),
            // runc's key; runc says "true" when built with CRIU support, corral says
            // whether this host's CRIU passes `criu check`, as an engine wants to know.
            "org.opencontainers.runc.checkpoint.enabled": criu_works(&g.criu).to_string()
        },
        // Annotations that change what the runtime does, which an engine should not pass
        // through from untrusted pod specs (containerd filters on this list): properties of
        // the systemd unit (prefix form, as runc lists it), and the CRIU config file a
        // checkpoint or restore reads.
        "potentiallyUnsafeConfigAnnotations": ["org.systemd.property.", "org.criu.config"]
    });
    super::out(&format!("{}\n", serde_json::to_string_pretty(&features)?))?;
    Ok(0)
}

/// `criu check` passes (`--criu` names the binary).
fn criu_works(criu: &std::path::Path) -> bool {
    std::process::Command::new(criu)
        .arg("check")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
