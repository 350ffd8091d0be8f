"""`polycodec bench ...`: side-by-side benchmarks against the libraries a user would pick."""
from __future__ import annotations

import argparse
import sys


def _bench(args) -> int:
    from .bench import report

    sections = []
    if args.hypha:
        from .bench import hypha, hypha_server
        if hypha_server.find_python() is None:
            print(f"polycodec bench --hypha: {hypha_server.MISSING}.", file=sys.stderr)
            return 2
        sections.append(hypha.run(args))
    if args.hybrid:
        from .bench import hybrid
        sections.append(hybrid.run(args))
    if args.core or not (args.hypha or args.hybrid):
        from .bench import core
        sections.append(core.run(args))
    report.show(sections, plot=args.plot, save=args.save)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="polycodec")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="run the benchmarks side by side with peer libraries")
    bench.add_argument("--quick", action="store_true", help="small workloads, < 1 minute")
    bench.add_argument("--core", action="store_true", help="core workloads W1-W4 (default)")
    bench.add_argument("--hypha", action="store_true", help="echo through a local Hypha server")
    bench.add_argument("--hybrid", action="store_true", help="Hybrid Runner bodies and batching")
    bench.add_argument("--plot", metavar="FILE.png", help="draw the comparison")
    bench.add_argument("--save", metavar="FILE.md", help="also write the tables to a file")
    bench.add_argument("--repeat", type=int, default=None, help="timing repetitions")
    args = parser.parse_args(argv)
    if args.command == "bench":
        return _bench(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
