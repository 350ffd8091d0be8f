"""Mutation testing: how many plausible bugs the tests catch (not part of CI; slow).

    python fuzz/mutation.py [--rev REV] [--python [--sample K] [--minutes N]] [--cython]
    python fuzz/mutation.py --retest DIR [--tests PATH...]

Works in a temporary export of REV (default HEAD), never in the checkout, at nice 15 and one
test process at a time (a shared machine). --python runs mutmut 3 on FILES (default: the
fallback, _common, Hypha envelope and chunking) with the fallback forced
(POLYCODEC_PUREPYTHON=1); per mutant, mutmut runs only those tests of PYTHON_TEST_PATHS that
reach the mutated function, less PYTHON_DESELECT (slow or recursion-limit tests: the kill
rate is a lower bound for the whole suite). All four files make ~3,100 mutants (~3 s each on
2 loaded cores); --sample K tests every K-th mutant of each file (names sorted, so the same
ones each time); --minutes N stops after N minutes (mutmut runs its fast mutants first, so
that sample is biased). --cython applies each hand-made mutant of the Cython core below,
rebuilds in place and runs the compiled core's tests. Prints killed/tried per file and the
survivors (`mutmut show NAME` in the printed folder shows one).

--retest DIR runs the survivors of an earlier --python run (and its mutants without tests)
against this checkout's tests/core/test_mutants_*.py and tests/hypha/test_mutants_*.py (the
tests written for them), or against --tests paths of the exported revision; kills add up in
DIR/retest.json and each file's kill rate is printed before and after.
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
PY = sys.executable      # the project venv (.ci/venv) when run as documented
NICE = ["nice", "-n", "15"]   # a shared machine: the mutants run at low priority, one at a time

PYTHON_FILES = ["src/polycodec/fallback.py", "src/polycodec/_common.py",
                "src/polycodec/hypha/envelope.py", "src/polycodec/hypha/chunking.py"]
# Left out under mutmut: the compiled core's tests and golden regeneration; the tests of the
# recursion cap itself (mutmut's trampolines add two frames per call, so a tree at the cap
# overflows the recursion limit the fallback sets; test_max_depth_on_encode_and_decode and the
# other depth tests still check the limit); and, for time, the thread-sharing and tracemalloc
# memory-bound tests (89 of the selection's 132 s under mutmut). The kill rate is therefore a
# lower bound for the whole suite.
PYTHON_DESELECT = ("not cython and not regenerat and not max_depth_cap and not reaches_the_cap"
                   " and not shared_across_threads and not bounds_memory")
PYTHON_TEST_PATHS = ["tests/core", "tests/golden/test_golden.py", "tests/stream",
                     "tests/hypha/test_units.py", "tests/hypha/test_mutants_envelope.py",
                     "tests/hypha/test_mutants_chunking.py"]
MUTMUT_CONFIG = """
[tool.mutmut]
source_paths = ["src/"]
only_mutate = {files}
pytest_add_cli_args = ["-p", "no:cacheprovider", "-o", "addopts=", "-q", "-x",
                       "-k", {deselect}]
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
    ("max_items counts a map entry once", "src/_ext/_unpacker.pyx",
     "self._charge(2 * n, start)", "self._charge(n, start)"),
    ("key cache keeps non-ASCII keys", "src/_ext/_unpacker.pyx",
     "        if PyUnicode_IS_COMPACT_ASCII(key):", "        if True:"),
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
    r = sh(f"nice -n 15 {PY} setup.py -q build_ext --inplace", d)
    return r.returncode == 0


def run_cython(d, only=None):
    if not build(d):
        raise SystemExit("mutation: the unmutated core does not build")
    if sh("nice -n 15 " + CYTHON_TESTS.format(py=PY), d).returncode != 0:
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
        ok = build(d) and sh("nice -n 15 " + CYTHON_TESTS.format(py=PY), d).returncode == 0
        open(f, "w").write(src)
        killed += not ok
        print(f"cython mutant {name!r}: {'SURVIVED' if ok else 'killed'}", flush=True)
    build(d)
    print(f"cython: {killed}/{len(chosen)} killed")


def run_python(d, files, minutes, sample):
    with open(os.path.join(d, "pyproject.toml"), "a") as f:
        tests = [p for p in PYTHON_TEST_PATHS if os.path.exists(os.path.join(d, p))]  # older REVs
        f.write(MUTMUT_CONFIG.format(files=json.dumps(files), tests=json.dumps(tests),
                                    deselect=json.dumps(PYTHON_DESELECT)))
    env = dict(os.environ, POLYCODEC_PUREPYTHON="1", PYTHONPATH="src")
    start = time.monotonic()
    mutmut = [*NICE, PY, "-m", "mutmut", "run", "--max-children", "1"]
    names = []
    if sample > 1:
        # Generate the mutants and collect which tests reach each function, without testing
        # any mutant: mutmut stops on a name that matches nothing, after saving both.
        subprocess.run([*mutmut, "no-such-mutant"], cwd=d, env=env, capture_output=True)
        every = sorted(_mutmut_status(d, env))
        names = [n for f in files for n in _of_file(every, f)[::sample]]
        print(f"python: every {sample}th of {len(every)} mutants (sorted by name): {len(names)}",
              flush=True)
    try:
        subprocess.run([*mutmut, *names], cwd=d, env=env, timeout=minutes * 60 if minutes else None,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        print(f"python: stopped after {minutes:g} min")
    status = _mutmut_status(d, env)
    print(f"python: {time.monotonic() - start:.0f} s; per file: tried, killed (timeouts count as killed)")
    for f in files:
        states = [status[n] for n in _of_file(sorted(status), f)]
        tried = [s for s in states if s != "not checked"]
        killed = sum(s in ("killed", "timeout") for s in tried)
        rate = f"{100 * killed / len(tried):.1f}%" if tried else "-"
        others = sorted({s for s in tried if s not in ("killed", "timeout", "survived")})
        print(f"  {f}: {len(states)} mutants, {len(tried)} tried, {killed} killed ({rate})"
              + (f"; also {others}" if others else ""))
    for name, state in sorted(status.items()):
        if state not in ("killed", "timeout", "not checked"):
            print(f"{state}: {name}  (mutmut show {name})")


def _of_file(names, path):
    """The mutants of src/<path>: mutmut names them <module path>.x_<function>__mutmut_<n>."""
    module = os.path.splitext(os.path.relpath(path, "src"))[0].replace(os.sep, ".") + "."
    return [n for n in names if n.startswith(module)]


def _mutmut_status(d, env):
    out = subprocess.run([PY, "-m", "mutmut", "results", "--all", "true"], cwd=d, env=env,
                         capture_output=True, text=True).stdout
    status = {}
    for line in out.splitlines():
        name, _, state = line.strip().rpartition(": ")
        if name:
            status[name] = state
    return status


def retest(d, files, paths):
    """Run the mutants that survived an earlier --python run in `d` (or had no test) against
    `paths` (tests of the exported revision, relative to it), or by default against this
    checkout's tests/core/test_mutants_*.py and tests/hypha/test_mutants_*.py (the tests
    written for them). Kills are recorded in DIR/retest.json, so retests add up; prints each
    file's kill rate by mutmut and after the retests."""
    if not paths:
        tests = sorted(glob.glob(os.path.join(ROOT, "tests", "core", "test_mutants_*.py"))
                       + glob.glob(os.path.join(ROOT, "tests", "hypha", "test_mutants_*.py")))
        paths = [os.path.relpath(t, ROOT) for t in tests]
        for t, name in zip(tests, paths):
            shutil.copy(t, os.path.join(d, "mutants", name))
    record = os.path.join(d, "retest.json")
    killed_by = json.load(open(record)) if os.path.exists(record) else {}
    env = dict(os.environ, POLYCODEC_PUREPYTHON="1", PYTHONPATH="src")
    status = _mutmut_status(d, env)
    survivors = sorted(n for n, st in status.items()
                       if st in ("survived", "no tests") and n not in killed_by)

    def pytest(name, *args):
        return subprocess.run([*NICE, PY, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                               "-o", "addopts=", "-k", PYTHON_DESELECT, *args],
                              cwd=os.path.join(d, "mutants"),
                              env=dict(env, MUTANT_UNDER_TEST=name), capture_output=True, text=True)

    start, now = time.monotonic(), 0
    if pytest("", *paths).returncode:
        raise SystemExit(f"retest: {paths} fail without a mutant in {d}")
    for name in survivors:
        r = pytest(name, *paths)
        failed = [ln.split(" ", 1)[1].partition(" - ")[0] for ln in r.stdout.splitlines()
                  if ln.startswith(("FAILED ", "ERROR "))]   # node ids may hold spaces
        # a kill counts only if the failing test passes without the mutant (a property test
        # can find an unrelated failure midway, and its example database then replays it)
        if failed and pytest("", failed[0]).returncode == 0:
            killed_by[name] = failed[0]
            now += 1
            json.dump(killed_by, open(record, "w"), indent=1, sort_keys=True)   # so far
        elif r.returncode:
            print(f"retest: {name}: {failed[:1]} fails without the mutant too; not counted")
    json.dump(killed_by, open(record, "w"), indent=1, sort_keys=True)
    print(f"retest: {now}/{len(survivors)} killed by {paths} in {time.monotonic() - start:.0f} s")
    print("per file: tried, killed by mutmut -> with all retests so far")
    for f in files:
        tried = [n for n in _of_file(sorted(status), f) if status[n] != "not checked"]
        before = sum(status[n] in ("killed", "timeout") for n in tried)
        after = before + sum(n in killed_by for n in tried)
        if tried:
            print(f"  {f}: {len(tried)} tried, {before} ({100 * before / len(tried):.1f}%)"
                  f" -> {after} ({100 * after / len(tried):.1f}%)")
    for name in sorted(n for n, st in status.items() if st in ("survived", "no tests")):
        print(f"{'killed by ' + killed_by[name] if name in killed_by else 'still survives'}: {name}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--python", action="store_true")
    ap.add_argument("--cython", action="store_true")
    ap.add_argument("--minutes", type=float, default=0)
    ap.add_argument("--sample", type=int, default=1, metavar="K",
                    help="test every K-th mutant of each file (names sorted), not all")
    ap.add_argument("--files", nargs="*", default=PYTHON_FILES)
    ap.add_argument("--only", type=lambda v: {int(x) for x in v.split(",")},
                    help="indexes of CYTHON_MUTANTS to run (e.g. 3,4)")
    ap.add_argument("--retest", metavar="DIR", help="folder printed by an earlier --python run")
    ap.add_argument("--tests", nargs="*", default=[],
                    help="with --retest: test paths of the exported revision to run instead")
    a = ap.parse_args()
    if a.retest:
        return retest(a.retest, a.files, a.tests)
    d = export(a.rev)
    print(f"mutation: {a.rev} exported to {d}", flush=True)
    if a.cython or not a.python:
        run_cython(d, a.only)
    if a.python or not a.cython:
        run_python(d, a.files, a.minutes, a.sample)


if __name__ == "__main__":
    sys.exit(main())
