#!/usr/bin/env python3
"""Turns hack/perf/corral.order into the symbols of the last link, for lld's ordering file.

    hack/perf/link_order.py hack/perf/corral.order LINK.map > ORDER

The order names functions by stable names: demangled, without the crate hashes that follow the
toolchain and the crate metadata (Cargo.lock, features, flags, the checkout's path). hack/build.sh
uses v0 mangling, whose names spell out a generic function's type arguments, so a stable name
is one instance, not all of them. The previous link's map (-Map) says which exact symbol each
stable name is now. A name matching nothing is code that changed since the profile and just
links where it would have anyway (regenerate with hack/perf/profile.sh).
"""
import re
import subprocess
import sys

# Symbol lines of an lld map: "VMA LMA size align" then the name indented 17 columns past the
# alignment; output sections sit at 1, input sections ("file:(section)") at 9.
MAP_LINE = re.compile(r"\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+( +)(\S.*)$")


def map_symbols(map_path, section=".text"):
    """(address, size, exact name) of every symbol in `section` of an lld link map."""
    syms, current = [], None
    with open(map_path) as f:
        for line in f:
            m = MAP_LINE.match(line)
            if not m:
                continue
            indent, name = len(m.group(3)), m.group(4)
            if indent == 1:
                current = name
            elif indent == 17 and current == section:
                syms.append((int(m.group(1), 16), int(m.group(2), 16), name))
    return sorted(syms)


def stable_names(names):
    """Exact symbol -> stable name: demangled by c++filt (binutils knows Rust's v0 and legacy
    manglings), crate hashes (`[0123abcd]`, `::h0123...`) removed. C symbols stay as they are."""
    names = list(names)
    out = subprocess.run(["c++filt"], input="\n".join(names) + "\n", capture_output=True,
                         text=True, check=True).stdout.splitlines()
    strip = lambda s: re.sub(r"::h[0-9a-f]{16}$", "", re.sub(r"\[[0-9a-f]+\]", "", s))
    return {n: strip(d) for n, d in zip(names, out)}


def main():
    order_path, map_path = sys.argv[1], sys.argv[2]
    exact_of = {}
    stable = stable_names(name for _, _, name in map_symbols(map_path))
    for name, key in stable.items():
        exact_of.setdefault(key, []).append(name)
    seen = set()
    with open(order_path) as f:
        for key in (line.rstrip("\n") for line in f):
            for name in sorted(exact_of.get(key, [])):
                if name not in seen:
                    seen.add(name)
                    print(name)


if __name__ == "__main__":
    main()
