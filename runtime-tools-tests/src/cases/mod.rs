//! The cases, one per runtime-spec topic, named after the runtime-tools validation test of the
//! same topic where one exists; and the runner that prints TAP and writes the JSON results.

mod cgroups;
mod hooks;
mod lifecycle;
mod linux;
mod process;

use crate::harness::{CGROUP_PARENT, CaseResult, Ctx, Host, Runtime, Verdict};
use serde_json::json;
use std::path::PathBuf;

pub struct Case {
    pub name: &'static str,
    pub about: &'static str,
    pub run: fn(&mut Ctx) -> CaseResult,
}

/// `case!(name, "what the spec demands", function)`.
macro_rules! case {
    ($name:ident, $about:expr) => {
        Case {
            name: stringify!($name),
            about: $about,
            run: $name,
        }
    };
}
pub(crate) use case;

pub const ALL: &[&[Case]] = &[
    lifecycle::CASES,
    process::CASES,
    linux::CASES,
    cgroups::CASES,
    hooks::CASES,
];

pub fn all() -> impl Iterator<Item = &'static Case> {
    ALL.iter().flat_map(|group| group.iter())
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// The runtime binary (or a wrapper script) to test.
    #[arg(long)]
    runtime: PathBuf,
    /// Extra global arguments put before every command (after the suite's own `--root`).
    #[arg(long = "global-arg", allow_hyphen_values = true)]
    global_args: Vec<String>,
    /// Name shown in the results (default: the runtime file name).
    #[arg(long)]
    name: Option<String>,
    /// Run only cases whose name contains this (repeatable).
    #[arg(long)]
    filter: Vec<String>,
    /// Write per-case results here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The statically linked checker to put in every rootfs.
    #[arg(long, default_value_os_t = crate::default_checker())]
    checker: PathBuf,
}

pub fn run(args: RunArgs) -> Result<i32, String> {
    let checker = std::fs::canonicalize(&args.checker)
        .map_err(|e| format!("checker {}: {e}", args.checker.display()))?;
    if crate::harness::is_dynamic_elf(&checker)
        .map_err(|e| format!("{}: {e}", checker.display()))?
    {
        return Err(format!(
            "{} is dynamically linked; build it with hack/conformance.sh (crt-static)",
            checker.display()
        ));
    }
    let name = args.name.clone().unwrap_or_else(|| {
        args.runtime
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let rt = Runtime::new("runtime", args.runtime.clone(), args.global_args.clone())
        .map_err(|e| format!("state dir: {e}"))?;
    let host = Host::probe();
    let selected: Vec<&Case> = all()
        .filter(|c| args.filter.is_empty() || args.filter.iter().any(|f| c.name.contains(f)))
        .collect();
    println!("TAP version 13");
    println!("1..{}", selected.len());
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut results = Vec::new();
    for (n, case) in selected.iter().enumerate() {
        let start = std::time::Instant::now();
        let verdict = {
            let mut ctx = Ctx::new(&rt, &host, &checker, case.name);
            (case.run)(&mut ctx)
        };
        let ms = start.elapsed().as_millis();
        let (status, reason) = match verdict {
            Ok(()) => {
                passed += 1;
                println!("ok {} - {}", n + 1, case.name);
                ("pass", String::new())
            }
            Err(Verdict::Skip(why)) => {
                skipped += 1;
                println!("ok {} - {} # SKIP {why}", n + 1, case.name);
                ("skip", why)
            }
            Err(Verdict::Fail(why)) => {
                failed += 1;
                println!("not ok {} - {}", n + 1, case.name);
                println!("  # {}", why.replace('\n', "\n  # "));
                ("fail", why)
            }
        };
        results.push(json!({"name": case.name, "status": status, "reason": reason, "ms": ms}));
    }
    remove_cgroup_parent();
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if let Some(path) = args.json {
        let doc = json!({
            "runtime": name,
            "path": args.runtime,
            "host": host.layout_name(),
            "passed": passed, "failed": failed, "skipped": skipped,
            "results": results,
        });
        std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap_or_default())
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// The shared parent goes when empty; another run may still use it (then rmdir fails: fine).
fn remove_cgroup_parent() {
    for m in crate::harness::cgroup_mounts() {
        let _ = std::fs::remove_dir(m.join(CGROUP_PARENT));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_names_are_unique_and_described() {
        let mut names: Vec<&str> = all().map(|c| c.name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate case names");
        assert!(all().all(|c| !c.about.is_empty()));
    }
}
