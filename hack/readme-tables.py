#!/usr/bin/env python3
"""Puts the latest generated tables into README.md between their markers:
   hack/readme-tables.py
- conformance: target/conformance/{corral,runc,crun}.json (hack/conformance.sh --with-crun) and
  target/vm/conformance/{corral,runc}.json (hack/vm/test-v2.sh), through
  `corral-conformance report`;
- clients: target/clients.md (hack/e2e/clients.py --markdown)."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(ROOT)


def splice(text, name, table):
    pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        sys.exit(f"README.md has no {name} markers")
    return pattern.sub(lambda m: m.group(1) + table + m.group(2), text)


results = [p for p in ["target/conformance/corral.json", "target/conformance/runc.json",
                       "target/conformance/crun.json", "target/vm/conformance/corral.json",
                       "target/vm/conformance/runc.json"] if os.path.exists(p)]
subprocess.run(["target/release/corral-conformance", "report", "--known",
                "runtime-tools-tests/known-failures.txt", "--markdown",
                "target/conformance/readme.md", *results], check=False)
readme = open("README.md").read()
readme = splice(readme, "conformance", open("target/conformance/readme.md").read())
readme = splice(readme, "clients", open("target/clients.md").read())
open("README.md", "w").write(readme)
