use super::GlobalOptions;
use crate::error::Error;
use anyhow::Result;

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
        Err(e) => return Err(e.into()),
    }
    Ok(0)
}
