//! Terminals: the pty made inside the container, its master handed over the console socket
//! as runc does (SCM_RIGHTS), and the copy loop `run` uses when it keeps the master itself.

use crate::error::{Context, Result};
use crate::rootfs::resolve::RootDir;
use crate::syscall::{fd_path, open_pty_peer, set_controlling_tty, set_winsize, unlock_pty};
use nix::mount::{MsFlags, mount};
use sendfd::SendWithFd;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// In the init: opens the container's /dev/ptmx, sends the master to the console socket,
/// makes the slave our stdio and controlling terminal, and (for the container's init, not
/// for exec) binds it over /dev/console. The slave comes from TIOCGPTPEER, never from a
/// path in the container.
pub fn setup_console(
    root: &RootDir,
    console_fd: RawFd,
    size: Option<(u16, u16)>,
    dev_console: bool,
) -> Result<()> {
    let master = root
        .open_path(Path::new("/dev/pts/ptmx"), libc::O_RDWR | libc::O_NOCTTY)
        .or_else(|_| root.open_path(Path::new("/dev/ptmx"), libc::O_RDWR | libc::O_NOCTTY))
        .ctx(|| "open the container's /dev/ptmx (is /dev/pts mounted?)")?;
    unlock_pty(master.as_fd()).ctx(|| "unlock pty")?;
    let slave = open_pty_peer(master.as_fd()).ctx(|| "open pty slave")?;
    if let Some((rows, cols)) = size
        && rows > 0
        && cols > 0
    {
        set_winsize(slave.as_raw_fd(), rows, cols).ctx(|| "process.consoleSize")?;
    }
    if dev_console {
        let console = console_target(root)?;
        mount(
            Some(fd_path(&slave).as_str()),
            fd_path(&console).as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(|| "bind pty over /dev/console")?;
    }
    send_master(console_fd, &master)?;
    drop(master);
    nix::unistd::dup2_stdin(&slave).ctx(|| "dup pty slave to stdin")?;
    nix::unistd::dup2_stdout(&slave).ctx(|| "dup pty slave to stdout")?;
    nix::unistd::dup2_stderr(&slave).ctx(|| "dup pty slave to stderr")?;
    set_controlling_tty(0).ctx(|| "make the pty the controlling terminal")?;
    Ok(())
}

/// /dev/console as a plain file we made, never whatever the image put there: a symlink in
/// the image (CVE-2025-52565) would otherwise send the pty bind mount onto its target.
fn console_target(root: &RootDir) -> Result<OwnedFd> {
    let (dev, name) = root
        .parent_of(Path::new("/dev/console"))
        .ctx(|| "resolve /dev")?;
    let existing = nix::sys::stat::fstatat(
        dev.as_fd(),
        name.as_path(),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    );
    if let Ok(st) = existing
        && st.st_mode & libc::S_IFMT != libc::S_IFREG
    {
        let flags = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            nix::unistd::UnlinkatFlags::RemoveDir
        } else {
            nix::unistd::UnlinkatFlags::NoRemoveDir
        };
        nix::unistd::unlinkat(dev.as_fd(), name.as_path(), flags)
            .ctx(|| "remove the image's /dev/console")?;
    }
    #[cfg(test)]
    crate::race::hit("console-cleared");
    // O_NONBLOCK: a FIFO swapped in meanwhile must fail the open (ENXIO), not block create
    // forever waiting for a reader.
    let oflags = nix::fcntl::OFlag::O_CREAT
        | nix::fcntl::OFlag::O_WRONLY
        | nix::fcntl::OFlag::O_NOFOLLOW
        | nix::fcntl::OFlag::O_NONBLOCK
        | nix::fcntl::OFlag::O_CLOEXEC;
    drop(
        nix::fcntl::openat(
            dev.as_fd(),
            name.as_path(),
            oflags,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .ctx(|| "create /dev/console")?,
    );
    let console = nix::fcntl::openat(
        dev.as_fd(),
        name.as_path(),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| "open /dev/console")?;
    let st = nix::sys::stat::fstat(console.as_fd()).ctx(|| "stat /dev/console")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(crate::error::Error::other(
            "/dev/console was replaced while it was set up",
        ));
    }
    Ok(console)
}

fn send_master(console_fd: RawFd, master: &OwnedFd) -> Result<()> {
    // SAFETY: the parent passed us this fd for the console socket; we own it from here.
    let sock = unsafe { UnixStream::from_raw_fd(console_fd) };
    send_master_to(&sock, master)
}

/// Sends a pty master over a console socket as runc does: the pty's name as the message,
/// the fd with SCM_RIGHTS (also what `restore` hands over for a restored terminal).
pub fn send_master_to(sock: &UnixStream, master: &OwnedFd) -> Result<()> {
    let name = std::fs::read_link(fd_path(master)).unwrap_or_default();
    sock.send_with_fd(name.as_os_str().as_encoded_bytes(), &[master.as_raw_fd()])
        .ctx(|| "send pty master to the console socket")?;
    Ok(())
}

/// In the parent: receives the master that the init sent over `sock`.
pub fn receive_master(sock: &UnixStream) -> Result<OwnedFd> {
    crate::syscall::recv_fd(sock).ctx(|| "receive pty master")
}

/// Puts our stdin in raw mode while the container owns the terminal; restores it on drop.
pub struct RawMode {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawMode {
    pub fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let saved = nix::sys::termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            nix::sys::termios::cfmakeraw(&mut raw);
            let _ = nix::sys::termios::tcsetattr(
                stdin.as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                &raw,
            );
        }
        RawMode { saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
    }
}

/// Copies our stdin to the master and the master to our stdout on two threads.
pub fn proxy(master: OwnedFd) -> Result<std::thread::JoinHandle<()>> {
    let reader = std::fs::File::from(master.try_clone().ctx(|| "dup pty master")?);
    let mut writer = std::fs::File::from(master);
    copy_window_size(writer.as_raw_fd());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut writer);
    });
    Ok(std::thread::spawn(move || {
        let mut reader = reader;
        let _ = std::io::copy(&mut reader, &mut std::io::stdout());
    }))
}

/// Gives the pty our terminal's size (at start and on SIGWINCH). A terminal that reports
/// no size (0x0) leaves the container's `consoleSize` in place.
pub fn copy_window_size(master: RawFd) {
    if let Some((rows, cols)) = crate::syscall::get_winsize(libc::STDIN_FILENO)
        && rows > 0
        && cols > 0
    {
        let _ = set_winsize(master, rows, cols);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FIFO planted at /dev/console after the image's entry was cleared must not block the
    /// open (no reader would ever come) and must not be taken for the console.
    #[test]
    fn a_fifo_swapped_in_at_dev_console_fails_fast() {
        let tmp = tempfile::tempdir().unwrap();
        let rootfs = tmp.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("dev")).unwrap();
        let root = RootDir::open(&rootfs).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            crate::race::set("console-cleared", {
                let console = tmp.path().join("rootfs/dev/console");
                move || {
                    let mode = nix::sys::stat::Mode::from_bits_truncate(0o600);
                    nix::unistd::mkfifo(&console, mode).unwrap();
                }
            });
            let r = console_target(&root).map(|_| ());
            let _ = tx.send(r.is_err());
            drop(tmp);
        });
        let failed = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("console_target blocked on the planted FIFO");
        assert!(failed, "a FIFO is not a console");
    }
}
