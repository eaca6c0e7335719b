//! Turns `run --json` result files into the README table and enforces the expected-failures
//! list: the subject runtime (corral) may fail only the cases listed for it, each with a reason,
//! and a listed case that now passes must leave the list (it only shrinks).

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Result files written by `run --json`, one per runtime; the first is the subject.
    #[arg(required = true)]
    results: Vec<PathBuf>,
    /// Lines `RUNTIME CASE REASON`: known failures. The subject's entries are its
    /// expected failures; other runtimes' entries explain their failures in the table.
    #[arg(long)]
    known: Option<PathBuf>,
    /// Write the markdown table here.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

struct Results {
    runtime: String,
    host: String,
    cases: BTreeMap<String, (String, String)>,
    order: Vec<String>,
}

fn load(path: &PathBuf) -> Result<Results, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut cases = BTreeMap::new();
    let mut order = Vec::new();
    for r in v["results"].as_array().cloned().unwrap_or_default() {
        let name = r["name"].as_str().unwrap_or("").to_string();
        order.push(name.clone());
        cases.insert(
            name,
            (
                r["status"].as_str().unwrap_or("").to_string(),
                r["reason"].as_str().unwrap_or("").to_string(),
            ),
        );
    }
    Ok(Results {
        runtime: v["runtime"].as_str().unwrap_or("?").to_string(),
        host: v["host"].as_str().unwrap_or("?").to_string(),
        cases,
        order,
    })
}

/// (runtime, case) → reason.
pub fn parse_known(text: &str) -> Result<BTreeMap<(String, String), String>, String> {
    let mut known = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, char::is_whitespace);
        let (Some(rt), Some(case), Some(reason)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "line {}: want `RUNTIME CASE REASON`, got {line:?}",
                n + 1
            ));
        };
        known.insert(
            (rt.to_string(), case.to_string()),
            reason.trim().to_string(),
        );
    }
    Ok(known)
}

/// The gate's findings: every entry is a reason the run is not acceptable.
pub fn gate(
    subject: &str,
    cases: &BTreeMap<String, (String, String)>,
    known: &BTreeMap<(String, String), String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (case, (status, reason)) in cases {
        let listed = known.contains_key(&(subject.to_string(), case.clone()));
        match (status.as_str(), listed) {
            ("fail", false) => problems.push(format!("{subject} fails {case}: {reason}")),
            ("pass", true) => problems.push(format!(
                "{subject} now passes {case}: remove it from the known failures"
            )),
            _ => {}
        }
    }
    problems
}

pub fn report(args: ReportArgs) -> Result<i32, String> {
    let runs: Vec<Results> = args.results.iter().map(load).collect::<Result<_, _>>()?;
    let known = match &args.known {
        Some(p) => {
            parse_known(&std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?)?
        }
        None => BTreeMap::new(),
    };
    let subject = &runs[0];
    let problems = gate(&subject.runtime, &subject.cases, &known);
    if let Some(path) = &args.markdown {
        std::fs::write(path, table(&runs, &known))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    for r in &runs {
        let count = |s: &str| r.cases.values().filter(|(st, _)| st == s).count();
        println!(
            "{}: {} passed, {} failed, {} skipped ({})",
            r.runtime,
            count("pass"),
            count("fail"),
            count("skip"),
            r.host
        );
    }
    for p in &problems {
        println!("GATE: {p}");
    }
    Ok(if problems.is_empty() { 0 } else { 1 })
}

fn table(runs: &[Results], known: &BTreeMap<(String, String), String>) -> String {
    let mut out = String::new();
    let mut notes: Vec<String> = Vec::new();
    let several_hosts = runs.iter().any(|r| r.host != runs[0].host);
    let header: Vec<String> = runs
        .iter()
        .map(|r| {
            if several_hosts {
                format!("{} ({})", r.runtime, r.host)
            } else {
                r.runtime.clone()
            }
        })
        .collect();
    let _ = writeln!(out, "| case | {} |", header.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(runs.len()));
    for case in &runs[0].order {
        let mut cells = Vec::new();
        for r in runs {
            let cell = match r.cases.get(case) {
                None => "–".to_string(),
                Some((status, reason)) => match status.as_str() {
                    "pass" => "pass".to_string(),
                    "skip" => format!("skip ({reason})"),
                    _ => {
                        let why = known
                            .get(&(r.runtime.clone(), case.clone()))
                            .cloned()
                            .unwrap_or_else(|| shorten(reason));
                        notes.push(format!("{}, {case}, {}: {why}", r.runtime, r.host));
                        format!("**fail** [{}]", notes.len())
                    }
                },
            };
            cells.push(cell);
        }
        let _ = writeln!(out, "| `{case}` | {} |", cells.join(" | "));
    }
    let totals: Vec<String> = runs
        .iter()
        .map(|r| {
            let count = |s: &str| r.cases.values().filter(|(st, _)| st == s).count();
            format!(
                "{}/{} pass, {} skip",
                count("pass"),
                r.cases.len(),
                count("skip")
            )
        })
        .collect();
    let _ = writeln!(out, "| **total** | {} |", totals.join(" | "));
    out.push('\n');
    for (n, note) in notes.iter().enumerate() {
        let _ = writeln!(out, "{}. {note}", n + 1);
    }
    out
}

fn shorten(s: &str) -> String {
    let s = s.replace('|', "/").replace('\n', " ");
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cases(list: &[(&str, &str)]) -> BTreeMap<String, (String, String)> {
        list.iter()
            .map(|(c, s)| (c.to_string(), (s.to_string(), "why".to_string())))
            .collect()
    }

    #[test]
    fn gate_fails_unlisted_failures_and_listed_passes() {
        let known = parse_known("# comment\ncorral a  reason one\nrunc b reason two\n").unwrap();
        assert!(gate("corral", &cases(&[("a", "fail"), ("b", "pass")]), &known).is_empty());
        let p = gate("corral", &cases(&[("a", "pass"), ("b", "fail")]), &known);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("now passes a"));
        assert!(p[1].contains("fails b"));
    }

    #[test]
    fn known_lines_need_three_fields() {
        assert!(parse_known("corral onlycase\n").is_err());
        let k = parse_known("runc x it is a runc bug").unwrap();
        assert_eq!(k[&("runc".into(), "x".into())], "it is a runc bug");
    }
}
