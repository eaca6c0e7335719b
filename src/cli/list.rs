use super::GlobalOptions;
use crate::container::Status;
use anyhow::Result;
use clap::ValueEnum;
use std::os::unix::fs::MetadataExt;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format: table or json
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: Format,
    /// Print only the container ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    let containers = g.state_root()?.list()?;
    if a.quiet {
        for c in &containers {
            println!("{}", c.id());
        }
        return Ok(0);
    }
    let mut rows = Vec::new();
    for c in &containers {
        let mut s = c.oci_state();
        s.owner = owner_name(&c.dir);
        rows.push(s);
    }
    match a.format {
        Format::Json => println!("{}", serde_json::to_string(&rows)?),
        Format::Table => {
            let mut table = vec![
                ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                    .map(String::from)
                    .to_vec(),
            ];
            for s in rows {
                let pid = if s.status == Status::Stopped.as_str() {
                    0
                } else {
                    s.pid
                };
                table.push(vec![
                    s.id,
                    pid.to_string(),
                    s.status,
                    s.bundle,
                    s.created,
                    s.owner,
                ]);
            }
            print!("{}", render_table(&table));
        }
    }
    Ok(0)
}

/// Go's tabwriter with runc's settings (min width 12, padding 3): every column but the last
/// is padded to max(widest cell + 3, 12).
fn render_table(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0) + 3)
        .map(|w| w.max(12))
        .collect();
    let mut out = String::new();
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == cols {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

fn owner_name(dir: &std::path::Path) -> String {
    let uid = std::fs::metadata(dir).map(|m| m.uid()).unwrap_or(0);
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("#{uid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_runc_spacing() {
        let t = render_table(&[
            vec!["ID".into(), "PID".into(), "OWNER".into()],
            vec!["probe1".into(), "2525".into(), "root".into()],
        ]);
        assert_eq!(
            t,
            "ID          PID         OWNER\nprobe1      2525        root\n"
        );
    }
}
