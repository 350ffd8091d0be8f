"""Write the Python golden vectors with the REAL hypha-rpc 0.21.47.

    python tests/golden/make_golden.py            # rewrite tests/golden/python/
    python tests/golden/make_golden.py --out DIR  # write elsewhere (test_golden compares)

Each case of cases.py becomes <name>.msgpack = msgpack.packb(RPC._encode(value)), and index.json
records the case names, their spec row, options, sizes and sha256. Never hand-edit the output:
change cases.py and rerun this script.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
if ROOT not in sys.path:  # run as a script: import the cases as tests.golden.cases
    sys.path.insert(0, ROOT)

from tests.golden.cases import CASES  # noqa: E402
from tests.golden.reference import REFERENCE_VERSION, reference_packb, reference_problem  # noqa: E402

DEFAULT_OUT = os.path.join(HERE, "python")


def generate(out: str = DEFAULT_OUT) -> dict:
    problem = reference_problem()
    if problem:
        raise SystemExit(f"make_golden: needs {problem}")
    import msgpack

    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):  # stale vectors of removed cases
        if name.endswith(".msgpack"):
            os.remove(os.path.join(out, name))
    index = {
        "generator": "tests/golden/make_golden.py",
        "hypha_rpc": REFERENCE_VERSION,
        "msgpack": ".".join(map(str, msgpack.version)),
        "cases": {},
    }
    for case in CASES:
        data = reference_packb(case.build())
        with open(os.path.join(out, f"{case.name}.msgpack"), "wb") as f:
            f.write(data)
        index["cases"][case.name] = {
            "row": case.row,
            "options": case.options,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=False)
        f.write("\n")
    return index


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(argv)
    index = generate(args.out)
    total = sum(c["size"] for c in index["cases"].values())
    print(f"wrote {len(index['cases'])} vectors ({total} bytes) to {args.out}")


if __name__ == "__main__":
    main()
