//! `checkpoint` and `restore`: a container saved to disk by CRIU and brought back, with
//! runc's command line and runc's image conventions (external mounts by mountpoint,
//! `descriptors.json` naming the init's stdio, the pipes among them re-wired on restore).
//!
//! `swrk.rs` is the RPC session with `criu swrk`; `mounts.rs` what CRIU must be told about
//! the container's mounts; `dump.rs` and `restore.rs` the two commands. CRIU runs as our
//! child; on restore it is placed in the container's cgroup before it forks the restored
//! processes, and the restored init becomes our child (a sibling of CRIU), as with runc.

mod dump;
mod mounts;
mod restore;
mod swrk;

pub use dump::checkpoint;
pub use restore::{RestoreOptions, restore};

use crate::error::{Context, Error, Result, at};
use rust_criu::rust_criu_protobuf::rpc::{Criu_cg_mode, Criu_opts};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The file in the image directory that names the init's fds 0, 1 and 2 at the dump
/// (runc's name and format: a JSON array of the /proc/PID/fd link texts).
const DESCRIPTORS: &str = "descriptors.json";

/// CRIU's log level (runc's: 4, everything).
const LOG_LEVEL: i32 = 4;

/// What `checkpoint` and `restore` ask of CRIU (runc's flags).
#[derive(Clone, Debug, Default)]
pub struct CriuOptions {
    /// The criu binary (`--criu`).
    pub criu: PathBuf,
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    /// A previous (pre-)dump, relative to the image path.
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub tcp_established: bool,
    pub tcp_skip_in_flight: bool,
    pub link_remap: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub lazy_pages: bool,
    /// `--status-fd`: CRIU's "ready" byte for a lazy-pages dump goes here.
    pub status_fd: Option<i32>,
    pub page_server: Option<(String, i32)>,
    pub file_locks: bool,
    pub pre_dump: bool,
    pub manage_cgroups_mode: Option<Criu_cg_mode>,
    /// Namespaces CRIU creates empty (CLONE_NEW* bits; the network's always, as runc:
    /// the engine above configures the network, not the runtime).
    pub empty_ns: u32,
    pub auto_dedup: bool,
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
}

/// `--manage-cgroups-mode`, runc's words.
pub fn parse_cgroups_mode(mode: &str) -> Result<Criu_cg_mode> {
    match mode {
        "soft" => Ok(Criu_cg_mode::SOFT),
        "full" => Ok(Criu_cg_mode::FULL),
        "strict" => Ok(Criu_cg_mode::STRICT),
        "ignore" => Ok(Criu_cg_mode::IGNORE),
        other => Err(Error::config(
            "--manage-cgroups-mode",
            format!("invalid value {other:?} (want soft, full, strict or ignore)"),
        )),
    }
}

/// `--empty-ns`: only the network namespace, as runc (CRIU accepts no other).
pub fn parse_empty_ns(names: &[String]) -> Result<u32> {
    let mut mask = libc::CLONE_NEWNET as u32;
    for name in names {
        match name.as_str() {
            "network" => mask |= libc::CLONE_NEWNET as u32,
            other => {
                return Err(Error::config(
                    "--empty-ns",
                    format!("namespace {other:?} is not supported (only \"network\")"),
                ));
            }
        }
    }
    Ok(mask)
}

/// `--page-server ADDRESS:PORT` (an IPv6 address in brackets).
pub fn parse_page_server(text: &str) -> Result<(String, i32)> {
    let bad = || Error::config("--page-server", format!("{text:?}: want ADDRESS:PORT"));
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(bad());
    }
    let port: u16 = port
        .parse()
        .map_err(|_| Error::config("--page-server", format!("{port:?}: invalid port number")))?;
    Ok((host.to_string(), i32::from(port)))
}

/// A directory CRIU reads or writes, made (0700) if missing and opened; CRIU opens it again
/// through /proc/OUR_PID/fd/N. `All` makes its missing parents too (runc's image path, for
/// checkpoint); `Leaf` only the directory (runc's work path).
fn open_dir(path: &Path, what: &str, create: Create) -> Result<OwnedFd> {
    if create != Create::No {
        use std::os::unix::fs::DirBuilderExt;
        match std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(create == Create::All)
            .create(path)
        {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).ctx(|| at(&format!("create {what}"), path)),
        }
    }
    nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| {
        Error::config(
            what,
            format!("{}: {}", path.display(), e.desc().to_lowercase()),
        )
    })
}

/// Whether [`open_dir`] makes what is missing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Create {
    No,
    Leaf,
    All,
}

/// The options both commands give CRIU: image and work dirs, log, cgroups, and the flags
/// that mean the same on both sides.
struct Dirs {
    images: OwnedFd,
    work: Option<OwnedFd>,
    /// Where CRIU's log goes: the work path if given, else the image path.
    log_dir: PathBuf,
}

impl Dirs {
    fn open(o: &CriuOptions, create_images: bool) -> Result<Dirs> {
        let create = if create_images {
            Create::All
        } else {
            Create::No
        };
        let images = open_dir(&o.image_path, "--image-path", create)?;
        let work = match &o.work_path {
            Some(p) => Some(open_dir(p, "--work-path", Create::Leaf)?),
            None => None,
        };
        Ok(Dirs {
            images,
            work,
            log_dir: o.work_path.clone().unwrap_or_else(|| o.image_path.clone()),
        })
    }
}

fn common_opts(
    o: &CriuOptions,
    dirs: &Dirs,
    log_file: &str,
    annotations: Option<&std::collections::HashMap<String, String>>,
) -> Criu_opts {
    let mut r = Criu_opts::new();
    r.set_images_dir_fd(dirs.images.as_raw_fd());
    if let Some(w) = &dirs.work {
        r.set_work_dir_fd(w.as_raw_fd());
    }
    r.set_log_level(LOG_LEVEL);
    r.set_log_file(log_file.to_string());
    r.set_manage_cgroups(true);
    r.set_manage_cgroups_mode(o.manage_cgroups_mode.unwrap_or(Criu_cg_mode::DEFAULT));
    r.set_notify_scripts(true);
    r.set_shell_job(o.shell_job);
    r.set_tcp_established(o.tcp_established);
    r.set_ext_unix_sk(o.ext_unix_sk);
    r.set_file_locks(o.file_locks);
    r.set_empty_ns(o.empty_ns);
    r.set_orphan_pts_master(true);
    r.set_auto_dedup(o.auto_dedup);
    r.set_lazy_pages(o.lazy_pages);
    if let Some(file) = config_file(annotations) {
        r.set_config_file(file);
    }
    r
}

/// CRIU's own config file for the container, runc's convention: the `org.criu.config`
/// annotation names it (empty: none), else /etc/criu/runc.conf if the host has one (the
/// file users already keep for runc; CRIU ignores a missing file).
fn config_file(annotations: Option<&std::collections::HashMap<String, String>>) -> Option<String> {
    match annotations.and_then(|a| a.get("org.criu.config")) {
        Some(file) if file.is_empty() => None,
        Some(file) => Some(file.clone()),
        None => Some("/etc/criu/runc.conf".to_string()),
    }
}

/// The last lines of CRIU's log that report an error, not counting the final "FAILED"
/// summary (runc quotes the same lines), with the log's path.
fn log_errors(dir: &Path, file: &str) -> String {
    let path = dir.join(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return String::new();
    };
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Error (") && !l.contains("FAILED"))
        .map(str::trim)
        .collect();
    let tail = &errors[errors.len().saturating_sub(2)..];
    if tail.is_empty() {
        return format!(" (log: {})", path.display());
    }
    format!(" (log {}: {})", path.display(), tail.join(" | "))
}

/// CRIU's failure with the last error lines of its log appended.
fn with_log(e: Error, dirs: &Dirs, file: &str) -> Error {
    match e {
        Error::Criu { op, detail } => Error::Criu {
            op,
            detail: detail + &log_errors(&dirs.log_dir, file),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runcs_flag_values_parse_and_bad_ones_name_the_flag() {
        assert_eq!(parse_cgroups_mode("soft").unwrap(), Criu_cg_mode::SOFT);
        assert_eq!(parse_cgroups_mode("ignore").unwrap(), Criu_cg_mode::IGNORE);
        let e = parse_cgroups_mode("hard").unwrap_err().to_string();
        assert!(
            e.starts_with("--manage-cgroups-mode: invalid value \"hard\""),
            "{e}"
        );
        assert_eq!(parse_empty_ns(&[]).unwrap(), libc::CLONE_NEWNET as u32);
        assert_eq!(
            parse_empty_ns(&["network".into()]).unwrap(),
            libc::CLONE_NEWNET as u32
        );
        let e = parse_empty_ns(&["pid".into()]).unwrap_err().to_string();
        assert!(e.contains("--empty-ns") && e.contains("\"pid\""), "{e}");
        assert_eq!(
            parse_page_server("10.0.0.1:27").unwrap(),
            ("10.0.0.1".into(), 27)
        );
        assert_eq!(parse_page_server("[::1]:27").unwrap(), ("::1".into(), 27));
        for bad in ["10.0.0.1", ":27", "h:", "h:99999"] {
            let e = parse_page_server(bad).unwrap_err().to_string();
            assert!(e.starts_with("--page-server"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_criu_config_file_follows_runcs_annotation() {
        let mut a = std::collections::HashMap::new();
        assert_eq!(config_file(None).as_deref(), Some("/etc/criu/runc.conf"));
        a.insert("org.criu.config".to_string(), String::new());
        assert_eq!(config_file(Some(&a)), None);
        a.insert("org.criu.config".to_string(), "/x.conf".to_string());
        assert_eq!(config_file(Some(&a)).as_deref(), Some("/x.conf"));
    }

    #[test]
    fn the_logs_error_lines_are_quoted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("dump.log"),
            "(0.1) fine\n(0.3) Error (sk-inet.c:1): Connected TCP socket\n(0.4) Error (cr-dump.c:2): Dumping FAILED.\n",
        )
        .unwrap();
        let text = log_errors(dir.path(), "dump.log");
        assert!(
            text.ends_with("dump.log: (0.3) Error (sk-inet.c:1): Connected TCP socket)"),
            "{text}"
        );
        assert!(!text.contains("fine"), "{text}");
    }
}
