use super::GlobalOptions;
use crate::signal::parse_signal;
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Send the signal to every process in the container
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container id
    pub id: String,
    /// Signal name or number (default SIGTERM)
    pub signal: Option<String>,
}

#[inline(never)]
pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    let sig = parse_signal(a.signal.as_deref().unwrap_or("SIGTERM"))?;
    g.state_root()?.load_locked(&a.id)?.signal(sig, a.all)?;
    Ok(0)
}
