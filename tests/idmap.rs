//! Idmapped bind mounts (runtime-spec 1.2: `idmap`, `ridmap`, `mounts[].uidMappings` and
//! `gidMappings`). runc 1.1.5 has none (runc 1.2 added them): corral is checked against the
//! spec's text and runc ≥ 1.2's integration tests' expectations, on filesystems each test
//! makes in a private mount namespace (tmpfs, and ext4 on a loop image).

mod common;
use common::*;
use serde_json::{Value, json};
use std::path::Path;

/// Host id of the container's root in [`in_user_namespace`].
const MAPPED: u32 = 100000;

/// A user namespace mapping 0..65536 to 100000..; the bundle and rootfs go to the mapped
/// root, which must reach them.
fn in_user_namespace(b: &mut Bundle) {
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    let map = json!([{"containerID": 0, "hostID": MAPPED, "size": 65536}]);
    b.config["linux"]["uidMappings"] = map.clone();
    b.config["linux"]["gidMappings"] = map;
    chown_tree(b.path(), MAPPED);
}

fn chown_tree(p: &Path, id: u32) {
    std::os::unix::fs::lchown(p, Some(id), Some(id)).unwrap();
    if p.is_dir() && !p.is_symlink() {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            chown_tree(&e.path(), id);
        }
    }
}

fn mapping(container: u32, host: u32, size: u32) -> Value {
    json!([{"containerID": container, "hostID": host, "size": size}])
}

/// The filesystem a test's volume lives on.
#[derive(Clone, Copy, Debug)]
enum Fs {
    Tmpfs,
    /// ext4 on a loop image in the bundle.
    Ext4,
}

/// Shell that mounts `fs` at `$1` (run inside the private mount namespace).
fn mount_script(fs: Fs, img: &str) -> String {
    match fs {
        Fs::Tmpfs => "mount -t tmpfs -o mode=755 tmpfs \"$1\"".to_string(),
        Fs::Ext4 => {
            format!("truncate -s 16M {img} && mkfs.ext4 -q -F {img} && mount -o loop {img} \"$1\"")
        }
    }
}

/// Runs `corral run` in a private mount namespace where `fs` is mounted at `<bundle>/vol`,
/// laid out as `root/f` (0:0) and `user/f` (1000:1000) before the container starts; `after`
/// runs there once the container is gone. Returns (exit, container stdout+stderr, after's
/// output).
fn run_with_volume(
    rt: &Runtime,
    b: &Bundle,
    id: &str,
    fs: Fs,
    after: &str,
) -> (Option<i32>, String, String) {
    let vol = b.path().join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    let img = b.path().join("vol.img");
    b.write_for(rt, id);
    let script = format!(
        "set -e; {mount}; cd \"$1\"; mkdir root user; touch root/f user/f; \
         chown 1000:1000 user user/f; \
         set +e; \"$2\" --root \"$3\" run --bundle \"$4\" \"$5\" >\"$6\" 2>&1; echo $? >\"$6.rc\"; \
         {after}",
        mount = mount_script(fs, &img.display().to_string()),
    );
    let log = b.path().join("run.log");
    let out = capture(
        std::process::Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
            .arg(&vol)
            .arg(&rt.bin)
            .arg(rt.root.path())
            .arg(b.path())
            .arg(id)
            .arg(&log),
    );
    let rc = std::fs::read_to_string(log.with_extension("log.rc"))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(out.status.success(), "{}{logged}", stderr_of(&out));
    (rc, logged, stdout_of(&out))
}

fn with_volume_mount(b: &mut Bundle, mount: Value) {
    b.config["mounts"].as_array_mut().unwrap().push(mount);
}

/// The container's root sees the volume's 0- and 1000-owned files as 0 and 1000 through an
/// idmap of its own mapping (Kubernetes' `hostUsers: false` volumes), and what it writes lands
/// on the host as 0 and 1000, not as 100000 and 101000. Without the idmap it would see the
/// overflow id (65534) and could not write.
fn idmapped_volume_in_a_user_namespace(fs: Fs) {
    let rt = Runtime::corral();
    let mut b = Bundle::new();
    b.sh(
        "stat -c %u:%g /v/root/f /v/user/f && touch /v/root/new && touch /v/user/new \
         && chown 1000:1000 /v/user/new",
    );
    in_user_namespace(&mut b);
    // Root writes into 1000's directory and gives the file to 1000.
    for set in ["bounding", "effective", "permitted"] {
        let caps = b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap();
        caps.extend([json!("CAP_CHOWN"), json!("CAP_DAC_OVERRIDE")]);
    }
    let vol = b.path().join("vol");
    // No mappings of its own: `idmap` borrows the container's (the spec's MAY, runc's rule).
    with_volume_mount(
        &mut b,
        json!({"destination": "/v", "type": "bind", "source": vol, "options": ["rbind", "idmap"]}),
    );
    let id = unique_id("idmap-userns");
    let _guard = rt.guard(&id);
    let (rc, out, host) = run_with_volume(&rt, &b, &id, fs, "stat -c %u:%g root/new user/new");
    assert_eq!(rc, Some(0), "{fs:?}: {out}");
    assert_eq!(out, "0:0\n1000:1000\n", "{fs:?}");
    assert_eq!(
        host, "0:0\n1000:1000\n",
        "{fs:?}: the host ids of the writes"
    );
    rt.cleanup(&id);
    assert_clean(&rt, &id);
}

/// tmpfs takes idmappings from Linux 6.3; before, the same volume is refused with the
/// mount named (the VM lane's 6.1 kernel).
#[test]
fn idmapped_volume_in_a_user_namespace_on_tmpfs() {
    if tmpfs_idmaps() {
        idmapped_volume_in_a_user_namespace(Fs::Tmpfs);
        return;
    }
    let rt = Runtime::corral();
    let mut b = Bundle::new();
    in_user_namespace(&mut b);
    let vol = b.path().join("vol");
    with_volume_mount(
        &mut b,
        json!({"destination": "/v", "type": "bind", "source": vol, "options": ["rbind", "idmap"]}),
    );
    let id = unique_id("idmap-tmpfs");
    let _guard = rt.guard(&id);
    let (rc, out, _) = run_with_volume(&rt, &b, &id, Fs::Tmpfs, "true");
    assert_eq!(rc, Some(1), "{out}");
    assert!(
        out.contains("(/v)") && out.contains("cannot be idmapped"),
        "{out}"
    );
    assert_clean(&rt, &id);
}

#[test]
fn idmapped_volume_in_a_user_namespace_on_ext4() {
    idmapped_volume_in_a_user_namespace(Fs::Ext4);
}

/// Whether this kernel idmaps tmpfs (6.3 and later).
fn tmpfs_idmaps() -> bool {
    let release = nix::sys::utsname::uname().unwrap();
    let r = release.release().to_string_lossy().to_string();
    let mut parts = r.split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (6, 3)
}

/// A source on a filesystem that cannot be idmapped (sysfs; tmpfs before Linux 6.3): the
/// error names the mount and says why, in one line, and nothing is left.
#[test]
fn a_filesystem_that_cannot_be_idmapped_is_a_clear_error() {
    let rt = Runtime::corral();
    let mut b = Bundle::new();
    in_user_namespace(&mut b);
    with_volume_mount(
        &mut b,
        json!({"destination": "/v", "type": "bind", "source": "/sys/kernel/mm", "options": ["rbind", "idmap"]}),
    );
    let n = b.config["mounts"].as_array().unwrap().len() - 1;
    let id = unique_id("idmap-sysfs");
    let _guard = rt.guard(&id);
    b.write_for(&rt, &id);
    let out = rt.run(&["run", "--bundle", b.path_str(), &id]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("mounts[{n}] (/v)")) && err.contains("cannot be idmapped"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_clean(&rt, &id);
}

/// runc's "simple idmap mount [no userns]": mappings of the mount's own (no option, which
/// runc takes as `idmap`) in a container without a user namespace show the on-disk 0 as the
/// mapping's 100000; the write fails, as the writer (host root) is not in the mapping.
#[test]
fn idmapped_bind_without_a_user_namespace() {
    let rt = Runtime::corral();
    let mut b = Bundle::new();
    b.sh("stat -c %u:%g /v/root/f /v/user/f; touch /v/root/new || echo refused");
    let vol = b.path().join("vol");
    with_volume_mount(
        &mut b,
        json!({"destination": "/v", "type": "bind", "source": vol, "options": ["bind"],
               "uidMappings": mapping(0, MAPPED, 65536), "gidMappings": mapping(0, MAPPED, 65536)}),
    );
    let id = unique_id("idmap-nouserns");
    let _guard = rt.guard(&id);
    let (rc, out, host) = run_with_volume(&rt, &b, &id, Fs::Ext4, "ls root");
    assert_eq!(rc, Some(0), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["100000:100000", "101000:101000"], "{out}");
    assert!(
        out.contains("Value too large") && out.ends_with("refused\n"),
        "{out}"
    );
    assert_eq!(host, "f\n");
    assert_clean(&rt, &id);
}

/// `idmap` on an rbind maps the bind's own mount only; `ridmap` maps the mounts below it too
/// (spec: "applied recursively"). A submount's 0-owned file is the overflow id in the
/// container's user namespace with `idmap`, and 0 with `ridmap`.
#[test]
fn ridmap_reaches_submounts_and_idmap_does_not() {
    let rt = Runtime::corral();
    let mut got = Vec::new();
    for option in ["idmap", "ridmap"] {
        let mut b = Bundle::new();
        b.sh("stat -c %u /v/root/f /v/sub/g");
        in_user_namespace(&mut b);
        let vol = b.path().join("vol");
        with_volume_mount(
            &mut b,
            json!({"destination": "/v", "type": "bind", "source": vol, "options": ["rbind", option]}),
        );
        let id = unique_id("ridmap");
        let _guard = rt.guard(&id);
        // The submount: a second ext4 image at vol/sub, made before the container starts.
        let sub_img = b.path().join("sub.img");
        let vol_img = b.path().join("vol.img");
        let vol_q = vol.display().to_string();
        let script = format!(
            "set -e; {mount}; mkdir -p {vol_q}/root {vol_q}/sub; touch {vol_q}/root/f; \
             truncate -s 16M {sub} && mkfs.ext4 -q -F {sub} && mount -o loop {sub} {vol_q}/sub; \
             touch {vol_q}/sub/g; \
             \"$1\" --root \"$2\" run --bundle \"$3\" \"$4\" 2>&1",
            mount =
                mount_script(Fs::Ext4, &vol_img.display().to_string()).replace("\"$1\"", &vol_q),
            sub = sub_img.display(),
        );
        std::fs::create_dir_all(&vol).unwrap();
        b.write_for(&rt, &id);
        let out = capture(
            std::process::Command::new("unshare")
                .args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
                .arg(&rt.bin)
                .arg(rt.root.path())
                .arg(b.path())
                .arg(&id),
        );
        assert!(out.status.success(), "{option}: {}", stdout_of(&out));
        got.push(stdout_of(&out));
        rt.cleanup(&id);
        assert_clean(&rt, &id);
    }
    assert_eq!(got, ["0\n65534\n", "0\n0\n"]);
}

/// The spec's refusals, each before anything exists: an idmap with no mappings and no user
/// namespace to take them from, one map without the other, and an idmapped non-bind.
#[test]
fn invalid_idmapped_mounts_are_refused_naming_the_mount() {
    let cases = [
        (
            json!({"destination": "/v", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"]}),
            "idmap needs uidMappings and gidMappings",
        ),
        (
            json!({"destination": "/v", "type": "bind", "source": "/tmp", "options": ["rbind", "ridmap"],
                   "uidMappings": mapping(0, MAPPED, 10)}),
            "uidMappings and gidMappings must both be given",
        ),
        (
            json!({"destination": "/v", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"],
                   "uidMappings": mapping(0, MAPPED, 10), "gidMappings": mapping(0, MAPPED, 10)}),
            "only supported for bind mounts",
        ),
    ];
    let rt = Runtime::corral();
    for (mount, says) in cases {
        let mut b = Bundle::new();
        with_volume_mount(&mut b, mount);
        let n = b.config["mounts"].as_array().unwrap().len() - 1;
        let id = unique_id("idmap-bad");
        let _guard = rt.guard(&id);
        b.write_for(&rt, &id);
        let out = rt.run(&["create", "--bundle", b.path_str(), &id]);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("mounts[{n}] (/v)")) && err.contains(says),
            "{says}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_clean(&rt, &id);
    }
}

/// `features` says idmapped mounts are there, as runc ≥ 1.2 does on a kernel with
/// mount_setattr; `idmap` and `ridmap` are listed mount options.
#[test]
fn features_report_idmapped_mounts() {
    let f: Value = serde_json::from_str(&Runtime::corral().ok(&["features"])).unwrap();
    assert_eq!(
        f["linux"]["mountExtensions"]["idmap"]["enabled"],
        json!(true)
    );
    let opts = f["mountOptions"].as_array().unwrap();
    assert!(opts.contains(&json!("idmap")) && opts.contains(&json!("ridmap")));
}
