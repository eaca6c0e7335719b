#!/usr/bin/env python3
"""Puts the latest generated tables into docs/ between their markers:
   hack/doc-tables.py [--bench FILE]
- docs/conformance.md, conformance: target/conformance/{corral,runc,crun}.json
  (hack/conformance.sh --with-crun) and target/vm/conformance/{corral,runc}.json
  (hack/vm/test-v2.sh), through `corral-conformance report`;
- docs/conformance.md, clients: target/clients.md (hack/e2e/clients.py --markdown);
- docs/conformance.md, cri: target/cri.md (hack/e2e/cri.py --markdown);
- docs/performance.md, bench: FILE, the output of a full hack/bench.py run (only with --bench)."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(ROOT)


def splice(path, name, table):
    text = open(path).read()
    pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        sys.exit(f"{path} has no {name} markers")
    text = pattern.sub(lambda m: m.group(1) + table.rstrip("\n") + "\n" + m.group(2), text)
    open(path, "w").write(text)


def main(argv):
    bench = None
    if argv[:1] == ["--bench"] and len(argv) == 2:
        bench = argv[1]
    elif argv:
        sys.exit(__doc__)
    results = [p for p in ["target/conformance/corral.json", "target/conformance/runc.json",
                           "target/conformance/crun.json", "target/vm/conformance/corral.json",
                           "target/vm/conformance/runc.json"] if os.path.exists(p)]
    if results:
        subprocess.run(["target/release/corral-conformance", "report", "--known",
                        "runtime-tools-tests/known-failures.txt", "--markdown",
                        "target/conformance/tables.md", *results], check=True)
        splice("docs/conformance.md", "conformance", open("target/conformance/tables.md").read())
    if os.path.exists("target/clients.md"):
        splice("docs/conformance.md", "clients", open("target/clients.md").read())
    if os.path.exists("target/cri.md"):
        splice("docs/conformance.md", "cri", open("target/cri.md").read())
    if bench:
        splice("docs/performance.md", "bench", open(bench).read())


main(sys.argv[1:])
