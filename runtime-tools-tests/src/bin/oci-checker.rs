//! The probe that runs inside a container under test: it reads the bundle's config (copied into
//! the rootfs at /conformance/config.json) and compares it with what the process actually sees.
//!
//! `oci-checker TOPIC...` prints one TAP-like line per check (`ok - ...` / `not ok - ...`) and
//! exits 1 if any check failed. It never trusts the runtime: every value is read from the kernel
//! (/proc, syscalls), never from the environment the runtime could fake.
//!
//! Linked statically: the rootfs has no dynamic loader.

use serde_json::Value;
use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

const CONFIG: &str = "/conformance/config.json";

struct Report {
    failed: usize,
}

impl Report {
    fn check(&mut self, ok: bool, what: impl AsRef<str>) {
        if ok {
            println!("ok - {}", what.as_ref());
        } else {
            self.failed += 1;
            println!("not ok - {}", what.as_ref());
        }
    }

    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: T, want: T) {
        let ok = got == want;
        self.check(ok, format!("{what}: got {got:?}, want {want:?}"));
    }
}

fn main() {
    // Arguments after `--` are for the `process` topic to compare, not topics.
    let topics: Vec<String> = std::env::args().skip(1).take_while(|a| a != "--").collect();
    let config: Value = match fs::read(CONFIG)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            println!("not ok - reading {CONFIG}: {e}");
            std::process::exit(1);
        }
    };
    let mut r = Report { failed: 0 };
    for topic in &topics {
        match topic.as_str() {
            "root" => check_root(&config, &mut r),
            "hostname" => check_hostname(&config, &mut r),
            "process" => check_process(&config, &mut r),
            "user" => check_user(&config, &mut r),
            "caps" => check_caps(&config, &mut r),
            "rlimits" => check_rlimits(&config, &mut r),
            "nnp" => check_no_new_privs(&config, &mut r),
            "oom" => check_oom_score_adj(&config, &mut r),
            "mounts" => check_mounts(&config, &mut r),
            "masked" => check_masked(&config, &mut r),
            "readonly" => check_readonly(&config, &mut r),
            "devices" => check_devices(&config, &mut r),
            "default-devices" => check_default_devices(&mut r),
            "sysctl" => check_sysctl(&config, &mut r),
            "namespaces" => check_namespaces(&config, &mut r),
            "idmaps" => check_id_mappings(&config, &mut r),
            "propagation" => check_rootfs_propagation(&config, &mut r),
            "seccomp" => check_seccomp(&config, &mut r),
            "cgroups" => check_cgroups(&config, &mut r),
            "device-access" => check_device_access(&config, &mut r),
            "files" => check_files(&config, &mut r),
            "lsm" => check_lsm_labels(&config, &mut r),
            "timens" => check_time_offsets(&config, &mut r),
            other => r.check(false, format!("unknown topic {other}")),
        }
    }
    if topics.is_empty() {
        r.check(false, "no topic given");
    }
    std::process::exit(if r.failed == 0 { 0 } else { 1 });
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn statvfs_flags(path: &str) -> Option<u64> {
    let c = CString::new(path).ok()?;
    // SAFETY: statvfs only writes into the zeroed struct we own.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path and s a valid out pointer.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    (rc == 0).then_some(s.f_flag)
}

fn check_root(config: &Value, r: &mut Report) {
    let readonly = config["root"]["readonly"].as_bool().unwrap_or(false);
    let result = fs::write("/.conformance-write-probe", b"x");
    let _ = fs::remove_file("/.conformance-write-probe");
    match (readonly, result) {
        (true, Err(e)) => r.eq(
            "root.readonly: write to / fails with EROFS",
            e.raw_os_error(),
            Some(libc::EROFS),
        ),
        (true, Ok(())) => r.check(false, "root.readonly: write to / succeeded"),
        (false, res) => r.check(
            res.is_ok(),
            format!("root writable: {:?}", res.err().map(|e| e.to_string())),
        ),
    }
}

fn check_hostname(config: &Value, r: &mut Report) {
    let Some(want) = config["hostname"].as_str() else {
        return;
    };
    let got = nix_uname_nodename();
    r.eq("hostname", got.as_str(), want);
    if let Some(want) = config["domainname"].as_str() {
        let got = fs::read_to_string("/proc/sys/kernel/domainname").unwrap_or_default();
        r.eq("domainname", got.trim_end(), want);
    }
}

fn nix_uname_nodename() -> String {
    // SAFETY: uname fills the zeroed struct we own.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is a valid out pointer.
    unsafe { libc::uname(&mut u) };
    // SAFETY: the kernel NUL-terminates nodename.
    unsafe { std::ffi::CStr::from_ptr(u.nodename.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn check_process(config: &Value, r: &mut Report) {
    let p = &config["process"];
    let cmdline = fs::read("/proc/self/cmdline").unwrap_or_default();
    let argv: Vec<String> = cmdline
        .strip_suffix(&[0])
        .unwrap_or(&cmdline)
        .split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    let want: Vec<String> = strings(&p["args"]);
    r.eq("process.args", argv, want);
    let cwd = std::env::current_dir().map(|p| p.display().to_string());
    r.eq(
        "process.cwd",
        cwd.unwrap_or_default().as_str(),
        p["cwd"].as_str().unwrap_or("/"),
    );
    for entry in strings(&p["env"]) {
        let (k, v) = entry.split_once('=').unwrap_or((&entry, ""));
        r.eq(
            &format!("process.env {k}"),
            std::env::var(k).ok().as_deref(),
            Some(v),
        );
    }
    // SAFETY: isatty only inspects the fd.
    let tty = unsafe { libc::isatty(0) } == 1;
    r.eq(
        "process.terminal (stdin is a tty)",
        tty,
        p["terminal"].as_bool().unwrap_or(false),
    );
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn check_user(config: &Value, r: &mut Report) {
    let u = &config["process"]["user"];
    // SAFETY: these getters cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    r.eq(
        "process.user.uid",
        uid as u64,
        u["uid"].as_u64().unwrap_or(0),
    );
    r.eq(
        "process.user.gid",
        gid as u64,
        u["gid"].as_u64().unwrap_or(0),
    );
    let mut groups = supplementary_groups();
    groups.sort();
    let mut want: Vec<u64> = u["additionalGids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    want.sort();
    want.dedup();
    // A runtime may or may not list the primary gid among the supplementary ones.
    groups.retain(|g| *g != gid as u64 || want.contains(g));
    r.eq("process.user.additionalGids", groups, want);
    if let Some(umask) = u["umask"].as_u64() {
        let got = status_field("Umask").and_then(|s| u64::from_str_radix(&s, 8).ok());
        r.eq("process.user.umask", got, Some(umask));
    }
}

fn supplementary_groups() -> Vec<u64> {
    status_field("Groups")
        .map(|s| {
            s.split_whitespace()
                .filter_map(|g| g.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn status_field(name: &str) -> Option<String> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    })
}

const CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

fn cap_mask(names: &Value) -> u64 {
    strings(names)
        .iter()
        .filter_map(|n| {
            let n = n.strip_prefix("CAP_").unwrap_or(n);
            CAPS.iter().position(|c| *c == n)
        })
        .fold(0, |m, bit| m | (1u64 << bit))
}

fn check_caps(config: &Value, r: &mut Report) {
    let caps = &config["process"]["capabilities"];
    for (set, field) in [
        ("bounding", "CapBnd"),
        ("effective", "CapEff"),
        ("permitted", "CapPrm"),
        ("inheritable", "CapInh"),
        ("ambient", "CapAmb"),
    ] {
        let got = status_field(field).and_then(|s| u64::from_str_radix(&s, 16).ok());
        r.eq(
            &format!("process.capabilities.{set} ({field})"),
            got.map(|v| format!("{v:#x}")),
            Some(format!("{:#x}", cap_mask(&caps[set]))),
        );
    }
}

const RLIMITS: &[&str] = &[
    "CPU",
    "FSIZE",
    "DATA",
    "STACK",
    "CORE",
    "RSS",
    "NPROC",
    "NOFILE",
    "MEMLOCK",
    "AS",
    "LOCKS",
    "SIGPENDING",
    "MSGQUEUE",
    "NICE",
    "RTPRIO",
    "RTTIME",
];

fn check_rlimits(config: &Value, r: &mut Report) {
    for limit in config["process"]["rlimits"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let ty = limit["type"].as_str().unwrap_or("");
        let Some(resource) = RLIMITS
            .iter()
            .position(|n| Some(*n) == ty.strip_prefix("RLIMIT_"))
        else {
            r.check(false, format!("rlimit {ty}: unknown to the checker"));
            continue;
        };
        let mut got = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own.
        unsafe { libc::getrlimit(resource as _, &mut got) };
        r.eq(
            &format!("process.rlimits {ty} (soft, hard)"),
            (got.rlim_cur, got.rlim_max),
            (
                limit["soft"].as_u64().unwrap_or(0),
                limit["hard"].as_u64().unwrap_or(0),
            ),
        );
    }
}

fn check_no_new_privs(config: &Value, r: &mut Report) {
    let want = config["process"]["noNewPrivileges"]
        .as_bool()
        .unwrap_or(false);
    r.eq(
        "process.noNewPrivileges",
        status_field("NoNewPrivs").as_deref(),
        Some(if want { "1" } else { "0" }),
    );
}

fn check_oom_score_adj(config: &Value, r: &mut Report) {
    let Some(want) = config["process"]["oomScoreAdj"].as_i64() else {
        return;
    };
    let got = fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_default();
    r.eq(
        "process.oomScoreAdj",
        got.trim().parse::<i64>().ok(),
        Some(want),
    );
}

struct MountInfo {
    mount_point: String,
    options: Vec<String>,
    optional: Vec<String>,
    fstype: String,
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let oct: String = chars.by_ref().take(3).collect();
            if let Ok(b) = u8::from_str_radix(&oct, 8) {
                out.push(b as char);
                continue;
            }
            out.push_str(&oct);
        } else {
            out.push(c);
        }
    }
    out
}

fn mountinfo() -> Vec<MountInfo> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let fstype = right.split(' ').next()?.to_string();
            Some(MountInfo {
                mount_point: unescape(f.get(4)?),
                options: f.get(5)?.split(',').map(String::from).collect(),
                optional: f[6..].iter().map(|s| s.to_string()).collect(),
                fstype,
            })
        })
        .collect()
}

fn top_mount(mounts: &[MountInfo], dest: &str) -> Option<usize> {
    let dest = dest.trim_end_matches('/');
    let dest = if dest.is_empty() { "/" } else { dest };
    mounts.iter().rposition(|m| m.mount_point == dest)
}

fn check_mounts(config: &Value, r: &mut Report) {
    let mounts = mountinfo();
    for m in config["mounts"].as_array().cloned().unwrap_or_default() {
        let dest = m["destination"].as_str().unwrap_or("");
        let options = strings(&m["options"]);
        let Some(i) = top_mount(&mounts, dest) else {
            r.check(false, format!("mount {dest}: not mounted"));
            continue;
        };
        let info = &mounts[i];
        let bind = options.iter().any(|o| o == "bind" || o == "rbind");
        let ty = m["type"].as_str().unwrap_or("");
        // A `cgroup` mount may legitimately show as cgroup2 or as a tmpfs of v1 hierarchies.
        if !bind && !ty.is_empty() && ty != "cgroup" && ty != "none" {
            r.eq(&format!("mount {dest} type"), info.fstype.as_str(), ty);
        } else {
            r.check(true, format!("mount {dest} present ({})", info.fstype));
        }
        for flag in ["ro", "nosuid", "nodev", "noexec"] {
            if options.iter().any(|o| o == flag) {
                r.check(
                    info.options.iter().any(|o| o == flag),
                    format!(
                        "mount {dest} option {flag} (have {})",
                        info.options.join(",")
                    ),
                );
            }
        }
        if options.iter().any(|o| o == "rw") && !options.iter().any(|o| o == "ro") {
            r.check(
                info.options.iter().any(|o| o == "rw"),
                format!("mount {dest} option rw (have {})", info.options.join(",")),
            );
        }
    }
}

fn check_masked(config: &Value, r: &mut Report) {
    for path in strings(&config["linux"]["maskedPaths"]) {
        let Ok(meta) = fs::metadata(&path) else {
            r.check(true, format!("maskedPaths {path}: absent, nothing to mask"));
            continue;
        };
        if meta.is_dir() {
            let entries = fs::read_dir(&path).map(|d| d.count()).unwrap_or(usize::MAX);
            r.eq(
                &format!("maskedPaths {path}: directory entries"),
                entries,
                0,
            );
        } else {
            let content = fs::read(&path);
            r.check(
                matches!(&content, Ok(c) if c.is_empty()),
                format!(
                    "maskedPaths {path}: reads empty ({:?})",
                    content.map(|c| c.len())
                ),
            );
            let write = fs::OpenOptions::new().write(true).open(&path);
            if let Ok(mut f) = write {
                // Writing into /dev/null succeeds and changes nothing: fine. Anything else is
                // the real file.
                use std::io::Write;
                let _ = f.write_all(b"0");
                r.check(
                    fs::read(&path).map(|c| c.is_empty()).unwrap_or(true),
                    format!("maskedPaths {path}: write does not reach the real file"),
                );
            }
        }
    }
}

fn check_readonly(config: &Value, r: &mut Report) {
    for path in strings(&config["linux"]["readonlyPaths"]) {
        if fs::symlink_metadata(&path).is_err() {
            r.check(true, format!("readonlyPaths {path}: absent"));
            continue;
        }
        let flags = statvfs_flags(&path);
        r.check(
            flags.is_some_and(|f| f & libc::ST_RDONLY != 0),
            format!("readonlyPaths {path}: mounted read-only"),
        );
    }
}

fn device_type(meta: &fs::Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else if ft.is_fifo() {
        "p"
    } else {
        "other"
    }
}

fn major_minor(rdev: u64) -> (u64, u64) {
    (libc::major(rdev) as u64, libc::minor(rdev) as u64)
}

fn check_devices(config: &Value, r: &mut Report) {
    for d in config["linux"]["devices"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let path = d["path"].as_str().unwrap_or("");
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) => {
                r.check(false, format!("device {path}: {e}"));
                continue;
            }
        };
        let want_type = match d["type"].as_str() {
            Some("u") => "c",
            Some(t) => t,
            None => "",
        };
        r.eq(
            &format!("device {path} type"),
            device_type(&meta),
            want_type,
        );
        if want_type != "p" {
            r.eq(
                &format!("device {path} major:minor"),
                major_minor(meta.rdev()),
                (
                    d["major"].as_u64().unwrap_or(0),
                    d["minor"].as_u64().unwrap_or(0),
                ),
            );
        }
        if let Some(mode) = d["fileMode"].as_u64() {
            r.eq(
                &format!("device {path} fileMode"),
                format!("{:o}", meta.permissions().mode() & 0o7777),
                format!("{:o}", mode & 0o7777),
            );
        }
        if let Some(uid) = d["uid"].as_u64() {
            r.eq(&format!("device {path} uid"), meta.uid() as u64, uid);
        }
        if let Some(gid) = d["gid"].as_u64() {
            r.eq(&format!("device {path} gid"), meta.gid() as u64, gid);
        }
    }
}

/// The runtime-spec's default devices and /dev symlinks, which every container MUST have.
fn check_default_devices(r: &mut Report) {
    for (path, major, minor) in [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ] {
        match fs::metadata(path) {
            Ok(m) => r.check(
                device_type(&m) == "c" && major_minor(m.rdev()) == (major, minor),
                format!(
                    "default device {path}: {} {:?}",
                    device_type(&m),
                    major_minor(m.rdev())
                ),
            ),
            Err(e) => r.check(false, format!("default device {path}: {e}")),
        }
    }
    r.check(
        Path::new("/dev/ptmx").exists(),
        "default device /dev/ptmx exists",
    );
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        let got = fs::read_link(link).map(|p| p.display().to_string());
        r.eq(
            &format!("dev symlink {link}"),
            got.ok().as_deref(),
            Some(target),
        );
    }
}

fn check_sysctl(config: &Value, r: &mut Report) {
    let Some(map) = config["linux"]["sysctl"].as_object() else {
        return;
    };
    for (key, want) in map {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let got = fs::read_to_string(&path).unwrap_or_default();
        let got: Vec<&str> = got.split_whitespace().collect();
        let want: Vec<&str> = want.as_str().unwrap_or("").split_whitespace().collect();
        r.eq(&format!("sysctl {key}"), got, want);
    }
}

const NS_FILES: &[(&str, &str)] = &[
    ("pid", "pid"),
    ("network", "net"),
    ("mount", "mnt"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("user", "user"),
    ("cgroup", "cgroup"),
    ("time", "time"),
];

fn ns_inode(file: &str) -> Option<u64> {
    fs::metadata(format!("/proc/self/ns/{file}"))
        .ok()
        .map(|m| m.ino())
}

/// The harness records the namespaces it runs in as annotations
/// (`conformance.host-ns.<type>`), and for joined namespaces the one expected
/// (`conformance.expect-ns.<type>`).
fn check_namespaces(config: &Value, r: &mut Report) {
    let listed = config["linux"]["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ann = &config["annotations"];
    for (ty, file) in NS_FILES {
        let host = ann[format!("conformance.host-ns.{ty}")]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok());
        let Some(host) = host else { continue };
        let Some(got) = ns_inode(file) else {
            r.check(true, format!("namespace {ty}: kernel lacks it"));
            continue;
        };
        let entry = listed.iter().find(|n| n["type"].as_str() == Some(ty));
        match entry {
            None => r.eq(&format!("namespace {ty} not listed: inherited"), got, host),
            Some(n) if n["path"].as_str().is_some() => {
                let want = ann[format!("conformance.expect-ns.{ty}")]
                    .as_str()
                    .and_then(|s| s.parse::<u64>().ok());
                r.eq(&format!("namespace {ty} joined by path"), Some(got), want);
            }
            Some(_) => r.check(
                got != host,
                format!("namespace {ty} listed without path: new ({got} vs host {host})"),
            ),
        }
    }
}

fn check_id_mappings(config: &Value, r: &mut Report) {
    for (field, file) in [("uidMappings", "uid_map"), ("gidMappings", "gid_map")] {
        let want: Vec<(u64, u64, u64)> = config["linux"][field]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|m| {
                (
                    m["containerID"].as_u64().unwrap_or(0),
                    m["hostID"].as_u64().unwrap_or(0),
                    m["size"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        let text = fs::read_to_string(format!("/proc/self/{file}")).unwrap_or_default();
        let got: Vec<(u64, u64, u64)> = text
            .lines()
            .filter_map(|l| {
                let v: Vec<u64> = l
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                (v.len() == 3).then(|| (v[0], v[1], v[2]))
            })
            .collect();
        r.eq(&format!("linux.{field}"), got, want);
    }
}

fn check_rootfs_propagation(config: &Value, r: &mut Report) {
    let Some(want) = config["linux"]["rootfsPropagation"].as_str() else {
        return;
    };
    let mounts = mountinfo();
    let Some(i) = top_mount(&mounts, "/") else {
        r.check(false, "no / in mountinfo");
        return;
    };
    let opt = &mounts[i].optional;
    let shared = opt.iter().any(|o| o.starts_with("shared:"));
    let slave = opt.iter().any(|o| o.starts_with("master:"));
    let ok = match want {
        "shared" | "rshared" => shared,
        "slave" | "rslave" => slave && !shared,
        "private" | "rprivate" => !shared && !slave,
        "unbindable" | "runbindable" => opt.iter().any(|o| o == "unbindable"),
        _ => false,
    };
    r.check(
        ok,
        format!("linux.rootfsPropagation {want}: / has [{}]", opt.join(" ")),
    );
}

/// Syscalls the checker can call harmlessly, with the syscall number and arguments.
fn probe_syscall(name: &str) -> Option<i64> {
    // SAFETY: each call has harmless arguments (no memory is passed).
    let rc = unsafe {
        match name {
            "getppid" => libc::syscall(libc::SYS_getppid),
            "getpgid" => libc::syscall(libc::SYS_getpgid, 0),
            "getsid" => libc::syscall(libc::SYS_getsid, 0),
            "sched_yield" => libc::syscall(libc::SYS_sched_yield),
            _ => return None,
        }
    };
    Some(rc)
}

fn check_seccomp(config: &Value, r: &mut Report) {
    let seccomp = &config["linux"]["seccomp"];
    r.eq(
        "Seccomp mode in status",
        status_field("Seccomp"),
        Some("2".into()),
    );
    for rule in seccomp["syscalls"].as_array().cloned().unwrap_or_default() {
        if rule["action"].as_str() != Some("SCMP_ACT_ERRNO") || rule.get("args").is_some() {
            continue;
        }
        let want = rule["errnoRet"].as_i64().unwrap_or(libc::EPERM as i64);
        for name in strings(&rule["names"]) {
            let Some(rc) = probe_syscall(&name) else {
                continue;
            };
            r.eq(
                &format!("seccomp {name} returns -1/errno"),
                (rc, errno() as i64),
                (-1, want),
            );
        }
    }
}

fn cgroup_v2() -> bool {
    // SAFETY: statfs fills the zeroed struct we own.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    let c = CString::new("/sys/fs/cgroup").unwrap();
    // SAFETY: valid path and out pointer.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut s) };
    rc == 0 && s.f_type == libc::CGROUP2_SUPER_MAGIC
}

/// A cgroup file of the container, seen through the container's own /sys/fs/cgroup mount.
fn cgroup_file(v1_controller: &str, v1_file: &str, v2_file: &str) -> (String, Option<String>) {
    let path = if cgroup_v2() {
        format!("/sys/fs/cgroup/{v2_file}")
    } else {
        format!("/sys/fs/cgroup/{v1_controller}/{v1_file}")
    };
    let content = fs::read_to_string(&path).ok().map(|s| s.trim().to_string());
    (path, content)
}

fn expect_cgroup(r: &mut Report, field: &str, file: (String, Option<String>), want: String) {
    let (path, got) = file;
    r.eq(&format!("{field} ({path})"), got, Some(want));
}

fn check_cgroups(config: &Value, r: &mut Report) {
    let res = &config["linux"]["resources"];
    let v2 = cgroup_v2();
    check_memory(&res["memory"], v2, r);
    check_cpu(&res["cpu"], v2, r);
    check_pids_and_network(res, r);
    check_block_io(res, r);
    check_hugepages(res, r);
    check_unified(res, r);
}

fn check_memory(mem: &Value, v2: bool, r: &mut Report) {
    if let Some(limit) = mem["limit"].as_i64() {
        let f = cgroup_file("memory", "memory.limit_in_bytes", "memory.max");
        expect_cgroup(r, "memory.limit", f, limit.to_string());
    }
    if let Some(v) = mem["reservation"].as_i64() {
        let f = cgroup_file("memory", "memory.soft_limit_in_bytes", "memory.low");
        expect_cgroup(r, "memory.reservation", f, v.to_string());
    }
    if let (Some(swap), Some(limit)) = (mem["swap"].as_i64(), mem["limit"].as_i64()) {
        let f = cgroup_file("memory", "memory.memsw.limit_in_bytes", "memory.swap.max");
        if f.1.is_some() {
            // v2 keeps swap apart from memory; the OCI value is memory+swap.
            let want = if v2 { swap - limit } else { swap };
            expect_cgroup(r, "memory.swap", f, want.to_string());
        } else {
            r.check(true, "memory.swap: no swap accounting on this host");
        }
    }
}

fn check_cpu(cpu: &Value, v2: bool, r: &mut Report) {
    if let Some(shares) = cpu["shares"].as_u64() {
        let f = cgroup_file("cpu", "cpu.shares", "cpu.weight");
        let want = if v2 {
            (1 + ((shares - 2) * 9999) / 262142).to_string()
        } else {
            shares.to_string()
        };
        expect_cgroup(r, "cpu.shares", f, want);
    }
    if let Some(quota) = cpu["quota"].as_i64() {
        let period = cpu["period"].as_u64().unwrap_or(100_000);
        if v2 {
            let f = cgroup_file("cpu", "", "cpu.max");
            expect_cgroup(r, "cpu.quota/period", f, format!("{quota} {period}"));
        } else {
            let f = cgroup_file("cpu", "cpu.cfs_quota_us", "");
            expect_cgroup(r, "cpu.quota", f, quota.to_string());
            let f = cgroup_file("cpu", "cpu.cfs_period_us", "");
            expect_cgroup(r, "cpu.period", f, period.to_string());
        }
    }
    if let Some(cpus) = cpu["cpus"].as_str() {
        let f = cgroup_file("cpuset", "cpuset.cpus", "cpuset.cpus");
        expect_cgroup(r, "cpu.cpus", f, cpus.to_string());
    }
    if let Some(mems) = cpu["mems"].as_str() {
        let f = cgroup_file("cpuset", "cpuset.mems", "cpuset.mems");
        expect_cgroup(r, "cpu.mems", f, mems.to_string());
    }
}

fn check_pids_and_network(res: &Value, r: &mut Report) {
    if let Some(limit) = res["pids"]["limit"].as_i64() {
        let f = cgroup_file("pids", "pids.max", "pids.max");
        let want = if limit <= 0 {
            "max".to_string()
        } else {
            limit.to_string()
        };
        expect_cgroup(r, "pids.limit", f, want);
    }
    if let Some(classid) = res["network"]["classID"].as_u64() {
        let f = cgroup_file("net_cls", "net_cls.classid", "");
        expect_cgroup(r, "network.classID", f, classid.to_string());
    }
}

fn check_block_io(res: &Value, r: &mut Report) {
    if let Some(weight) = res["blockIO"]["weight"].as_u64() {
        let (path, got) = if Path::new("/sys/fs/cgroup/blkio/blkio.weight").exists() {
            cgroup_file("blkio", "blkio.weight", "io.bfq.weight")
        } else {
            cgroup_file("blkio", "blkio.bfq.weight", "io.bfq.weight")
        };
        // v2's io.bfq.weight reads "default N".
        let got = got.map(|g| g.trim_start_matches("default ").to_string());
        r.eq(
            &format!("blockIO.weight ({path})"),
            got,
            Some(weight.to_string()),
        );
    }
}

fn check_hugepages(res: &Value, r: &mut Report) {
    for limit in res["hugepageLimits"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let size = limit["pageSize"].as_str().unwrap_or("2MB");
        let want = limit["limit"].as_u64().unwrap_or(0);
        // Hybrid hosts may keep hugetlb on the unified hierarchy only.
        let path = [
            format!("/sys/fs/cgroup/hugetlb.{size}.max"),
            format!("/sys/fs/cgroup/hugetlb/hugetlb.{size}.limit_in_bytes"),
            format!("/sys/fs/cgroup/unified/hugetlb.{size}.max"),
        ]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| "hugetlb file".into());
        let got = fs::read_to_string(&path).ok().map(|s| s.trim().to_string());
        r.eq(
            &format!("hugepageLimits {size} ({path})"),
            got,
            Some(want.to_string()),
        );
    }
}

fn check_unified(res: &Value, r: &mut Report) {
    if let Some(unified) = res["unified"].as_object() {
        for (file, want) in unified {
            let got = fs::read_to_string(format!("/sys/fs/cgroup/{file}"))
                .ok()
                .map(|s| s.trim().to_string());
            r.eq(
                &format!("unified {file}"),
                got,
                want.as_str().map(String::from),
            );
        }
    }
}

/// linux.resources.devices decides which device nodes can be opened: probes every device the
/// config creates and expects access exactly where a rule allows it.
fn check_device_access(config: &Value, r: &mut Report) {
    let rules = config["linux"]["resources"]["devices"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for d in config["linux"]["devices"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let path = d["path"].as_str().unwrap_or("");
        let ty = d["type"].as_str().unwrap_or("c");
        let (major, minor) = (d["major"].as_i64(), d["minor"].as_i64());
        let mut allowed = false;
        for rule in &rules {
            let t = rule["type"].as_str().unwrap_or("a");
            let matches = (t == "a" || t == ty)
                && rule["major"].as_i64().is_none_or(|m| Some(m) == major)
                && rule["minor"].as_i64().is_none_or(|m| Some(m) == minor)
                && rule["access"].as_str().unwrap_or("rwm").contains('r');
            if matches {
                allowed = rule["allow"].as_bool().unwrap_or(false);
            }
        }
        let open = fs::File::open(path);
        let got = match &open {
            Ok(_) => "opened".to_string(),
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => "EPERM".to_string(),
            Err(e) => format!("error {e}"),
        };
        let ok = if allowed {
            // Allowed by the cgroup; the driver may still say no (e.g. ENXIO).
            got != "EPERM"
        } else {
            got == "EPERM"
        };
        r.check(
            ok,
            format!(
                "device {path} read access: {got}, cgroup {}",
                if allowed { "allows" } else { "denies" }
            ),
        );
    }
}

/// Annotations `conformance.file.<path>` name files the process must see with that content
/// (e.g. through a bind mount).
fn check_files(config: &Value, r: &mut Report) {
    let Some(ann) = config["annotations"].as_object() else {
        return;
    };
    for (key, want) in ann {
        let Some(path) = key.strip_prefix("conformance.file.") else {
            continue;
        };
        let got = fs::read_to_string(path).map_err(|e| e.to_string());
        r.eq(
            &format!("file {path}"),
            got.as_deref().map(str::trim_end),
            Ok(want.as_str().unwrap_or("")),
        );
    }
}

fn check_time_offsets(config: &Value, r: &mut Report) {
    let Some(offsets) = config["linux"]["timeOffsets"].as_object() else {
        return;
    };
    let text = fs::read_to_string("/proc/self/timens_offsets").unwrap_or_default();
    for (clock, off) in offsets {
        let want = (
            off["secs"].as_i64().unwrap_or(0),
            off["nanosecs"].as_i64().unwrap_or(0),
        );
        let got = text.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&clock.as_str()))
                .then(|| (f[1].parse().unwrap_or(-1), f[2].parse().unwrap_or(-1)))
        });
        r.eq(&format!("timeOffsets.{clock}"), got, Some(want));
    }
}

fn read_attr(path: &str) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim_end_matches(['\0', '\n']).to_string())
}

fn check_lsm_labels(config: &Value, r: &mut Report) {
    let p = &config["process"];
    if let Some(profile) = p["apparmorProfile"].as_str() {
        let got = read_attr("/proc/self/attr/apparmor/current")
            .or_else(|| read_attr("/proc/self/attr/current"))
            .unwrap_or_default();
        // AppArmor appends the mode: "name (enforce)".
        let name = got.rsplit_once(" (").map(|(n, _)| n).unwrap_or(&got);
        r.eq("process.apparmorProfile", name, profile);
    }
    if let Some(label) = p["selinuxLabel"].as_str() {
        let got = read_attr("/proc/self/attr/current").unwrap_or_default();
        r.eq("process.selinuxLabel", got.as_str(), label);
    }
}
