//! `corral completion bash|zsh|fish`: the shell's completion script. The scripts are
//! generated from the clap definitions (clap_complete, in tests/docs.rs, which fails when a
//! committed script differs from a fresh one) and embedded, so the binary carries no
//! generator; bash and fish also complete the ids of existing containers (`corral list -q`
//! under the `--root` on the command line).

use anyhow::Result;
use clap::ValueEnum;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to print the completion script for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[inline(never)]
pub fn run(a: Args) -> Result<i32> {
    let script = match a.shell {
        Shell::Bash => include_str!("../../completions/corral.bash"),
        Shell::Zsh => include_str!("../../completions/_corral"),
        Shell::Fish => include_str!("../../completions/corral.fish"),
    };
    super::out(script)?;
    Ok(0)
}
