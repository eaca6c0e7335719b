//! Namespaces: which ones the container gets, joining by path, user namespaces with id maps,
//! time namespace offsets, cgroup namespaces. corral next to runc where runc has them.

mod common;

use common::*;
use serde_json::json;

fn ns_inode(path: &str) -> String {
    std::fs::read_link(path)
        .unwrap()
        .to_string_lossy()
        .to_string()
}

/// Which of the container's namespaces differ from ours.
fn namespace_diff_script() -> String {
    let host: Vec<String> = ["mnt", "pid", "net", "ipc", "uts", "user", "cgroup"]
        .iter()
        .map(|n| {
            format!(
                "[ \"$(readlink /proc/self/ns/{n})\" = '{}' ] && echo {n}=host || echo {n}=own",
                ns_inode(&format!("/proc/self/ns/{n}"))
            )
        })
        .collect();
    host.join("; ")
}

#[test]
fn default_namespaces_match_runc() {
    let mut b = Bundle::new();
    b.sh(&namespace_diff_script());
    let results = differential("ns", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert_eq!(
        results[0].1,
        "mnt=own\npid=own\nnet=own\nipc=own\nuts=own\nuser=host\ncgroup=host\n"
    );
}

#[test]
fn joining_namespaces_by_path_matches_runc() {
    let sleeper = Bundle::with_args(&["sleep", "1000"]);
    let mut joiner = Bundle::new();
    joiner.sh("for n in net ipc uts; do readlink /proc/self/ns/$n; done; hostname");
    let results = differential("join", |rt, id| {
        let s = rt.start_detached(&sleeper, id);
        let pid = s["pid"].as_i64().unwrap();
        joiner.config["linux"]["namespaces"] = json!([
            {"type": "pid"}, {"type": "mount"},
            {"type": "network", "path": format!("/proc/{pid}/ns/net")},
            {"type": "ipc", "path": format!("/proc/{pid}/ns/ipc")},
            {"type": "uts", "path": format!("/proc/{pid}/ns/uts")}
        ]);
        joiner.config.as_object_mut().unwrap().remove("hostname");
        let jid = format!("{id}-j");
        let out = rt.output_of(&joiner, &jid);
        rt.cleanup(&jid);
        let want = [
            ns_inode(&format!("/proc/{pid}/ns/net")),
            ns_inode(&format!("/proc/{pid}/ns/ipc")),
            ns_inode(&format!("/proc/{pid}/ns/uts")),
        ];
        assert_eq!(out.lines().take(3).collect::<Vec<_>>(), want, "{}", rt.name);
        out.lines().nth(3).unwrap().to_string()
    });
    assert_same(&results);
    assert_eq!(results[0].1, "testhost");
}

#[test]
fn user_namespace_with_id_maps_matches_runc() {
    let mut b = Bundle::new();
    b.sh("cat /proc/self/uid_map /proc/self/gid_map | tr -s ' '; id -u; grep CapEff /proc/self/status");
    in_user_namespace(&mut b);
    let results = differential("userns", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert!(
        results[0]
            .1
            .starts_with(" 0 100000 65536\n 0 100000 65536\n0\n"),
        "{}",
        results[0].1
    );
}

/// Host id of the container's root in [`in_user_namespace`].
const MAPPED_ROOT: u32 = 100000;

/// Gives the bundle a user namespace mapping 0..65536 to 100000.., and hands the bundle and
/// its rootfs to the mapped root, which must reach them.
fn in_user_namespace(b: &mut Bundle) {
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.push(json!({"type": "user"}));
    let map = json!([{"containerID": 0, "hostID": MAPPED_ROOT, "size": 65536}]);
    b.config["linux"]["uidMappings"] = map.clone();
    b.config["linux"]["gidMappings"] = map;
    let chown = |p: &std::path::Path| {
        std::os::unix::fs::lchown(p, Some(MAPPED_ROOT), Some(MAPPED_ROOT)).unwrap()
    };
    chown(b.path());
    for e in walk(&b.rootfs()) {
        chown(&e);
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn time_namespace_offsets_are_applied() {
    // runc 1.1 has no time namespace support (runc 1.2 added it): corral against the spec.
    let mut b = Bundle::with_args(&["cat", "/proc/self/timens_offsets"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 86400, "nanosecs": 0}, "boottime": {"secs": 3600, "nanosecs": 5}});
    let rt = Runtime::corral();
    let id = unique_id("timens");
    let _guard_id = rt.guard(&id);
    let out = rt.output_of(&b, &id);
    rt.cleanup(&id);
    let normalized: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        normalized.contains(&vec!["monotonic", "86400", "0"]),
        "{out}"
    );
    assert!(normalized.contains(&vec!["boottime", "3600", "5"]), "{out}");
}

#[test]
fn cgroup_namespace_hides_the_host_path() {
    let mut b = Bundle::with_args(&["sh", "-c", "grep -E '^[0-9]+:(pids|):' /proc/self/cgroup"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "cgroup"}));
    let results = differential("cgns", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    let want = if cgroup_v2_host() {
        "0::/\n"
    } else {
        "pids:/\n"
    };
    assert!(results[0].1.contains(want), "{}", results[0].1);
}

#[test]
fn container_is_pid_1_and_sees_only_its_processes() {
    let b = Bundle::with_args(&[
        "sh",
        "-c",
        "echo $$; n=$(ls /proc | grep -c '^[0-9]'); [ $n -le 5 ] && echo only-its-own",
    ]);
    let results = differential("pid1", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    // sh, a subshell, ls and grep at most: nothing of the host's.
    assert_eq!(results[0].1, "1\nonly-its-own\n");
}

#[test]
fn without_a_pid_namespace_the_container_shares_the_hosts() {
    let mut b = Bundle::with_args(&["sh", "-c", "[ $$ -ne 1 ] && echo host-pids"]);
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "pid");
    let results = differential("nopidns", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert_eq!(results[0].1, "host-pids\n");
}

/// In a user namespace, a bind source under a directory only the host's root may enter (as
/// the kubelet's pod directories are) still mounts: the source is opened and cloned on the
/// host side before the init enters the user namespace, as runc ≥ 1.2 does. corral only:
/// runc 1.1.5 opens it from inside and fails with "permission denied".
#[test]
fn user_namespace_bind_source_behind_a_root_only_directory() {
    use std::os::unix::fs::PermissionsExt;
    let mut b = Bundle::new();
    b.sh("cat /vol/file; touch /vol/new && echo written");
    in_user_namespace(&mut b);
    let chown = |p: &std::path::Path| {
        std::os::unix::fs::lchown(p, Some(MAPPED_ROOT), Some(MAPPED_ROOT)).unwrap()
    };
    let private = tempfile::tempdir().unwrap();
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let vol = private.path().join("vol");
    std::fs::create_dir(&vol).unwrap();
    std::fs::write(vol.join("file"), "from the host\n").unwrap();
    chown(&vol);
    chown(&vol.join("file"));
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/vol", "type": "bind", "source": vol, "options": ["rbind", "rw"]}),
    );
    let rt = Runtime::corral();
    let id = unique_id("userns-bind");
    let _guard = rt.guard(&id);
    assert_eq!(rt.output_of(&b, &id), "from the host\nwritten\n");
    rt.cleanup(&id);
    assert!(vol.join("new").exists());
}

/// runc brings up `lo` in a new network namespace (its specconv adds a loopback network):
/// a server and a client on 127.0.0.1 in one container work. corral left it down until the
/// checkpoint tests' TCP pair found it.
#[test]
fn a_new_network_namespace_has_loopback_up_as_runc() {
    let b = Bundle::with_args(&[
        "sh",
        "-c",
        "ip -o -4 addr show lo | awk '{print $4}'; cat /sys/class/net/lo/flags; \
         (nc -l -p 4000 | head -1) & sleep 0.3; echo over-lo | nc 127.0.0.1 4000; wait",
    ]);
    let results = differential("lo-up", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert_eq!(results[0].1, "127.0.0.1/8\n0x9\nover-lo\n");
}
