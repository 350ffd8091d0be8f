"""Small-call echo through one local Hypha server: two source trees of polycodec, alternated.

    POLYCODEC_HYPHA_PYTHON=... PYTHONPATH=src python benchmarks/hypha_compare.py \
        BEFORE_SRC AFTER_SRC [ROUNDS] [ECHOES]

Each round runs three pairs (provider and caller processes, as `polycodec bench --hypha`
runs them): stock hypha-rpc without deflate, then accelerated peers importing polycodec from
BEFORE_SRC, then from AFTER_SRC, so machine load hits all three alike. Prints per pair the
median over rounds of the median echo time and of the CPU per echo of server, provider and
caller. BEFORE_SRC must hold this tree's `polycodec/bench/hypha.py` and `report.py` (the
peers' code); e.g. for an older commit:

    git worktree add /tmp/before <commit>
    cp src/polycodec/bench/{hypha,report}.py /tmp/before/src/polycodec/bench/
    (cd /tmp/before && python setup.py -q build_ext --inplace)
"""
from __future__ import annotations

import os
import statistics
import sys

from polycodec.bench.hypha import run_pair
from polycodec.bench.hypha_server import LocalHyphaServer


def main(argv):
    before, after = argv[0], argv[1]
    rounds = int(argv[2]) if len(argv) > 2 else 4
    echoes = int(argv[3]) if len(argv) > 3 else 1000
    spec = [("echo small call", "small", echoes, 1)]
    pairs = [("stock (no deflate)", after, "stock-nodeflate"),
             ("accelerated, BEFORE", before, "accel"), ("accelerated, AFTER", after, "accel")]
    runs: dict[str, list] = {}
    with LocalHyphaServer() as srv:
        for r in range(rounds):
            for name, src, mode in pairs:
                os.environ["PYTHONPATH"] = os.path.abspath(src)   # the peers' polycodec
                out = run_pair(srv.url, srv.pid, mode, mode, spec)[0]
                runs.setdefault(name, []).append(out)
                print(f"round {r}: {name}: {out['seconds'] * 1e6:.0f} us", file=sys.stderr)
    print("| pair | median echo | CPU per echo: server | provider | caller |\n|---|---|---|---|---|")
    for name, outs in runs.items():
        cells = [statistics.median(o["seconds"] for o in outs)]
        cells += [statistics.median(o["cpu"][i] for o in outs) for i in range(3)]
        print(f"| {name} | " + " | ".join(f"{c * 1e6:.0f} us" for c in cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
