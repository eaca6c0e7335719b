//! corral: a runc-compatible OCI container runtime.
//!
//! The binary in `main.rs` is a thin shell around this library; docs/design.md says how the
//! modules fit together, docs/security.md whom they trust.

pub mod cgroups;
pub mod cli;
pub mod container;
pub mod error;
pub mod hooks;
pub mod init;
pub mod launch;
pub mod log;
pub mod lsm;
pub mod oci_state;
#[cfg(test)]
pub(crate) mod race;
pub mod rootfs;
pub mod seccomp;
pub mod signal;
pub mod spec;
pub mod sync;
pub mod syscall;
pub mod tty;
