"""Replays fuzz inputs (files or corpus folders) through a target, 10 s per input.

    python fuzz/replay.py decode fuzz/corpus/decode [more dirs or files...]

Runs without atheris, so it works under AddressSanitizer (LD_PRELOAD, see fuzz/README in
docs/testing.md). Every input is run; each finding is printed with its input's path; exit status 1 if any. (A
sanitizer report ends the process at once.)
"""
from __future__ import annotations

import os
import signal
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from targets import load  # noqa: E402

TIMEOUT = int(os.environ.get("FUZZ_REPLAY_TIMEOUT", "10"))
VERBOSE = os.environ.get("FUZZ_VERBOSE") == "1"     # full tracebacks


def _inputs(paths):
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                f = os.path.join(p, name)
                if os.path.isfile(f):
                    yield f
        elif os.path.isfile(p):
            yield p


def _timeout(signum, frame):
    raise TimeoutError(f"input took more than {TIMEOUT} s")


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    one_input = load(argv[0])
    signal.signal(signal.SIGALRM, _timeout)
    start, n, found = time.monotonic(), 0, 0
    for path in _inputs(argv[1:]):
        with open(path, "rb") as f:
            data = f.read()
        n += 1
        signal.alarm(TIMEOUT)
        try:
            one_input(data)
        except Exception as e:
            signal.alarm(0)
            found += 1
            if VERBOSE:
                traceback.print_exc()
            print(f"replay {argv[0]}: FINDING in {path}: {type(e).__name__}: {e}"[:600], flush=True)
        signal.alarm(0)
    print(f"replay {argv[0]}: {n} inputs, {found} findings, {time.monotonic() - start:.1f} s",
          flush=True)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
