use super::GlobalOptions;
use crate::container::Status;
use anyhow::{Result, bail};
use std::io::Write;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one stats event and exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between stats events (Go duration: 500ms, 5s, 1m)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Container id
    pub id: String,
}

/// `events`: stats of the container as JSON lines, runc's shape (`{"type":"stats","id":...,
/// "data":{...}}`); streaming mode adds `{"type":"oom"}` events when the memory limit kills a
/// process, and ends when the container stops.
#[inline(never)]
pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    let interval = parse_duration(&a.interval)?;
    let root = g.state_root()?;
    let container = root.load(&a.id)?;
    if container.status() == Status::Stopped {
        bail!("container with id {} is not running", a.id);
    }
    let mut out = std::io::stdout();
    let emit =
        |out: &mut std::io::Stdout, typ: &str, data: Option<serde_json::Value>| -> Result<()> {
            let ev = Event {
                typ,
                id: &a.id,
                data,
            };
            writeln!(out, "{}", serde_json::to_string(&ev)?)?;
            out.flush()?;
            Ok(())
        };
    if a.stats {
        emit(
            &mut out,
            "stats",
            Some(serde_json::to_value(container.state.cgroup.stats())?),
        )?;
        wait_until_stdout_is_read();
        return Ok(0);
    }
    let mut ooms = container.state.cgroup.oom_kills();
    let mut next_stats = std::time::Instant::now();
    loop {
        let current = root.load(&a.id);
        let Ok(c) = current else { return Ok(0) };
        if c.status() == Status::Stopped {
            return Ok(0);
        }
        let now = c.state.cgroup.oom_kills();
        if now > ooms {
            emit(&mut out, "oom", None)?;
            ooms = now;
        }
        if std::time::Instant::now() >= next_stats {
            emit(
                &mut out,
                "stats",
                Some(serde_json::to_value(c.state.cgroup.stats())?),
            )?;
            next_stats += interval;
        }
        std::thread::sleep(interval.min(Duration::from_millis(100)));
    }
}

/// go-runc's `Stats` reads our stdout through a pipe while its default monitor waits for us
/// in another goroutine, and Go's `Wait` closes that pipe as soon as we exit: a runtime that
/// exits before the reader got to the line makes the call fail ("read |0: file already
/// closed"; runc is slow enough to win that race, corral sometimes is not). So when stdout is
/// a pipe, exit only once the reader has taken everything we wrote, has closed its end, or
/// after 2 s.
fn wait_until_stdout_is_read() {
    let stdout = std::io::stdout();
    let fd = std::os::fd::AsFd::as_fd(&stdout);
    let is_pipe =
        nix::sys::stat::fstat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFIFO);
    if !is_pipe {
        return;
    }
    let reader_gone = || {
        let mut pfd = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLOUT)];
        nix::poll::poll(&mut pfd, nix::poll::PollTimeout::ZERO).is_err()
            || pfd[0]
                .revents()
                .is_some_and(|r| r.contains(nix::poll::PollFlags::POLLERR))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while crate::syscall::unread_bytes(fd).is_ok_and(|n| n > 0)
        && !reader_gone()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// One line of output, keys in runc's order (`type`, `id`, `data`): some callers match the
/// text rather than parse it.
#[derive(serde::Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    typ: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<serde_json::Value>,
}

/// Go's duration syntax as runc takes it: `500ms`, `5s`, `1m30s`, `2h`.
fn parse_duration(s: &str) -> Result<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        bail!("--interval: empty duration");
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (n, tail) = rest.split_at(digits);
        let n: f64 = n
            .parse()
            .map_err(|_| anyhow::anyhow!("--interval {s:?}: not a duration"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let secs = match unit {
            "ns" => n / 1e9,
            "us" | "µs" => n / 1e6,
            "ms" => n / 1e3,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => bail!("--interval {s:?}: unknown unit {unit:?}"),
        };
        total = Duration::try_from_secs_f64(secs)
            .ok()
            .and_then(|d| total.checked_add(d))
            .ok_or_else(|| anyhow::anyhow!("--interval {s:?}: out of range"))?;
        rest = tail;
    }
    if total.is_zero() {
        bail!("--interval must be greater than 0");
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("1e400s").is_err(), "out of range, no panic");
        assert!(parse_duration("-5s").is_err());
    }
}
