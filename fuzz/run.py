"""Guided run of one target with atheris/libFuzzer.

    python fuzz/run.py TARGET [libFuzzer options] [CORPUS_DIR...]

With the fuzzer build (fuzz/build) first on PYTHONPATH, libFuzzer must be preloaded
(LD_PRELOAD=fuzz/.build/libfuzzer.so, made by fuzz/build): the extension modules call its
coverage hooks when they load, so libFuzzer also sees the C code. fuzz/soak and .ci/fuzz set
both. The Python code of polycodec (fallback, layers) is instrumented by atheris at import; the
targets and harness are not (their coverage would only slow the runs).
"""
from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
    raise SystemExit(__doc__)

with atheris.instrument_imports(include=["polycodec"]):   # not the targets and harness
    import harness
    from targets import load

    one_input = load(sys.argv[1])
harness.GUIDED = True
atheris.Setup([sys.argv[0], *sys.argv[2:]], one_input)
atheris.Fuzz()
