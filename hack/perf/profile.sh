#!/usr/bin/env bash
# Regenerates hack/perf/corral.order, the functions hack/build.sh links first: builds corral
# unstripped exactly as hack/build.sh does, then profiles a lifecycle in the test VM, once with
# cgroup v2 and once with a hybrid layout (see hack/perf/profile_text.py for why the VM).
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=$(CORRAL_BUILD_UNSTRIPPED=1 hack/build.sh)
logs=()
trap 'rm -f "${logs[@]}"' EXIT
for layout in cgroup-v2 hybrid; do
  log=$(mktemp)
  logs+=("$log")
  hack/vm/run.sh python3 hack/perf/profile_text.py record "$binary" "$layout" >"$log" ||
    { cat "$log"; exit 1; }
done
python3 hack/perf/profile_text.py merge "${logs[@]}" >hack/perf/corral.order
echo "hack/perf/corral.order: $(wc -l <hack/perf/corral.order) functions"
