//! Lists of CPUs and memory nodes (`0-3,7`: `process.execCPUAffinity`, `linux.memoryPolicy`),
//! parsed as runc parses them: spaces and empty elements allowed, a range's start not above
//! its end, an empty list meaning "not set".

use crate::error::{Error, Result};
use nix::sched::CpuSet;

/// The numbers of a list (`0-3,7`) of CPUs or memory nodes, in order; `field` names the
/// JSON path in errors.
pub fn id_list(field: &str, list: &str) -> Result<Vec<usize>> {
    // runc's bound on an id, against a huge mask from a bogus list.
    const MAX_ID: usize = 64 * 1024;
    let bad = |why: String| Error::config(field, format!("{list:?}: {why}"));
    let mut ids = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (start, end) = match part.split_once('-') {
            Some((a, b)) => (cpu_number(a).map_err(&bad)?, cpu_number(b).map_err(&bad)?),
            None => {
                let n = cpu_number(part).map_err(&bad)?;
                (n, n)
            }
        };
        if start > end {
            return Err(bad(format!("invalid range {part}")));
        }
        if end > MAX_ID {
            return Err(bad(format!("{end} is above {MAX_ID}")));
        }
        ids.extend(start..=end);
    }
    Ok(ids)
}

/// The CPUs of `list` as an affinity mask, `None` for an empty list.
pub fn cpu_set(field: &str, list: &str) -> Result<Option<CpuSet>> {
    let ids = id_list(field, list)?;
    let mut set = CpuSet::new();
    for &cpu in &ids {
        set.set(cpu).map_err(|_| {
            Error::config(
                field,
                format!("{list:?}: CPU {cpu} is above {}", CpuSet::count() - 1),
            )
        })?;
    }
    Ok((!ids.is_empty()).then_some(set))
}

fn cpu_number(s: &str) -> std::result::Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .map_err(|_| format!("{s:?} is not a CPU number"))
}

/// Checks both lists of a process's `execCPUAffinity`; `at` is where the process lives
/// (`process`, or `exec --process`).
pub fn validate_affinity(at: &str, p: &oci_spec::runtime::Process) -> Result<()> {
    if let Some(a) = p.exec_cpu_affinity() {
        if let Some(l) = a.initial() {
            cpu_set(&format!("{at}.execCPUAffinity.initial"), l)?;
        }
        if let Some(l) = a.cpu_affinity_final() {
            cpu_set(&format!("{at}.execCPUAffinity.final"), l)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpus(list: &str) -> Vec<usize> {
        let set = cpu_set("f", list).unwrap().unwrap();
        (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap())
            .collect()
    }

    #[test]
    fn lists_as_runc_reads_them() {
        assert_eq!(cpus("0-3,7"), [0, 1, 2, 3, 7]);
        assert_eq!(cpus(" 1 , ,2-2,"), [1, 2]);
        assert!(cpu_set("f", "").unwrap().is_none());
        assert!(cpu_set("f", " , ").unwrap().is_none());
    }

    #[test]
    fn bad_lists_name_the_field() {
        for bad in ["3-1", "a", "1-", "-1", "99999"] {
            let e = cpu_set("process.execCPUAffinity.final", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("process.execCPUAffinity.final"), "{bad}: {e}");
        }
    }
}
