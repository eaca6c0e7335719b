#!/usr/bin/env bash
# The OCI conformance suite (runtime-tools-tests/) against corral and runc, and crun with
# --with-crun; fails if corral fails a case that is not on runtime-tools-tests/known-failures.txt
# (or passes one that is). Results and the markdown table go to $CONFORMANCE_OUT
# (target/conformance by default).
#   hack/conformance.sh [--no-build] [--with-crun]
# The suite runs in a private mount namespace whose mounts are shared, as on a systemd host,
# so that slave propagation has a master to follow.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1 crun=0
for arg in "$@"; do
  case $arg in
    --no-build) build=0 ;;
    --with-crun) crun=1 ;;
    *) echo "usage: hack/conformance.sh [--no-build] [--with-crun]" >&2; exit 2 ;;
  esac
done
target=x86_64-unknown-linux-gnu
corral=target/$target/release/corral
if [ $build = 1 ]; then
  corral=$(hack/build.sh)
  cargo build --quiet --release -p corral-conformance --bin corral-conformance
  # The checker runs in a bare busybox rootfs: link it statically. An explicit --target keeps
  # these RUSTFLAGS off the rest of the build (and off its output directory).
  RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --quiet --release --target $target -p corral-conformance --bin oci-checker
fi
out=${CONFORMANCE_OUT:-target/conformance}
mkdir -p "$out"
suite=(target/release/corral-conformance run --checker "target/$target/release/oci-checker")
run() { # NAME RUNTIME
  echo "== conformance: $1"
  unshare -m --propagation shared "${suite[@]}" --name "$1" --runtime "$2" --json "$out/$1.json" \
    >"$out/$1.tap" 2>&1 || true
  grep -vE '^(ok|TAP|1\.\.)' "$out/$1.tap" || true
}
run corral "$corral"
run runc "$(command -v runc)"
files=("$out/corral.json" "$out/runc.json")
if [ $crun = 1 ]; then
  run crun hack/runtimes/crun-hybrid
  files+=("$out/crun.json")
fi
target/release/corral-conformance report --known runtime-tools-tests/known-failures.txt \
  --markdown "$out/table.md" "${files[@]}"
