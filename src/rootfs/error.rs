//! Why one mount (or device) of the config could not be set up, keeping the errno: the
//! caller adds which entry of the config it was.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// A system call failed at `step`.
    #[error("{step}: {err}")]
    Io { step: String, err: io::Error },
    /// The config or the image asks for something runc refuses too (procfs onto a symlink,
    /// a mount inside /proc).
    #[error("{0}")]
    Refused(String),
}

pub type Res<T> = std::result::Result<T, MountError>;

/// `.map_err(|e| io_err("step", e))` for io and nix errors.
pub(super) fn io_err(step: impl Into<String>, err: impl Into<io::Error>) -> MountError {
    MountError::Io {
        step: step.into(),
        err: err.into(),
    }
}

impl MountError {
    /// The same error, said to have happened while doing `outer`.
    pub(super) fn within(self, outer: &str) -> MountError {
        match self {
            MountError::Io { step, err } => MountError::Io {
                step: format!("{outer}: {step}"),
                err,
            },
            MountError::Refused(msg) => MountError::Refused(format!("{outer}: {msg}")),
        }
    }

    /// The crate's error, naming the config entry (`mounts[3] (/proc)`) it came from.
    pub(crate) fn at_entry(self, entry: String) -> crate::error::Error {
        use crate::error::Error;
        match self {
            MountError::Io { step, err } => Error::Io {
                context: format!("{entry}: {step}"),
                err,
            },
            other => Error::config(entry, other.to_string()),
        }
    }
}
