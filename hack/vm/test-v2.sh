#!/usr/bin/env bash
# The end-to-end suites on a pure cgroup v2 host: builds the test binaries here, then runs
# them all in one boot of the v2 VM (hack/vm/run.sh), corral next to runc as on the host.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p target/vm
cargo test --no-run --message-format=json 2>/dev/null \
  | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])
' >target/vm/suites
cat >target/vm/suites.sh <<'SH'
failed=0
for suite in $(cat target/vm/suites); do
  echo "== ${suite##*/}"
  "$suite" --test-threads 2 || failed=1
done
exit $failed
SH
status=0
hack/vm/run.sh sh target/vm/suites.sh >target/vm/suites.log 2>&1 || status=$?
# The console log without the firmware's and the kernel's chatter.
grep -avE '^\[ *[0-9]+\.[0-9]+\]|SeaBIOS|iPXE|Booting from|Press Ctrl-B' target/vm/suites.log || true
echo "pure cgroup v2 lane: exit status $status"
exit "$status"
