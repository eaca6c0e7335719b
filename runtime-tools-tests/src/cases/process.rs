//! config.md `process` and `root`: what the user process is, who it runs as, with which
//! capabilities and limits; and the errors a runtime MUST give for values it cannot apply.

use super::{Case, case};
use crate::ensure;
use crate::harness::{CaseResult, Ctx, skip};
use serde_json::json;

pub const CASES: &[Case] = &[
    case!(process, "process.args, cwd, env and terminal as configured"),
    case!(
        process_user,
        "process.user uid, gid, additionalGids and umask"
    ),
    case!(
        process_capabilities,
        "process.capabilities: all five sets exactly as configured"
    ),
    case!(
        process_capabilities_unknown,
        "an unknown capability name is logged as a warning and the process runs (config.md: MUST warn, SHOULD NOT fail)"
    ),
    case!(
        process_exec_cpu_affinity,
        "process.execCPUAffinity final applies to an exec'd process and not to the init (spec 1.2.1)"
    ),
    case!(process_rlimits, "process.rlimits soft and hard values"),
    case!(
        process_rlimits_fail,
        "an unknown rlimit type is an error (config.md: MUST error)"
    ),
    case!(process_oom_score_adj, "process.oomScoreAdj"),
    case!(
        process_no_new_privileges,
        "process.noNewPrivileges true and false"
    ),
    case!(root_readonly_true, "root.readonly true: / is read-only"),
    case!(root_readonly_false, "root.readonly false: / is writable"),
    case!(hostname, "hostname set in the new UTS namespace"),
    case!(
        domainname,
        "domainname set in the new UTS namespace (spec 1.0.2+)"
    ),
    case!(
        process_apparmor_profile,
        "process.apparmorProfile applied (needs AppArmor on the host)"
    ),
    case!(
        process_selinux_label,
        "process.selinuxLabel applied (needs SELinux on the host)"
    ),
];

fn process(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["process"], |c| {
        c["process"]["args"].as_array_mut().unwrap().extend([
            json!("--"),
            json!("an argument with spaces"),
            json!(""),
        ]);
        c["process"]["cwd"] = json!("/tmp");
        c["process"]["env"]
            .as_array_mut()
            .unwrap()
            .extend([json!("CONFORMANCE=yes"), json!("EMPTY=")]);
    })
}

fn process_user(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["user"], |c| {
        c["process"]["user"] =
            json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 6, 1000], "umask": 23});
    })
}

fn process_capabilities(ctx: &mut Ctx) -> CaseResult {
    let some = json!([
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETUID"
    ]);
    ctx.check(&["caps"], |c| {
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SYS_CHROOT"],
            "effective": some,
            "permitted": some,
            "inheritable": ["CAP_KILL", "CAP_CHOWN"],
            "ambient": ["CAP_KILL"],
        });
    })
}

/// config.md: "Any value which cannot be mapped to a relevant kernel interface, or cannot be
/// granted otherwise MUST cause an error." runc 1.1 only warns and drops the name.
fn process_capabilities_unknown(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, &["/bin/true"], |c| {
        c["process"]["capabilities"]["bounding"]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_NO_SUCH_THING"));
    });
    let ran = ctx.must(&["run", "--bundle", b.path(), &id])?;
    ensure!(
        ran.stderr.contains("CAP_NO_SUCH_THING"),
        "the run succeeded without a warning naming CAP_NO_SUCH_THING (stderr: {:?})",
        ran.stderr.trim()
    );
    Ok(())
}

/// config.md `execCPUAffinity`: "not applicable to the container's init process"; `final`
/// is where an exec'd process runs once in the container's cgroup.
fn process_exec_cpu_affinity(ctx: &mut Ctx) -> CaseResult {
    if std::thread::available_parallelism().map_or(1, usize::from) < 2 {
        return Err(crate::harness::skip("needs two CPUs"));
    }
    let id = ctx.new_id();
    let b = ctx.bundle(&id, &["sleep", "1000"], |c| {
        c["process"]["execCPUAffinity"] = json!({"final": "1"});
    });
    ctx.create(&b, &id)?;
    ctx.must(&["start", &id])?;
    let list =
        |pid: &str| format!("sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/{pid}/status");
    let ran = ctx.must(&[
        "exec",
        &id,
        "sh",
        "-c",
        &format!("{}; {}", list("self"), list("1")),
    ])?;
    let lines: Vec<&str> = ran.stdout.lines().collect();
    ensure!(
        lines.first() == Some(&"1"),
        "the exec'd process runs on {:?}, want \"1\"",
        lines.first()
    );
    ensure!(
        lines.get(1) != Some(&"1"),
        "the init was pinned to the exec CPUs too ({:?})",
        lines.get(1)
    );
    Ok(())
}

/// The host's hard limit of a resource: raising a hard limit needs CAP_SYS_RESOURCE, which the
/// runtime may not have, so the case only lowers limits.
fn host_hard_limit(resource: libc::__rlimit_resource_t) -> u64 {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    unsafe { libc::getrlimit(resource, &mut l) };
    l.rlim_max
}

fn process_rlimits(ctx: &mut Ctx) -> CaseResult {
    let nofile = host_hard_limit(libc::RLIMIT_NOFILE).min(4096);
    let stack = host_hard_limit(libc::RLIMIT_STACK).min(16 << 20);
    ctx.check(&["rlimits"], |c| {
        c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": nofile / 2, "hard": nofile},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
            {"type": "RLIMIT_STACK", "soft": stack / 2, "hard": stack},
            {"type": "RLIMIT_NPROC", "soft": 512, "hard": 1024},
        ]);
    })
}

fn process_rlimits_fail(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_id();
    let b = ctx.bundle(&id, &["/bin/true"], |c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NO_SUCH_THING", "soft": 1, "hard": 1}]);
    });
    ctx.must_fail(&["run", "--bundle", b.path(), &id])?;
    ctx.must_fail(&["state", &id])
}

fn process_oom_score_adj(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["oom"], |c| c["process"]["oomScoreAdj"] = json!(500))
}

fn process_no_new_privileges(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["nnp"], |c| c["process"]["noNewPrivileges"] = json!(true))?;
    ctx.check(&["nnp"], |c| c["process"]["noNewPrivileges"] = json!(false))
}

fn root_readonly_true(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["root"], |c| c["root"]["readonly"] = json!(true))
}

fn root_readonly_false(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["root"], |c| c["root"]["readonly"] = json!(false))
}

fn hostname(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["hostname"], |c| c["hostname"] = json!("conformance-host"))
}

fn domainname(ctx: &mut Ctx) -> CaseResult {
    ctx.check(&["hostname"], |c| {
        c["hostname"] = json!("conformance-host");
        c["domainname"] = json!("conformance.example");
    })
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// Loads a permissive profile of its own with apparmor_parser (removed afterwards).
fn process_apparmor_profile(ctx: &mut Ctx) -> CaseResult {
    if !apparmor_enabled() {
        return Err(skip("AppArmor is not enabled on this host"));
    }
    let name = format!("conformance-{}", std::process::id());
    let file = ctx.dir().join("apparmor-profile");
    std::fs::write(
        &file,
        format!(
            "profile {name} flags=(attach_disconnected,mediate_deleted) {{\n  file,\n  \
             capability,\n  network,\n  signal,\n  mount,\n  umount,\n  pivot_root,\n  \
             ptrace,\n  unix,\n}}\n"
        ),
    )
    .map_err(|e| crate::harness::fail(e.to_string()))?;
    let parser = |flag: &str| {
        std::process::Command::new("apparmor_parser")
            .args([flag, "-K"])
            .arg(&file)
            .output()
    };
    match parser("-r") {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(crate::harness::fail(format!(
                "apparmor_parser: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        Err(_) => return Err(skip("AppArmor is enabled but apparmor_parser is missing")),
    }
    let result = ctx.check(&["lsm"], |c| c["process"]["apparmorProfile"] = json!(name));
    let _ = parser("-R");
    result
}

/// Uses the harness's own SELinux context, a label the policy certainly knows.
fn process_selinux_label(ctx: &mut Ctx) -> CaseResult {
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        return Err(skip("SELinux is not enabled on this host"));
    }
    let label = std::fs::read_to_string("/proc/self/attr/current")
        .map(|l| l.trim_end_matches(['\0', '\n']).to_string())
        .unwrap_or_default();
    ctx.check(&["lsm"], |c| c["process"]["selinuxLabel"] = json!(label))
}
