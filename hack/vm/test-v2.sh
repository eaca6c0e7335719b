#!/usr/bin/env bash
# The end-to-end suites, the conformance suite and the client lanes on a pure cgroup v2 host:
# builds the test binaries here, then runs them all in one boot of the v2 VM (hack/vm/run.sh),
# corral next to runc as on the host. The conformance results come back through the console log into
# target/vm/conformance/.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p target/vm/conformance
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
# Tests that skip (corral_test_kit::skip!) say so here, so a lane that skips is seen.
export CORRAL_SKIP_LOG=/tmp/skipped-tests
# The host runs 500 hostile configs; here (every create ~40x slower under TCG) a sample of the
# same generator is enough to cover what the kernel and layout change.
export CORRAL_FUZZ_CASES=60
for suite in $(cat target/vm/suites); do
  echo "== ${suite##*/}"
  "$suite" --test-threads 2 || failed=1
done
echo "== tests skipped on cgroup v2: $(cat $CORRAL_SKIP_LOG 2>/dev/null | wc -l)"
cat $CORRAL_SKIP_LOG 2>/dev/null || true
unset CORRAL_SKIP_LOG
CONFORMANCE_OUT=/tmp/conformance-v2 hack/conformance.sh --no-build || failed=1
# The client lanes but docker's, which fetches its package and the VM has no network.
echo "== real clients on cgroup v2"
python3 hack/e2e/clients.py --lanes containerd,podman,go-runc || failed=1
for f in /tmp/conformance-v2/*.json; do
  printf 'CONFORMANCE-RESULT %s %s\n' "$(basename "$f")" "$(tr -d '\n' <"$f")"
done
exit $failed
SH
status=0
hack/vm/run.sh sh target/vm/suites.sh >target/vm/suites.log 2>&1 || status=$?
# The console log without the firmware's and the kernel's chatter and the result records.
grep -avE '^\[ *[0-9]+\.[0-9]+\]|SeaBIOS|iPXE|Booting from|Press Ctrl-B|^CONFORMANCE-RESULT' \
  target/vm/suites.log || true
sed -n 's/^CONFORMANCE-RESULT \([a-z]*\.json\) \(.*\)$/\1 \2/p' target/vm/suites.log | tr -d '\r' \
  | while read -r name json; do printf '%s\n' "$json" >"target/vm/conformance/$name"; done
echo "pure cgroup v2 lane: exit status $status"
exit "$status"
