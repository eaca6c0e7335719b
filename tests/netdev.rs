//! `linux.netDevices` (runtime-spec 1.3; runc 1.1.5 has none, runc ≥ 1.4 does): host
//! interfaces moved into the container's network namespace. Each test runs corral inside a
//! network namespace of its own (`unshare -n`), which stands for the host: the interfaces
//! it makes there never touch the machine's.

mod common;
use common::*;
use serde_json::{Value, json};

/// Runs `setup` then `corral run` of `b` then `after`, all in a fresh network namespace;
/// returns (corral's exit code, its output, after's output).
fn run_in_own_netns(
    rt: &Runtime,
    b: &Bundle,
    id: &str,
    setup: &str,
    after: &str,
) -> (i32, String, String) {
    b.write_for(rt, id);
    let log = b.path().join("run.log");
    let script = format!(
        "set -e; {setup}; set +e; \"$1\" --root \"$2\" run --bundle \"$3\" \"$4\" >\"$5\" 2>&1; \
         echo $? >\"$5.rc\"; {after}"
    );
    let out = capture(
        std::process::Command::new("unshare")
            .args(["-n", "sh", "-c", &script, "sh"])
            .arg(&rt.bin)
            .arg(rt.root.path())
            .arg(b.path())
            .arg(id)
            .arg(&log),
    );
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(out.status.success(), "{}{logged}", stderr_of(&out));
    let rc = std::fs::read_to_string(b.path().join("run.log.rc"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (rc, logged, stdout_of(&out))
}

fn with_devices(devices: Value, args: &str) -> Bundle {
    let mut b = Bundle::new();
    b.sh(args);
    b.config["linux"]["netDevices"] = devices;
    b
}

/// d0 is a dummy where the kernel has the dummy driver loaded (the VM lane loads it; corral's
/// tests load no module on the host), else the end of a veth pair; v0 is a veth end.
const DEVICES: &str = "{ ip link add d0 type dummy 2>/dev/null || ip link add d0 type veth peer name d1; } \
     && ip addr add 10.9.8.7/24 dev d0 \
     && ip link add v0 type veth peer name v1 && ip addr add 10.9.9.1/24 dev v0";

/// A dummy (renamed) and one end of a veth pair arrive with their addresses and up; on the
/// "host" they are gone while the container has them, and once its namespace is gone the
/// kernel has destroyed them (virtual devices; the spec forbids moving them back).
#[test]
fn devices_move_in_with_their_addresses_and_up() {
    let rt = Runtime::corral();
    let b = with_devices(
        json!({"d0": {"name": "eth7"}, "v0": {}}),
        "ip -o -4 addr show | sed 's/  */ /g' | cut -d' ' -f2,4 | sort; \
         for i in eth7 v0; do ip -o link show $i | grep -o ',UP' ; done",
    );
    let id = unique_id("netdev");
    let _guard = rt.guard(&id);
    // The namespace goes away in the kernel's own time: wait for the peers to follow.
    let after = "for i in $(seq 100); do ip link show v1 >/dev/null 2>&1 || break; sleep 0.05; done; \
                 ip -o link show | cut -d: -f2 | cut -d@ -f1 | sort";
    let (rc, out, after) = run_in_own_netns(&rt, &b, &id, DEVICES, after);
    assert_eq!(rc, 0, "{out}");
    // lo is up with its address in a new network namespace, as runc has it.
    assert_eq!(
        out,
        "eth7 10.9.8.7/24\nlo 127.0.0.1/8\nv0 10.9.9.1/24\n,UP\n,UP\n"
    );
    assert_eq!(
        after, " lo\n",
        "what the host namespace has once the container is gone"
    );
    assert_clean(&rt, &id);
}

/// The spec's errors, each naming the device and leaving nothing: a device the host lacks,
/// a name the container already has (`lo`), and no network namespace of the container's
/// own; a `%d` template lets the kernel pick a free name instead.
#[test]
fn missing_devices_and_taken_names_are_refused_and_templates_are_not() {
    let rt = Runtime::corral();
    let cases = [
        (
            json!({"nope0": {}}),
            "linux.netDevices.nope0",
            "no interface",
        ),
        (
            json!({"d0": {"name": "lo"}}),
            "linux.netDevices.d0",
            "already exists",
        ),
    ];
    for (devices, field, says) in cases {
        let b = with_devices(devices.clone(), "true");
        let id = unique_id("netdev-bad");
        let _guard = rt.guard(&id);
        let (rc, out, _) = run_in_own_netns(&rt, &b, &id, DEVICES, "true");
        assert_eq!(rc, 1, "{devices}: {out}");
        assert!(
            out.contains(field) && out.contains(says),
            "{devices}: {out}"
        );
        assert_eq!(out.lines().count(), 1, "{out}");
        assert_clean(&rt, &id);
    }

    let mut b = with_devices(json!({"d0": {}}), "true");
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "network");
    let id = unique_id("netdev-hostnet");
    let _guard = rt.guard(&id);
    let (rc, out, _) = run_in_own_netns(&rt, &b, &id, DEVICES, "true");
    assert_eq!(rc, 1, "{out}");
    assert!(
        out.contains("linux.netDevices") && out.contains("network namespace"),
        "{out}"
    );
    assert_clean(&rt, &id);

    let b = with_devices(
        json!({"d0": {"name": "lo%d"}}),
        "ip -o link show | cut -d: -f2 | cut -d@ -f1 | sort",
    );
    let id = unique_id("netdev-template");
    let _guard = rt.guard(&id);
    let (rc, out, _) = run_in_own_netns(&rt, &b, &id, DEVICES, "true");
    assert_eq!((rc, out.as_str()), (0, " lo\n lo0\n"));
    assert_clean(&rt, &id);
}

/// `features` says network devices can be moved, as runc ≥ 1.4.
#[test]
fn features_report_net_devices() {
    let f: Value = serde_json::from_str(&Runtime::corral().ok(&["features"])).unwrap();
    assert_eq!(f["linux"]["netDevices"]["enabled"], json!(true));
}
