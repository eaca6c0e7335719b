//! AppArmor in tests: whether the host has it on (the v2 VM does; this development host does
//! not), and a test profile loaded for a test's lifetime.

use super::{stderr_of, unique_id};
use std::process::Command;

pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
        && std::path::Path::new("/sys/kernel/security/apparmor").exists()
}

/// A profile that allows everything but reading /secret, loaded for the test's lifetime.
pub struct Profile {
    pub name: String,
    file: tempfile::NamedTempFile,
}

impl Profile {
    pub fn load() -> Profile {
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
