#!/usr/bin/env bash
# Builds the corral binary that the demo, the conformance suite, the client lanes and the bench
# use, and prints its path. Release profile, and two things cargo's profile cannot say:
# - static (crt-static, libseccomp.a): no dynamic loader and shared libraries to map on every
#   create, start, exec and state. The target is explicit so crt-static stays off proc-macros.
# - the functions in hack/perf/corral.order linked first (lld --symbol-ordering-file): a
#   process holds its binary's text in 64 KiB windows around the code it runs, and packing the
#   runtime's code together keeps the waiting init and each command small.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
dir=target
# v0 mangling spells out the type arguments of each instance of a generic function, so its
# demangled name tells the instances apart in any checkout (the legacy scheme gives them only a
# hash of the crate metadata, which includes the checkout's path): hack/perf/link_order.py.
export RUSTFLAGS="-C target-feature=+crt-static -C symbol-mangling-version=v0"
# CORRAL_BUILD_PROFILE=1: the build hack/perf/profile.sh measures, in target/profile, with every
# function aligned to a page of its own, so a page a process touched names one function.
if [ -n "${CORRAL_BUILD_PROFILE:-}" ]; then
  dir=target/profile
  RUSTFLAGS+=" -C llvm-args=-align-all-functions=12"
fi
export CARGO_TARGET_DIR=$PWD/$dir
export LIBSECCOMP_LINK_TYPE=static
export LIBSECCOMP_LIB_PATH=${LIBSECCOMP_LIB_PATH:-/usr/lib/$(gcc -print-multiarch)}
out=$PWD/$dir/$target/release
mkdir -p "$out"
# rustup's gcc-ld directory holds an ld.lld that runs the toolchain's own rust-lld; without
# it (a distribution's rustc) a system ld.lld, else GNU ld and no link order.
gcc_ld="$(rustc --print sysroot)/lib/rustlib/$target/bin/gcc-ld"
lld=()
if [ -x "$gcc_ld/ld.lld" ]; then
  lld=(-C link-arg=-B"$gcc_ld" -C link-arg=-fuse-ld=lld)
elif command -v ld.lld >/dev/null; then
  lld=(-C link-arg=-fuse-ld=lld)
else
  echo "hack/build.sh: no ld.lld; linking without hack/perf/corral.order" >&2
fi
link() {
  # Packed relative relocations: the static PIE relocates itself from a 3 KB table, not 262 KB.
  local args=(-C link-arg=-Wl,-z,pack-relative-relocs)
  # The order's content hash is in its file name: a new order relinks the binary, and only it
  # (arguments after -- reach the final crate alone).
  if [ ${#lld[@]} -gt 0 ]; then
    args+=("${lld[@]}" -C link-arg=-Wl,-Map="$out/corral.map" -C link-arg=-Wl,--no-demangle)
    [ -s "$1" ] && args+=(-C link-arg=-Wl,--symbol-ordering-file="$1" -C link-arg=-Wl,--no-warn-symbol-ordering)
  fi
  cargo rustc --quiet --release --target "$target" -p corral --bin corral -- "${args[@]}"
}
current=$(ls -t "$out"/corral.order.* 2>/dev/null | head -1 || true)
link "${current:-/dev/null}"
if [ ${#lld[@]} -eq 0 ]; then
  echo "$out/corral"
  exit 0
fi
next=$(mktemp)
python3 hack/perf/link_order.py hack/perf/corral.order "$out/corral.map" >"$next"
if [ -z "$current" ] || ! cmp -s "$next" "$current"; then
  rm -f "$out"/corral.order.*
  current="$out/corral.order.$(sha256sum "$next" | cut -c1-16)"
  mv "$next" "$current"
  link "$current"
else
  rm -f "$next"
fi
echo "$out/corral"
