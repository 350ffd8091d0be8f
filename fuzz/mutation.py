"""Mutation testing: how many plausible bugs the tests catch (not part of CI; slow).

    python fuzz/mutation.py [--rev REV] [--python] [--cython] [--minutes N]

Works in a temporary export of REV (default HEAD), never in the checkout. --python runs
mutmut 2 on the pure-Python decoder and Hypha envelope/chunking code against the fastest tests
that cover them (the fallback forced with POLYCODEC_PUREPYTHON=1); --minutes stops it after N
minutes and reports the mutants tried so far. --cython applies each hand-made mutant of the
Cython core below, rebuilds in place and runs the compiled core's tests. Prints killed/total.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(ROOT, ".ci", "venv", "bin", "python")

PYTHON_FILES = ["src/polycodec/fallback.py", "src/polycodec/_common.py",
                "src/polycodec/hypha/envelope.py", "src/polycodec/hypha/chunking.py"]
PYTHON_TESTS = ("env POLYCODEC_PUREPYTHON=1 PYTHONPATH=src {py} -m pytest -x -q -p no:cacheprovider"
                " -o addopts= -k 'not cython and not regenerat' tests/core tests/golden/test_golden.py"
                " tests/hypha/test_units.py")
CYTHON_TESTS = ("env PYTHONPATH=src POLYCODEC_REQUIRE_EXT=1 {py} -m pytest -x -q -p no:cacheprovider"
                " -o addopts= -k 'not python' tests/core tests/golden/test_golden.py")

# (name, file, text, replacement): one plausible bug each in the compiled core.
CYTHON_MUTANTS = [
    ("float32 read in host byte order", "src/_ext/_unpacker.pyx",
     "PyFloat_FromDouble(pc_load_float(q))", "PyFloat_FromDouble((<const float *>q)[0])"),
    ("bounds check one byte short", "src/_ext/_unpacker.pyx",
     "if n > self.end - self.pos:", "if n > self.end - self.pos + 1:"),
    ("strict map keys not enforced", "src/_ext/_unpacker.pyx",
     "        if self.strict:\n            raise DecodeError(f\"map key of type",
     "        if False:\n            raise DecodeError(f\"map key of type"),
    ("decode depth limit off by one", "src/_ext/_unpacker.pyx",
     "if depth >= self.max_depth:", "if depth > self.max_depth:"),
    ("fixstr used for a 32-byte str", "src/_ext/_packer.pyx", "if n < 32:", "if n <= 32:"),
    ("encode depth limit off by one", "src/_ext/_packer.pyx",
     "if depth >= self.max_depth:", "if depth > self.max_depth:"),
    ("bytes map keys refused", "src/_ext/_unpacker.pyx",
     "        if PyBytes_Check(key):\n            return key\n",
     "        if PyBytes_Check(key) and False:\n            return key\n"),
]


def sh(cmd, cwd, timeout=None):
    return subprocess.run(cmd, shell=True, cwd=cwd, timeout=timeout, capture_output=True, text=True)


def export(rev):
    d = tempfile.mkdtemp(prefix="polycodec-mutation-")
    subprocess.run(f"git -C {ROOT} archive {rev} | tar -x -C {d}", shell=True, check=True)
    for link in (".ci/venv", ".ci/hypha-venv", "tests/js/node_modules"):
        if os.path.exists(os.path.join(ROOT, link)) and not os.path.exists(os.path.join(d, link)):
            os.symlink(os.path.realpath(os.path.join(ROOT, link)), os.path.join(d, link))
    return d


def build(d):
    r = sh(f"nice -n 10 {PY} setup.py -q build_ext --inplace", d)
    return r.returncode == 0


def run_cython(d):
    if not build(d):
        raise SystemExit("mutation: the unmutated core does not build")
    if sh("nice -n 10 " + CYTHON_TESTS.format(py=PY), d).returncode != 0:
        raise SystemExit("mutation: the tests fail without a mutant")
    killed = 0
    for name, path, old, new in CYTHON_MUTANTS:
        f = os.path.join(d, path)
        src = open(f).read()
        if old not in src:
            print(f"cython mutant {name!r}: text not found (code changed; update the table)")
            continue
        open(f, "w").write(src.replace(old, new, 1))
        ok = build(d) and sh("nice -n 10 " + CYTHON_TESTS.format(py=PY), d).returncode == 0
        open(f, "w").write(src)
        killed += not ok
        print(f"cython mutant {name!r}: {'SURVIVED' if ok else 'killed'}", flush=True)
    build(d)
    print(f"cython: {killed}/{len(CYTHON_MUTANTS)} killed")


def run_python(d, minutes):
    cmd = (f"nice -n 10 {PY} -m mutmut run --paths-to-mutate {','.join(PYTHON_FILES)} "
           f"--tests-dir tests --simple-output --no-progress "
           f"--runner \"{PYTHON_TESTS.format(py=PY)}\"")
    start = time.monotonic()
    try:
        sh(cmd, d, timeout=minutes * 60 if minutes else None)
    except subprocess.TimeoutExpired:
        print(f"python: stopped after {minutes} min")
    out = sh(f"{PY} -m mutmut results", d).stdout
    print(out)
    counts = {k: len(re.findall(r"\d+", m)) for k, m in
              re.findall(r"(Survived|Timed out|Suspicious|Killed)[^\n]*\n((?:[^\n]*\d[^\n]*\n)*)", out)}
    print(f"python: mutmut results after {time.monotonic() - start:.0f} s: {counts}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--python", action="store_true")
    ap.add_argument("--cython", action="store_true")
    ap.add_argument("--minutes", type=float, default=0)
    a = ap.parse_args()
    d = export(a.rev)
    print(f"mutation: {a.rev} exported to {d}", flush=True)
    if a.cython or not a.python:
        run_cython(d)
    if a.python or not a.cython:
        run_python(d, a.minutes)


if __name__ == "__main__":
    sys.exit(main())
