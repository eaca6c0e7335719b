use super::GlobalOptions;
use anyhow::{Context, Result, bail};
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format: table (ps output) or json (a list of pids)
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: Format,
    /// Container id
    pub id: String,
    /// Options for ps(1) (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// `ps`: the container's processes, as runc shows them: ps(1)'s own output filtered to the
/// container's pids, or those pids as JSON.
#[inline(never)]
pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    let pids = g.state_root()?.load(&a.id)?.pids()?;
    if let Format::Json = a.format {
        if !a.ps_args.is_empty() {
            bail!("ps options cannot be used with --format json");
        }
        super::out(&format!("{}\n", serde_json::to_string(&pids)?))?;
        return Ok(0);
    }
    let args = if a.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        a.ps_args
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("run ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    super::out(&filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)?)?;
    Ok(0)
}

/// Keeps ps's header and the lines whose PID column is one of `pids`.
fn filter_ps(text: &str, pids: &[i32]) -> Result<String> {
    let mut lines = text.lines();
    let header = lines.next().context("ps printed nothing")?;
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("ps output has no PID column")?;
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_header_and_container_pids() {
        let ps = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 00:00 ? 00:00:00 init\nroot 42 1 0 00:00 ? 00:00:00 sleep\n";
        assert_eq!(
            filter_ps(ps, &[42]).unwrap(),
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 00:00 ? 00:00:00 sleep\n"
        );
        assert!(filter_ps("NOPE\n", &[1]).is_err());
    }
}
