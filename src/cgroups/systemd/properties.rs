//! `linux.resources` as systemd unit properties, with runc's conversions (runc's
//! docs/systemd.md lists them): what systemd can express is set on the unit, so that systemd
//! keeps it (a `daemon-reload` re-applies the unit's properties, not our file writes); the
//! cgroupfs writes that follow cover the rest.

use crate::cgroups::resources::shares_to_weight;
use oci_spec::runtime::LinuxResources;

/// A property value, in the D-Bus types systemd's properties take.
#[derive(Clone, Debug, PartialEq)]
pub enum PropValue {
    Bool(bool),
    /// `y`, `n`, `q`, `i`, `u`, `x`: the other integer types an annotation can name
    Byte(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    /// `d`
    Double(f64),
    /// `t`
    U64(u64),
    /// `s`
    Str(String),
    /// `as`
    Strs(Vec<String>),
    /// `au`
    U32s(Vec<u32>),
    /// `ay` (a CPU or NUMA-node bitmask)
    Bytes(Vec<u8>),
    /// `a(ss)` (DeviceAllow: path and access)
    Pairs(Vec<(String, String)>),
}

/// A property's name (ours are constants; `org.systemd.property.*` annotations bring their own)
/// and value.
pub type Property = (std::borrow::Cow<'static, str>, PropValue);

/// systemd's "no limit" for the byte and count properties.
const INFINITY: u64 = u64::MAX;

/// `-1` (unlimited) as systemd's infinity, other values as they are.
fn limit(v: i64) -> u64 {
    if v < 0 { INFINITY } else { v as u64 }
}

/// The unit properties for `r`; `unified` selects the cgroup v2 names (MemoryMax, CPUWeight)
/// over the v1 ones (MemoryLimit, CPUShares). Zeros have been taken out as unset already.
pub fn resource_properties(r: &LinuxResources, unified: bool) -> Vec<Property> {
    let mut props = Vec::new();
    if let Some(m) = r.memory() {
        if unified {
            if let Some(l) = m.limit() {
                props.push(("MemoryMax".into(), PropValue::U64(limit(l))));
            }
            if let Some(res) = m.reservation() {
                props.push(("MemoryLow".into(), PropValue::U64(limit(res))));
            }
            if let Some(swap) = m.swap() {
                // OCI swap is memory+swap; systemd's MemorySwapMax is swap alone.
                let value = match (swap, m.limit()) {
                    (-1, _) => INFINITY,
                    (s, Some(l)) if l > 0 => s.saturating_sub(l).max(0) as u64,
                    (s, _) => limit(s),
                };
                props.push(("MemorySwapMax".into(), PropValue::U64(value)));
            }
        } else if let Some(l) = m.limit() {
            props.push(("MemoryLimit".into(), PropValue::U64(limit(l))));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(shares) = c.shares() {
            if unified {
                props.push(("CPUWeight".into(), PropValue::U64(shares_to_weight(shares))));
            } else {
                props.push(("CPUShares".into(), PropValue::U64(shares)));
            }
        }
        props.extend(cpu_quota(c.quota(), c.period()));
        if let Some(cpus) = c.cpus().as_deref().and_then(bitmask) {
            props.push(("AllowedCPUs".into(), PropValue::Bytes(cpus)));
        }
        if let Some(mems) = c.mems().as_deref().and_then(bitmask) {
            props.push(("AllowedMemoryNodes".into(), PropValue::Bytes(mems)));
        }
    }
    if let Some(p) = r.pids() {
        // As the files (`pids_max`): 0 is 1, negative is no limit.
        let tasks = if p.limit() == 0 { 1 } else { limit(p.limit()) };
        props.push(("TasksMax".into(), PropValue::U64(tasks)));
    }
    if !unified && let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        props.push(("BlockIOWeight".into(), PropValue::U64(u64::from(w))));
    }
    if unified {
        for (key, value) in r.unified().as_ref().into_iter().flatten() {
            props.extend(unified_property(key, value));
        }
    }
    props
}

/// One entry of `linux.resources.unified` as the property systemd keeps for it (runc's
/// table); files systemd has no property for, or values that do not parse, are left to the
/// cgroupfs write, which reports a bad value.
fn unified_property(key: &str, value: &str) -> Vec<Property> {
    let bytes = |v: &str| -> Option<u64> {
        if v.trim() == "max" {
            Some(INFINITY)
        } else {
            v.trim().parse().ok()
        }
    };
    let one = |name: &'static str, v: Option<u64>| {
        v.map(|v| vec![(name.into(), PropValue::U64(v))])
            .unwrap_or_default()
    };
    match key {
        "memory.high" => one("MemoryHigh", bytes(value)),
        "memory.low" => one("MemoryLow", bytes(value)),
        "memory.min" => one("MemoryMin", bytes(value)),
        "memory.max" => one("MemoryMax", bytes(value)),
        "memory.swap.max" => one("MemorySwapMax", bytes(value)),
        "pids.max" => one("TasksMax", bytes(value)),
        "cpu.weight" => one("CPUWeight", value.trim().parse().ok()),
        "cpu.max" => cpu_max(value),
        "cpuset.cpus" => bitmask(value)
            .map(|b| vec![("AllowedCPUs".into(), PropValue::Bytes(b))])
            .unwrap_or_default(),
        "cpuset.mems" => bitmask(value)
            .map(|b| vec![("AllowedMemoryNodes".into(), PropValue::Bytes(b))])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `cpu.max` (`QUOTA|max [PERIOD]`) as the quota properties.
fn cpu_max(value: &str) -> Vec<Property> {
    let mut parts = value.split_whitespace();
    let quota = match parts.next() {
        Some("max") => -1,
        Some(q) => match q.parse::<i64>() {
            Ok(q) => q,
            Err(_) => return Vec::new(),
        },
        None => return Vec::new(),
    };
    let period = match parts.next().map(str::parse::<u64>) {
        Some(Ok(p)) => Some(p),
        Some(Err(_)) => return Vec::new(),
        None => None,
    };
    cpu_quota(Some(quota), period)
}

/// CPUQuotaPeriodUSec and CPUQuotaPerSecUSec as runc sets them: the quota per second of
/// run time, rounded up to systemd's 10 ms grain (systemd would round it down, below what
/// was asked); a period alone lifts the quota.
fn cpu_quota(quota: Option<i64>, period: Option<u64>) -> Vec<Property> {
    let mut props = Vec::new();
    if let Some(p) = period {
        props.push(("CPUQuotaPeriodUSec".into(), PropValue::U64(p)));
    }
    if quota.is_none() && period.is_none() {
        return props;
    }
    let mut per_sec = INFINITY;
    if let Some(q) = quota.filter(|q| *q > 0) {
        let p = period.filter(|p| *p > 0).unwrap_or(100_000);
        per_sec = (q as u64).saturating_mul(1_000_000) / p;
        if per_sec % 10_000 != 0 {
            per_sec = (per_sec / 10_000 + 1) * 10_000;
        }
    }
    props.push(("CPUQuotaPerSecUSec".into(), PropValue::U64(per_sec)));
    props
}

/// A cpuset list (`0-3,8`) as systemd's bitmask: bit N of byte N/8 for each member. None for
/// a list that does not parse (the cgroupfs write reports it).
fn bitmask(list: &str) -> Option<Vec<u8>> {
    let mut bytes: Vec<u8> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?),
            None => {
                let n = part.parse::<usize>().ok()?;
                (n, n)
            }
        };
        if lo > hi || hi > 8191 {
            return None;
        }
        for n in lo..=hi {
            if bytes.len() <= n / 8 {
                bytes.resize(n / 8 + 1, 0);
            }
            bytes[n / 8] |= 1 << (n % 8);
        }
    }
    (!bytes.is_empty()).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn v2_properties_follow_runcs_conversions() {
        let p = resource_properties(
            &res(
                r#"{"memory": {"limit": 268435456, "swap": 536870912, "reservation": 1048576},
                     "cpu": {"shares": 1024, "quota": 33333, "period": 100000, "cpus": "0-2,9"},
                     "pids": {"limit": -1}}"#,
            ),
            true,
        );
        let get = |n: &str| p.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        assert_eq!(get("MemoryMax"), Some(PropValue::U64(268435456)));
        assert_eq!(get("MemorySwapMax"), Some(PropValue::U64(268435456)));
        assert_eq!(get("MemoryLow"), Some(PropValue::U64(1048576)));
        assert_eq!(get("CPUWeight"), Some(PropValue::U64(39)));
        assert_eq!(get("CPUQuotaPeriodUSec"), Some(PropValue::U64(100000)));
        // 333330 µs per second, rounded up to the next 10 ms.
        assert_eq!(get("CPUQuotaPerSecUSec"), Some(PropValue::U64(340000)));
        assert_eq!(
            get("AllowedCPUs"),
            Some(PropValue::Bytes(vec![0b0000_0111, 0b0000_0010]))
        );
        assert_eq!(get("TasksMax"), Some(PropValue::U64(u64::MAX)));
        assert_eq!(get("MemoryLimit"), None);
    }

    #[test]
    fn a_pids_limit_of_zero_is_one_task_as_runc() {
        let p = resource_properties(&res(r#"{"pids": {"limit": 0}}"#), true);
        assert_eq!(p, vec![("TasksMax".into(), PropValue::U64(1))]);
        let p = resource_properties(&res(r#"{"pids": {"limit": -7}}"#), true);
        assert_eq!(p, vec![("TasksMax".into(), PropValue::U64(u64::MAX))]);
    }

    #[test]
    fn v1_properties_use_the_v1_names() {
        let p = resource_properties(
            &res(
                r#"{"memory": {"limit": 1024}, "cpu": {"shares": 512}, "blockIO": {"weight": 300},
                     "pids": {"limit": 7}}"#,
            ),
            false,
        );
        let names: Vec<&str> = p.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(
            names,
            ["MemoryLimit", "CPUShares", "TasksMax", "BlockIOWeight"]
        );
    }

    #[test]
    fn the_unified_map_becomes_properties_on_v2() {
        let r = res(r#"{"unified": {"memory.high": "1048576", "pids.max": "max",
                                     "cpu.max": "50000 100000", "io.weight": "50"}}"#);
        let p = resource_properties(&r, true);
        assert!(
            p.contains(&("MemoryHigh".into(), PropValue::U64(1048576))),
            "{p:?}"
        );
        assert!(
            p.contains(&("TasksMax".into(), PropValue::U64(u64::MAX))),
            "{p:?}"
        );
        assert!(
            p.contains(&("CPUQuotaPerSecUSec".into(), PropValue::U64(500000))),
            "{p:?}"
        );
        assert!(
            p.contains(&("CPUQuotaPeriodUSec".into(), PropValue::U64(100000))),
            "{p:?}"
        );
        assert_eq!(p.len(), 4, "io.weight has no property: {p:?}");
        assert!(resource_properties(&r, false).is_empty());
        assert!(unified_property("memory.high", "lots").is_empty());
        assert!(cpu_max("x 1").is_empty());
    }

    #[test]
    fn a_period_alone_lifts_the_quota() {
        assert_eq!(
            cpu_quota(None, Some(50000)),
            vec![
                ("CPUQuotaPeriodUSec".into(), PropValue::U64(50000)),
                ("CPUQuotaPerSecUSec".into(), PropValue::U64(u64::MAX)),
            ]
        );
        assert!(cpu_quota(None, None).is_empty());
        assert_eq!(bitmask("x"), None);
    }
}
