#!/usr/bin/env bash
# Builds an sdist and a wheel (the wheel from the sdist, which proves the sdist is complete),
# installs the wheel into a fresh venv and runs the core tests against the INSTALLED package,
# never the source tree. Called by .ci/run. Output: wheels/out/.
#   PYTHON=python3.X bash wheels/check.sh      # interpreter to build and test with
#   KEEP_TMP=1 bash wheels/check.sh            # keep the temp dir (venvs, copied tests)
#   WHEELS_OUT=DIR bash wheels/check.sh         # write the sdist and wheel there instead
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${WHEELS_OUT:-wheels/out}
start=$(date +%s)
say() { echo "wheels: $* ($(( $(date +%s) - start )) s)"; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/polycodec-wheels.XXXXXX")
if [ "${KEEP_TMP:-0}" != 1 ]; then trap 'rm -rf "$TMP"' EXIT; else echo "wheels: temp dir $TMP"; fi
unset PYTHONPATH
export PYTHONNOUSERSITE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# --- build: sdist, then the wheel from the unpacked sdist (PEP 517, isolated build env) -------
rm -rf "$OUT" && mkdir -p "$OUT"
"$PY" -m venv "$TMP/build-venv"
"$TMP/build-venv/bin/python" -m pip install -q build
"$TMP/build-venv/bin/python" -m build --outdir "$OUT" . > "$TMP/build.log" 2>&1 \
  || { tail -40 "$TMP/build.log"; echo "wheels: build failed"; exit 1; }
sdist=$(ls "$OUT"/polycodec-*.tar.gz)
wheel=$(ls "$OUT"/polycodec-*.whl)
say "built $(basename "$sdist") and $(basename "$wheel")"

# --- the sdist must carry every Cython source (not only generated C) -------------------------
tar tzf "$sdist" | sed 's|^[^/]*/||' > "$TMP/sdist.txt"
fail=0
for f in src/_ext/*.pyx src/_ext/*.pxd src/_ext/*.h; do
  [ -e "$f" ] || continue
  if ! grep -qxF "$f" "$TMP/sdist.txt"; then
    echo "wheels: sdist is missing $f (add it to MANIFEST.in)"; fail=1
  fi
done
[ "$fail" = 0 ] || exit 1
# --- the wheel must carry each compiled module named in setup.py -----------------------------
"$TMP/build-venv/bin/python" - "$wheel" <<'PY'
import ast, sys, zipfile
tree = ast.parse(open("setup.py").read())
modules = next(ast.literal_eval(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
               and getattr(n.targets[0], "id", "") == "MODULES")
names = zipfile.ZipFile(sys.argv[1]).namelist()
missing = [m for m in modules if not any(n.startswith(f"polycodec/{m}.") and n.endswith((".so", ".pyd"))
                                         for n in names)]
if missing:
    sys.exit(f"wheels: the wheel has no compiled module for {missing}")
print("wheels: wheel carries", ", ".join(modules))
PY

# --- a fresh venv with the wheel and the core tests' peers ----------------------------------
"$PY" -m venv "$TMP/venv"
VPY="$TMP/venv/bin/python"
"$VPY" -m pip install -q "$wheel" pytest pytest-timeout hypothesis msgpack "hypha-rpc==0.21.47" \
  'tomli; python_version < "3.11"'
say "installed the wheel into a fresh venv"

# The tests, copied away from the source tree: only tests/ is importable there, not src/.
mkdir -p "$TMP/run"
cp -r tests "$TMP/run/tests"
find "$TMP/run/tests" -name __pycache__ -prune -exec rm -rf {} +
"$VPY" - > "$TMP/run/pytest.ini" <<'PY'
try:
    import tomllib
except ImportError:   # Python 3.10
    import tomli as tomllib
ini = tomllib.load(open("pyproject.toml", "rb"))["tool"]["pytest"]["ini_options"]
print("[pytest]")
print("markers =\n" + "".join(f"    {m}\n" for m in ini.get("markers", [])))
PY

cd "$TMP/run"
"$VPY" - "$TMP/venv" <<'PY'
import os, sys
import polycodec
venv = os.path.realpath(sys.argv[1])
where = os.path.realpath(polycodec.__file__)
print(f"wheels: testing {where} ({polycodec.IMPLEMENTATION})")
if not where.startswith(venv + os.sep):
    sys.exit(f"wheels: polycodec imported from {where}, not from the fresh venv")
if polycodec.IMPLEMENTATION != "cython":
    sys.exit("wheels: the installed wheel does not load its compiled core")
PY
# The wheel is built against numpy 2 (its C API builds decoded arrays); the binary must also
# run on numpy 1.x: the core tests run on the oldest supported numpy and on the newest 2.x.
# (numpy 1.24 has no wheels past Python 3.11: 1.26 stands in on 3.12; from 3.13 on there is
# no numpy 1.x at all, so only 2.x is checked there.)
old_np=$("$VPY" -c 'import sys; v = sys.version_info[:2]; print("numpy==1.24.*" if v < (3, 12) else "numpy==1.26.*" if v < (3, 13) else "")')
np_specs=()
if [ -n "$old_np" ]; then np_specs+=("$old_np"); fi
np_specs+=("numpy>=2,<3")
for np_spec in "${np_specs[@]}"; do
  "$VPY" -m pip install -q "$np_spec"
  np_version=$("$VPY" -c 'import numpy; print(numpy.__version__)')
  POLYCODEC_REQUIRE_EXT=1 "$VPY" -m pytest tests/core tests/golden -q -rs -p no:cacheprovider \
    -c pytest.ini --rootdir .
  say "core tests passed against the installed wheel on numpy $np_version"
done
