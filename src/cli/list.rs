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

#[inline(never)]
pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    let containers = g.state_root()?.list()?;
    if a.quiet {
        for c in &containers {
            super::out(&format!("{}\n", c.id()))?;
        }
        return Ok(0);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let mut rows = Vec::new();
    for c in &containers {
        let mut s = c.oci_state();
        s.owner = owner_name(c.dir(), &passwd);
        rows.push(s);
    }
    match a.format {
        Format::Json => super::out(&format!("{}\n", serde_json::to_string(&rows)?))?,
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
            super::out(&render_table(&table))?;
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

fn owner_name(dir: &std::path::Path, passwd: &str) -> String {
    let uid = std::fs::metadata(dir).map(|m| m.uid()).unwrap_or(0);
    user_name_in(passwd, uid).unwrap_or_else(|| format!("#{uid}"))
}

/// The name of `uid` in an /etc/passwd text. Read directly, as runc does, rather than through
/// getpwuid: the shipped binary is static, and glibc's NSS would dlopen host libraries.
fn user_name_in(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_come_from_the_passwd_text() {
        let passwd =
            "root:x:0:0:root:/root:/bin/sh\nbroken\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(user_name_in(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name_in(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(user_name_in(passwd, 7), None);
    }

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
