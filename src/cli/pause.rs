use super::GlobalOptions;
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    pub id: String,
}

/// `pause`: freeze all processes of the container.
#[inline(never)]
pub fn pause(g: &GlobalOptions, a: Args) -> Result<i32> {
    g.state_root()?.load_locked(&a.id)?.pause()?;
    Ok(0)
}

/// `resume`: thaw them.
#[inline(never)]
pub fn resume(g: &GlobalOptions, a: Args) -> Result<i32> {
    g.state_root()?.load_locked(&a.id)?.resume()?;
    Ok(0)
}
