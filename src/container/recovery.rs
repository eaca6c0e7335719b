//! The recovery record: what it takes to find and stop a container — its init (pid and start
//! time), its cgroup, its resctrl group — in a small file of its own beside `state.json`,
//! written before the state file each time those change (twice per create). When the state
//! file is damaged (truncated or garbage, after a crash or a full disk) `delete --force`
//! still kills the container's processes and removes its cgroups with it, and `list` shows
//! the container as `damaged` instead of losing it.

use super::state::{OciState, ProcessId, State};
use crate::cgroups::Cgroup;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const RECOVERY_FILE: &str = "recovery.json";

/// The status `list` gives a container whose state file is damaged.
pub const DAMAGED: &str = "damaged";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Recovery {
    pub id: String,
    pub init: ProcessId,
    pub bundle: PathBuf,
    pub created: String,
    pub cgroup: Cgroup,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdt: Option<crate::rdt::RdtGroup>,
}

impl Recovery {
    pub fn of(state: &State) -> Recovery {
        Recovery {
            id: state.id.clone(),
            init: state.init,
            bundle: state.bundle.clone(),
            created: state.created.clone(),
            cgroup: state.cgroup.clone(),
            rdt: state.rdt.clone(),
        }
    }

    /// tmp + rename, as the state file.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let data = serde_json::to_vec(self)
            .map_err(|e| Error::other(format!("encode recovery record: {e}")))?;
        super::state::write_atomically(dir, RECOVERY_FILE, &data)
    }

    /// The record of the container in `dir`, if it has a readable one.
    pub fn load(dir: &Path) -> Option<Recovery> {
        let text = std::fs::read(dir.join(RECOVERY_FILE)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// What `list` prints for the damaged container.
    pub fn oci_state(&self) -> OciState {
        OciState {
            oci_version: crate::spec::OCI_VERSION.to_string(),
            id: self.id.clone(),
            pid: if self.init.is_alive() {
                self.init.pid
            } else {
                0
            },
            status: DAMAGED.to_string(),
            bundle: self.bundle.display().to_string(),
            rootfs: String::new(),
            created: self.created.clone(),
            annotations: Default::default(),
            owner: String::new(),
        }
    }

    /// Stops every process of the container and removes its cgroup and resctrl group: the
    /// part of `delete` that needs no state file. Poststop hooks cannot run (they were in it).
    pub fn stop_and_remove(&self) -> Result<()> {
        let _ = self.cgroup.signal_all(libc::SIGKILL);
        let _ = self.init.signal(libc::SIGKILL);
        super::wait_until_dead(&self.init, std::time::Duration::from_secs(10))?;
        if let Some(group) = &self.rdt {
            crate::rdt::Resctrl::for_group(group).destroy(group);
        }
        self.cgroup.destroy()
    }
}
