"""Instructions per call of one realistic workload, polycodec beside msgspec (valgrind callgrind).

    PYTHONPATH=src python benchmarks/callgrind.py "regions 500x7" [--side enc|dec]
        [--impl cython|python|msgspec ...] [--call object|function] [--n 200] [--annotate]

Counts are `(Ir(3N) - Ir(N)) / 2N` over two whole runs of one process each (import, warm-up
and set-up cancel out), so they repeat to well under 1% on a loaded machine where wall-clock
timing does not. `--call object` times `Encoder().encode` / `Decoder().decode` (msgspec: its
`Encoder(enc_hook=...)` / `Decoder()`), `function` times `packb` / `unpackb` (msgspec:
`msgspec.msgpack.encode` / `decode`). `--annotate` keeps the 3N run's profile and prints the
top functions (callgrind_annotate). Needs valgrind; runs with OPENBLAS_NUM_THREADS=1 and
PYTHONHASHSEED=0 (idle BLAS threads and hash seeds otherwise add noise).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

CHILD = r"""
import sys
import polycodec
from polycodec.bench.realistic import WORKLOADS, _array_hook
label, side, impl, call, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
build = {w[0]: w[1] for w in WORKLOADS}[label]
obj = build()
frame = polycodec.packb(obj)
if impl == "msgspec":
    import msgspec
    ms = msgspec.msgpack
    if call == "object":
        fn = ms.Encoder(enc_hook=_array_hook).encode if side == "enc" else ms.Decoder().decode
    else:
        fn = (lambda o: ms.encode(o, enc_hook=_array_hook)) if side == "enc" else ms.decode
else:
    core = polycodec.implementations()[impl]
    if call == "object":
        fn = core.Encoder().encode if side == "enc" else core.Decoder().decode
    else:
        fn = core.packb if side == "enc" else core.unpackb
arg = obj if side == "enc" else frame
for _ in range(20):
    fn(arg)
for _ in range(n):
    fn(arg)
"""


def instructions(label, side, impl, call, n, out_file):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
                    sys.executable, "-c", CHILD, label, side, impl, call, str(n)],
                   env=env, check=True, capture_output=True)
    with open(out_file) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {out_file}")


def per_call(label, side, impl, call, n, keep=None):
    with tempfile.TemporaryDirectory() as d:
        one = instructions(label, side, impl, call, n, os.path.join(d, "n.out"))
        three_file = keep or os.path.join(d, "3n.out")
        three = instructions(label, side, impl, call, 3 * n, three_file)
    return (three - one) / (2 * n)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", help="a label of polycodec.bench.realistic.WORKLOADS")
    ap.add_argument("--side", choices=("enc", "dec"), default="enc")
    ap.add_argument("--impl", nargs="*", default=["cython", "msgspec"])
    ap.add_argument("--call", choices=("object", "function"), default="object")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--annotate", action="store_true")
    a = ap.parse_args(argv)
    print(f"| workload | side | call | impl | instructions per call |\n|---|---|---|---|---|")
    for impl in a.impl:
        slug = re.sub(r"\W+", "_", a.workload)
        keep = f"callgrind.{slug}.{a.side}.{impl}.out" if a.annotate else None
        ir = per_call(a.workload, a.side, impl, a.call, a.n, keep)
        print(f"| {a.workload} | {a.side} | {a.call} | {impl} | {ir:,.0f} |", flush=True)
        if keep:
            print(subprocess.run(["callgrind_annotate", keep], capture_output=True,
                                 text=True).stdout[:6000])


if __name__ == "__main__":
    main()
