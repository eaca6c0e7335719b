#!/usr/bin/env bash
# Makes an OCI bundle with a busybox-static rootfs: hack/mkbundle.sh DIR
# The config is `corral spec`'s default with the terminal off, so it runs without a tty.
set -euo pipefail
dir=${1:?usage: hack/mkbundle.sh DIR}
corral=${CORRAL:-$(dirname "$0")/../target/x86_64-unknown-linux-gnu/release/corral}
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/tmp"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$dir/rootfs/etc/passwd"
printf 'root:x:0:\n' >"$dir/rootfs/etc/group"
rm -f "$dir/config.json"
"$corral" spec --bundle "$dir"
python3 - "$dir/config.json" <<'PY'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["process"]["terminal"] = False
json.dump(c, open(path, "w"), indent=2)
PY
