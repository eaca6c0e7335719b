use super::GlobalOptions;
use crate::container::StateRoot;
use crate::error::Error;
use anyhow::{Context, Result};
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kill the container first if it is still running
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id
    pub id: String,
}

#[inline(never)]
pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    let root = g.state_root()?;
    match root.load_locked(&a.id) {
        Ok(c) => c.delete(a.force)?,
        Err(Error::NotExist) => {
            // A create killed before it wrote its state leaves a bare directory; runc
            // removes it too. With --force a missing container is not an error.
            if crate::container::validate_id(&a.id).is_ok() {
                let _ = std::fs::remove_dir_all(root.dir_of(&a.id));
            }
            if !a.force {
                return Err(Error::NotExist.into());
            }
        }
        Err(Error::CorruptState { path, msg }) if a.force => {
            remove_unreadable(&root, &a.id, &path, &msg)?
        }
        Err(e) => return Err(e.into()),
    }
    Ok(0)
}

/// `delete --force` of a container whose state file does not parse: its processes are
/// killed and its cgroups removed through the recovery record, then its directory goes, so an
/// engine's cleanup can finish (runc 1.1 fails here, every time, and the id stays taken).
/// Without a readable record (a container made before it existed) only the directory can be
/// removed, and the warning says so.
fn remove_unreadable(root: &StateRoot, id: &str, path: &Path, msg: &str) -> Result<()> {
    let dir = root.dir_of(id);
    let _lock = crate::container::lock_dir(&dir)?;
    let recovered = match crate::container::Recovery::load(&dir) {
        Some(r) => {
            r.stop_and_remove()?;
            true
        }
        None => false,
    };
    std::fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    if recovered {
        crate::log::warn(format!(
            "{}: corrupt state file ({msg}); stopped the container's processes and removed its \
             cgroups from {} (its poststop hooks were in the lost file and did not run)",
            path.display(),
            crate::container::recovery::RECOVERY_FILE
        ));
    } else {
        crate::log::warn(format!(
            "{}: corrupt state file ({msg}); removed {} without stopping the processes or \
             removing the cgroups it described (no recovery record)",
            path.display(),
            dir.display()
        ));
    }
    Ok(())
}
