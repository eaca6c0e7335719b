//! Thin wrappers over the Linux syscalls that nix does not cover (openat2, open_tree,
//! move_mount, mount_setattr, close_range, clone3 and clone with CLONE_PARENT, pidfd, seccomp(2),
//! TIOCGPTPEER, fd passing). Most of the crate's `unsafe` lives here, each block next to its
//! reason; the few elsewhere are single libc calls with their own `// SAFETY:` line (clippy
//! denies an undocumented one).

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn cstring(path: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// openat2(2): the kernel resolves `path` under `dir` with the `resolve` restrictions, so a
/// symlink planted in a container image cannot send us outside the rootfs.
pub fn openat2(
    dir: BorrowedFd<'_>,
    path: &Path,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let c = cstring(path)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve,
    };
    loop {
        // SAFETY: `c` and `how` outlive the call; the kernel copies `how` by the size we pass.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if r >= 0 {
            // SAFETY: the kernel returned a fresh fd that nobody else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) });
        }
        let e = io::Error::last_os_error();
        // EAGAIN: a concurrent rename raced the lookup; the kernel asks us to retry.
        if e.raw_os_error() != Some(libc::EAGAIN) {
            return Err(e);
        }
    }
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x0000_0001;
pub const MOUNT_ATTR_NOSUID: u64 = 0x0000_0002;
pub const MOUNT_ATTR_NODEV: u64 = 0x0000_0004;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x0000_0008;
pub const MOUNT_ATTR__ATIME: u64 = 0x0000_0070;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0000_0000;
pub const MOUNT_ATTR_NOATIME: u64 = 0x0000_0010;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x0000_0020;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x0000_0080;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) with AT_RECURSIVE on the mount that `fd` refers to: how the recursive
/// mount options (`rro`, `rnosuid`, ...) are applied to a whole subtree at once.
pub fn mount_setattr_recursive(fd: BorrowedFd<'_>, set: u64, clear: u64) -> io::Result<()> {
    mount_setattr(fd, set, clear, libc::AT_RECURSIVE)
}

/// open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount at `fd` (of its whole
/// subtree with `recursive`), which attributes can be applied to before anything can see it.
pub fn open_tree_clone(fd: BorrowedFd<'_>, recursive: bool) -> io::Result<OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    let mut flags =
        OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    let empty = c"";
    // SAFETY: the empty path outlives the call; integer flags; returns a new fd or -1.
    let r = unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), empty.as_ptr(), flags) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// move_mount(2) of the detached mount `from` onto the file or directory `to` (both fds).
pub fn move_mount_onto(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
    const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
    let empty = c"";
    // SAFETY: the empty paths outlive the call; both fds are borrowed for it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            empty.as_ptr(),
            to.as_raw_fd(),
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// mount_setattr(2) on the mount `fd` refers to (`flags` 0 or AT_RECURSIVE).
pub fn mount_setattr(
    fd: BorrowedFd<'_>,
    set: u64,
    clear: u64,
    flags: libc::c_int,
) -> io::Result<()> {
    setattr(
        fd,
        &MountAttr {
            attr_set: set,
            attr_clr: clear,
            propagation: 0,
            userns_fd: 0,
        },
        flags,
    )
}

/// Makes the detached mount `fd` (and with `recursive` every mount below it) idmapped by the
/// user namespace `userns`: a file owned by id N on disk is seen as the id that N maps to in
/// `userns`, and ids written through the mount are mapped back. The kernel refuses (EINVAL) a
/// filesystem that cannot be idmapped and a mount that is already attached.
pub fn mount_setattr_idmap(
    fd: BorrowedFd<'_>,
    userns: BorrowedFd<'_>,
    recursive: bool,
) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    setattr(fd, &attr, if recursive { libc::AT_RECURSIVE } else { 0 })
}

fn setattr(fd: BorrowedFd<'_>, attr: &MountAttr, flags: libc::c_int) -> io::Result<()> {
    let empty = c"";
    // SAFETY: `attr` and the empty path outlive the call; size matches the struct we pass.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH | flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// set_mempolicy(2): `mode` (flags or'ed in) over the first `nodes` bits of `mask`.
pub fn set_mempolicy(mode: i32, mask: &[u64], nodes: usize) -> io::Result<()> {
    let ptr = if mask.is_empty() {
        std::ptr::null()
    } else {
        mask.as_ptr()
    };
    // The kernel reads one bit less than maxnode says (a historic off-by-one that every
    // caller, numactl's included, makes up for).
    let maxnode = if nodes == 0 { 0 } else { nodes + 1 };
    // SAFETY: `mask` holds at least `nodes` bits and outlives the call; the kernel only reads.
    let r = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A user namespace with these maps, as an fd of its nsfs file. The kernel makes a user
/// namespace only for a process, so a child is forked into one, given its maps by us (its
/// parent, the host's root), and let go once its namespace file is open: the fd keeps the
/// namespace alive (idmapped mounts take it). The caller must be single-threaded (the init
/// before it starts the container, or `corral check`). No crate offers this; the calls are
/// few.
pub fn user_namespace_with_maps(uid_map: &str, gid_map: &str) -> io::Result<OwnedFd> {
    let (ready_r, ready_w) = nix::unistd::pipe()?;
    let (hold_r, hold_w) = nix::unistd::pipe()?;
    // SAFETY: the init is single-threaded here; the child only makes raw syscalls (no
    // allocation, no locks) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: plain syscalls on fds this child owns; the buffers are on its stack.
        unsafe {
            // Our copy of the write end would keep the read below from ever seeing EOF.
            libc::close(hold_w.as_raw_fd());
            let status: i32 = if libc::unshare(libc::CLONE_NEWUSER) == 0 {
                0
            } else {
                *libc::__errno_location()
            };
            libc::write(ready_w.as_raw_fd(), (&status as *const i32).cast(), 4);
            let mut byte = 0u8;
            // Blocks until the parent closes its end (or dies).
            libc::read(hold_r.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    drop(ready_w);
    drop(hold_r);
    let made = child_namespace(pid, &ready_r, uid_map, gid_map);
    drop(hold_w);
    // SAFETY: waits for our own child, which exits once `hold_w` is closed.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    made
}

/// The parent's half of [`user_namespace_with_maps`]: waits for the child's namespace, writes its
/// maps and opens it.
fn child_namespace(
    pid: libc::pid_t,
    ready: &OwnedFd,
    uid_map: &str,
    gid_map: &str,
) -> io::Result<OwnedFd> {
    let mut status = [0u8; 4];
    let mut f = std::fs::File::from(ready.try_clone()?);
    io::Read::read_exact(&mut f, &mut status)?;
    let errno = i32::from_ne_bytes(status);
    if errno != 0 {
        return Err(io::Error::from_raw_os_error(errno));
    }
    std::fs::write(format!("/proc/{pid}/uid_map"), uid_map)?;
    std::fs::write(format!("/proc/{pid}/gid_map"), gid_map)?;
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/user"))?;
    // SAFETY: a fresh fd we own, moved into the OwnedFd.
    Ok(unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(ns)) })
}

/// Marks every fd from `first` up close-on-exec, so nothing of ours survives into the
/// container process while the fds we still need keep working until execve.
pub fn cloexec_from(first: RawFd) -> io::Result<()> {
    // SAFETY: close_range only changes fd flags; no memory is passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: walk /proc/self/fd instead.
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let fd: RawFd = match entry?.file_name().to_string_lossy().parse() {
            Ok(fd) => fd,
            Err(_) => continue,
        };
        if fd >= first {
            set_cloexec(fd, true)?;
        }
    }
    Ok(())
}

/// Closes every fd from `first` up. Async-signal-safe (one syscall), so it may run between
/// fork and exec; where close_range is missing (before 5.9) or refused (a seccomp filter) the
/// fds stay open, and callers rely on [`cloexec_from`] having marked them.
pub fn close_from(first: RawFd) -> bool {
    // SAFETY: close_range takes plain integers; closing fds we no longer use is the point.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0,
        ) == 0
    }
}

/// setdomainname(2), which nix does not wrap.
pub fn set_domainname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe `name`, valid for the call.
    if unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `fd` is an open fd of this process (F_GETFD on a number we do not own).
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the flags of an fd number; a closed one yields EBADF.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

pub fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFD/F_SETFD on an fd number; a closed fd only yields EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let new = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, new) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// fork(2) whose child becomes a child of *our parent* (CLONE_PARENT): the container's pid 1
/// is then the direct child of `corral create/run`, which can wait for it, while the
/// intermediate stage that created the pid namespace just exits.
/// Returns 0 in the child and the child's pid in the caller.
///
/// # Safety
/// Same contract as fork(2): the caller must be single-threaded.
pub unsafe fn fork_to_parent() -> io::Result<libc::pid_t> {
    // SAFETY: raw clone with a null stack behaves like fork; the caller guarantees a single
    // thread, so no lock can be held by a thread that does not exist in the child.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as libc::pid_t)
}

/// clone3(2)'s argument block, version 2 (with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Which step of [`spawn_placed`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnStep {
    Clone,
    /// Writing to the `tasks` file at this index of `join_tasks`.
    JoinCgroup(usize),
    Exec,
}

#[derive(Debug)]
pub struct SpawnError {
    pub step: SpawnStep,
    pub err: io::Error,
}

/// Starts `path` with `argv`/`envp` as a child that is in the container's cgroups before it
/// execs: created directly inside the cgroup v2 directory `cgroup` when given (clone3 with
/// CLONE_INTO_CGROUP), and moved into each v1 hierarchy by writing "0" to the open `tasks`
/// files in `join_tasks` itself. Both avoid the kernel's threadgroup lock taken for writing:
/// moving a process from outside (`cgroup.procs`) takes it and waits for an RCU grace period
/// (6-14 ms on this host, the larger part of a create), while a fork into a cgroup and a
/// thread moving only itself do not.
///
/// The child keeps the fds in `keep` open across the exec and gets an empty signal mask,
/// SIGPIPE at its default and SIGKILL as the parent-death signal. A failure in the child
/// comes back as the error (through a close-on-exec pipe, as std's Command does).
pub fn spawn_placed(
    path: &CStr,
    argv: &[CString],
    envp: &[CString],
    keep: &[RawFd],
    cgroup: Option<BorrowedFd<'_>>,
    join_tasks: &[RawFd],
) -> Result<libc::pid_t, SpawnError> {
    let clone_err = |err| SpawnError {
        step: SpawnStep::Clone,
        err,
    };
    let argv_ptrs: Vec<*const libc::c_char> = argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp_ptrs: Vec<*const libc::c_char> = envp
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| clone_err(io::Error::from(e)))?;
    let report_w_raw = report_w.as_raw_fd();
    let args = CloneArgs {
        flags: if cgroup.is_some() {
            CLONE_INTO_CGROUP
        } else {
            0
        },
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.map_or(0, |fd| fd.as_raw_fd() as u64),
        ..CloneArgs::default()
    };
    // SAFETY: clone3 without CLONE_VM is a fork: the child gets a copy of our memory. It only
    // makes async-signal-safe system calls below before execve or _exit.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid < 0 {
        return Err(clone_err(io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: the child side: plain system calls on memory prepared before the clone.
        unsafe { exec_child(path, &argv_ptrs, &envp_ptrs, keep, join_tasks, report_w_raw) }
    }
    drop(report_w);
    let mut report = [0u8; 8];
    let mut reader = std::fs::File::from(report_r);
    let got = loop {
        match std::io::Read::read(&mut reader, &mut report) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other.map_err(clone_err)?,
        }
    };
    if got == 0 {
        return Ok(pid as libc::pid_t);
    }
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as libc::pid_t), None);
    let errno = i32::from_ne_bytes(report[..4].try_into().expect("4 bytes"));
    let at = i32::from_ne_bytes(report[4..].try_into().expect("4 bytes"));
    Err(SpawnError {
        step: usize::try_from(at).map_or(SpawnStep::Exec, SpawnStep::JoinCgroup),
        err: io::Error::from_raw_os_error(errno),
    })
}

/// The child of [`spawn_placed`]; never returns. A failure is reported as (errno, index of
/// the `tasks` file being written or -1).
///
/// # Safety
/// Must run in a freshly cloned child, with pointers valid in its copy of memory.
unsafe fn exec_child(
    path: &CStr,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    keep: &[RawFd],
    join_tasks: &[RawFd],
    report: RawFd,
) -> ! {
    // SAFETY: each call is an async-signal-safe system call on values we own.
    unsafe {
        let fail = |report: RawFd, at: i32| -> ! {
            let e = *libc::__errno_location();
            let mut msg = [0u8; 8];
            msg[..4].copy_from_slice(&e.to_ne_bytes());
            msg[4..].copy_from_slice(&at.to_ne_bytes());
            libc::write(report, msg.as_ptr().cast(), 8);
            libc::_exit(127)
        };
        // "0" is the writer itself; a single-threaded child moving only itself (`tasks`, not
        // `cgroup.procs`) is what lets the kernel skip the threadgroup lock.
        for (i, &fd) in join_tasks.iter().enumerate() {
            if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                fail(report, i as i32);
            }
        }
        for &fd in keep {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                fail(report, -1);
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            fail(report, -1);
        }
        libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
        fail(report, -1)
    }
}

/// TIOCGPTPEER: open the slave of a pty master without a path lookup, so a container cannot
/// swap /dev/pts/N for something else between the master's creation and the slave's open.
pub fn open_pty_peer(master: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    const TIOCGPTPEER: libc::c_ulong = 0x5441;
    // SAFETY: the ioctl takes open flags by value and returns a new fd.
    let r = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// Unlocks the pty master (TIOCSPTLCK 0) so its peer can be opened.
pub fn unlock_pty(master: BorrowedFd<'_>) -> io::Result<()> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int through the pointer, which is valid for the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the terminal on `fd` our controlling terminal.
pub fn set_controlling_tty(fd: RawFd) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an int argument by value.
    if unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub fn set_winsize(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize through a pointer valid for the call.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub fn get_winsize(fd: RawFd) -> Option<(u16, u16)> {
    // SAFETY: winsize is plain data; zeroed is a valid value.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize through a pointer valid for the call.
    if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } < 0 {
        return None;
    }
    Some((ws.ws_row, ws.ws_col))
}

/// ioprio_set(IOPRIO_WHO_PROCESS, 0, prio): no wrapper exists in libc or nix.
pub fn ioprio_set(class: i32, level: i32) -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: i32 = 1;
    let prio = (class << 13) | level;
    // SAFETY: plain integer arguments.
    if unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The path through which the kernel follows an fd: used to mount onto, or reopen, a file we
/// already hold instead of resolving its path a second time.
pub fn fd_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Resets every signal to its default action and unblocks all of them. The container process
/// must not inherit corral's dispositions (Rust ignores SIGPIPE) or a caller's blocked mask.
pub fn reset_signals() {
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL is always sound; errors for invalid numbers are ignored.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
    // SAFETY: an empty, initialised sigset passed by pointer valid for the call.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

#[repr(C)]
#[derive(Default)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// sched_setattr(2) for the calling thread: the only call that covers every field of the
/// OCI `process.scheduler` (nice, deadline runtime/period, flags).
pub fn sched_setattr(attr: &mut SchedAttr) -> io::Result<()> {
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `attr` is a valid, sized sched_attr for the duration of the call.
    if unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *mut SchedAttr, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Joins a new session keyring named `name` (what runc does unless `--no-new-keyring`), so
/// containers do not share the caller's keys.
pub fn join_session_keyring(name: &str) -> io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    let c = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))?;
    // SAFETY: `c` outlives the call.
    if unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, c.as_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

const FSOPEN_CLOEXEC: u32 = 1;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;
const FSMOUNT_CLOEXEC: u32 = 1;

fn fsconfig(
    fs: BorrowedFd<'_>,
    cmd: u32,
    key: Option<&str>,
    value: Option<&str>,
) -> io::Result<()> {
    let key = key.map(|k| CString::new(k).expect("static key"));
    let value = value
        .map(CString::new)
        .transpose()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in value"))?;
    let kp = key.as_ref().map_or(std::ptr::null(), |k| k.as_ptr());
    let vp = value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
    // SAFETY: key/value are NUL-terminated strings (or null) that outlive the call.
    if unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), cmd, kp, vp, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A read-only overlayfs of `dir` over an empty directory (overlayfs needs two lower layers
/// without an upper one, and they must not overlap), created with fsopen/fsmount and attached
/// to no mount namespace: it exists only through the returned fd and goes away with the last
/// file opened through it. The empty layer is `empty`, or with `None` a detached tmpfs named
/// to overlayfs by its fd's magic link (which older kernels, 6.1, refuse with EINVAL).
pub fn detached_readonly_overlay(dir: &Path, empty: Option<&Path>) -> io::Result<OwnedFd> {
    let tmpfs = match empty {
        Some(_) => None,
        None => Some(detached_fs(c"tmpfs", MOUNT_ATTR_RDONLY)?),
    };
    // SAFETY: a static NUL-terminated filesystem name; returns a new fd or -1.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, c"overlay".as_ptr(), FSOPEN_CLOEXEC) };
    if fs < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd from the kernel.
    let fs = unsafe { OwnedFd::from_raw_fd(fs as RawFd) };
    let layer = |p: &Path| {
        p.to_str()
            .filter(|d| !d.contains([':', ',', '\\']))
            .map(str::to_string)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "directory name unusable as an overlay layer",
                )
            })
    };
    let empty = match (&tmpfs, empty) {
        (Some(fd), _) => fd_path(fd),
        (None, Some(p)) => layer(p)?,
        (None, None) => unreachable!("one of the two is set above"),
    };
    let lower = format!("{}:{}", layer(dir)?, empty);
    fsconfig(
        fs.as_fd_borrowed(),
        FSCONFIG_SET_STRING,
        Some("lowerdir"),
        Some(&lower),
    )?;
    fsconfig(fs.as_fd_borrowed(), FSCONFIG_CMD_CREATE, None, None)?;
    let attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID;
    fsmount(&fs, attrs)
}

/// fsmount(2): a detached mount of the configured filesystem context `fs`.
fn fsmount(fs: &OwnedFd, attrs: u64) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments on an fd we own.
    let mnt = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) };
    if mnt < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(mnt as RawFd) })
}

/// A fresh procfs instance of the caller's pid namespace, created with fsopen/fsmount and
/// attached to no mount namespace, so nothing a container mounted over /proc can stand in
/// for its files (CVE-2025-52881).
pub fn detached_procfs() -> io::Result<OwnedFd> {
    // SAFETY: a static NUL-terminated filesystem name; returns a new fd or -1.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, c"proc".as_ptr(), FSOPEN_CLOEXEC) };
    if fs < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd from the kernel.
    let fs = unsafe { OwnedFd::from_raw_fd(fs as RawFd) };
    fsconfig(fs.as_fd_borrowed(), FSCONFIG_CMD_CREATE, None, None)?;
    let attrs = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
    fsmount(&fs, attrs)
}

/// O_PATH open of `name` relative to `dir`, not following symlinks out of it.
pub fn openat_path(dir: &OwnedFd, name: &Path) -> io::Result<OwnedFd> {
    openat2(
        dir.as_fd_borrowed(),
        name,
        libc::O_PATH,
        0,
        RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS,
    )
}

trait AsFdBorrowed {
    fn as_fd_borrowed(&self) -> BorrowedFd<'_>;
}

impl AsFdBorrowed for OwnedFd {
    fn as_fd_borrowed(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self)
    }
}

/// One eBPF instruction, as the kernel lays it out.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u8,
    /// dst register in the low nibble, src register in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
struct BpfProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    // The rest of the kernel's union bpf_attr stays zero.
    _rest: [u8; 96],
}

#[repr(C)]
struct BpfProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _rest: [u8; 108],
}

/// Loads a BPF_PROG_TYPE_CGROUP_DEVICE program; the verifier's log comes back in the error.
pub fn bpf_load_device_program(insns: &[BpfInsn]) -> io::Result<OwnedFd> {
    let mut log = vec![0u8; 64 * 1024];
    let attr = BpfProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: c"Apache-2.0".as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        prog_flags: 0,
        _rest: [0; 96],
    };
    // SAFETY: the attr and every buffer it points to outlive the call; sizes are passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const BpfProgLoadAttr,
            std::mem::size_of::<BpfProgLoadAttr>(),
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        let text = String::from_utf8_lossy(&log[..log.iter().position(|b| *b == 0).unwrap_or(0)])
            .to_string();
        return Err(io::Error::new(e.kind(), format!("{e}: {}", text.trim())));
    }
    // SAFETY: a fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Attaches a device program to the cgroup whose directory `cgroup` is open.
pub fn bpf_attach_device_program(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let attr = BpfProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
        _rest: [0; 108],
    };
    // SAFETY: the attr outlives the call; its size is passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const BpfProgAttachAttr,
            std::mem::size_of::<BpfProgAttachAttr>(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, program): loads a classic BPF filter into the calling
/// thread. Returns the listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER. `None` as program
/// probes whether the kernel knows `flags`: it fails with EFAULT if it does, EINVAL if not.
pub fn seccomp_set_filter(
    flags: libc::c_ulong,
    program: Option<&[libc::sock_filter]>,
) -> io::Result<Option<OwnedFd>> {
    let fprog = program.map(|p| libc::sock_fprog {
        len: p.len() as libc::c_ushort,
        filter: p.as_ptr().cast_mut(),
    });
    let arg = fprog
        .as_ref()
        .map_or(std::ptr::null(), |f| f as *const libc::sock_fprog);
    // SAFETY: the program outlives the call and the kernel only reads it; NULL only probes.
    let r = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, flags, arg) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    // SAFETY: with NEW_LISTENER the kernel returns a new fd that nobody else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(r as RawFd) }))
}

/// Sets the SELinux label of the file `fd` refers to (its security.selinux xattr).
pub fn set_selinux_file_label(fd: &OwnedFd, label: &str) -> io::Result<()> {
    // O_PATH fds take no fsetxattr; the /proc/self/fd path of the fd does.
    let path = CString::new(fd_path(fd)).map_err(io::Error::other)?;
    // SAFETY: NUL-terminated path and name; the value buffer outlives the call.
    let r = unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"security.selinux".as_ptr(),
            label.as_ptr().cast(),
            label.len(),
            0,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether capability number `cap` is in the bounding set; EINVAL means the kernel has no
/// such capability.
pub fn capbset_read(cap: u32) -> io::Result<bool> {
    // SAFETY: PR_CAPBSET_READ takes the capability number by value and touches no memory.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r == 1)
}

/// Drops capability number `cap` from the bounding set (needs CAP_SETPCAP).
pub fn capbset_drop(cap: u32) -> io::Result<()> {
    // SAFETY: PR_CAPBSET_DROP takes the capability number by value and touches no memory.
    if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// pidfd_open(2): an fd that names this one process, whatever its pid is reused for later.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: plain integer arguments; returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// pidfd_send_signal(2) with any signal number, real-time ones and 0 (a liveness check)
/// included.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: the fd is borrowed for the call; a null siginfo asks for the kill(2) defaults.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// kill(2) with any signal number (nix's `Signal` has no real-time signals).
pub fn kill_raw(pid: libc::pid_t, sig: i32) -> io::Result<()> {
    // SAFETY: plain integer arguments.
    if unsafe { libc::kill(pid, sig) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A fresh, empty filesystem of type `fs` with no options, mounted nowhere: only the returned
/// fd reaches it.
fn detached_fs(fs_type: &CStr, attrs: u64) -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated filesystem name that outlives the call; returns an fd or -1.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, fs_type.as_ptr(), FSOPEN_CLOEXEC) };
    if fs < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd from the kernel.
    let fs = unsafe { OwnedFd::from_raw_fd(fs as RawFd) };
    fsconfig(fs.as_fd_borrowed(), FSCONFIG_CMD_CREATE, None, None)?;
    fsmount(&fs, attrs)
}

/// The id of the mount `fd` lies on (statx STATX_MNT_ID, Linux 5.8; EINVAL before).
pub fn mount_id(fd: BorrowedFd<'_>) -> io::Result<u64> {
    const STATX_MNT_ID: u32 = 0x1000;
    // SAFETY: statx fills a zeroed struct we own; the empty path outlives the call.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let empty = c"";
    // SAFETY: as above; the fd is borrowed for the call.
    let r = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            STATX_MNT_ID,
            &mut stx,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if stx.stx_mask & STATX_MNT_ID == 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(stx.stx_mnt_id)
}

/// Sends one fd over a unix socket (SCM_RIGHTS on a one-byte message).
pub fn send_fd(sock: &std::os::unix::net::UnixStream, fd: std::os::fd::RawFd) -> io::Result<()> {
    sendfd::SendWithFd::send_with_fd(sock, &[0u8], &[fd]).map(|_| ())
}

/// Receives one fd sent with SCM_RIGHTS.
pub fn recv_fd(sock: &std::os::unix::net::UnixStream) -> io::Result<std::os::fd::OwnedFd> {
    let mut buf = [0u8; 4096];
    let mut fds = [0 as std::os::fd::RawFd; 1];
    let (_, n) = sendfd::RecvWithFd::recv_with_fd(sock, &mut buf, &mut fds)?;
    if n != 1 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "no fd arrived"));
    }
    // SAFETY: the fd arrived through SCM_RIGHTS and belongs to us now.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) })
}

/// Bytes written to the pipe `fd` that its reader has not taken yet (FIONREAD).
pub fn unread_bytes(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int into `n`, which outlives the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n.max(0) as usize)
}

/// Whether this process may make a namespace of type `flag` (a `CLONE_NEW*`): a forked child
/// tries unshare(2) and answers with its exit status (`corral check` tries, not guesses).
pub fn can_unshare(flag: libc::c_int) -> bool {
    // SAFETY: the child calls only unshare(2) and _exit(2), both async-signal-safe, so the
    // fork is sound whatever other threads hold.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: as above; _exit never returns.
        unsafe { libc::_exit(if libc::unshare(flag) == 0 { 0 } else { 1 }) }
    }
    if pid < 0 {
        return false;
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above, writing into a local.
    if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
        return false;
    }
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

/// Whether the kernel has system call `nr`: called with arguments it must refuse (null
/// pointers, size 0, fd -1), it fails with something other than ENOSYS.
pub fn syscall_exists(nr: libc::c_long) -> bool {
    // SAFETY: the calls probed (clone3, mount_setattr, openat2) check a size of 0 before
    // touching memory and reject it: nothing is read, created or changed. Not for calls
    // that could act on these arguments.
    let r = unsafe { libc::syscall(nr, -1i64, 0usize, 0usize, 0usize, 0usize) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS)
}

/// A connected pair of SOCK_SEQPACKET unix sockets, close-on-exec: CRIU's RPC needs message
/// boundaries, which std's socket types (stream and datagram pairs) do not give together
/// with a pair.
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: socketpair writes two fds into `fds`, which outlives the call.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// One message from a SOCK_SEQPACKET socket, and the fd it carried (SCM_RIGHTS), if any.
pub fn recv_message_with_fd(
    sock: &std::os::unix::net::UnixDatagram,
    buf: &mut [u8],
) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut fds = [-1 as RawFd; 1];
    let (n, nfds) = sendfd::RecvWithFd::recv_with_fd(sock, buf, &mut fds)?;
    let fd = (nfds == 1).then(|| {
        // SAFETY: the fd arrived through SCM_RIGHTS and belongs to us now.
        unsafe { OwnedFd::from_raw_fd(fds[0]) }
    });
    Ok((n, fd))
}

/// Brings up the loopback interface of this network namespace (SIOCGIFFLAGS, then
/// SIOCSIFFLAGS with IFF_UP): a new network namespace starts with `lo` down.
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: socket(2) takes no pointers; the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills the flags of `ifr`, which outlives the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel filled `ifru_flags` above; reading and setting it is plain data.
    unsafe { ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads `ifr`, which outlives the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
