#!/usr/bin/env bash
# The SELinux lane: boots the test VM with SELinux as its security module (permissive, Debian's
# reference policy from selinux-policy-default, which hack/test.sh installs on the host: the VM
# reads the host's root) and runs the SELinux tests of tests/lsm.rs, restore's
# --lsm-mount-context (tests/checkpoint.rs) and the conformance case process_selinux_label
# against corral and runc. The normal v2 lane keeps AppArmor.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f /etc/selinux/default/policy/policy.33 ] || {
  echo "hack/vm/test-selinux.sh: no SELinux policy (apt-get install selinux-policy-default)" >&2
  exit 1
}
lsm_tests=$(cargo test --no-run --test lsm --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])
')
# checkpoint/restore's --lsm-mount-context (the one test of tests/checkpoint.rs that needs
# SELinux on; the v2 lane runs the rest).
checkpoint_tests=$(cargo test --no-run --test checkpoint --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])
')
mkdir -p target/vm
cat >target/vm/selinux.sh <<SH
set -e
mount -t selinuxfs selinuxfs /sys/fs/selinux
load_policy
echo "SELinux: enforce=\$(cat /sys/fs/selinux/enforce), context \$(cat /proc/self/attr/current | tr -d '\\\\0')"
failed=0
$lsm_tests --test-threads 1 selinux || failed=1
$lsm_tests --test-threads 1 process_label || failed=1
$checkpoint_tests --test-threads 1 lsm_mount_context || failed=1
for rt in corral=target/x86_64-unknown-linux-gnu/release/corral runc=\$(command -v runc); do
  unshare -m --propagation shared target/release/corral-conformance run \\
    --checker target/x86_64-unknown-linux-gnu/release/oci-checker \\
    --name "\${rt%%=*}" --runtime "\${rt#*=}" --filter process_selinux_label || failed=1
done
exit \$failed
SH
status=0
VM_APPEND="security=selinux selinux=1 enforcing=0" hack/vm/run.sh sh target/vm/selinux.sh \
  >target/vm/selinux.log 2>&1 || status=$?
grep -avE '^\[ *[0-9]+\.[0-9]+\]|SeaBIOS|iPXE|Booting from|Press Ctrl-B' target/vm/selinux.log || true
echo "SELinux lane: exit status $status"
exit "$status"
