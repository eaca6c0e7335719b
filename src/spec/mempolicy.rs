//! `linux.memoryPolicy` (spec 1.3): the NUMA policy set_mempolicy(2) gives the container's
//! processes (the init and every exec'd one) before they exec, checked as runc checks it.

use crate::error::{Error, Result};
use oci_spec::runtime::{Linux, MemoryPolicyFlagType, MemoryPolicyModeType};

/// The arguments of set_mempolicy(2).
#[derive(Debug, PartialEq, Eq)]
pub struct Mempolicy {
    /// The mode with its flags or'ed in.
    pub mode: i32,
    /// The node mask, 64 nodes a word.
    pub mask: Vec<u64>,
    /// Bits in `mask` that count.
    pub nodes: usize,
}

fn mode_number(m: MemoryPolicyModeType) -> i32 {
    // The MPOL_* values of the kernel's uapi/linux/mempolicy.h.
    match m {
        MemoryPolicyModeType::MpolDefault => 0,
        MemoryPolicyModeType::MpolPreferred => 1,
        MemoryPolicyModeType::MpolBind => 2,
        MemoryPolicyModeType::MpolInterleave => 3,
        MemoryPolicyModeType::MpolLocal => 4,
        MemoryPolicyModeType::MpolPreferredMany => 5,
        MemoryPolicyModeType::MpolWeightedInterleave => 6,
    }
}

fn flag_bit(f: MemoryPolicyFlagType) -> i32 {
    match f {
        MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
        MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
        MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
    }
}

/// The policy of `linux`, `None` without one. The node count each mode takes is runc's
/// rule: none for DEFAULT and LOCAL, at least one for BIND, INTERLEAVE, PREFERRED_MANY and
/// WEIGHTED_INTERLEAVE, any for PREFERRED.
pub fn from_config(linux: &Linux) -> Result<Option<Mempolicy>> {
    let Some(p) = linux.memory_policy() else {
        return Ok(None);
    };
    let field = "linux.memoryPolicy.nodes";
    let ids = super::cpus::id_list(field, p.nodes().as_deref().unwrap_or(""))?;
    use MemoryPolicyModeType as M;
    match p.mode() {
        M::MpolDefault | M::MpolLocal if !ids.is_empty() => {
            return Err(Error::config(
                field,
                format!("mode {} takes no nodes, got {}", p.mode(), ids.len()),
            ));
        }
        M::MpolBind | M::MpolInterleave | M::MpolPreferredMany | M::MpolWeightedInterleave
            if ids.is_empty() =>
        {
            return Err(Error::config(
                field,
                format!("mode {} needs at least one node", p.mode()),
            ));
        }
        _ => {}
    }
    let nodes = ids.iter().max().map_or(0, |m| m + 1);
    let mut mask = vec![0u64; nodes.div_ceil(64)];
    for id in ids {
        mask[id / 64] |= 1 << (id % 64);
    }
    let flags = p
        .flags()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .fold(0, |acc, f| acc | flag_bit(*f));
    Ok(Some(Mempolicy {
        mode: mode_number(p.mode()) | flags,
        mask,
        nodes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: serde_json::Value) -> Result<Option<Mempolicy>> {
        let linux: Linux =
            serde_json::from_value(serde_json::json!({"memoryPolicy": json})).unwrap();
        from_config(&linux)
    }

    #[test]
    fn modes_flags_and_masks() {
        let p = policy(
            serde_json::json!({"mode": "MPOL_INTERLEAVE", "nodes": "0,2-3,65",
                                          "flags": ["MPOL_F_STATIC_NODES"]}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.mode, 3 | 1 << 15);
        assert_eq!(p.mask, vec![0b1101, 0b10]);
        assert_eq!(p.nodes, 66);
        let p = policy(serde_json::json!({"mode": "MPOL_LOCAL"}))
            .unwrap()
            .unwrap();
        assert_eq!((p.mode, p.nodes), (4, 0));
    }

    #[test]
    fn node_counts_are_runcs() {
        assert!(policy(serde_json::json!({"mode": "MPOL_DEFAULT", "nodes": "0"})).is_err());
        assert!(policy(serde_json::json!({"mode": "MPOL_BIND"})).is_err());
        assert!(policy(serde_json::json!({"mode": "MPOL_PREFERRED"})).is_ok());
        assert!(policy(serde_json::json!({"mode": "MPOL_BIND", "nodes": "1-0"})).is_err());
    }
}
