#!/usr/bin/env python3
"""Records which functions of corral's binary each command runs, for hack/build.sh's link order.

    hack/perf/profile.sh      (builds corral for profiling, runs this in the test VM)
    profile_text.py record BINARY LINK.map cgroup-v2|hybrid     (in the VM)
    profile_text.py merge LOG...  > hack/perf/corral.order

The kernel maps a binary's text into a process in windows of `fault_around_bytes` (64 KiB)
around each page it executes, so a process that runs scattered code holds most of the binary.
Linking the functions the runtime's commands use next to each other keeps that set small. To
find them this runs in the test VM, never on a host: it sets the VM kernel's fault-around to one
page (a global knob), runs a lifecycle with a build whose every function starts on its own page
(`CORRAL_BUILD_PROFILE=1 hack/build.sh`), and reads each process's present text pages from
/proc/PID/pagemap (at exit_group under gdb, or while the init waits): a present page is a
function that ran, not a neighbour of one. `record` prints, per step, those functions by their
stable names (hack/perf/link_order.py: one instance of a generic function each); `merge` turns
the records of both cgroup layouts into one order.
"""
import bisect
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from link_order import map_symbols, stable_names  # noqa: E402
BEGIN, END = "=== corral.order begin ===", "=== corral.order end ==="


def present_pages(pid, binary_name="corral"):
    """Link-time addresses of the binary's executable pages present in pid's page tables."""
    with open(f"/proc/{pid}/maps") as f:
        maps = [line.split() for line in f.read().splitlines()]
    mine = [m for m in maps if len(m) >= 6 and os.path.basename(m[5]) == binary_name]
    bias = min(int(m[0].split("-")[0], 16) for m in mine if int(m[2], 16) == 0)
    pages = []
    with open(f"/proc/{pid}/pagemap", "rb") as pm:
        for m in (m for m in mine if "x" in m[1]):
            lo, hi = (int(x, 16) for x in m[0].split("-"))
            for va in range(lo, hi, 4096):
                pm.seek(va // 4096 * 8)
                if struct.unpack("<Q", pm.read(8))[0] >> 63:
                    pages.append(va - bias)
    return pages


def functions_on(pages, syms):
    starts = [s[0] for s in syms]
    names = set()
    for page in pages:
        i = bisect.bisect_right(starts, page + 4095) - 1
        while i >= 0 and syms[i][0] + max(syms[i][1], 1) > page:
            names.add(syms[i][2])
            i -= 1
    return names


def run_traced(binary, args, tmp):
    """Runs `binary args` under gdb and reads its present text pages at exit_group."""
    out = os.path.join(tmp, "pages.json")
    script = os.path.join(tmp, "dump.py")
    with open(script, "w") as f:
        f.write(f"import sys, json, gdb\nsys.path.insert(0, {HERE!r})\nimport profile_text\n"
                f"json.dump(profile_text.present_pages(gdb.selected_inferior().pid), "
                f"open({out!r}, 'w'))\n")
    # A file, not a pipe, for output: the container's init inherits it and outlives gdb.
    with tempfile.TemporaryFile(mode="w+") as log:
        subprocess.run(["gdb", "-q", "-batch", "-ex", "set startup-with-shell off",
                        "-ex", "catch syscall exit_group", "-ex", "run", "-ex", f"source {script}",
                        "-ex", "continue", "--args", binary, *args],
                       stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        if not os.path.exists(out):
            log.seek(0)
            sys.exit(f"gdb run of {args} failed:\n{log.read()}")
    with open(out) as f:
        pages = json.load(f)
    os.unlink(out)
    return pages


def make_bundle(binary, path, args, cid):
    subprocess.run([os.path.join(HERE, "..", "mkbundle.sh"), path], check=True,
                   env={**os.environ, "CORRAL": binary}, stdout=subprocess.DEVNULL)
    config_path = os.path.join(path, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    config["process"]["args"] = args
    config["linux"]["cgroupsPath"] = f"/corral-prof/{cid}"
    with open(config_path, "w") as f:
        json.dump(config, f)


def wait_stopped(pid):
    while True:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except FileNotFoundError:
            return
        time.sleep(0.05)


def profile(binary, tmp):
    """Present text pages per step of a lifecycle, create through delete, plus run and exec."""
    root, pid_file = os.path.join(tmp, "root"), os.path.join(tmp, "pid")
    make_bundle(binary, os.path.join(tmp, "sleep"), ["sleep", "1000"], "p1")
    make_bundle(binary, os.path.join(tmp, "true"), ["true"], "p2")

    def corral(*args):
        return run_traced(binary, ["--root", root, *args], tmp)

    steps = {"create": corral("create", "--bundle", os.path.join(tmp, "sleep"), "--pid-file",
                              pid_file, "p1")}
    with open(pid_file) as f:
        init = int(f.read())
    steps["init (waiting)"] = present_pages(init)
    steps["start"] = corral("start", "p1")
    steps["state"] = corral("state", "p1")
    steps["list"] = corral("list")
    steps["exec"] = corral("exec", "p1", "true")
    steps["kill"] = corral("kill", "p1", "KILL")
    wait_stopped(init)
    steps["delete"] = corral("delete", "p1")
    steps["run"] = corral("run", "--bundle", os.path.join(tmp, "true"), "p2")
    return steps


def switch_to_hybrid_cgroups():
    """The VM boots with cgroup v2 and no controller enabled: they can move to v1 hierarchies."""
    subprocess.run(["umount", "/sys/fs/cgroup"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "cgroup", "/sys/fs/cgroup"], check=True)
    for controllers in ("cpu,cpuacct", "memory", "pids", "devices", "freezer", "blkio", "cpuset"):
        path = f"/sys/fs/cgroup/{controllers}"
        os.makedirs(path)
        subprocess.run(["mount", "-t", "cgroup", "-o", controllers, "cgroup", path], check=True)
    os.makedirs("/sys/fs/cgroup/unified")
    subprocess.run(["mount", "-t", "cgroup2", "cgroup2", "/sys/fs/cgroup/unified"], check=True)


def record(binary, map_path, layout):
    """In the VM: profiles one lifecycle and prints "step<TAB>function" lines between markers."""
    if os.uname().nodename != "corral-v2-vm":
        sys.exit("profile_text.py changes a global kernel knob: run it in the test VM "
                 "(hack/perf/profile.sh)")
    subprocess.run(["mount", "-t", "debugfs", "debugfs", "/sys/kernel/debug"], check=True)
    with open("/sys/kernel/debug/fault_around_bytes", "w") as f:
        f.write("4096")
    if layout == "hybrid":
        switch_to_hybrid_cgroups()
    syms = map_symbols(map_path)
    size_of = {name: size for _, size, name in syms}
    stable = stable_names(size_of)
    with tempfile.TemporaryDirectory() as tmp:
        steps = profile(binary, tmp)
    print(BEGIN)
    for step, pages in steps.items():
        names = functions_on(pages, syms)
        print(f"# {layout}, {step}: {len(names)} functions, "
              f"{sum(size_of[n] for n in names) // 1024} KiB of code")
        for name in sorted({stable[n] for n in names}):
            print(f"{step}\t{name}")
    print(END)


def merge(logs):
    """On the host: one order from the VM runs' records. The two processes whose peak RSS the
    bench compares get contiguous runs: the waiting init's functions that create does not run,
    then those both run, then create's others (so each of the two spans one block), then the
    rest by how many steps run a function, so the hottest code packs densest."""
    used = {}
    for path in logs:
        with open(path, errors="replace") as f:
            text = f.read().replace("\r", "")
        for line in text.split(BEGIN, 1)[1].split(END, 1)[0].splitlines():
            if line.startswith("# "):
                print(line[2:], file=sys.stderr)
            elif "\t" in line:
                step, name = line.split("\t", 1)
                used.setdefault(step, set()).add(name)
    every = set().union(*used.values())
    init, create = used["init (waiting)"], used["create"]

    def block(name):
        if name in init:
            return 1 if name in create else 0
        return 2 if name in create else 3

    ranked = sorted(every, key=lambda n: (block(n), -sum(n in u for u in used.values()), n))
    print("\n".join(ranked))


def main():
    if sys.argv[1] == "record":
        record(os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "merge":
        merge(sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
