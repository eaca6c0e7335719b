use super::GlobalOptions;
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    pub id: String,
}

#[inline(never)]
pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    let c = g.state_root()?.load(&a.id)?;
    super::out(&format!(
        "{}\n",
        serde_json::to_string_pretty(&c.oci_state())?
    ))?;
    Ok(0)
}
