//! The container's state as the runtime-spec defines it (runtime.md, "State"): what `state`
//! prints, what hooks read on stdin and what a seccomp agent receives. A leaf: it names no
//! other module of corral, so everything that speaks this JSON can use it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The OCI runtime-spec version corral implements and reports.
pub const OCI_VERSION: &str = "1.2.0";

/// Field names and order of runc's `state` output.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OciState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: String,
    pub rootfs: String,
    pub created: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub owner: String,
}
