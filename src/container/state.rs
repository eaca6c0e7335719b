//! The state file of a container (`<root>/<id>/state.json`) and the status derived from it.
//!
//! The file is written atomically (tmp + rename) so a crash never leaves half of it.
//! Status is never trusted from the file: a recorded pid that is gone, a zombie, or reused
//! by another process (different start time) means the container has stopped.

use crate::cgroups::{Cgroup, read_small};
use crate::error::{Context, Error, Result, at};
pub use crate::oci_state::OciState;
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

/// What `create` has got to; the rest of the status is derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Creating,
    Created,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// A process we recorded, identified by pid *and* start time so pid reuse is detected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    pub start_time: u64,
}

impl ProcessId {
    pub fn of(pid: i32) -> Option<ProcessId> {
        let stat = read_stat(pid)?;
        Some(ProcessId {
            pid,
            start_time: stat.start_time,
        })
    }

    /// Sends `sig` (any number; 0 checks liveness) to this process and no other: through a
    /// pidfd opened before the identity check, so a pid reused after the check is never
    /// signalled. Kernels without pidfd_open (before 5.3) get a plain kill after the check.
    pub fn signal(&self, sig: i32) -> std::io::Result<()> {
        let gone = || std::io::Error::from_raw_os_error(libc::ESRCH);
        match crate::syscall::pidfd_open(self.pid) {
            Ok(fd) => {
                if !self.is_alive() {
                    return Err(gone());
                }
                crate::syscall::pidfd_send_signal(std::os::fd::AsFd::as_fd(&fd), sig)
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                if !self.is_alive() {
                    return Err(gone());
                }
                crate::syscall::kill_raw(self.pid, sig)
            }
            Err(e) => Err(e),
        }
    }

    /// The parent pid of a live process, as /proc/PID/stat says.
    pub fn parent_of(pid: i32) -> Option<i32> {
        read_stat(pid).map(|s| s.ppid)
    }

    /// Alive, not a zombie, and the same process we recorded.
    pub fn is_alive(&self) -> bool {
        if self.pid <= 0 {
            return false;
        }
        match read_stat(self.pid) {
            Some(s) => s.start_time == self.start_time && s.state != 'Z' && s.state != 'X',
            None => false,
        }
    }
}

struct Stat {
    state: char,
    ppid: i32,
    start_time: u64,
}

/// Fields 3 (state) and 22 (starttime) of /proc/PID/stat; the command name in field 2 may
/// contain spaces and parentheses, so we split after the last ')'.
fn read_stat(pid: i32) -> Option<Stat> {
    let text = read_small(Path::new(&format!("/proc/{pid}/stat"))).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    pub phase: Phase,
    /// The container's init (pid 1 of its pid namespace); zero until known.
    pub init: ProcessId,
    /// The `corral create` that is building the container: if it died while `creating`,
    /// the container is stopped.
    pub creator: ProcessId,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub cgroup: Cgroup,
    /// The container's resctrl group (`linux.intelRdt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdt: Option<crate::rdt::RdtGroup>,
    /// The config the container was created from (hooks, namespaces for exec, ...).
    pub spec: Spec,
}

impl State {
    /// The state of a container `create` is building, by the current process.
    pub fn creating(id: &str, bundle: &crate::spec::Bundle, cgroup: Cgroup) -> State {
        State {
            id: id.to_string(),
            phase: Phase::Creating,
            init: ProcessId::default(),
            creator: ProcessId::of(std::process::id() as i32).unwrap_or_default(),
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            created: now_rfc3339_nano(),
            annotations: bundle
                .spec
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            cgroup,
            rdt: None,
            spec: bundle.spec.clone(),
        }
    }

    pub fn status(&self, dir: &Path) -> Status {
        match self.phase {
            Phase::Creating => {
                if self.creator.is_alive() {
                    Status::Creating
                } else {
                    Status::Stopped
                }
            }
            Phase::Created => {
                if !self.init.is_alive() {
                    Status::Stopped
                } else if init_waits_on_fifo(self.init.pid, &dir.join(EXEC_FIFO)) {
                    Status::Created
                } else if self.is_frozen() {
                    Status::Paused
                } else {
                    Status::Running
                }
            }
        }
    }

    fn is_frozen(&self) -> bool {
        self.cgroup.is_frozen()
    }

    pub fn load(dir: &Path) -> Result<State> {
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotExist),
            Err(e) => return Err(e).ctx(|| at("read", &path)),
        };
        serde_json::from_slice(&text).map_err(|e| Error::CorruptState {
            msg: e.to_string(),
            path,
        })
    }

    /// tmp + rename: readers see the old or the new file, never a torn one. No fsync, as runc:
    /// the state describes processes, which a power loss ends anyway, and the state root is
    /// normally a tmpfs (/run); on a disk-backed root the fsyncs were 1-3 ms of every create.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let data =
            serde_json::to_vec(self).map_err(|e| Error::other(format!("encode state: {e}")))?;
        write_atomically(dir, STATE_FILE, &data)
    }

    /// The state as the OCI spec (and runc) print it.
    pub fn oci_state(&self, status: Status) -> OciState {
        OciState {
            oci_version: crate::spec::OCI_VERSION.to_string(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.init.pid
            },
            status: status.as_str().to_string(),
            bundle: self.bundle.display().to_string(),
            rootfs: self.rootfs.display().to_string(),
            created: self.created.clone(),
            annotations: self.annotations.clone(),
            owner: String::new(),
        }
    }
}

/// Go's RFC3339Nano, which runc uses: nanoseconds with trailing zeros trimmed.
pub fn now_rfc3339_nano() -> String {
    let now = chrono::Utc::now();
    let base = now.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = now.timestamp_subsec_nanos();
    if nanos == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

/// `dir/name` written as tmp + rename (mode 0600): readers see the old or the new file, never
/// a torn one.
pub fn write_atomically(dir: &Path, name: &str, data: &[u8]) -> Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .ctx(|| at("create", &tmp))?;
        f.write_all(data).ctx(|| at("write", &tmp))?;
    }
    crate::fault::step(name, "temp-written");
    std::fs::rename(&tmp, dir.join(name)).ctx(|| at("rename into place", &tmp))
}

/// Whether the init still waits for `start`: the exec fifo exists and the init holds it
/// open. The init drops it when it execs; a `start` killed between its write into the fifo
/// and the fifo's removal leaves the file behind a container that is already running.
/// Compared by inode, so a `--root` given through a symlink matches too. Only a container
/// with a fifo left pays for the look at its fds (a created one has a handful).
fn init_waits_on_fifo(pid: i32, fifo: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(f) = std::fs::metadata(fifo) else {
        return false;
    };
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        // Not ours to inspect: the fifo alone says created, as before.
        return true;
    };
    fds.flatten().any(|fd| {
        std::fs::metadata(fd.path()).is_ok_and(|m| m.dev() == f.dev() && m.ino() == f.ino())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_small_reads_whole_files_of_any_size() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 7, 2047, 2048, 2049, 10_000] {
            let path = dir.path().join(format!("f{len}"));
            let text: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            std::fs::write(&path, &text).unwrap();
            assert_eq!(read_small(&path).unwrap(), text, "{len} bytes");
        }
        let own = read_small(Path::new("/proc/self/stat")).unwrap();
        assert!(parse_stat(&own).is_some(), "{own}");
    }

    #[test]
    fn parses_stat_with_odd_comm() {
        let line = "42 (a) b) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 777 100 1";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.start_time, 777);
    }

    #[test]
    fn own_process_is_alive_and_reuse_is_detected() {
        let me = ProcessId::of(std::process::id() as i32).unwrap();
        assert!(me.is_alive());
        let reused = ProcessId {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!reused.is_alive());
        assert!(!ProcessId::default().is_alive());
    }

    #[test]
    fn timestamps_look_like_go() {
        let t = now_rfc3339_nano();
        assert!(t.ends_with('Z'));
        assert!(chrono::DateTime::parse_from_rfc3339(&t).is_ok());
        assert!(!t.trim_end_matches('Z').ends_with('0') || !t.contains('.'));
    }
}
