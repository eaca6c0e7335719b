#!/usr/bin/env python3
"""Lifecycle latency with --systemd-cgroup, corral next to runc, interleaved (run it where
systemd is PID 1: VM_SYSTEMD=1 hack/vm/run.sh python3 hack/vm/bench-systemd.py CORRAL [N]).
Prints the median create, start+wait and delete times per runtime and their ratio. Under
TCG only the ratio means anything."""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

corral = os.path.abspath(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20
runc = shutil.which("runc")
work = tempfile.mkdtemp(prefix="sdbench")
bundle = os.path.join(work, "bundle")
os.makedirs(os.path.join(bundle, "rootfs/bin"))
shutil.copy("/bin/busybox", os.path.join(bundle, "rootfs/bin/busybox"))
os.symlink("busybox", os.path.join(bundle, "rootfs/bin/true"))
subprocess.run([runc, "spec", "--bundle", bundle], check=True)
with open(os.path.join(bundle, "config.json")) as f:
    config = json.load(f)
config["process"]["terminal"] = False
config["process"]["args"] = ["true"]

times = {"corral": {"create": [], "start+wait": [], "delete": []},
         "runc": {"create": [], "start+wait": [], "delete": []}}
for i in range(n):
    for name, binary in (("corral", corral), ("runc", runc)):
        cid = f"sdb-{name}-{i}"
        config["linux"]["cgroupsPath"] = f"system.slice:sdbench:{cid}"
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(config, f)
        root = os.path.join(work, f"root-{name}")
        rt = [binary, "--root", root, "--systemd-cgroup"]
        t0 = time.monotonic()
        subprocess.run(rt + ["create", "--bundle", bundle, cid], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        t1 = time.monotonic()
        subprocess.run(rt + ["start", cid], check=True)
        while json.loads(subprocess.run(rt + ["state", cid], capture_output=True,
                                        check=True).stdout)["status"] != "stopped":
            time.sleep(0.001)
        t2 = time.monotonic()
        subprocess.run(rt + ["delete", cid], check=True)
        t3 = time.monotonic()
        times[name]["create"].append(t1 - t0)
        times[name]["start+wait"].append(t2 - t1)
        times[name]["delete"].append(t3 - t2)
print(f"| step ({n} runs, --systemd-cgroup) | corral | runc | corral/runc |")
print("|---|---|---|---|")
for step in ("create", "start+wait", "delete"):
    c = statistics.median(times["corral"][step])
    r = statistics.median(times["runc"][step])
    print(f"| {step} | {c * 1000:.1f} ms | {r * 1000:.1f} ms | {c / r:.2f} |")
shutil.rmtree(work, ignore_errors=True)
