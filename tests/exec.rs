//! `exec`: more processes in a running container, corral next to runc on the same bundle:
//! output, exit codes, ids, capabilities, env, cwd, namespaces, cgroup, fds, `--process`,
//! `--tty`, `--detach`, concurrency, and bad input.

mod common;

use common::*;
use serde_json::json;
use std::process::Output;

/// Starts a long-running container, runs `f` with its id, and cleans up.
fn with_running<T>(
    prefix: &str,
    bundle: &Bundle,
    mut f: impl FnMut(&Runtime, &str) -> T,
) -> Vec<(String, T)> {
    differential(prefix, |rt, id| {
        rt.start_detached(bundle, id);
        f(rt, id)
    })
}

fn sleeper() -> Bundle {
    Bundle::with_args(&["sleep", "1000"])
}

fn exec(rt: &Runtime, args: &[&str]) -> Output {
    let mut all = vec!["exec"];
    all.extend_from_slice(args);
    rt.run(&all)
}

fn exec_out(rt: &Runtime, args: &[&str]) -> (Option<i32>, String) {
    let out = exec(rt, args);
    (out.status.code(), stdout_of(&out))
}

const STATUS_FIELDS: &str =
    "grep -E '^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status";

#[test]
fn output_and_exit_codes_match_runc() {
    let b = sleeper();
    let results = with_running("exec", &b, |rt, id| {
        (
            exec_out(rt, &[id, "echo", "hello"]),
            exec_out(rt, &[id, "sh", "-c", "exit 5"]),
            exec_out(rt, &[id, "sh", "-c", "kill -TERM $$; sleep 1"]),
        )
    });
    assert_same(&results);
    let (hello, five, term) = &results[0].1;
    assert_eq!(hello, &(Some(0), "hello\n".to_string()));
    assert_eq!(five.0, Some(5));
    assert_eq!(term.0, Some(143));
}

#[test]
fn process_settings_come_from_the_config_and_flags_like_runc() {
    let b = sleeper();
    let results = with_running("execflags", &b, |rt, id| {
        (
            exec_out(
                rt,
                &[id, "sh", "-c", &format!("{STATUS_FIELDS}; pwd; env | sort")],
            ),
            exec_out(
                rt,
                &[
                    "-u",
                    "1000:1000",
                    "-g",
                    "7",
                    "-g",
                    "8",
                    "--cwd",
                    "/tmp",
                    id,
                    "sh",
                    "-c",
                    &format!("{STATUS_FIELDS}; id; pwd"),
                ],
            ),
            exec_out(
                rt,
                &[
                    "-e",
                    "FOO=1",
                    "-e",
                    "FOO=2",
                    "-e",
                    "PATH=/bin",
                    id,
                    "sh",
                    "-c",
                    "env | sort",
                ],
            ),
            exec_out(
                rt,
                &[
                    "--cap",
                    "CAP_SYS_ADMIN",
                    "--cap",
                    "CAP_NET_ADMIN",
                    id,
                    "sh",
                    "-c",
                    STATUS_FIELDS,
                ],
            ),
        )
    });
    assert_same(&results);
    assert!(
        results[0]
            .1
            .1
            .1
            .contains("uid=1000(user) gid=1000(user) groups=7,8"),
        "{:?}",
        results[0].1.1
    );
}

#[test]
fn no_new_privs_flag_matches_runc() {
    let mut b = sleeper();
    b.config["process"]["noNewPrivileges"] = json!(false);
    let results = with_running("execnnp", &b, |rt, id| {
        (
            exec_out(rt, &[id, "grep", "NoNewPrivs", "/proc/self/status"]),
            exec_out(
                rt,
                &[
                    "--no-new-privs",
                    id,
                    "grep",
                    "NoNewPrivs",
                    "/proc/self/status",
                ],
            ),
        )
    });
    assert_same(&results);
    assert!(results[0].1.1.1.contains('1'));
}

#[test]
fn namespaces_and_cgroup_are_the_inits() {
    let b = sleeper();
    let results = with_running("execns", &b, |rt, id| {
        let pid = rt.state(id)["pid"].as_i64().unwrap();
        let mine: Vec<String> = ["mnt", "pid", "net", "ipc", "uts", "user", "cgroup"]
            .iter()
            .map(|n| {
                std::fs::read_link(format!("/proc/{pid}/ns/{n}"))
                    .unwrap()
                    .to_string_lossy()
                    .to_string()
            })
            .collect();
        let (code, out) = exec_out(
            rt,
            &[
                id,
                "sh",
                "-c",
                "for n in mnt pid net ipc uts user cgroup; do readlink /proc/self/ns/$n; done",
            ],
        );
        assert_eq!(code, Some(0));
        assert_eq!(out.lines().collect::<Vec<_>>(), mine, "{}", rt.name);
        let (_, cg) = exec_out(rt, &[id, "cat", "/proc/self/cgroup"]);
        let init_cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert_eq!(cg, init_cg, "{}", rt.name);
        exec_out(rt, &[id, "sh", "-c", "echo $$"])
            .1
            .trim()
            .parse::<i64>()
            .unwrap()
            > 1
    });
    assert_same(&results);
}

#[test]
fn only_stdio_reaches_the_process() {
    let b = sleeper();
    let results = with_running("execfds", &b, |rt, id| {
        exec_out(
            rt,
            &[id, "sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '"],
        )
    });
    assert_same(&results);
    // 0 1 2 and the fd ls itself opens for the directory.
    assert_eq!(results[0].1.1, "0 1 2 3 ");
}

#[test]
fn process_json_is_used_as_given() {
    let b = sleeper();
    let results = with_running("execjson", &b, |rt, id| {
        let p = b.path().join(format!("{}-process.json", rt.name));
        std::fs::write(
            &p,
            serde_json::to_vec(&json!({
                "terminal": false, "user": {"uid": 1000, "gid": 1000}, "args": ["sh", "-c", "id; pwd; echo $X"],
                "env": ["PATH=/bin", "X=from-json"], "cwd": "/tmp", "noNewPrivileges": true
            }))
            .unwrap(),
        )
        .unwrap();
        exec_out(rt, &["--process", p.to_str().unwrap(), id])
    });
    assert_same(&results);
    assert_eq!(
        results[0].1.1,
        "uid=1000(user) gid=1000(user)\n/tmp\nfrom-json\n"
    );
}

#[test]
fn detach_writes_the_pid_file() {
    let b = sleeper();
    let results = with_running("execdetach", &b, |rt, id| {
        let pid_file = b.path().join(format!("{}-exec.pid", rt.name));
        let out = exec(
            rt,
            &[
                "--detach",
                "--pid-file",
                pid_file.to_str().unwrap(),
                id,
                "sleep",
                "1000",
            ],
        );
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // runc writes the pid file before its init execs the process; wait for the exec.
        let start = std::time::Instant::now();
        let mut comm = String::new();
        while start.elapsed() < std::time::Duration::from_secs(5) {
            comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm == "sleep\n" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        (out.status.code(), comm)
    });
    assert_same(&results);
    assert_eq!(results[0].1, (Some(0), "sleep\n".to_string()));
}

#[test]
fn tty_goes_over_the_console_socket() {
    let b = sleeper();
    let results = with_running("exectty", &b, |rt, id| {
        let sock = b.path().join(format!("{}-exec.sock", rt.name));
        let receiver = console_receiver(&sock);
        let out = exec(
            rt,
            &[
                "--tty",
                "--detach",
                "--console-socket",
                sock.to_str().unwrap(),
                id,
                "sh",
                "-c",
                "tty; echo done",
            ],
        );
        assert!(out.status.success(), "{}: {}", rt.name, stderr_of(&out));
        let master = receiver.join().unwrap();
        let mut f = std::fs::File::from(master);
        let mut text = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match std::io::Read::read(&mut f, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => text.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&text).replace('\r', "")
    });
    assert_same(&results);
    assert!(
        results[0].1.starts_with("/dev/pts/") && results[0].1.ends_with("done\n"),
        "{}",
        results[0].1
    );
}

#[test]
fn twenty_parallel_execs_each_get_their_own_output() {
    let b = sleeper();
    let results = with_running("execpar", &b, |rt, id| {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..20)
                .map(|i| s.spawn(move || exec_out(rt, &[id, "sh", "-c", &format!("echo {i}")])))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        })
    });
    assert_same(&results);
    for (i, r) in results[0].1.iter().enumerate() {
        assert_eq!(r, &(Some(0), format!("{i}\n")));
    }
}

#[test]
fn a_cwd_symlink_cannot_escape_the_rootfs() {
    let b = sleeper();
    std::os::unix::fs::symlink("../../../../../../../..", b.rootfs().join("escape")).unwrap();
    std::fs::write(b.rootfs().join("inside-marker"), "").unwrap();
    let results = with_running("execcwd", &b, |rt, id| {
        exec_out(
            rt,
            &[
                "--cwd",
                "/escape",
                id,
                "sh",
                "-c",
                "ls inside-marker && pwd -P",
            ],
        )
    });
    assert_same(&results);
    assert_eq!(results[0].1, (Some(0), "inside-marker\n/\n".to_string()));
}

#[test]
fn a_cwd_through_a_proc_fd_is_refused() {
    // CVE-2024-21626: /proc/self/fd/N of a host directory must not become the cwd.
    let b = sleeper();
    for rt in Runtime::both() {
        let id = unique_id("execfdcwd");
        let _guard = rt.guard(&id);
        rt.start_detached(&b, &id);
        for n in 3..8 {
            let cwd = format!("/proc/self/fd/{n}");
            let out = exec(&rt, &["--cwd", &cwd, &id, "sh", "-c", "pwd -P; ls"]);
            if out.status.success() {
                let text = stdout_of(&out);
                assert!(
                    !text.contains("exec.fifo") && !text.contains("state.json"),
                    "{}: escaped via {cwd}: {text}",
                    rt.name
                );
            }
        }
        rt.cleanup(&id);
    }
}

#[test]
fn exec_into_a_created_container_works_like_runc() {
    let b = sleeper();
    let results = differential("execcreated", |rt, id| {
        b.write_for(rt, id);
        rt.ok(&["create", "--bundle", b.path_str(), id]);
        let r = exec_out(
            rt,
            &[
                id,
                "sh",
                "-c",
                "echo $$; cat /proc/1/cmdline | tr '\\0' ' '",
            ],
        );
        (r.0, rt.status(id))
    });
    assert_same(&results);
    assert_eq!(results[0].1, (Some(0), "created".to_string()));
}

#[test]
fn exec_into_a_stopped_container_fails_like_runc() {
    let b = Bundle::with_args(&["true"]);
    let results = differential("execstopped", |rt, id| {
        b.write_for(rt, id);
        rt.ok(&["run", "--keep", "--bundle", b.path_str(), id]);
        let out = exec(rt, &[id, "true"]);
        (out.status.code(), stderr_of(&out).contains("stopped"))
    });
    assert_same(&results);
    assert_eq!(results[0].1, (Some(255), true));
}

#[test]
fn bad_exec_input_fails_with_255_and_leaves_no_process() {
    let b = sleeper();
    for rt in Runtime::both() {
        let id = unique_id("execbad");
        let _guard = rt.guard(&id);
        rt.start_detached(&b, &id);
        let bad_json = b.path().join("bad-process.json");
        std::fs::write(
            &bad_json,
            br#"{"args": ["sh"], "cwd": "/", "user": {"uid": "root"}}"#,
        )
        .unwrap();
        let cases: Vec<(Vec<&str>, &str)> = vec![
            (
                vec!["--process", bad_json.to_str().unwrap(), &id],
                "user.uid",
            ),
            (
                vec!["--process", "/nonexistent/process.json", &id],
                "process.json",
            ),
            (vec!["-u", "nobody", &id, "true"], "nobody"),
            (vec!["--cwd", "relative", &id, "true"], "cwd"),
            (vec![&id, "no-such-binary"], "executable file not found"),
            (vec!["missing-container", "true"], "does not exist"),
        ];
        let before = processes_in_cgroup(&cgroup_path(&rt, &id)).len();
        for (args, words) in cases {
            let out = exec(&rt, &args);
            assert_eq!(
                out.status.code(),
                Some(255),
                "{} {args:?}: {}",
                rt.name,
                stderr_of(&out)
            );
            if rt.name == "corral" {
                assert!(
                    stderr_of(&out).contains(words),
                    "{args:?}: {}",
                    stderr_of(&out)
                );
            }
        }
        assert_eq!(
            processes_in_cgroup(&cgroup_path(&rt, &id)).len(),
            before,
            "{}",
            rt.name
        );
        rt.cleanup(&id);
    }
    // corral also refuses what runc 1.1 silently ignores.
    let rt = Runtime::corral();
    let id = unique_id("execbad2");
    let _guard = rt.guard(&id);
    rt.start_detached(&b, &id);
    let out = exec(&rt, &["--process", "/dev/null", id.as_str(), "true"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        stderr_of(&out).contains("cannot be used together"),
        "{}",
        stderr_of(&out)
    );
    rt.cleanup(&id);
}

/// An unknown `--cap` is not an error: runc and the runtime-spec ignore capabilities that
/// cannot be mapped, with a warning; the exec runs with the rest.
#[test]
fn exec_with_an_unknown_cap_warns_and_runs() {
    let b = sleeper();
    let results = with_running("execcap", &b, |rt, id| {
        let out = exec(rt, &["--cap", "CAP_NOPE", "--cap", "CAP_KILL", id, "true"]);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(0), "{}: {err}", rt.name);
        assert!(
            err.contains("ignoring unknown or unavailable capabilities")
                && err.contains("CAP_NOPE"),
            "{}: {err}",
            rt.name
        );
    });
    assert_eq!(results.len(), 2);
}

#[test]
fn exec_into_a_sub_cgroup() {
    let b = sleeper();
    let v2 = cgroup_v2_host();
    let results = with_running("execcg", &b, |rt, id| {
        let sub = cgroup_dir(rt, id, "pids").join("sub");
        std::fs::create_dir(&sub).unwrap();
        let r = exec_out(
            rt,
            &[
                "--cgroup",
                if v2 { "sub" } else { "pids:sub" },
                id,
                "grep",
                if v2 { "^0::" } else { ":pids:" },
                "/proc/self/cgroup",
            ],
        );
        let _ = std::fs::remove_dir(&sub);
        (r.0, r.1.trim().ends_with("/sub"))
    });
    assert_same(&results);
    assert_eq!(results[0].1, (Some(0), true));
}

/// A sub-cgroup the kernel will not take a process into (a v1 cpuset with no cpus: ENOSPC)
/// fails the exec with runc's exit code, an error naming that cgroup, and no process left
/// behind. corral's exec'd process joins v1 hierarchies itself, before it execs (writing its
/// own `tasks`), so this is where that join's failure surfaces. v1 and hybrid hosts only: on
/// v2 a new cpuset cgroup inherits its parent's cpus.
#[test]
fn exec_into_a_sub_cgroup_the_kernel_refuses_fails_cleanly() {
    if cgroup_v2_host() {
        skip!("needs a v1 cpuset hierarchy");
    }
    let b = sleeper();
    let results = with_running("execcgbad", &b, |rt, id| {
        let sub = cgroup_dir(rt, id, "cpuset").join("nocpus");
        std::fs::create_dir(&sub).unwrap();
        let before = processes_in_cgroup(&cgroup_path(rt, id)).len();
        let out = exec(rt, &["--cgroup", "cpuset:nocpus", id, "true"]);
        if rt.name == "corral" {
            assert!(
                stderr_of(&out).contains(&format!("join cgroup {}", sub.display())),
                "{}",
                stderr_of(&out)
            );
        }
        let left = std::fs::read_to_string(sub.join("cgroup.procs")).unwrap();
        std::fs::remove_dir(&sub).unwrap();
        (
            out.status.code(),
            left.is_empty(),
            processes_in_cgroup(&cgroup_path(rt, id)).len() == before,
            rt.state(id)["status"].clone(),
        )
    });
    assert_same(&results);
    assert_eq!(
        results[0].1,
        (Some(255), true, true, serde_json::json!("running"))
    );
}

/// CVE-2019-5736: a process in the container cannot write the runtime's binary through
/// /proc/PID/exe of the runtime's init (pid 1 of a created container is that init).
#[test]
fn cve_2019_5736_init_binary_cannot_be_overwritten() {
    let caps = json!([
        "CAP_SYS_PTRACE",
        "CAP_DAC_OVERRIDE",
        "CAP_SYS_ADMIN",
        "CAP_FOWNER",
        "CAP_KILL"
    ]);
    let mut b = sleeper();
    b.config["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps});
    let digest = |p: &std::path::Path| std::fs::read(p).unwrap();
    for mode in ["overlay", "memfd", ""] {
        for rt in Runtime::both() {
            if rt.name == "runc" && !mode.is_empty() {
                continue;
            }
            let before = digest(&rt.bin);
            let id = unique_id("cve5736");
            let _guard = rt.guard(&id);
            b.write_for(&rt, &id);
            let mut c = rt.cmd();
            c.env("CORRAL_EXE_SEAL", mode)
                .args(["create", "--bundle", b.path_str(), &id]);
            assert!(capture(&mut c).status.success(), "{} {mode}", rt.name);
            let mut c = rt.cmd();
            c.env("CORRAL_EXE_SEAL", mode).args([
                "exec",
                &id,
                "sh",
                "-c",
                "(echo pwned >> /proc/1/exe) && echo WROTE; (exec 3<>/proc/1/exe) && echo OPENED-RW; readlink /proc/1/exe; true",
            ]);
            let out = capture(&mut c);
            assert!(
                out.status.success(),
                "{} {mode}: {}",
                rt.name,
                stderr_of(&out)
            );
            let text = stdout_of(&out);
            assert!(
                !text.contains("WROTE") && !text.contains("OPENED-RW"),
                "{} {mode}: {text}",
                rt.name
            );
            assert!(
                digest(&rt.bin) == before,
                "{} {mode}: host binary changed",
                rt.name
            );
            rt.cleanup(&id);
        }
    }
}

#[test]
fn foreground_exec_forwards_signals() {
    let b = sleeper();
    let results = with_running("execsig", &b, |rt, id| {
        let mut child = rt
            .cmd()
            .args([
                "exec",
                id,
                "sh",
                "-c",
                "trap 'exit 42' TERM; echo ready; while true; do sleep 0.05; done",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut buf = [0u8; 6];
        std::io::Read::read_exact(&mut out, &mut buf).unwrap();
        signal(child.id(), nix::sys::signal::Signal::SIGTERM);
        child.wait().unwrap().code()
    });
    assert_same(&results);
    assert_eq!(results[0].1, Some(42));
}

/// A `--process` JSON with runc's optional fields left out: no `user` is root, and what it
/// does not say (capabilities, no_new_privileges, rlimits) comes from the container's own
/// process, as runc's newInitConfig does. Compared with runc, which needs `cwd`; corral also
/// takes a file without `cwd` (the runtime-spec's default, `/`). The rlimits are checked for
/// corral only: runc 1.1.5 leaves an exec'd process the caller's (runc ≥ 1.2 the
/// container's).
#[test]
fn process_json_leaves_optional_fields_to_the_container() {
    let mut b = sleeper();
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 777, "soft": 777}]);
    let script = format!("{STATUS_FIELDS}; id; pwd");
    let results = with_running("execjson-min", &b, |rt, id| {
        let p = b.path().join(format!("{}-min.json", rt.name));
        std::fs::write(
            &p,
            json!({"args": ["sh", "-c", script], "cwd": "/", "env": ["PATH=/bin"]}).to_string(),
        )
        .unwrap();
        exec_out(rt, &["--process", p.to_str().unwrap(), id])
    });
    assert_same(&results);
    let out = &results[0].1.1;
    assert!(out.contains("NoNewPrivs:\t0"), "{out}");
    assert!(out.contains("CapEff:\t0000000020000420"), "{out}");
    assert!(out.contains("uid=0(root)") && out.ends_with("/\n"), "{out}");
    let rt = Runtime::corral();
    let id = unique_id("execjson-nocwd");
    let _guard = rt.guard(&id);
    rt.start_detached(&b, &id);
    let p = b.path().join("nocwd.json");
    let process = json!({"args": ["sh", "-c", "pwd; ulimit -n"], "env": ["PATH=/bin"]});
    std::fs::write(&p, process.to_string()).unwrap();
    assert_eq!(
        exec_out(&rt, &["--process", p.to_str().unwrap(), &id]),
        (Some(0), "/\n777\n".into())
    );
    rt.cleanup(&id);
}

/// The CPUs a process of the container may run on, as /proc/self/status lists them.
const CPUS_ALLOWED: &str = "grep Cpus_allowed_list /proc/self/status | cut -f2";

fn host_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The host's CPUs as a list ("0-1").
fn all_cpus() -> String {
    match host_cpus() {
        1 => "0".to_string(),
        n => format!("0-{}", n - 1),
    }
}

/// `process.execCPUAffinity` (spec 1.2.1; runc 1.1.5 has none, runc ≥ 1.2.1 does): the
/// config's applies to every exec'd process (not the init: config.md), an `exec --process`
/// of its own replaces it; `final` is where the process runs once in the container's cgroup.
#[test]
fn exec_cpu_affinity_final_from_the_config_and_from_the_process() {
    if host_cpus() < 2 {
        skip!("needs two CPUs to tell an affinity from none");
    }
    let rt = Runtime::corral();
    let mut b = sleeper();
    b.config["process"]["execCPUAffinity"] = json!({"final": "1"});
    let id = unique_id("affinity");
    let _guard = rt.guard(&id);
    rt.start_detached(&b, &id);
    assert_eq!(
        exec_out(&rt, &[&id, "sh", "-c", CPUS_ALLOWED]),
        (Some(0), "1\n".to_string()),
        "the config's final CPUs"
    );
    let p = b.path().join("process.json");
    std::fs::write(
        &p,
        serde_json::to_vec(&json!({
            "args": ["sh", "-c", CPUS_ALLOWED], "cwd": "/", "user": {"uid": 0, "gid": 0},
            "env": ["PATH=/bin"], "execCPUAffinity": {"initial": "1", "final": "0"}
        }))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        exec_out(&rt, &["--process", p.to_str().unwrap(), &id]),
        (Some(0), "0\n".to_string()),
        "the process's own"
    );
    // The init is not an exec'd process: it keeps every CPU.
    assert_eq!(
        exec_out(
            &rt,
            &[
                &id,
                "sh",
                "-c",
                "grep Cpus_allowed_list /proc/1/status | cut -f2"
            ]
        ),
        (Some(0), format!("{}\n", all_cpus()))
    );
    rt.cleanup(&id);
}

/// Neither the init nor an exec'd process without an affinity inherits corral's own mask (a
/// shim pinned to one CPU), as runc ≥ 1.2 resets it.
#[test]
fn processes_do_not_inherit_the_callers_cpu_affinity() {
    if host_cpus() < 2 {
        skip!("needs two CPUs to tell an affinity from none");
    }
    let rt = Runtime::corral();
    let b = sleeper();
    let id = unique_id("affinity-reset");
    let _guard = rt.guard(&id);
    b.write_for(&rt, &id);
    let pinned = |args: &[&str]| {
        let mut c = std::process::Command::new("taskset");
        c.args(["-c", "0"])
            .arg(&rt.bin)
            .arg("--root")
            .arg(rt.root.path());
        c.args(args);
        capture(&mut c)
    };
    let out = pinned(&["run", "-d", "--bundle", b.path_str(), &id]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = pinned(&[
        "exec",
        &id,
        "sh",
        "-c",
        &format!("{CPUS_ALLOWED}; grep Cpus_allowed_list /proc/1/status | cut -f2"),
    ]);
    let want = format!("{0}\n{0}\n", all_cpus());
    assert_eq!(
        (out.status.code(), stdout_of(&out)),
        (Some(0), want),
        "{}",
        stderr_of(&out)
    );
    rt.cleanup(&id);
}

/// A CPU list that does not parse is refused at create and at exec, naming the field; a
/// CPU the host lacks fails the exec when corral moves onto it; the container runs on.
#[test]
fn bad_exec_cpu_affinity_is_refused_naming_the_field() {
    let rt = Runtime::corral();
    let mut b = sleeper();
    b.config["process"]["execCPUAffinity"] = json!({"final": "3-1"});
    let id = unique_id("affinity-bad");
    let _guard = rt.guard(&id);
    b.write_for(&rt, &id);
    let out = rt.run(&["create", "--bundle", b.path_str(), &id]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("process.execCPUAffinity.final") && err.contains("3-1"),
        "{err}"
    );
    assert_clean(&rt, &id);

    b.config["process"]["execCPUAffinity"] = json!({"initial": host_cpus().to_string()});
    rt.start_detached(&b, &id);
    let out = exec(&rt, &[&id, "true"]);
    let err = stderr_of(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("process.execCPUAffinity.initial"), "{err}");
    assert_eq!(rt.status(&id), "running");
    rt.cleanup(&id);
    assert_clean(&rt, &id);
}
