//! Linux security modules. AppArmor: `process.apparmorProfile` and `exec --apparmor` are
//! applied where the host has AppArmor (the v2 VM: the Debian kernel enables it; the profile is
//! loaded by the test with apparmor_parser), and refused with runc's error where it does not
//! (this development host). Either way corral and runc are compared.

mod common;

use common::*;
use serde_json::json;
use std::process::Command;

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
        && std::path::Path::new("/sys/kernel/security/apparmor").exists()
}

/// A profile that allows everything but reading /secret, loaded for the test's lifetime.
struct Profile {
    name: String,
    file: tempfile::NamedTempFile,
}

impl Profile {
    fn load() -> Profile {
        let name = unique_id("corral-test-profile");
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            file.path(),
            format!(
                "profile {name} flags=(attach_disconnected,mediate_deleted) {{\n  file,\n  \
                 capability,\n  network,\n  signal,\n  mount,\n  umount,\n  pivot_root,\n  \
                 ptrace,\n  unix,\n  deny /secret r,\n}}\n"
            ),
        )
        .unwrap();
        let out = Command::new("apparmor_parser")
            .args(["-r", "-K"])
            .arg(file.path())
            .output()
            .expect("apparmor_parser (hack/test.sh installs apparmor)");
        assert!(out.status.success(), "{}", stderr_of(&out));
        Profile { name, file }
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = Command::new("apparmor_parser")
            .args(["-R", "-K"])
            .arg(self.file.path())
            .output();
    }
}

#[test]
fn apparmor_profile_is_applied_where_apparmor_is_on_like_runc() {
    if !apparmor_enabled() {
        let mut b = Bundle::with_args(&["true"]);
        b.config["process"]["apparmorProfile"] = json!("corral-test-profile");
        let results = differential("aa-off", |rt, id| {
            let (code, _, err) = rt.run_bundle(&b, id);
            (code, err.to_lowercase().contains("apparmor"))
        });
        assert_same(&results);
        assert_eq!(results[0].1, (1, true), "{results:?}");
        return;
    }
    let profile = Profile::load();
    let mut b = Bundle::new();
    b.sh("cat /proc/self/attr/current; cat /secret 2>/dev/null && echo read || echo denied");
    std::fs::write(b.rootfs().join("secret"), "s\n").unwrap();
    b.config["process"]["apparmorProfile"] = json!(profile.name);
    let results = differential("aa-on", |rt, id| rt.output_of(&b, id));
    assert_same(&results);
    assert_eq!(
        results[0].1,
        format!("{} (enforce)\ndenied\n", profile.name),
        "{results:?}"
    );
}

#[test]
fn exec_apparmor_flag_confines_the_exec_like_runc() {
    if !apparmor_enabled() {
        let b = Bundle::with_args(&["sleep", "600"]);
        let results = differential("aa-exec-off", |rt, id| {
            rt.start_detached(&b, id);
            let out = rt.run(&["exec", "--apparmor", "corral-test-profile", id, "true"]);
            (
                out.status.code(),
                stderr_of(&out).to_lowercase().contains("apparmor"),
            )
        });
        assert_same(&results);
        assert_ne!(results[0].1.0, Some(0), "{results:?}");
        return;
    }
    let profile = Profile::load();
    let b = Bundle::with_args(&["sleep", "600"]);
    let results = differential("aa-exec", |rt, id| {
        rt.start_detached(&b, id);
        rt.ok(&[
            "exec",
            "--apparmor",
            &profile.name,
            id,
            "cat",
            "/proc/self/attr/current",
        ])
    });
    assert_same(&results);
    assert_eq!(results[0].1, format!("{} (enforce)\n", profile.name));
}
