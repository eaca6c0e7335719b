#!/usr/bin/env python3
"""Turns hack/perf/corral.order (hash-free names) into the exact symbols of the last link.

    hack/perf/link_order.py hack/perf/corral.order LINK.map > ORDER

lld's --symbol-ordering-file wants exact names, and Rust's carry a hash that moves with the
toolchain and crate metadata; the previous link's map (-Map) says what they are now. Names the
map lacks are left out: they are code that changed since the profile, which then just links
where it would have anyway (regenerate with hack/perf/profile.sh).
"""
import re
import sys


def hash_free(name):
    return re.sub(r"17h[0-9a-f]{16}E$", "", name)


def main():
    patterns, map_path = sys.argv[1], sys.argv[2]
    by_pattern = {}
    with open(map_path) as f:
        for line in f:
            fields = line.split()
            # Symbol lines are "VMA LMA size align name"; section lines name "file:(section)".
            if len(fields) == 5 and ":(" not in fields[4]:
                by_pattern.setdefault(hash_free(fields[4]), []).append(fields[4])
    seen = set()
    with open(patterns) as f:
        for pattern in (line.strip() for line in f):
            for name in sorted(by_pattern.get(pattern, [])):
                if name not in seen:
                    seen.add(name)
                    print(name)


if __name__ == "__main__":
    main()
