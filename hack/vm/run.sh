#!/usr/bin/env bash
# Runs a command in the pure cgroup v2 VM, from the current directory, and exits with its
# code: hack/vm/run.sh COMMAND [ARGS...]
# The VM sees the host's root read-only (writes land in a tmpfs), so build on the host first.
# VM_SYSTEMD=1 boots systemd as PID 1 (cgroup v2; add systemd.unified_cgroup_hierarchy=0 to
# VM_APPEND for systemd's v1 layout) and runs the command as a service.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/build.sh"
out=$(cd "$here/../../target/vm" && pwd)
# The command file must be on the host's root filesystem (the VM reads it over 9p), not in
# this machine's /tmp if that were a separate mount.
script=$(mktemp "$out/cmd.XXXXXX")
log=$(mktemp "$out/log.XXXXXX")
trap 'rm -f "$script" "$log"' EXIT
{
  printf 'cd %q\n' "$PWD"
  printf '%q ' "$@"
  printf '\n'
} >"$script"
timeout "${VM_TIMEOUT:-1200}" qemu-system-x86_64 \
  -accel tcg -cpu max -smp 2 -m 4096 -nographic -no-reboot \
  -kernel "$out/vmlinuz" -initrd "$out/initrd.gz" \
  -append "console=ttyS0 quiet loglevel=1 panic=-1 ${VM_APPEND:-} ${VM_SYSTEMD:+corral_vm_systemd=1} corral_vm_cmd=$script" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
  </dev/null | tee "$log"
code=$(sed -n 's/^CORRAL-VM-EXIT=\([0-9]*\).*/\1/p' "$log" | tail -1)
[ -n "$code" ] || { echo "hack/vm/run.sh: the VM did not report an exit code" >&2; exit 1; }
exit "$code"
