#!/usr/bin/env bash
# The systemd lane: boots the test VM with systemd as PID 1 (hack/vm/run.sh with VM_SYSTEMD=1),
# once with cgroup v2 and once with systemd's v1 layout, and runs tests/systemd.rs there:
# corral and runc with --systemd-cgroup on the same bundles, and a checkpoint and restore
# under that driver (tests/checkpoint.rs); on v2 also the CRI lane
# (hack/e2e/cri.py) with the systemd and the cgroupfs driver.
set -euo pipefail
cd "$(dirname "$0")/../.."
test_binary() {
  cargo test --no-run --test "$1" --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])
'
}
tests=$(test_binary systemd)
# checkpoint/restore under the systemd driver (the one test of tests/checkpoint.rs that needs
# systemd as PID 1; the v2 lane runs the rest).
checkpoint_tests=$(test_binary checkpoint)
mkdir -p target/vm
cat >target/vm/systemd.sh <<SH
echo "systemd \$(systemctl --version | head -1), cgroup: \$(stat -fc %T /sys/fs/cgroup)"
export CORRAL_SKIP_LOG=/tmp/skipped-tests
# A watchdog: if the tests still run after 5 minutes (they take under one), show who is
# waiting on what before the VM's own timeout ends the boot (one v1 boot hung once, with two
# tests in flight and nothing else to go on).
( sleep 300; echo "== tests still running after 300 s: process tree and systemd's jobs"
  ps -eo pid,ppid,stat,etime,wchan:20,args --forest | grep -v ' \\[' | tail -60
  systemctl list-jobs --no-pager ) &
watchdog=\$!
$tests --test-threads 2
status=\$?
$checkpoint_tests --test-threads 1 under_the_systemd_driver || status=1
kill \$watchdog 2>/dev/null
echo "== tests skipped: \$(cat \$CORRAL_SKIP_LOG 2>/dev/null | wc -l)"
cat \$CORRAL_SKIP_LOG 2>/dev/null
# The Kubernetes path on a systemd host: the CRI lane with both cgroup drivers (on v2; the
# host's run covers cgroupfs on a hybrid layout).
if [ "\$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
  for driver in systemd cgroupfs; do
    echo "== CRI lane, cgroup driver \$driver"
    /usr/bin/python3 hack/e2e/cri.py --cgroup-driver \$driver --probes 20 \
      --json target/vm/cri-\$driver.json --markdown target/vm/cri-\$driver.md || status=1
    cat target/vm/cri-\$driver.md 2>/dev/null
  done
fi
exit \$status
SH
status=0
for layout in v2 v1; do
  append=
  [ $layout = v1 ] && append="systemd.unified_cgroup_hierarchy=0"
  code=0
  VM_SYSTEMD=1 VM_APPEND="$append" hack/vm/run.sh sh target/vm/systemd.sh \
    >target/vm/systemd-$layout.log 2>&1 || code=$?
  grep -avE '^\[ *[0-9]+\.[0-9]+\]|SeaBIOS|iPXE|Booting from|Press Ctrl-B' target/vm/systemd-$layout.log || true
  echo "systemd lane ($layout): exit status $code"
  [ $code = 0 ] || status=$code
done
exit "$status"
