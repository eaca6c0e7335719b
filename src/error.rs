//! The library's error type. Every error carries enough context to say *where* it happened:
//! a file, a JSON path, a flag or a container id.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container does not exist")]
    NotExist,
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("invalid container ID format: {0:?}")]
    InvalidId(String),
    #[error("{path}: {msg}")]
    Config { path: String, msg: String },
    #[error("{0}")]
    State(String),
    /// A state.json that exists but does not parse (a crash of the disk under a disk-backed
    /// `--root`, or a hand edit).
    #[error("{path}: corrupt state file: {msg}")]
    CorruptState { path: PathBuf, msg: String },
    // The cause is part of the message, not a `source()`: the CLI prints the whole chain
    // (`{:#}`), which would say it twice.
    #[error("{context}: {err}")]
    Io {
        context: String,
        err: std::io::Error,
    },
    #[error("{context}: {err}")]
    Sys { context: String, err: nix::Error },
    /// CRIU failed a request (`checkpoint`, `restore`): which one, and CRIU's own words
    /// (its error message and the last error lines of its log).
    #[error("criu {op} failed: {detail}")]
    Criu { op: String, detail: String },
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn config(path: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Config {
            path: path.into(),
            msg: msg.into(),
        }
    }

    pub fn state(msg: impl Into<String>) -> Self {
        Error::State(msg.into())
    }

    pub fn other(msg: impl Into<String>) -> Self {
        Error::Other(msg.into())
    }
}

/// Adds a human context to io and nix errors: `.ctx(|| format!("open {path}"))`.
pub trait Context<T> {
    fn ctx<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn ctx<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|err| Error::Io {
            context: f().into(),
            err,
        })
    }
}

impl<T> Context<T> for std::result::Result<T, nix::Error> {
    fn ctx<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|err| Error::Sys {
            context: f().into(),
            err,
        })
    }
}

/// Shorthand for "what happened to which path" contexts.
pub fn at(what: &str, path: impl Into<PathBuf>) -> String {
    format!("{what} {}", path.into().display())
}

/// An I/O error worded as runc (Go) words it: "no such file or directory" rather than Rust's
/// "No such file or directory (os error 2)". Engines match these words: docker and podman
/// turn a missing executable into exit 127 only when the runtime's error contains them.
pub fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_lowercase(),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_io_cause_is_printed_once_in_the_cli_chain() {
        use super::Context;
        let e: super::Error = Err::<(), _>(std::io::Error::from_raw_os_error(libc::ENOENT))
            .ctx(|| "open /x")
            .unwrap_err();
        let shown = format!("{:#}", anyhow::Error::new(e));
        assert_eq!(shown.matches("No such file").count(), 1, "{shown}");
    }
}
