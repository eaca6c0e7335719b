#!/usr/bin/env bash
# The main job: build corral, make a busybox bundle, run containers in it, show the result.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if [ ! -x /bin/busybox ] || ! command -v python3 >/dev/null || ! dpkg -s libseccomp-dev >/dev/null 2>&1 \
  || ! command -v pkg-config >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq busybox-static python3 libseccomp-dev pkg-config >/dev/null
fi
corral=$(hack/build.sh)
root=$(mktemp -d /tmp/corral-demo-root.XXXXXX)
bundle=$(mktemp -d /tmp/corral-demo-bundle.XXXXXX)
id="demo-$$"
cleanup() {
  "$corral" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
  rmdir /sys/fs/cgroup/*/corral-demo 2>/dev/null || true
  rm -rf "$root" "$bundle"
}
trap cleanup EXIT
CORRAL="$corral" hack/mkbundle.sh "$bundle"
python3 - "$bundle/config.json" "$id" <<'PY'
import json, sys
path, cid = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["args"] = ["sh", "-c", "echo hello from corral: host $(hostname), pid $$, uid $(id -u); sleep 1"]
c["linux"]["cgroupsPath"] = "/corral-demo/" + cid
json.dump(c, open(path, "w"), indent=2)
PY
run() { echo "\$ corral $*"; "$corral" --root "$root" "$@"; }
"$corral" --version
run create --bundle "$bundle" "$id"
run state "$id"
run start "$id"
run list
sleep 1.5
run state "$id"
run delete "$id"
echo
echo "\$ corral run (foreground, exit code 7)"
python3 - "$bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["sh", "-c", "echo host $(hostname), in $(pwd) as $(id -un); exit 7"]
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
set +e
"$corral" --root "$root" run --bundle "$bundle" "$id"
echo "exit code: $?"
