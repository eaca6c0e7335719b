use super::GlobalOptions;
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    pub id: String,
}

#[inline(never)]
pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    g.state_root()?.load_locked(&a.id)?.start()?;
    Ok(0)
}
