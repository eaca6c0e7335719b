//! corral: a runc-compatible OCI container runtime.
//!
//! The binary in `main.rs` is a thin shell around this library; docs/design.md says how the
//! modules fit together, docs/security.md whom they trust.

pub(crate) mod cgroups;
pub(crate) mod checkpoint;
pub mod cli;
pub(crate) mod container;
pub(crate) mod error;
pub(crate) mod fault;
pub(crate) mod hooks;
pub mod init;
pub(crate) mod launch;
pub mod log;
pub(crate) mod lsm;
pub(crate) mod oci_state;
#[cfg(test)]
pub(crate) mod race;
pub(crate) mod rdt;
pub(crate) mod rootfs;
pub(crate) mod seccomp;
pub(crate) mod signal;
pub(crate) mod spec;
pub(crate) mod sync;
pub(crate) mod syscall;
pub(crate) mod tty;
