#!/usr/bin/env bash
# The whole test suite: installs what it needs, then format, lint, unit and end-to-end tests
# (real containers, as root, next to runc).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
command -v runc >/dev/null || need+=(runc)
command -v crun >/dev/null || need+=(crun)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v python3 >/dev/null || need+=(python3)
dpkg -s libseccomp-dev >/dev/null 2>&1 || need+=(libseccomp-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v unshare >/dev/null || need+=(util-linux)
# Rootless tests: several id ranges go through the setuid newuidmap/newgidmap.
command -v newuidmap >/dev/null || need+=(uidmap)
# The systemd lane's rootless test reaches the user's systemd instance on its session bus.
[ -f /usr/lib/systemd/user/dbus.socket ] || need+=(dbus-user-session)
# checkpoint/restore: CRIU (its checks pass in the v2 VM lane; on this host it must fail cleanly).
command -v criu >/dev/null || need+=(criu)
# apparmor_parser loads the AppArmor test profile in the v2 VM, whose kernel has AppArmor on.
command -v apparmor_parser >/dev/null || need+=(apparmor)
# The SELinux lane boots the VM with SELinux: it loads this policy with load_policy.
[ -f /etc/selinux/default/policy/policy.33 ] || need+=(selinux-policy-default)
command -v load_policy >/dev/null || need+=(policycoreutils)
# The real clients of hack/e2e/clients.py (docker.io is fetched there with apt-get download).
command -v containerd >/dev/null || need+=(containerd)
command -v podman >/dev/null || need+=(podman)
command -v conmon >/dev/null || need+=(conmon)
command -v go >/dev/null || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/containerd/go-runc ] || need+=(golang-github-containerd-go-runc-dev)
# The CRI lane (hack/e2e/cri.py): Debian's python3 with gRPC, protobuf and websocket-client,
# protoc for its messages, the CNI plugins and ip for the pod network, gcc for the pause image.
/usr/bin/python3 -c 'import grpc, google.protobuf, websocket' 2>/dev/null \
  || need+=(python3-grpcio python3-protobuf python3-websocket)
command -v protoc >/dev/null || need+=(protobuf-compiler)
[ -x /usr/lib/cni/macvlan ] || need+=(containernetworking-plugins)
command -v ip >/dev/null || need+=(iproute2)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
# Tests that skip (corral_test_kit::skip!) are listed after the run, so a lane that skips is
# seen.
export CORRAL_SKIP_LOG=$PWD/target/skipped-tests.txt
rm -f "$CORRAL_SKIP_LOG"
cargo test --workspace --quiet
echo "== tests skipped on this host: $(cat "$CORRAL_SKIP_LOG" 2>/dev/null | wc -l)"
cat "$CORRAL_SKIP_LOG" 2>/dev/null || true
unset CORRAL_SKIP_LOG
echo "== OCI conformance suite (runtime-tools-tests/)"
hack/conformance.sh
echo "== real clients: containerd, podman, go-runc, docker (hack/e2e/clients.py)"
python3 hack/e2e/clients.py --lanes containerd,podman,go-runc,docker \
  --json target/clients.json --markdown target/clients.md
echo "== Kubernetes path: pods through containerd's CRI plugin, corral and runc handlers (hack/e2e/cri.py)"
/usr/bin/python3 hack/e2e/cri.py --json target/cri.json --markdown target/cri.md
echo "== bench, smoke mode (hack/bench.py --quick; benchmarks assert no time)"
python3 hack/bench.py --quick corral="$(hack/build.sh)" runc="$(command -v runc)" crun="$(command -v crun)" \
  >target/bench-smoke.md
echo "== pure cgroup v2 lane (QEMU)"
hack/vm/test-v2.sh
echo "== systemd lane (QEMU, systemd as PID 1, cgroup v2 and v1: --systemd-cgroup next to runc; the CRI lane with both drivers)"
hack/vm/test-systemd.sh
echo "== SELinux lane (QEMU, SELinux permissive with Debian's reference policy)"
hack/vm/test-selinux.sh
echo "== demo"
hack/demo.sh >/dev/null
echo "all checks passed"
