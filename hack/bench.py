#!/usr/bin/env python3
"""Side-by-side benchmark of OCI runtimes on one machine, in one run, as ratios.

    hack/bench.py corral=$(hack/build.sh) runc=/usr/sbin/runc crun=/usr/bin/crun \
        [--iterations 50] [--exec-iterations 100] [--containers 100] [--batch-rounds 3] \
        [--json out.json] [--quick]
    hack/bench.py corral=... runc=... --load 200 [--workers 8]
    hack/bench.py corral=... --soak 1800 [--workers 8]

The load mode runs the mix a node sees (each of --load containers created, started, exec'd
into twice, some paused and resumed, some updated, killed and deleted, 8 workers at once; then
delete, kill, exec and update raced on the same ids) with each runtime in turn, and reports
operations per second and each command's p50/p99, the failures, and what was left behind.
The soak mode repeats that mix (first runtime only) for the given seconds and reports the
host's open files, available memory and mounts at each round.

Every measurement is interleaved across runtimes (one iteration of each in turn) so machine
drift hits all of them alike. crun 1.8 refuses this host's hybrid cgroup layout, so it runs
in a private mount namespace without /sys/fs/cgroup/unified; that wrapper's own cost is
measured with a control (the same wrapper exec'ing /bin/true) and subtracted.
Benchmarks are not tests: nothing here asserts a time.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

CGROUP_PARENT = "/corral-bench"


def parse_args(argv):
    runtimes = []
    opts = {"iterations": 50, "exec_iterations": 100, "containers": 100, "batch_rounds": 3,
            "json": None, "quick": False, "load": 0, "workers": 8, "soak": 0}
    it = iter(argv)
    for a in it:
        if a == "--iterations":
            opts["iterations"] = int(next(it))
        elif a == "--exec-iterations":
            opts["exec_iterations"] = int(next(it))
        elif a == "--containers":
            opts["containers"] = int(next(it))
        elif a == "--batch-rounds":
            opts["batch_rounds"] = int(next(it))
        elif a == "--json":
            opts["json"] = next(it)
        elif a == "--quick":
            opts["quick"] = True
        elif a == "--load":
            opts["load"] = int(next(it))
        elif a == "--workers":
            opts["workers"] = int(next(it))
        elif a == "--soak":
            opts["soak"] = int(next(it))
        elif "=" in a:
            name, path = a.split("=", 1)
            runtimes.append((name, os.path.abspath(path) if os.sep in path else shutil.which(path)))
        else:
            sys.exit(f"unknown argument {a!r}")
    if opts["quick"]:
        opts["iterations"], opts["exec_iterations"], opts["containers"] = 3, 5, 4
        opts["batch_rounds"] = 1
    if not runtimes:
        sys.exit(__doc__)
    return runtimes, opts


def needs_wrapper(name, path):
    """crun refuses hybrid hosts: give it a mount namespace without the unified mount."""
    return os.path.basename(path) == "crun" and os.path.ismount("/sys/fs/cgroup/unified")


class Runtime:
    def __init__(self, name, path):
        self.name, self.path = name, path
        self.root = tempfile.mkdtemp(prefix=f"bench-{name}-root")
        self.wrapped = needs_wrapper(name, path)

    def argv(self, *args):
        base = [self.path, "--root", self.root, *args]
        if not self.wrapped:
            return base
        return ["unshare", "-m", "sh", "-c", 'umount /sys/fs/cgroup/unified && exec "$@"', "sh", *base]

    def control_argv(self):
        return ["unshare", "-m", "sh", "-c", 'umount /sys/fs/cgroup/unified && exec "$@"', "sh", "/bin/true"]

    def call(self, *args, check=True, rss=False):
        """Runs a command; returns (seconds, peak RSS in KiB of the runtime process or 0).

        Peak RSS comes from GNU time: a child forked by this Python process would report
        Python's own high-water mark, which the kernel carries across exec."""
        # Never hand crun our /dev/null as stdio for a container (it chowns it): temp files.
        out = tempfile.TemporaryFile()
        rss_file = tempfile.NamedTemporaryFile(mode="r")
        argv = self.argv(*args)
        if rss:
            argv = ["/usr/bin/time", "-f", "%M", "-o", rss_file.name, *argv]
        start = time.perf_counter()
        p = subprocess.run(argv, stdin=out, stdout=out, stderr=out)
        took = time.perf_counter() - start
        if check and p.returncode != 0:
            out.seek(0)
            raise RuntimeError(f"{self.name} {args}: exit {p.returncode}: {out.read().decode(errors='replace')}")
        peak = int(rss_file.read().strip().splitlines()[-1]) if rss else 0
        return took, peak

    def control(self):
        if not self.wrapped:
            return 0.0
        start = time.perf_counter()
        subprocess.run(self.control_argv(), check=True)
        return time.perf_counter() - start

    def control_batch(self, calls, workers):
        """Wall time of `calls` wrapper-only runs spread over `workers`, to subtract from a batch."""
        if not self.wrapped:
            return 0.0
        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda _: subprocess.run(self.control_argv(), check=True), range(calls)))
        return time.perf_counter() - start


def make_bundle(args, cgroup):
    d = tempfile.mkdtemp(prefix="bench-bundle")
    rootfs = os.path.join(d, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"))
    for sub in ("proc", "dev", "sys", "tmp", "etc"):
        os.makedirs(os.path.join(rootfs, sub), exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(rootfs, "bin/busybox"))
    for applet in ("sh", "true", "sleep"):
        os.symlink("busybox", os.path.join(rootfs, "bin", applet))
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    config = {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
                    "env": ["PATH=/bin"], "cwd": "/",
                    "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
                    "noNewPrivileges": True},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
        ],
        "linux": {
            "cgroupsPath": cgroup,
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/kcore", "/proc/keys"],
            "readonlyPaths": ["/proc/sys"],
        },
    }
    return d, config


def write_config(bundle, config, cgroup):
    config["linux"]["cgroupsPath"] = cgroup
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f)


def wait_gone(pid, limit=10.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if ") Z" in f.read():
                    return
        # Reaped between the open and the read: ESRCH.
        except (FileNotFoundError, ProcessLookupError):
            return
        time.sleep(0.0005)
    raise RuntimeError(f"pid {pid} did not exit")


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def bench(runtimes, opts):
    results = {rt.name: {} for rt in runtimes}
    controls = {rt.name: [] for rt in runtimes}

    def record(rt, key, value):
        results[rt.name].setdefault(key, []).append(value)

    true_bundle, true_config = make_bundle(["true"], "")
    sleep_bundle, sleep_config = make_bundle(["sleep", "1000"], "")
    n = 0

    def next_id(rt):
        nonlocal n
        n += 1
        return f"b{os.getpid()}-{rt.name}-{n}"

    # 1. lifecycle: create + start + wait + delete of /bin/true; 2. run of /bin/true.
    for _ in range(opts["iterations"]):
        for rt in runtimes:
            cid = next_id(rt)
            write_config(true_bundle, true_config, f"{CGROUP_PARENT}/{cid}")
            pid_file = os.path.join(true_bundle, "pid")
            c = rt.control()
            controls[rt.name].append(c)
            start = time.perf_counter()
            rt.call("create", "--bundle", true_bundle, "--pid-file", pid_file, cid)
            with open(pid_file) as f:
                pid = int(f.read())
            rt.call("start", cid)
            wait_gone(pid)
            rt.call("delete", cid)
            record(rt, "lifecycle", time.perf_counter() - start - 3 * c)
            cid = next_id(rt)
            write_config(true_bundle, true_config, f"{CGROUP_PARENT}/{cid}")
            took, _ = rt.call("run", "--bundle", true_bundle, cid)
            record(rt, "run /bin/true", took - c)

    # Peak RSS of the runtime during create, and of its init stage waiting on the fifo.
    for _ in range(min(opts["iterations"], 5)):
        for rt in runtimes:
            cid = next_id(rt)
            write_config(true_bundle, true_config, f"{CGROUP_PARENT}/{cid}")
            pid_file = os.path.join(true_bundle, "pid")
            _, rss = rt.call("create", "--bundle", true_bundle, "--pid-file", pid_file, cid, rss=True)
            with open(pid_file) as f:
                record(rt, "waiting init peak RSS (KiB)", peak_rss_kib(int(f.read())))
            record(rt, "create peak RSS (KiB)", rss)
            rt.call("delete", "--force", cid)

    # 3. exec into a running container; 4. state and list with one container.
    running = {}
    for rt in runtimes:
        cid = next_id(rt)
        write_config(sleep_bundle, sleep_config, f"{CGROUP_PARENT}/{cid}")
        rt.call("run", "--detach", "--bundle", sleep_bundle, cid)
        running[rt.name] = cid
    try:
        for _ in range(opts["exec_iterations"]):
            for rt in runtimes:
                c = rt.control()
                took, _ = rt.call("exec", running[rt.name], "true")
                record(rt, "exec /bin/true", took - c)
                took, _ = rt.call("state", running[rt.name])
                record(rt, "state (1 container)", took - c)
                took, _ = rt.call("list")
                record(rt, "list (1 container)", took - c)
    finally:
        for rt in runtimes:
            rt.call("delete", "--force", running[rt.name], check=False)

    # 5. n containers created and started, then killed and deleted, by one worker and by four;
    # 4. state and list while n containers run (measured after the sequential batch).
    count = opts["containers"]
    rootfs = os.path.join(sleep_bundle, "rootfs")
    for workers in [w for _ in range(opts["batch_rounds"]) for w in (1, 4)]:
        label = "sequential" if workers == 1 else f"{workers} parallel"
        batches = {rt.name: [next_id(rt) for _ in range(count)] for rt in runtimes}
        bases = {rt.name: batch_bundles(rt, batches[rt.name], rootfs, sleep_config) for rt in runtimes}
        try:
            for rt in runtimes:
                took = timed_batch(rt, create_start, bases[rt.name], batches[rt.name], workers)
                record(rt, f"{count} × create+start, {label}", took)
            if workers == 1:
                for _ in range(max(opts["exec_iterations"] // 2, 1)):
                    for rt in runtimes:
                        c = rt.control()
                        took, _ = rt.call("state", batches[rt.name][-1])
                        record(rt, f"state ({count} containers)", took - c)
                        took, _ = rt.call("list")
                        record(rt, f"list ({count} containers)", took - c)
            for rt in runtimes:
                took = timed_batch(rt, kill_delete, bases[rt.name], batches[rt.name], workers)
                record(rt, f"{count} × kill+delete, {label}", took)
        except BaseException:
            for rt in runtimes:
                for cid in batches[rt.name]:
                    rt.call("delete", "--force", cid, check=False)
            raise
        finally:
            for base in bases.values():
                shutil.rmtree(base, ignore_errors=True)
    for d in (true_bundle, sleep_bundle):
        shutil.rmtree(d, ignore_errors=True)
    return results


def batch_bundles(rt, ids, rootfs, config):
    """One bundle directory per container, holding only config.json (the read-only rootfs is
    shared by absolute path), so parallel creates never race on one config file."""
    base = tempfile.mkdtemp(prefix=f"bench-batch-{rt.name}")
    for cid in ids:
        bundle = os.path.join(base, cid)
        os.mkdir(bundle)
        own = json.loads(json.dumps(config))
        own["root"]["path"] = rootfs
        write_config(bundle, own, f"{CGROUP_PARENT}/{cid}")
    return base


def create_start(rt, base, cid):
    bundle = os.path.join(base, cid)
    rt.call("create", "--bundle", bundle, "--pid-file", os.path.join(bundle, "pid"), cid)
    rt.call("start", cid)


def kill_delete(rt, base, cid):
    rt.call("kill", cid, "KILL")
    with open(os.path.join(base, cid, "pid")) as f:
        wait_gone(int(f.read()))
    rt.call("delete", cid)


def timed_batch(rt, step, base, ids, workers):
    """Wall time of `step` (two runtime calls) over all ids, less the wrapper's cost for as many
    calls spread over as many workers."""
    start = time.perf_counter()
    if workers == 1:
        for cid in ids:
            step(rt, base, cid)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda cid: step(rt, base, cid), ids))
    took = time.perf_counter() - start
    return took - rt.control_batch(2 * len(ids), workers)


def binary_facts(rt):
    size = os.path.getsize(rt.path)
    ldd = subprocess.run(["ldd", rt.path], capture_output=True, text=True).stdout
    libs = [l.split()[0] for l in ldd.splitlines() if "=>" in l or l.strip().startswith("/")]
    return size, len(libs)


def percentile(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def duration(seconds):
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.2f} ms"


def report(runtimes, results, opts):
    base = runtimes[0].name
    keys = list(results[base].keys())
    lines = ["| measure | " + " | ".join(f"{rt.name} median | p90 | ×{base}" for rt in runtimes) + " |",
             "|---|" + "---|---|---|" * len(runtimes)]
    summary = {}
    for key in keys:
        ref = statistics.median(results[base][key])
        row = [key]
        for rt in runtimes:
            xs = results[rt.name][key]
            med, p90 = statistics.median(xs), percentile(xs, 0.9)
            summary.setdefault(rt.name, {})[key] = {"median": med, "p90": p90, "n": len(xs)}
            if "RSS" in key:
                row += [f"{med:.0f}", f"{p90:.0f}", f"{med / ref:.2f}" if ref else "-"]
            else:
                row += [duration(med), duration(p90), f"{med / ref:.2f}" if ref else "-"]
        lines.append("| " + " | ".join(row) + " |")
    facts = ["", "| binary | size | shared libraries |", "|---|---|---|"]
    for rt in runtimes:
        size, libs = binary_facts(rt)
        summary.setdefault(rt.name, {})["binary"] = {"bytes": size, "shared_libraries": libs}
        facts.append(f"| {rt.name} ({rt.path}) | {size / 1e6:.1f} MB | {libs} |")
    machine = f"{os.uname().release}, {os.cpu_count()} cores"
    print(f"Measured {time.strftime('%Y-%m-%d')} on {machine}; {opts['iterations']} lifecycle/run "
          f"and {opts['exec_iterations']} exec/state/list iterations, interleaved; "
          f"{opts['batch_rounds']} rounds of {opts['containers']}-container batches, one batch per "
          f"runtime in turn.\n")
    print("\n".join(lines + facts))
    if opts["json"]:
        with open(opts["json"], "w") as f:
            json.dump({"machine": machine, "results": summary}, f, indent=2)


class LoadRun:
    """One runtime's load run: every command timed, every unexpected exit kept."""

    def __init__(self, rt):
        self.rt = rt
        self.latency = {}
        self.failures = []
        self.lock = threading.Lock()

    def cmd(self, name, *args, ok=(0,), limit=60):
        out = tempfile.TemporaryFile()
        start = time.perf_counter()
        try:
            p = subprocess.run(self.rt.argv(*args), stdin=subprocess.DEVNULL, stdout=out,
                               stderr=out, timeout=limit)
            code = p.returncode
        except subprocess.TimeoutExpired:
            code = "hung"
        took = time.perf_counter() - start
        with self.lock:
            self.latency.setdefault(name, []).append(took)
            if code not in ok:
                out.seek(0)
                self.failures.append((name, args[-1], code, out.read().decode(errors="replace").strip()))
        return code


def pid_of(bundle):
    try:
        with open(os.path.join(bundle, "pid")) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def load_life(run, base, i, cid):
    """One container's life in the mix."""
    bundle = os.path.join(base, cid)
    if run.cmd("create", "create", "--bundle", bundle, "--pid-file", os.path.join(bundle, "pid"), cid):
        return
    run.cmd("start", "start", cid)
    run.cmd("exec", "exec", cid, "true")
    run.cmd("exec", "exec", cid, "true")
    if i % 3 == 0:
        run.cmd("pause", "pause", cid)
        run.cmd("state", "state", cid)
        run.cmd("resume", "resume", cid)
    if i % 4 == 1:
        run.cmd("update", "update", "--pids-limit", "100", cid)
    if i % 10 == 0:
        run.cmd("list", "list")
    run.cmd("kill", "kill", cid, "KILL")
    pid = pid_of(bundle)
    if pid:
        wait_gone(pid)
    run.cmd("delete", "delete", cid)


def load_race(run, base, cid):
    """delete, kill, exec and update at once on one running container: each must finish
    (the state lock serialises them) with success or a clean refusal."""
    bundle = os.path.join(base, cid)
    if run.cmd("race create", "create", "--bundle", bundle, "--pid-file", os.path.join(bundle, "pid"), cid):
        return
    run.cmd("race start", "start", cid)
    racers = [
        ("race delete --force", ("delete", "--force", cid), (0, 1)),
        ("race kill", ("kill", cid, "KILL"), (0, 1)),
        ("race exec", ("exec", cid, "true"), (0, 1, 137, 255)),
        ("race update", ("update", "--pids-limit", "50", cid), (0, 1)),
    ]
    threads = [threading.Thread(target=run.cmd, args=(name, *args), kwargs={"ok": ok})
               for name, args, ok in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.cmd("delete (after race)", "delete", "--force", cid, ok=(0, 1))


def host_sample():
    with open("/proc/sys/fs/file-nr") as f:
        files = int(f.read().split()[0])
    with open("/proc/meminfo") as f:
        avail = next(int(l.split()[1]) for l in f if l.startswith("MemAvailable:"))
    with open("/proc/self/mountinfo") as f:
        mounts = sum(1 for _ in f)
    return {"open files": files, "available memory (KiB)": avail, "mounts": mounts}


def leftovers(rt, ids):
    """What a load run left: state dirs, cgroups under the bench parent, processes in them."""
    left = {"state dirs": len(os.listdir(rt.root))}
    cgroups, procs = 0, 0
    for h in os.listdir("/sys/fs/cgroup"):
        d = os.path.join("/sys/fs/cgroup", h, CGROUP_PARENT.lstrip("/"))
        if not os.path.isdir(d):
            continue
        for cid in ids:
            p = os.path.join(d, cid)
            if os.path.isdir(p):
                cgroups += 1
                with open(os.path.join(p, "cgroup.procs")) as f:
                    procs += sum(1 for _ in f)
    left["cgroups"], left["processes"] = cgroups, procs
    listed = subprocess.run(rt.argv("list", "--quiet"), capture_output=True, text=True).stdout.split()
    left["listed"] = len(listed)
    return left


def load_round(rt, opts, rootfs, config, tag):
    n, workers = opts["load"], opts["workers"]
    ids = [f"l{os.getpid()}-{rt.name}-{tag}-{i}" for i in range(n)]
    races = [f"r{os.getpid()}-{rt.name}-{tag}-{i}" for i in range(max(n // 10, 1))]
    base = batch_bundles(rt, ids + races, rootfs, config)
    run = LoadRun(rt)
    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda a: load_life(run, base, *a), enumerate(ids)))
        mix_wall = time.perf_counter() - start
        with ThreadPoolExecutor(max(workers // 4, 1)) as pool:
            list(pool.map(lambda cid: load_race(run, base, cid), races))
    finally:
        left = leftovers(rt, ids + races)
        for cid in ids + races:
            if os.path.isdir(os.path.join(rt.root, cid)):
                subprocess.run(rt.argv("delete", "--force", cid), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    mix_ops = sum(len(v) for k, v in run.latency.items() if not k.startswith("race") and "after race" not in k)
    return run, mix_wall, mix_ops, left


def load_report(results, opts):
    names = list(results)
    cmds = []
    for name in names:
        for c in results[name]["run"].latency:
            if c not in cmds:
                cmds.append(c)
    print(f"Load: {opts['load']} containers, {opts['workers']} workers, on {os.uname().release}, "
          f"{os.cpu_count()} cores; then delete/kill/exec/update raced on {max(opts['load'] // 10, 1)} ids.\n")
    print("| runtime | mix wall time | operations | ops/s | failures | left behind |")
    print("|---|---|---|---|---|---|")
    for name in names:
        r = results[name]
        left = ", ".join(f"{k} {v}" for k, v in r["left"].items())
        print(f"| {name} | {r['wall']:.2f} s | {r['ops']} | {r['ops'] / r['wall']:.0f} | "
              f"{len(r['run'].failures)} | {left} |")
    print()
    print("| command | " + " | ".join(f"{n} n | p50 | p99" for n in names) + " |")
    print("|---|" + "---|---|---|" * len(names))
    for c in cmds:
        row = [c]
        for name in names:
            xs = results[name]["run"].latency.get(c, [])
            row += [str(len(xs)), duration(percentile(xs, 0.5)) if xs else "-",
                    duration(percentile(xs, 0.99)) if xs else "-"]
        print("| " + " | ".join(row) + " |")
    for name in names:
        for f in results[name]["run"].failures[:10]:
            print(f"{name}: {f[0]} {f[1]}: exit {f[2]}: {f[3][:300]}")


def load(runtimes, opts):
    bundle, config = make_bundle(["sleep", "1000"], "")
    rootfs = os.path.join(bundle, "rootfs")
    results = {}
    try:
        for rt in runtimes:
            run, wall, ops, left = load_round(rt, opts, rootfs, config, "load")
            results[rt.name] = {"run": run, "wall": wall, "ops": ops, "left": left}
    finally:
        shutil.rmtree(bundle, ignore_errors=True)
    load_report(results, opts)
    if opts["json"]:
        with open(opts["json"], "w") as f:
            json.dump({name: {"wall": r["wall"], "ops": r["ops"], "left": r["left"],
                              "failures": r["run"].failures,
                              "latency": {c: {"n": len(xs), "p50": percentile(xs, 0.5),
                                              "p99": percentile(xs, 0.99)}
                                          for c, xs in r["run"].latency.items()}}
                       for name, r in results.items()}, f, indent=2)
    return results


def soak(rt, opts):
    """The load mix again and again for opts["soak"] seconds; the host sampled each round."""
    if not opts["load"]:
        opts["load"] = 50
    bundle, config = make_bundle(["sleep", "1000"], "")
    rootfs = os.path.join(bundle, "rootfs")
    samples = [("start", host_sample())]
    end = time.monotonic() + opts["soak"]
    rounds, ops, failures, leaks = 0, 0, 0, []
    try:
        while time.monotonic() < end:
            run, wall, n, left = load_round(rt, opts, rootfs, config, f"s{rounds}")
            rounds += 1
            ops += n
            failures += len(run.failures)
            if any(left.values()):
                leaks.append((rounds, left))
            samples.append((f"round {rounds}", host_sample()))
    finally:
        shutil.rmtree(bundle, ignore_errors=True)
    print(f"Soak: {rt.name}, {rounds} rounds of {opts['load']} containers ({opts['workers']} workers) "
          f"in {opts['soak']} s: {ops} operations, {failures} failures, leaks: {leaks or 'none'}.\n")
    keys = list(samples[0][1])
    print("| sample | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    shown = samples if len(samples) <= 12 else samples[:2] + samples[len(samples) // 2:len(samples) // 2 + 1] + samples[-3:]
    for label, s in shown:
        print(f"| {label} | " + " | ".join(str(s[k]) for k in keys) + " |")


def cleanup_cgroups():
    for h in os.listdir("/sys/fs/cgroup"):
        d = os.path.join("/sys/fs/cgroup", h, CGROUP_PARENT.lstrip("/"))
        if os.path.isdir(d):
            for sub in os.listdir(d):
                p = os.path.join(d, sub)
                if os.path.isdir(p):
                    try:
                        os.rmdir(p)
                    except OSError:
                        pass
            try:
                os.rmdir(d)
            except OSError:
                pass


def main():
    runtimes, opts = parse_args(sys.argv[1:])
    rts = [Runtime(name, path) for name, path in runtimes]
    try:
        if opts["soak"]:
            soak(rts[0], opts)
        elif opts["load"]:
            load(rts, opts)
        else:
            results = bench(rts, opts)
            report(rts, results, opts)
    finally:
        for rt in rts:
            shutil.rmtree(rt.root, ignore_errors=True)
        cleanup_cgroups()


if __name__ == "__main__":
    main()
