//! A runtime under test and how its commands are run.

use std::io::{Read, Seek};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A runtime binary with a private state root (`--root`), removed with it.
pub struct Runtime {
    /// How reports name it (`corral`, `runc`).
    pub name: &'static str,
    pub bin: PathBuf,
    /// Global flags given before every command (`--systemd-cgroup`, ...).
    pub global_args: Vec<String>,
    pub root: tempfile::TempDir,
}

impl Runtime {
    pub fn new(
        name: &'static str,
        bin: PathBuf,
        global_args: Vec<String>,
    ) -> std::io::Result<Runtime> {
        let root = tempfile::Builder::new()
            .prefix(&format!("{name}-root"))
            .tempdir()?;
        Ok(Runtime {
            name,
            bin,
            global_args,
            root,
        })
    }

    /// `BIN --root ROOT [GLOBAL ARGS] ARGS`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(self.root.path());
        c.args(&self.global_args);
        c.args(args);
        c
    }
}

/// What a captured command did.
#[derive(Debug)]
pub struct Captured {
    pub output: Output,
    /// It ran past its limit and was killed.
    pub timed_out: bool,
}

/// Runs `cmd` with stdin from /dev/null and stdout/stderr in unlinked temp files, not pipes:
/// a container started by `create` inherits the runtime's stdio and may hold it long after
/// the command returned, and a pipe would hang the reader. With a `limit`, a command still
/// running then is killed.
pub fn capture(cmd: &mut Command, limit: Option<Duration>) -> std::io::Result<Captured> {
    let out = tempfile::tempfile()?;
    let err = tempfile::tempfile()?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(err.try_clone()?)
        .spawn()?;
    let start = Instant::now();
    let mut timed_out = false;
    let status = if limit.is_none() {
        child.wait()?
    } else {
        loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if limit.is_some_and(|l| start.elapsed() >= l) {
                let _ = child.kill();
                timed_out = true;
                break child.wait()?;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    Ok(Captured {
        output: Output {
            status,
            stdout: read_all(out)?,
            stderr: read_all(err)?,
        },
        timed_out,
    })
}

fn read_all(mut f: std::fs::File) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    f.seek(std::io::SeekFrom::Start(0))?;
    f.read_to_end(&mut v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_kills_at_the_limit() {
        let c = capture(
            Command::new("sh").args(["-c", "echo out; echo err >&2"]),
            None,
        )
        .unwrap();
        assert_eq!(c.output.stdout, b"out\n");
        assert_eq!(c.output.stderr, b"err\n");
        assert!(c.output.status.success() && !c.timed_out);
        let c = capture(
            Command::new("sleep").arg("10"),
            Some(Duration::from_millis(50)),
        )
        .unwrap();
        assert!(c.timed_out && !c.output.status.success());
    }
}
