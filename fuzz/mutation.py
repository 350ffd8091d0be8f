"""Mutation testing: how many plausible bugs the tests catch (not part of CI; slow).

    python fuzz/mutation.py [--rev REV] [--python] [--cython] [--minutes N]

Works in a temporary export of REV (default HEAD), never in the checkout. --python runs
mutmut 3 on FILES (default: the fallback decoder, _common, Hypha envelope and chunking) with
the fallback forced (POLYCODEC_PUREPYTHON=1); mutmut runs, per mutant, only the tests of
tests/core, tests/golden/test_golden.py and tests/hypha/test_units.py that reach the mutated
function. --minutes stops it after N minutes (the results so far are kept). --cython applies
each hand-made mutant of the Cython core below, rebuilds in place and runs the compiled
core's tests. Prints killed/total and the survivors. --retest DIR runs the survivors of an
earlier run against this checkout's tests/core/test_mutants_*.py.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(ROOT, ".ci", "venv", "bin", "python")

PYTHON_FILES = ["src/polycodec/fallback.py", "src/polycodec/_common.py",
                "src/polycodec/hypha/envelope.py", "src/polycodec/hypha/chunking.py"]
PYTHON_TEST_PATHS = ["tests/core", "tests/golden/test_golden.py", "tests/hypha/test_units.py"]
MUTMUT_CONFIG = """
[tool.mutmut]
source_paths = ["src/"]
only_mutate = {files}
pytest_add_cli_args = ["-p", "no:cacheprovider", "-o", "addopts=", "-q", "-x",
                       "-k", "not cython and not regenerat"]
pytest_add_cli_args_test_selection = {tests}
"""
CYTHON_TESTS = ("env PYTHONPATH=src POLYCODEC_REQUIRE_EXT=1 {py} -m pytest -x -q -p no:cacheprovider"
                " -o addopts= -k 'not python and not regenerat' tests/core tests/golden")

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


def sh(cmd, cwd):
    return subprocess.run(cmd, shell=True, cwd=cwd, capture_output=True, text=True)


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


def run_cython(d, only=None):
    if not build(d):
        raise SystemExit("mutation: the unmutated core does not build")
    if sh("nice -n 10 " + CYTHON_TESTS.format(py=PY), d).returncode != 0:
        raise SystemExit("mutation: the tests fail without a mutant")
    killed = 0
    chosen = [m for i, m in enumerate(CYTHON_MUTANTS) if only is None or i in only]
    for name, path, old, new in chosen:
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
    print(f"cython: {killed}/{len(chosen)} killed")


def run_python(d, files, minutes):
    with open(os.path.join(d, "pyproject.toml"), "a") as f:
        f.write(MUTMUT_CONFIG.format(files=json.dumps(files), tests=json.dumps(PYTHON_TEST_PATHS)))
    env = dict(os.environ, POLYCODEC_PUREPYTHON="1", PYTHONPATH="src")
    start = time.monotonic()
    try:
        subprocess.run(["nice", "-n", "10", PY, "-m", "mutmut", "run"], cwd=d, env=env,
                       timeout=minutes * 60 if minutes else None, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        print(f"python: stopped after {minutes:g} min")
    status = _mutmut_status(d, env)
    counts = {}
    for state in status.values():
        counts[state] = counts.get(state, 0) + 1
    tried = sum(n for k, n in counts.items() if k != "not checked")
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    print(f"python: {counts} after {time.monotonic() - start:.0f} s")
    if tried:
        print(f"python: {killed}/{tried} killed ({100 * killed / tried:.1f}%) of the mutants tried")
    for name, state in sorted(status.items()):
        if state == "survived":
            print(f"survived: {name}  (mutmut show {name})")


def _mutmut_status(d, env):
    out = subprocess.run([PY, "-m", "mutmut", "results", "--all", "true"], cwd=d, env=env,
                         capture_output=True, text=True).stdout
    status = {}
    for line in out.splitlines():
        name, _, state = line.strip().rpartition(": ")
        if name:
            status[name] = state
    return status


def retest(d):
    """Run the survivors of an earlier --python run in `d` against this checkout's
    tests/core/test_mutants_*.py (the tests written for them)."""
    tests = sorted(glob.glob(os.path.join(ROOT, "tests", "core", "test_mutants_*.py")))
    for t in tests:
        shutil.copy(t, os.path.join(d, "mutants", "tests", "core"))
    names = [os.path.relpath(t, ROOT) for t in tests]
    env = dict(os.environ, POLYCODEC_PUREPYTHON="1", PYTHONPATH="src")
    survivors = [n for n, st in _mutmut_status(d, env).items() if st == "survived"]
    still = []
    for name in [""] + survivors:    # "": no mutant, the tests must pass
        r = subprocess.run(["nice", "-n", "10", PY, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                            "-o", "addopts=", *names], cwd=os.path.join(d, "mutants"),
                           env=dict(env, MUTANT_UNDER_TEST=name), capture_output=True)
        if not name and r.returncode:
            raise SystemExit(f"retest: {names} fail without a mutant in {d}")
        if name and r.returncode == 0:
            still.append(name)
    print(f"retest: {len(survivors) - len(still)}/{len(survivors)} survivors killed by {names}")
    for name in still:
        print(f"still survives: {name}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--python", action="store_true")
    ap.add_argument("--cython", action="store_true")
    ap.add_argument("--minutes", type=float, default=0)
    ap.add_argument("--files", nargs="*", default=PYTHON_FILES)
    ap.add_argument("--only", type=lambda v: {int(x) for x in v.split(",")},
                    help="indexes of CYTHON_MUTANTS to run (e.g. 3,4)")
    ap.add_argument("--retest", metavar="DIR", help="folder printed by an earlier --python run")
    a = ap.parse_args()
    if a.retest:
        return retest(a.retest)
    d = export(a.rev)
    print(f"mutation: {a.rev} exported to {d}", flush=True)
    if a.cython or not a.python:
        run_cython(d, a.only)
    if a.python or not a.cython:
        run_python(d, a.files, a.minutes)


if __name__ == "__main__":
    sys.exit(main())
