//! Terminals: the pty master handed over `--console-socket` (as containerd and podman
//! receive it) and foreground `run` proxying a pty, corral next to runc.

mod common;

use common::*;
use serde_json::json;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::time::Duration;

/// Reads everything from a pty master until the slave side is gone (EIO).
fn drain(master: OwnedFd) -> String {
    let mut f = std::fs::File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => panic!("read pty: {e}"),
        }
    }
    String::from_utf8_lossy(&out).replace('\r', "")
}

/// Creates `b` with a console socket, starts it, and returns what its terminal printed.
fn run_on_console_socket(rt: &Runtime, b: &Bundle, id: &str) -> String {
    b.write_for(rt, id);
    let sock_path = b.path().join(format!("{}-{id}.sock", rt.name));
    let receiver = console_receiver(&sock_path);
    rt.ok(&[
        "create",
        "--bundle",
        b.path_str(),
        "--console-socket",
        sock_path.to_str().unwrap(),
        id,
    ]);
    let master = receiver.join().unwrap();
    rt.ok(&["start", id]);
    drain(master)
}

fn tty_bundle() -> Bundle {
    let mut b = Bundle::new();
    b.sh("tty; stty size; echo hello; ls -l /dev/console | awk '{print $1}'");
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    b
}

#[test]
fn console_socket_receives_the_pty_master() {
    let b = tty_bundle();
    let results = differential("console", |rt, id| run_on_console_socket(rt, &b, id));
    assert_same(&results);
    let out = &results[0].1;
    assert!(out.starts_with("/dev/pts/0\n30 100\nhello\n"), "{out}");
    assert!(out.contains("crw"), "/dev/console is the pty: {out}");
}

#[test]
fn foreground_run_proxies_its_own_pty() {
    // No `stty size` here: runc copies its own terminal's size (0x0 for this test's pty) over
    // consoleSize at a moment that races the container, so the size is not comparable.
    let mut b = tty_bundle();
    b.sh("tty; echo hello; ls -l /dev/console | awk '{print $1}'");
    let results = differential("fgtty", |rt, id| {
        b.write_for(rt, id);
        let pty = nix::pty::openpty(None, None).unwrap();
        let slave = std::fs::File::from(pty.slave);
        let mut child = rt
            .cmd()
            .args(["run", "--bundle", b.path_str(), id])
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave)
            .spawn()
            .unwrap();
        let master = pty.master;
        let reader = std::thread::spawn(move || drain(master));
        let status = child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        // Our copy of the slave is gone with `child`'s; the reader ends on EIO.
        (status.code(), reader.join().unwrap())
    });
    assert_same(&results);
    let (code, out) = &results[0].1;
    assert_eq!(*code, Some(0));
    assert!(out.contains("/dev/pts/0") && out.contains("hello"), "{out}");
}

#[test]
fn console_socket_without_terminal_is_refused() {
    let b = Bundle::with_args(&["true"]);
    for rt in Runtime::both() {
        let id = unique_id("nottyconsole");
        let _guard_id = rt.guard(&id);
        b.write_for(&rt, &id);
        let sock = b.path().join(format!("{}-unused.sock", rt.name));
        let _l = UnixListener::bind(&sock).unwrap();
        let out = rt.run(&[
            "create",
            "--bundle",
            b.path_str(),
            "--console-socket",
            sock.to_str().unwrap(),
            &id,
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", rt.name);
        assert_clean(&rt, &id);
    }
}

/// The pty belongs to the process's user (a shell that is not root can then change its own
/// terminal's modes), its group staying devpts's `gid=5`, as with runc.
#[test]
fn the_pty_belongs_to_the_process_user() {
    let mut b = tty_bundle();
    b.sh("stat -c '%u %g' $(tty)");
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let results = differential("ptyowner", |rt, id| run_on_console_socket(rt, &b, id));
    assert_same(&results);
    assert_eq!(results[0].1, "1000 5\n");
}

/// `exec --tty --process FILE` takes the terminal size from the file's `consoleSize`, as runc.
#[test]
fn exec_process_console_size_is_honoured() {
    let b = Bundle::with_args(&["sleep", "1000"]);
    let results = differential("execsize", |rt, id| {
        rt.start_detached(&b, id);
        let p = b.path().join(format!("{}-tty.json", rt.name));
        std::fs::write(
            &p,
            json!({"args": ["stty", "size"], "cwd": "/", "env": ["PATH=/bin"], "terminal": true,
                   "user": {"uid": 0, "gid": 0}, "consoleSize": {"height": 33, "width": 77}})
            .to_string(),
        )
        .unwrap();
        let sock_path = b.path().join(format!("{}-exec.sock", rt.name));
        let receiver = console_receiver(&sock_path);
        rt.ok(&[
            "exec",
            "--tty",
            "--detach",
            "--console-socket",
            sock_path.to_str().unwrap(),
            "--process",
            p.to_str().unwrap(),
            id,
        ]);
        drain(receiver.join().unwrap())
    });
    assert_same(&results);
    assert_eq!(results[0].1, "33 77\n");
}
