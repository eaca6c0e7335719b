//! Which `linux.sysctl` keys a container may set.
//!
//! A sysctl is written through /proc/sys by the init, inside the container's namespaces. Only
//! keys the kernel keeps per namespace change nothing outside the container; any other key
//! (`kernel.core_pattern`, `vm.*`, ...) would change the host's kernel for everyone. runc
//! refuses those ("... is not in a separate kernel namespace"), and so do we, with its rules:
//! IPC keys need an IPC namespace, `net.*` a network namespace that is not the caller's,
//! `kernel.domainname` a UTS namespace, `user.*` a user namespace.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The IPC sysctls the kernel keeps per IPC namespace (plus every `fs.mqueue.*`).
const IPC_KEYS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The dotted form of a key given in either form: `net/ipv4/ip_forward` and
/// `net.ipv4.ip_forward` are the same sysctl. In the slash form a dot belongs to a name
/// (`net/ipv4/conf/eth0.100/forwarding`), so dots and slashes swap.
pub fn dotted(key: &str) -> String {
    match key.find(['.', '/']) {
        Some(i) if key.as_bytes()[i] == b'/' => key
            .chars()
            .map(|c| match c {
                '/' => '.',
                '.' => '/',
                c => c,
            })
            .collect(),
        _ => key.to_string(),
    }
}

/// The file under /proc/sys for a key in the dotted form.
pub fn proc_path(dotted_key: &str) -> String {
    let rel: String = dotted_key
        .chars()
        .map(|c| match c {
            '.' => '/',
            '/' => '.',
            c => c,
        })
        .collect();
    format!("/proc/sys/{rel}")
}

/// Checks every key of `linux.sysctl` against the namespaces of the config.
pub fn validate<'a>(
    keys: impl IntoIterator<Item = &'a String>,
    namespaces: &[LinuxNamespace],
) -> Result<()> {
    for key in keys {
        validate_key(key, namespaces)?;
    }
    Ok(())
}

fn validate_key(key: &str, namespaces: &[LinuxNamespace]) -> Result<()> {
    let field = format!("linux.sysctl.{key}");
    let name = dotted(key);
    // Judged on the file it names, so no spelling can climb out of /proc/sys.
    let path = proc_path(&name);
    let bad_component = path["/proc/sys/".len()..]
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == ".." || c.contains('\0'));
    if bad_component || key.starts_with('/') {
        return Err(Error::config(field, "is not a valid sysctl name"));
    }
    let has = |t: LinuxNamespaceType| namespaces.iter().any(|n| n.typ() == t);
    if IPC_KEYS.contains(&name.as_str()) || name.starts_with("fs.mqueue.") {
        if has(LinuxNamespaceType::Ipc) {
            return Ok(());
        }
        return Err(Error::config(
            field,
            format!("sysctl {name:?} is not allowed in the host's ipc namespace"),
        ));
    }
    if name.starts_with("net.") {
        return check_own_netns(&field, &name, namespaces);
    }
    if has(LinuxNamespaceType::Uts) {
        match name.as_str() {
            "kernel.domainname" => return Ok(()),
            // As runc ≥ 1.2: the config's `hostname` is the one place to set it.
            "kernel.hostname" => {
                return Err(Error::config(
                    field,
                    format!(
                        "sysctl {name:?} is not allowed as it conflicts with the OCI \"hostname\" field"
                    ),
                ));
            }
            _ => {}
        }
    }
    if name.starts_with("user.") {
        if has(LinuxNamespaceType::User) {
            return Ok(());
        }
        return Err(Error::config(
            field,
            format!("sysctl {name:?}: setting ucounts without a user namespace is not allowed"),
        ));
    }
    Err(Error::config(
        field,
        format!("sysctl {name:?} is not in a separate kernel namespace"),
    ))
}

/// `net.*` keys need a network namespace other than the caller's: a new one, or a path that
/// does not lead back to our own.
fn check_own_netns(field: &str, name: &str, namespaces: &[LinuxNamespace]) -> Result<()> {
    let refuse = || {
        Error::config(
            field,
            format!("sysctl {name:?} is not allowed in the host's network namespace"),
        )
    };
    let Some(ns) = namespaces
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::Network)
    else {
        return Err(refuse());
    };
    let Some(path) = ns.path() else {
        return Ok(());
    };
    if same_file(path, Path::new("/proc/self/ns/net"))
        .map_err(|e| Error::config(field, format!("network namespace {}: {e}", path.display())))?
    {
        return Err(refuse());
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (a, b) = (std::fs::metadata(a)?, std::fs::metadata(b)?);
    Ok(a.dev() == b.dev() && a.ino() == b.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(types: &[&str]) -> Vec<LinuxNamespace> {
        types
            .iter()
            .map(|t| serde_json::from_str(&format!(r#"{{"type":"{t}"}}"#)).unwrap())
            .collect()
    }

    fn check(key: &str, types: &[&str]) -> std::result::Result<(), String> {
        validate_key(key, &ns(types)).map_err(|e| e.to_string())
    }

    #[test]
    fn host_wide_keys_are_refused() {
        let all = ["ipc", "network", "uts", "mount", "pid", "user"];
        for key in ["kernel.core_pattern", "vm.overcommit_memory", "fs.file-max"] {
            let e = check(key, &all).unwrap_err();
            assert!(e.contains("is not in a separate kernel namespace"), "{e}");
            assert!(e.starts_with(&format!("linux.sysctl.{key}:")), "{e}");
        }
    }

    #[test]
    fn namespaced_keys_need_their_namespace() {
        assert!(check("kernel.shmmax", &["ipc"]).is_ok());
        assert!(check("fs.mqueue.msg_max", &["ipc"]).is_ok());
        assert!(check("kernel.shmmax", &["network"]).is_err());
        assert!(check("net.ipv4.ip_forward", &["network"]).is_ok());
        assert!(check("net/ipv4/ip_forward", &["network"]).is_ok());
        assert!(check("net.ipv4.ip_forward", &["ipc"]).is_err());
        assert!(check("kernel.domainname", &["uts"]).is_ok());
        assert!(check("kernel.domainname", &["ipc"]).is_err());
        assert!(check("kernel.hostname", &["uts"]).is_err());
        assert!(check("user.max_user_namespaces", &["user"]).is_ok());
        assert!(check("user.max_user_namespaces", &["ipc"]).is_err());
    }

    #[test]
    fn the_callers_own_netns_by_path_is_the_host_one() {
        let own: Vec<LinuxNamespace> =
            vec![serde_json::from_str(r#"{"type":"network","path":"/proc/self/ns/net"}"#).unwrap()];
        assert!(validate_key("net.ipv4.ip_forward", &own).is_err());
    }

    #[test]
    fn odd_names_are_refused() {
        for key in ["", "net..x", "/net/ipv4", "net.ipv4..", "net/../../etc"] {
            assert!(check(key, &["network"]).is_err(), "{key}");
        }
    }

    #[test]
    fn slash_form_swaps_dots() {
        assert_eq!(
            dotted("net/ipv4/conf/eth0.100/forwarding"),
            "net.ipv4.conf.eth0/100.forwarding"
        );
        assert_eq!(
            proc_path("net.ipv4.conf.eth0/100.forwarding"),
            "/proc/sys/net/ipv4/conf/eth0.100/forwarding"
        );
        assert_eq!(dotted("kernel.shmmax"), "kernel.shmmax");
    }
}
