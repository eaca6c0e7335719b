#!/usr/bin/env bash
# Regenerates hack/perf/corral.order, the functions hack/build.sh links first: builds corral
# for profiling (every function on its own page), then profiles a lifecycle of that binary in
# the test VM, once with cgroup v2 and once with a hybrid layout (see
# hack/perf/profile_text.py for why the VM), naming functions from the build's link map.
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=$(CORRAL_BUILD_PROFILE=1 hack/build.sh)
# The records stay in target/perf/ to look at: which functions each step ran.
mkdir -p target/perf
logs=()
for layout in cgroup-v2 hybrid; do
  log=target/perf/profile-$layout.log
  logs+=("$log")
  hack/vm/run.sh python3 hack/perf/profile_text.py record "$binary" "$(dirname "$binary")/corral.map" "$layout" >"$log" ||
    { cat "$log"; exit 1; }
done
python3 hack/perf/profile_text.py merge "${logs[@]}" >hack/perf/corral.order
echo "hack/perf/corral.order: $(wc -l <hack/perf/corral.order) functions"
