//! Signal names and numbers as `kill` accepts them: `KILL`, `SIGKILL`, `9`, case-insensitive.

use crate::error::{Error, Result};
use nix::sys::signal::Signal;
use std::str::FromStr;

/// Parses a signal the way runc's `kill` does (name with or without `SIG`, or a number; 0
/// is a liveness check).
pub fn parse_signal(s: &str) -> Result<i32> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return (n == 0)
            .then_some(0)
            .or_else(|| valid_number(n))
            .ok_or_else(|| Error::other(format!("invalid signal: {s}")));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    if let Some(n) = realtime_signal(&name) {
        return Ok(n);
    }
    Signal::from_str(&name)
        .map(|sig| sig as i32)
        .map_err(|_| Error::other(format!("unknown signal {s:?}")))
}

fn valid_number(n: i32) -> Option<i32> {
    (1..=libc::SIGRTMAX()).contains(&n).then_some(n)
}

/// `SIGRTMIN`, `SIGRTMIN+3`, `SIGRTMAX-2`: nix's `Signal` does not cover real-time signals.
fn realtime_signal(name: &str) -> Option<i32> {
    let (base, rest) = if let Some(rest) = name.strip_prefix("SIGRTMIN") {
        (libc::SIGRTMIN(), rest)
    } else if let Some(rest) = name.strip_prefix("SIGRTMAX") {
        (libc::SIGRTMAX(), rest)
    } else {
        return None;
    };
    let n = if rest.is_empty() {
        base
    } else if let Some(off) = rest.strip_prefix('+') {
        base + off.parse::<i32>().ok()?
    } else if let Some(off) = rest.strip_prefix('-') {
        base - off.parse::<i32>().ok()?
    } else {
        return None;
    };
    valid_number(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGKILL").unwrap(), 9);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("hup").unwrap(), 1);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("0").unwrap(), 0, "a liveness check");
        assert_eq!(parse_signal("37").unwrap(), 37);
        assert_eq!(parse_signal("SIGRTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        assert_eq!(parse_signal("RTMAX").unwrap(), libc::SIGRTMAX());
    }

    #[test]
    fn rejects_bad_signals() {
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("SIG0").is_err());
        assert!(parse_signal("200").is_err());
        assert!(parse_signal("-1").is_err());
        assert!(parse_signal("SIGRTMIN+x").is_err());
    }
}
