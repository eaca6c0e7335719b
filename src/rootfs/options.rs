//! Translating an OCI mount's `options` into mount(2) flags, propagation, recursive
//! attributes (mount_setattr) and the data string for the filesystem.

use crate::syscall::*;
use nix::mount::MsFlags;

#[derive(Debug, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: MsFlags,
    /// Flags the options explicitly clear (`rw`, `suid`...): they matter for bind remounts.
    pub cleared: MsFlags,
    pub propagation: Vec<MsFlags>,
    pub rec_set: u64,
    pub rec_clear: u64,
    pub data: Vec<String>,
    /// runc's `tmpcopyup` extension: a tmpfs starts with a copy of what it covers (podman
    /// uses it for /tmp, /var/tmp and /run of `--read-only` containers).
    pub tmpcopyup: bool,
    /// `idmap` or `ridmap` (spec 1.2): the bind is idmapped (see [`super::idmap`]).
    pub idmap: Option<Idmap>,
}

/// Which mounts of a bind an idmapping applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idmap {
    /// `idmap` (or mappings without an option, as runc): the bind's own mount only.
    Top,
    /// `ridmap`: every mount of the bind's tree (for `rbind`).
    Recursive,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            rec_set: 0,
            rec_clear: 0,
            data: Vec::new(),
            tmpcopyup: false,
            idmap: None,
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    pub fn data_string(&self) -> String {
        self.data.join(",")
    }

    /// Whether anything is left to apply once the filesystem is mounted: propagation or
    /// recursive attributes.
    pub fn needs_finishing(&self) -> bool {
        !self.propagation.is_empty() || self.rec_set != 0 || self.rec_clear != 0
    }

    /// Flags that need a remount after a bind mount (a bind ignores them on the first call).
    pub fn remount_flags(&self) -> MsFlags {
        self.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT)
    }

    /// The per-mount flags of the options as mount_setattr(2) attributes to set and to
    /// clear, for a bind mount made with open_tree. What the options do not name keeps the
    /// source mount's value (as the kernel's locked flags must anyway).
    pub fn bind_attrs(&self) -> (u64, u64) {
        const PLAIN: [(MsFlags, u64); 6] = [
            (MsFlags::MS_RDONLY, MOUNT_ATTR_RDONLY),
            (MsFlags::MS_NOSUID, MOUNT_ATTR_NOSUID),
            (MsFlags::MS_NODEV, MOUNT_ATTR_NODEV),
            (MsFlags::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
            (MsFlags::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
            (
                MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW),
                MOUNT_ATTR_NOSYMFOLLOW,
            ),
        ];
        let (mut set, mut clear) = (0, 0);
        for (flag, attr) in PLAIN {
            if self.flags.contains(flag) {
                set |= attr;
            } else if self.cleared.contains(flag) {
                clear |= attr;
            }
        }
        // The atime modes are one field: naming one replaces the others.
        for (flag, attr) in [
            (MsFlags::MS_NOATIME, MOUNT_ATTR_NOATIME),
            (MsFlags::MS_STRICTATIME, MOUNT_ATTR_STRICTATIME),
            (MsFlags::MS_RELATIME, MOUNT_ATTR_RELATIME),
        ] {
            if self.flags.contains(flag) {
                set = (set & !MOUNT_ATTR__ATIME) | attr;
                clear |= MOUNT_ATTR__ATIME;
            }
        }
        (set, clear)
    }
}

/// Propagation options by name.
pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// (set?, flag) for the plain mount(2) options.
fn plain_flag(name: &str) -> Option<(bool, MsFlags)> {
    use MsFlags as F;
    Some(match name {
        "async" => (false, F::MS_SYNCHRONOUS),
        "atime" => (false, F::MS_NOATIME),
        "bind" => (true, F::MS_BIND),
        "defaults" => (true, F::empty()),
        "dev" => (false, F::MS_NODEV),
        "diratime" => (false, F::MS_NODIRATIME),
        "dirsync" => (true, F::MS_DIRSYNC),
        "exec" => (false, F::MS_NOEXEC),
        "iversion" => (true, F::MS_I_VERSION),
        "lazytime" => (true, F::MS_LAZYTIME),
        "loud" => (false, F::MS_SILENT),
        "mand" => (true, F::MS_MANDLOCK),
        "noatime" => (true, F::MS_NOATIME),
        "nodev" => (true, F::MS_NODEV),
        "nodiratime" => (true, F::MS_NODIRATIME),
        "noexec" => (true, F::MS_NOEXEC),
        "noiversion" => (false, F::MS_I_VERSION),
        "nolazytime" => (false, F::MS_LAZYTIME),
        "nomand" => (false, F::MS_MANDLOCK),
        "norelatime" => (false, F::MS_RELATIME),
        "nostrictatime" => (false, F::MS_STRICTATIME),
        "nosuid" => (true, F::MS_NOSUID),
        "nosymfollow" => (true, F::from_bits_retain(libc::MS_NOSYMFOLLOW)),
        "rbind" => (true, F::MS_BIND | F::MS_REC),
        "relatime" => (true, F::MS_RELATIME),
        "remount" => (true, F::MS_REMOUNT),
        "ro" => (true, F::MS_RDONLY),
        "rw" => (false, F::MS_RDONLY),
        "silent" => (true, F::MS_SILENT),
        "strictatime" => (true, F::MS_STRICTATIME),
        "suid" => (false, F::MS_NOSUID),
        "symfollow" => (false, F::from_bits_retain(libc::MS_NOSYMFOLLOW)),
        "sync" => (true, F::MS_SYNCHRONOUS),
        _ => return None,
    })
}

/// (set?, attribute) for the recursive options applied with mount_setattr(AT_RECURSIVE).
fn recursive_attr(name: &str) -> Option<(bool, u64)> {
    Some(match name {
        "rro" => (true, MOUNT_ATTR_RDONLY),
        "rrw" => (false, MOUNT_ATTR_RDONLY),
        "rnosuid" => (true, MOUNT_ATTR_NOSUID),
        "rsuid" => (false, MOUNT_ATTR_NOSUID),
        "rnodev" => (true, MOUNT_ATTR_NODEV),
        "rdev" => (false, MOUNT_ATTR_NODEV),
        "rnoexec" => (true, MOUNT_ATTR_NOEXEC),
        "rexec" => (false, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (true, MOUNT_ATTR_NODIRATIME),
        "rdiratime" => (false, MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (true, MOUNT_ATTR_RELATIME),
        "rnorelatime" => (false, MOUNT_ATTR_RELATIME),
        "rnoatime" => (true, MOUNT_ATTR_NOATIME),
        "ratime" => (false, MOUNT_ATTR_NOATIME),
        "rstrictatime" => (true, MOUNT_ATTR_STRICTATIME),
        "rnostrictatime" => (false, MOUNT_ATTR_STRICTATIME),
        "rnosymfollow" => (true, MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => (false, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

/// Every option name corral understands, for `corral features`.
pub fn known_options() -> Vec<&'static str> {
    const ALL: &[&str] = &[
        "async",
        "atime",
        "bind",
        "defaults",
        "dev",
        "diratime",
        "dirsync",
        "exec",
        "idmap",
        "iversion",
        "lazytime",
        "loud",
        "mand",
        "noatime",
        "nodev",
        "nodiratime",
        "noexec",
        "noiversion",
        "nolazytime",
        "nomand",
        "norelatime",
        "nostrictatime",
        "nosuid",
        "nosymfollow",
        "private",
        "ratime",
        "rbind",
        "rdev",
        "rdiratime",
        "relatime",
        "remount",
        "rexec",
        "ridmap",
        "rnoatime",
        "rnodev",
        "rnodiratime",
        "rnoexec",
        "rnorelatime",
        "rnostrictatime",
        "rnosuid",
        "rnosymfollow",
        "ro",
        "rprivate",
        "rrelatime",
        "rro",
        "rrw",
        "rshared",
        "rslave",
        "rstrictatime",
        "rsuid",
        "rsymfollow",
        "runbindable",
        "rw",
        "shared",
        "silent",
        "slave",
        "strictatime",
        "suid",
        "symfollow",
        "sync",
        "tmpcopyup",
        "unbindable",
    ];
    ALL.to_vec()
}

pub fn parse(options: &[String]) -> MountOptions {
    let mut out = MountOptions::default();
    for opt in options {
        let name = opt.as_str();
        if name == "tmpcopyup" {
            out.tmpcopyup = true;
        } else if name == "idmap" {
            out.idmap = Some(Idmap::Top);
        } else if name == "ridmap" {
            out.idmap = Some(Idmap::Recursive);
        } else if let Some((set, flag)) = plain_flag(name) {
            if set {
                out.flags |= flag;
                out.cleared -= flag;
            } else {
                out.flags -= flag;
                out.cleared |= flag;
            }
        } else if let Some(p) = propagation_flag(name) {
            out.propagation.push(p);
        } else if let Some((set, attr)) = recursive_attr(name) {
            if set {
                out.rec_set |= attr;
                out.rec_clear &= !attr;
            } else {
                out.rec_clear |= attr;
                out.rec_set &= !attr;
            }
            if attr & MOUNT_ATTR__ATIME == attr || attr == MOUNT_ATTR_RELATIME {
                // atime modes are one field: setting one means clearing the others first.
                out.rec_clear |= MOUNT_ATTR__ATIME;
            }
        } else {
            out.data.push(opt.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_and_data_split() {
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data_string(), "mode=755,size=65536k");
    }

    #[test]
    fn later_option_wins() {
        let o = p(&["ro", "rw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.cleared.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn rbind_is_recursive_bind() {
        let o = p(&["rbind", "ro", "rprivate"]);
        assert!(o.is_bind());
        assert!(o.flags.contains(MsFlags::MS_REC));
        assert_eq!(o.remount_flags(), MsFlags::MS_RDONLY);
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
    }

    #[test]
    fn recursive_attrs() {
        let o = p(&["rro", "rnosuid"]);
        assert_eq!(o.rec_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
    }

    #[test]
    fn idmap_options_are_not_mount_data() {
        assert_eq!(p(&["bind", "idmap"]).idmap, Some(Idmap::Top));
        let o = p(&["rbind", "ridmap"]);
        assert_eq!(o.idmap, Some(Idmap::Recursive));
        assert!(o.data.is_empty());
    }
}
