#!/usr/bin/env python3
"""Real clients drive corral, and runc beside it: containerd (ctr through the runc shim),
podman (with conmon), containerd's go-runc bindings, and docker (optional).

    hack/e2e/clients.py [--lanes containerd,podman,gorunc,docker] [--json FILE] [--markdown FILE]

Each lane starts its own private daemon (root, state and socket under a temp dir), runs the same
steps with corral and with runc, and stops the daemon. Exit status 1 when a step works with runc
and fails with corral (or fails with both: then the lane itself is broken). Containers get
cgroups under /corral-e2e, never under the caller's cgroup.
"""
import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
IMAGE = "localhost/corral-busybox:latest"
CGROUP_PARENT = "corral-e2e"
STEP_TIMEOUT = 120
# Plain directory copies: the overlayfs snapshotter cannot stack on an overlayfs root (the v2
# VM's), and the image is two megabytes.
SNAPSHOTTER = "native"


def runtimes():
    return {
        # What hack/build.sh builds (hack/conformance.sh runs it before the lanes in the suite).
        "corral": os.path.join(REPO, "target/x86_64-unknown-linux-gnu/release/corral"),
        "runc": shutil.which("runc") or "/usr/sbin/runc",
    }


class Step:
    def __init__(self, name, ok, detail, seconds):
        self.name, self.ok, self.detail, self.seconds = name, ok, detail, seconds


class Lane:
    """A client under test. Subclasses define setup(), steps(rt_name, rt_path) yielding
    (name, function) pairs, and teardown()."""

    name = "?"

    def __init__(self, work):
        self.work = work
        self.procs = []

    def sh(self, args, timeout=STEP_TIMEOUT, env=None, check=False):
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                           env=env, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise StepFailed(f"{' '.join(args[:6])}...: exit {p.returncode}: {p.stderr.strip()}")
        return p

    def daemon(self, args, log, env=None):
        f = open(log, "w")
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env, start_new_session=True)
        self.procs.append(p)
        return p

    def stop_daemons(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


class StepFailed(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise StepFailed(msg)


def wait_until(pred, timeout=20, what="condition"):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = pred()
        if last:
            return last
        time.sleep(0.1)
    raise StepFailed(f"timed out waiting for {what}")


def cgroup_mounts():
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split(" ")[0] in ("cgroup", "cgroup2"):
                out.append(left.split(" ")[4])
    return out


def remove_cgroup_tree(path):
    if not os.path.isdir(path):
        return
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            remove_cgroup_tree(entry.path)
    for _ in range(50):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)


def remove_test_cgroups():
    for m in cgroup_mounts():
        remove_cgroup_tree(os.path.join(m, CGROUP_PARENT))


def host_memory_limits(cid):
    """The memory limit files of the container's cgroup under the test parent, v1 or v2."""
    found = []
    for m in cgroup_mounts():
        for name in ("memory.max", "memory.limit_in_bytes"):
            path = os.path.join(m, CGROUP_PARENT, cid, name)
            if os.path.exists(path):
                with open(path) as f:
                    found.append(f.read().strip())
    return found


def memory_limit_cmd():
    # v2 first, then v1: whichever the container's /sys/fs/cgroup shows.
    return ["sh", "-c", "cat /sys/fs/cgroup/memory.max 2>/dev/null || "
                        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes"]


def run_steps(run, client):
    """The `run` steps podman and docker share: output, exit code, and 127 for a missing
    binary (both engines map the runtime's "no such file or directory" to it)."""

    def run_output():
        p = run(IMAGE, "echo", f"hello from {client}")
        expect(p.returncode == 0 and p.stdout.strip() == f"hello from {client}",
               f"exit {p.returncode}, out {p.stdout!r}, err {p.stderr.strip()!r}")

    def run_exit_code():
        p = run(IMAGE, "sh", "-c", "exit 7")
        expect(p.returncode == 7, f"exit {p.returncode}: {p.stderr.strip()}")

    def run_missing():
        p = run(IMAGE, "/no/such/binary")
        expect(p.returncode == 127, f"exit {p.returncode} (want 127): {p.stderr.strip()}")

    return [("run", run_output), ("run exit code", run_exit_code),
            ("run missing binary = 127", run_missing)]


# ---------------------------------------------------------------------------------------------
class Containerd(Lane):
    name = "containerd"

    def setup(self):
        self.sock = os.path.join(self.work, "containerd.sock")
        config = os.path.join(self.work, "config.toml")
        with open(config, "w") as f:
            f.write(f"""version = 2
root = "{self.work}/root"
state = "{self.work}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{self.sock}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{self.work}/opt"
""")
        self.daemon(["containerd", "--config", config], os.path.join(self.work, "containerd.log"))
        wait_until(lambda: os.path.exists(self.sock), what="containerd's socket")
        wait_until(lambda: self.ctr("version").returncode == 0, what="containerd to answer")
        p = self.ctr("images", "import", "--snapshotter", SNAPSHOTTER, self.image)
        expect(p.returncode == 0, f"image import: {p.stderr.strip()}")

    def ctr(self, *args, timeout=STEP_TIMEOUT):
        return self.sh(["ctr", "--address", self.sock, "--namespace", "corral-e2e", *args],
                       timeout=timeout)

    def run_args(self, rt, cid):
        path, root = rt
        return ["--runc-binary", path, "--runc-root", root, "--snapshotter", SNAPSHOTTER,
                "--cgroup", f"/{CGROUP_PARENT}/{cid}"]

    def task_status(self, cid):
        for line in self.ctr("task", "ls").stdout.splitlines()[1:]:
            f = line.split()
            if f and f[0] == cid:
                return f[-1]
        return None

    def steps(self, name, path):
        rt = (path, os.path.join(self.work, f"runtime-root-{name}"))
        cid = lambda s: f"{name}-{s}"

        def run_output():
            p = self.ctr("run", "--rm", *self.run_args(rt, cid("run")), IMAGE, cid("run"),
                         "echo", "hello from ctr")
            expect(p.returncode == 0 and p.stdout.strip() == "hello from ctr",
                   f"exit {p.returncode}, out {p.stdout!r}, err {p.stderr.strip()!r}")

        def run_exit_code():
            p = self.ctr("run", "--rm", *self.run_args(rt, cid("exit")), IMAGE, cid("exit"),
                         "sh", "-c", "exit 7")
            expect(p.returncode == 7, f"exit {p.returncode}: {p.stderr.strip()}")

        def run_detached():
            p = self.ctr("run", "-d", *self.run_args(rt, cid("d")), IMAGE, cid("d"),
                         "sleep", "600")
            expect(p.returncode == 0, p.stderr.strip())
            wait_until(lambda: self.task_status(cid("d")) == "RUNNING", what="RUNNING")

        def task_exec():
            p = self.ctr("task", "exec", "--exec-id", "e1", cid("d"), "sh", "-c",
                         "echo exec-out; exit 3")
            expect(p.returncode == 3 and p.stdout.strip() == "exec-out",
                   f"exit {p.returncode}, out {p.stdout!r}, err {p.stderr.strip()!r}")

        def task_ps():
            p = self.ctr("task", "ps", cid("d"))
            pids = [l.split()[0] for l in p.stdout.splitlines()[1:] if l.strip()]
            expect(p.returncode == 0 and pids, f"{p.stdout!r} {p.stderr.strip()}")

        def task_pause_resume():
            p = self.ctr("task", "pause", cid("d"))
            expect(p.returncode == 0, p.stderr.strip())
            wait_until(lambda: self.task_status(cid("d")) == "PAUSED", what="PAUSED")
            p = self.ctr("task", "resume", cid("d"))
            expect(p.returncode == 0, p.stderr.strip())
            wait_until(lambda: self.task_status(cid("d")) == "RUNNING", what="RUNNING")

        def task_metrics():
            p = self.ctr("task", "metrics", cid("d"))
            expect(p.returncode == 0 and "memory" in p.stdout.lower(),
                   f"{p.stdout!r} {p.stderr.strip()}")

        def task_kill_delete():
            p = self.ctr("task", "kill", "-s", "SIGKILL", cid("d"))
            expect(p.returncode == 0, p.stderr.strip())
            wait_until(lambda: self.task_status(cid("d")) == "STOPPED", what="STOPPED")
            p = self.ctr("task", "delete", cid("d"))
            expect(p.returncode == 0, p.stderr.strip())
            p = self.ctr("container", "delete", cid("d"))
            expect(p.returncode == 0, p.stderr.strip())

        def memory_limit():
            # ctr's default spec mounts no cgroupfs in the container: read the host's files.
            p = self.ctr("run", "-d", "--memory-limit", "67108864",
                         *self.run_args(rt, cid("mem")), IMAGE, cid("mem"), "sleep", "600")
            expect(p.returncode == 0, p.stderr.strip())
            limits = host_memory_limits(cid("mem"))
            self.ctr("task", "kill", "-s", "SIGKILL", cid("mem"))
            wait_until(lambda: self.task_status(cid("mem")) == "STOPPED", what="STOPPED")
            self.ctr("task", "delete", cid("mem"))
            self.ctr("container", "delete", cid("mem"))
            expect(limits == ["67108864"], f"the container's memory limit files hold {limits}")

        def tty():
            # ctr puts its own terminal in raw mode; script(1) gives it one.
            cmd = ["ctr", "--address", self.sock, "--namespace", "corral-e2e", "run", "--rm",
                   "-t", *self.run_args(rt, cid("tty")), IMAGE, cid("tty"), "tty"]
            p = self.sh(["script", "-qec", " ".join(cmd), "/dev/null"])
            expect(p.returncode == 0 and "/dev/pts/0" in p.stdout,
                   f"exit {p.returncode}, out {p.stdout!r}")

        def missing_binary_error():
            p = self.ctr("run", "--rm", *self.run_args(rt, cid("missing")), IMAGE,
                         cid("missing"), "/no/such/binary")
            err = p.stderr
            expect(p.returncode != 0, "ctr run of a missing binary succeeded")
            expect("no such file or directory" in err or "executable file not found" in err,
                   f"the shim's error does not name the cause: {err.strip()!r}")
            self.ctr("container", "delete", cid("missing"))

        return [("run", run_output), ("run exit code", run_exit_code),
                ("run -d", run_detached), ("task exec", task_exec), ("task ps", task_ps),
                ("task pause/resume", task_pause_resume), ("task metrics", task_metrics),
                ("task kill + delete", task_kill_delete), ("--memory-limit", memory_limit),
                ("--tty", tty), ("missing binary error", missing_binary_error)]

    def cleanup(self, name):
        for line in self.ctr("task", "ls").stdout.splitlines()[1:]:
            cid = line.split()[0]
            if cid.startswith(name + "-"):
                self.ctr("task", "kill", "-s", "SIGKILL", cid)
                self.ctr("task", "delete", "--force", cid)
        for line in self.ctr("container", "ls", "-q").stdout.split():
            if line.startswith(name + "-"):
                self.ctr("container", "delete", line)

    def teardown(self):
        self.stop_daemons()


# ---------------------------------------------------------------------------------------------
class Podman(Lane):
    name = "podman"

    def setup(self):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        # Podman lowers its own nproc hard limit to 32768 when it cannot raise it.
        nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 32768)
        conf = os.path.join(self.work, "containers.conf")
        with open(conf, "w") as f:
            # No CAP_SYS_RESOURCE here: podman's default ulimits would raise hard limits.
            f.write(f"""[containers]
default_ulimits = ["nofile={hard}:{hard}", "nproc={nproc}:{nproc}"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_json = ["corral", "runc", "crun"]
""")
        registries = os.path.join(self.work, "registries.conf")
        with open(registries, "w") as f:
            f.write('unqualified-search-registries = []\n')
        self.env = dict(os.environ, CONTAINERS_CONF=conf, CONTAINERS_REGISTRIES_CONF=registries)
        p = self.podman("runc", "load", "-i", self.image)
        expect(p.returncode == 0, f"podman load: {p.stderr.strip()}")

    def podman(self, rt, *args, timeout=STEP_TIMEOUT):
        base = ["podman", "--root", f"{self.work}/storage", "--runroot", f"{self.work}/run",
                "--tmpdir", f"{self.work}/tmp", "--storage-driver", "vfs",
                "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
        if rt != "runc":
            base += ["--runtime", rt]
        else:
            base += ["--runtime", runtimes()["runc"]]
        return self.sh(base + list(args), timeout=timeout, env=self.env)

    def steps(self, name, path):
        rt = path
        parent = f"--cgroup-parent=/{CGROUP_PARENT}/podman-{name}"
        ctr = f"e2e-{name}"

        def run(*args):
            return self.podman(rt, "run", "--rm", parent, *args)

        def run_detached():
            p = self.podman(rt, "run", "-d", parent, "--name", ctr, IMAGE, "sh", "-c",
                            "echo logged; exec sleep 600")
            expect(p.returncode == 0, p.stderr.strip())

        def exec_():
            p = self.podman(rt, "exec", ctr, "sh", "-c", "echo exec-out; exit 4")
            expect(p.returncode == 4 and p.stdout.strip() == "exec-out",
                   f"exit {p.returncode}, out {p.stdout!r}, err {p.stderr.strip()!r}")

        def logs():
            p = self.podman(rt, "logs", ctr)
            expect(p.returncode == 0 and "logged" in p.stdout, f"{p.stdout!r} {p.stderr!r}")

        def status():
            return self.podman(rt, "inspect", "-f", "{{.State.Status}}", ctr).stdout.strip()

        def ps():
            p = self.podman(rt, "ps", "--format", "{{.Names}} {{.Status}}")
            expect(p.returncode == 0 and f"{ctr} Up" in p.stdout, f"{p.stdout!r}")

        def pause_unpause():
            p = self.podman(rt, "pause", ctr)
            expect(p.returncode == 0, p.stderr.strip())
            expect(status() == "paused", f"status {status()!r}")
            p = self.podman(rt, "unpause", ctr)
            expect(p.returncode == 0, p.stderr.strip())
            expect(status() == "running", f"status {status()!r}")

        def stop():
            p = self.podman(rt, "stop", "-t", "1", ctr)
            expect(p.returncode == 0, p.stderr.strip())
            expect(status() == "exited", f"status {status()!r}")

        def rm():
            p = self.podman(rt, "rm", ctr)
            expect(p.returncode == 0, p.stderr.strip())

        def tty():
            p = run("-t", IMAGE, "tty")
            expect(p.returncode == 0 and "/dev/pts/0" in p.stdout,
                   f"exit {p.returncode}, out {p.stdout!r}, err {p.stderr.strip()!r}")

        def memory():
            p = run("--memory", "64m", IMAGE, *memory_limit_cmd())
            expect(p.returncode == 0 and p.stdout.strip() == "67108864",
                   f"exit {p.returncode}, out {p.stdout!r}, err {p.stderr.strip()!r}")

        def user():
            p = run("--user", "1000:1000", IMAGE, "id")
            expect(p.returncode == 0 and p.stdout.startswith("uid=1000(user) gid=1000(user)"),
                   f"exit {p.returncode}, out {p.stdout!r}, err {p.stderr.strip()!r}")

        def read_only():
            p = run("--read-only", IMAGE, "sh", "-c", "touch /x; echo $?; touch /tmp/y; echo $?")
            expect(p.returncode == 0 and p.stdout.split() == ["1", "0"],
                   f"exit {p.returncode}, out {p.stdout!r}, err {p.stderr.strip()!r}")

        def cap_drop():
            p = run("--cap-drop", "all", IMAGE, "grep", "CapEff", "/proc/self/status")
            expect(p.returncode == 0 and p.stdout.split()[-1:] == ["0000000000000000"],
                   f"exit {p.returncode}, out {p.stdout!r}, err {p.stderr.strip()!r}")

        return run_steps(run, "podman") + [("run -d", run_detached),
                ("exec", exec_), ("logs", logs), ("ps", ps), ("pause/unpause", pause_unpause),
                ("stop", stop), ("rm", rm), ("--tty", tty), ("--memory", memory),
                ("--user", user), ("--read-only", read_only), ("--cap-drop all", cap_drop)]

    def cleanup(self, name):
        self.podman(runtimes()[name], "rm", "-f", "-t", "0", f"e2e-{name}")

    def teardown(self):
        self.podman("runc", "rm", "-a", "-f", "-t", "0")
        # vfs layers are plain directories; podman's own reset removes them and its state.
        self.podman("runc", "system", "reset", "-f")


# ---------------------------------------------------------------------------------------------
class GoRunc(Lane):
    """containerd's go-runc bindings (Debian's golang-github-containerd-go-runc-dev), built
    offline in GOPATH mode."""

    name = "go-runc"

    def setup(self):
        gopath = os.path.join(self.work, "gopath")
        self.bin = os.path.join(self.work, "gorunc")
        env = dict(os.environ, GO111MODULE="off", GOPATH=f"{gopath}:/usr/share/gocode",
                   GOCACHE=os.path.join(self.work, "gocache"), GOFLAGS="")
        p = subprocess.run(["go", "build", "-o", self.bin, "."], cwd=os.path.join(HERE, "gorunc"),
                           env=env, capture_output=True, text=True, timeout=600)
        expect(p.returncode == 0, f"go build: {p.stderr.strip()}")

    def bundle(self, name, args):
        b = os.path.join(self.work, name)
        rootfs = os.path.join(b, "rootfs")
        os.makedirs(rootfs, exist_ok=True)
        subprocess.run(["tar", "-xf", self.image, "-C", b, "manifest.json"], check=True)
        with open(os.path.join(b, "manifest.json")) as f:
            layer = json.load(f)[0]["Layers"][0]
        subprocess.run(["tar", "-xf", self.image, "-C", b, layer], check=True)
        subprocess.run(["tar", "-xf", os.path.join(b, layer), "-C", rootfs], check=True)
        spec = subprocess.run([runtimes()["corral"], "spec", "--bundle", b],
                              capture_output=True, text=True)
        expect(spec.returncode == 0, spec.stderr)
        path = os.path.join(b, "config.json")
        with open(path) as f:
            config = json.load(f)
        config["process"]["terminal"] = False
        config["process"]["args"] = args
        config["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/{name}"
        with open(path, "w") as f:
            json.dump(config, f)
        return b

    def steps(self, name, path):
        def all_steps():
            sleeper = self.bundle(f"gorunc-{name}", ["sleep", "600"])
            exiter = self.bundle(f"gorunc-{name}-exit", ["sh", "-c", "exit 3"])
            work = os.path.join(self.work, f"work-{name}")
            os.makedirs(work, exist_ok=True)
            p = self.sh([self.bin, "-runtime", path, "-root", os.path.join(work, "root"),
                         "-bundle", sleeper, "-exit-bundle", exiter, "-id", f"gorunc-{name}",
                         "-work", work])
            return p

        # One Go run makes all the steps; they are reported one by one.
        self.result = None

        def step(label):
            def f():
                if self.result is None:
                    self.result = all_steps()
                for line in self.result.stdout.splitlines():
                    parts = line.split(" ", 3)
                    if len(parts) >= 3 and parts[0] == "STEP" and parts[1] == label:
                        expect(parts[2] == "ok", parts[3] if len(parts) > 3 else "")
                        return
                raise StepFailed(f"no result: {self.result.stderr.strip()[-300:]}")
            return f

        labels = ["version", "create", "state", "start", "state-running", "exec", "exec-missing",
                  "ps", "pause", "resume", "stats", "events", "update", "list", "kill-all",
                  "delete", "run", "error-log", "error-missing"]
        return [(label, step(label)) for label in labels]

    def cleanup(self, name):
        pass

    def teardown(self):
        pass


# ---------------------------------------------------------------------------------------------
class Docker(Lane):
    """Debian's docker.io unpacked with `apt-get download` + `dpkg -x`, never installed."""

    name = "docker"

    def setup(self):
        pkg_dir = os.path.join(self.work, "pkg")
        os.makedirs(pkg_dir, exist_ok=True)
        download = ["apt-get", "download", "docker.io"]
        p = subprocess.run(download, cwd=pkg_dir, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:  # a fresh machine may have no package lists yet
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600)
            p = subprocess.run(download, cwd=pkg_dir, capture_output=True, text=True,
                               timeout=600)
        expect(p.returncode == 0, f"apt-get download docker.io: {p.stderr.strip()}")
        deb = [f for f in os.listdir(pkg_dir) if f.endswith(".deb")][0]
        root = os.path.join(self.work, "docker-root")
        subprocess.run(["dpkg", "-x", os.path.join(pkg_dir, deb), root], check=True)
        self.dockerd = os.path.join(root, "usr/sbin/dockerd")
        self.client = shutil.which("docker") or os.path.join(root, "usr/bin/docker")
        self.sock = os.path.join(self.work, "docker.sock")
        rts = runtimes()
        env = dict(os.environ, PATH=os.path.join(root, "usr/sbin") + ":" +
                   os.path.join(root, "usr/bin") + ":" + os.environ.get("PATH", ""))
        self.daemon([self.dockerd, "--data-root", f"{self.work}/data",
                     "--exec-root", f"{self.work}/exec", "--pidfile", f"{self.work}/docker.pid",
                     "-H", f"unix://{self.sock}", "--bridge", "none", "--iptables=false",
                     "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
                     "--cgroup-parent", f"/{CGROUP_PARENT}/docker",
                     "--containerd-namespace", "corral-e2e-docker",
                     "--containerd-plugins-namespace", "corral-e2e-docker-plugins",
                     "--add-runtime", f"corral={rts['corral']}",
                     "--add-runtime", f"debrunc={rts['runc']}"],
                    os.path.join(self.work, "dockerd.log"), env=env)
        wait_until(lambda: self.docker("info").returncode == 0, timeout=60, what="dockerd")
        p = self.docker("load", "-i", self.image)
        expect(p.returncode == 0, f"docker load: {p.stderr.strip()}")

    def docker(self, *args):
        return self.sh([self.client, "-H", f"unix://{self.sock}", *args])

    def steps(self, name, path):
        runtime = "corral" if name == "corral" else "debrunc"

        def run(*args):
            return self.docker("run", "--rm", "--runtime", runtime, "--network", "none", *args)

        def exec_():
            c = f"e2e-{name}"
            p = self.docker("run", "-d", "--name", c, "--runtime", runtime, "--network", "none",
                            IMAGE, "sleep", "600")
            expect(p.returncode == 0, p.stderr.strip())
            p = self.docker("exec", c, "echo", "exec-out")
            expect(p.returncode == 0 and p.stdout.strip() == "exec-out",
                   f"exit {p.returncode}, out {p.stdout!r}, err {p.stderr.strip()!r}")
            p = self.docker("rm", "-f", c)
            expect(p.returncode == 0, p.stderr.strip())

        return run_steps(run, "docker") + [("run -d + exec + rm -f", exec_)]

    def cleanup(self, name):
        self.docker("rm", "-f", f"e2e-{name}")

    def teardown(self):
        self.stop_daemons()


# Host paths the engines create for themselves whatever their flags say (shim sockets, podman's
# network and blob caches, dockerd's trust key, runtimes' default state roots). A lane removes
# the ones that did not exist before it ran.
ENGINE_PATHS = ["/run/containerd", "/run/containers", "/var/lib/containers", "/etc/containers/networks",
                "/run/docker", "/etc/docker", "/run/corral", "/run/runc", "/run/crun"]


def remove_created(before):
    for path in ENGINE_PATHS:
        if path not in before and os.path.lexists(path):
            shutil.rmtree(path, ignore_errors=True)


LANES = {"containerd": Containerd, "podman": Podman, "go-runc": GoRunc, "docker": Docker}


def run_lane(cls, image, results):
    work = tempfile.mkdtemp(prefix=f"e2e-{cls.name}-")
    existing = {p for p in ENGINE_PATHS if os.path.lexists(p)}
    lane = cls(work)
    lane.image = image
    start = time.time()
    try:
        try:
            lane.setup()
        except (StepFailed, subprocess.TimeoutExpired, OSError) as e:
            print(f"== {cls.name}: setup failed: {e}")
            results.append({"lane": cls.name, "setup_error": str(e)})
            return
        for rt_name, rt_path in runtimes().items():
            steps = []
            for label, fn in lane.steps(rt_name, rt_path):
                t = time.time()
                try:
                    fn()
                    steps.append(Step(label, True, "", time.time() - t))
                except (StepFailed, subprocess.TimeoutExpired) as e:
                    steps.append(Step(label, False, str(e), time.time() - t))
            try:
                lane.cleanup(rt_name)
            except Exception as e:  # cleanup must not hide the results
                print(f"   cleanup after {rt_name}: {e}")
            for s in steps:
                mark = "ok" if s.ok else "FAIL"
                print(f"   {cls.name} / {rt_name} / {s.name}: {mark}"
                      + (f" ({s.detail})" if s.detail else ""))
                results.append({"lane": cls.name, "runtime": rt_name, "step": s.name,
                                "ok": s.ok, "detail": s.detail,
                                "seconds": round(s.seconds, 2)})
    finally:
        try:
            lane.teardown()
        finally:
            remove_test_cgroups()
            remove_created(existing)
            shutil.rmtree(work, ignore_errors=True)
        print(f"== {cls.name}: {time.time() - start:.0f} s")


def verdict(results):
    """Problems: steps that corral fails, unless the lane itself could not start."""
    problems = []
    by = {(r["lane"], r.get("runtime"), r.get("step")): r for r in results if "step" in r}
    for (lane, rt, step), r in by.items():
        if rt != "corral" or r["ok"]:
            continue
        other = by.get((lane, "runc", step))
        if other and other["ok"]:
            problems.append(f"{lane} / {step}: works with runc, fails with corral: {r['detail']}")
        else:
            problems.append(f"{lane} / {step}: fails with corral and runc: {r['detail']}")
    for r in results:
        if "setup_error" in r:
            problems.append(f"{r['lane']}: setup failed: {r['setup_error']}")
    return problems


def markdown(results):
    rows = ["| client | operation | corral | runc |", "|---|---|---|---|"]
    by = {(r["lane"], r.get("runtime"), r.get("step")): r for r in results if "step" in r}
    seen = []
    for r in results:
        key = (r["lane"], r.get("step"))
        if "step" in r and key not in seen:
            seen.append(key)
    for lane, step in seen:
        cells = []
        for rt in ("corral", "runc"):
            r = by.get((lane, rt, step))
            cells.append("–" if r is None else ("pass" if r["ok"] else "**fail**"))
        rows.append(f"| {lane} | {step} | {cells[0]} | {cells[1]} |")
    for r in results:
        if "setup_error" in r:
            rows.append(f"| {r['lane']} | (setup) | **failed** | **failed** |")
    return "\n".join(rows) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lanes", default="containerd,podman,go-runc")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    remove_test_cgroups()
    image_dir = tempfile.mkdtemp(prefix="e2e-image-")
    image = os.path.join(image_dir, "busybox.tar")
    subprocess.run([sys.executable, os.path.join(HERE, "mkimage.py"), image, IMAGE],
                   check=True, stdout=subprocess.DEVNULL)
    results = []
    try:
        for name in args.lanes.split(","):
            print(f"== {name}")
            run_lane(LANES[name], image, results)
    finally:
        shutil.rmtree(image_dir, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(results))
    problems = verdict(results)
    for p in problems:
        print(f"CLIENTS: {p}")
    passed = sum(1 for r in results if r.get("runtime") == "corral" and r["ok"])
    total = sum(1 for r in results if r.get("runtime") == "corral")
    print(f"clients: corral passed {passed}/{total} steps")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
