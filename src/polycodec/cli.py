"""`polycodec bench ...`: side-by-side benchmarks against the libraries a user would pick."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys

import polycodec

from .bench import SECTIONS, hypha_server, plot, report

_EPILOG = """\
sections (--only NAME[,NAME]; default: {defaults}):
{table}

--size F multiplies every workload's size: array bytes and item/record counts (W1 16 MiB,
W2 10,000 items, W3 1,000 dicts, W4 64 MiB, Hybrid 100,000 records, Hypha 1 and 16 MiB
echoes). Targets are judged at --size 1 only, except the size-independent ones (constant-time
segment/decode timings, memory ratios).

--check exits 1 when a gated target (marked "gated" in the report) is missed twice: a section
with a miss is measured once more. Other targets are reported, never gated.

needs: the [bench] extra (pip install "polycodec[bench]") for the peers and --plot;
the hypha section also needs the Hypha server's own venv, named by POLYCODEC_HYPHA_PYTHON:
  {install}
  export POLYCODEC_HYPHA_PYTHON=$PWD/.hypha-venv/bin/python
(README.md, "The Hypha server's environment").
"""


def _parser():
    table = "\n".join(f"  {name:<10} {e.help}" for name, e in SECTIONS.items())
    defaults = ", ".join(n for n, e in SECTIONS.items() if e.default)
    parser = argparse.ArgumentParser(prog="polycodec")
    parser.add_argument("--version", action="version",
                        version=f"polycodec {polycodec.__version__} "
                                f"({polycodec.IMPLEMENTATION} core)")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser(
        "bench", help="run the benchmarks side by side with peer libraries",
        description="Time polycodec beside the libraries a user would otherwise pick, in one "
                    "run, and judge the targets.",
        epilog=_EPILOG.format(table=table, defaults=defaults, install=hypha_server.INSTALL),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("--quick", action="store_true", help="small workloads, < 1 minute")
    bench.add_argument("--only", metavar="SECTION[,SECTION]",
                       help=f"run these sections ({', '.join(SECTIONS)})")
    bench.add_argument("--size", type=float, default=1.0, metavar="F",
                       help="multiply the workload sizes by F (default 1)")
    bench.add_argument("--format", choices=("markdown", "json"), default="markdown",
                       help="report format on stdout (default markdown)")
    bench.add_argument("--check", action="store_true",
                       help="exit 1 when a gated target is missed twice")
    bench.add_argument("--plot", metavar="FILE.png", help="draw the comparison (matplotlib)")
    bench.add_argument("--save", metavar="FILE", help="also write the report to FILE "
                       "(JSON if FILE ends in .json, else markdown)")
    bench.add_argument("--repeat", type=int, default=None, help="timing repetitions")
    for name in SECTIONS:   # the older spellings: --core, --hybrid, --hypha
        bench.add_argument(f"--{name}", action="store_true", help=f"same as --only {name}")
    return parser


def _selected(args):
    names = [n for n in (args.only or "").split(",") if n.strip()]
    names = [n.strip() for n in names] + [n for n in SECTIONS if getattr(args, n, False)]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise SystemExit(f"polycodec bench: unknown section {', '.join(unknown)} "
                         f"(sections: {', '.join(SECTIONS)})")
    return list(dict.fromkeys(names)) or [n for n, e in SECTIONS.items() if e.default]


def _run_section(name, args):
    report.progress.set_section(name)
    section = importlib.import_module(f"polycodec.bench.{SECTIONS[name].module}").run(args)
    section.name = section.name or name
    return section


def _gated_misses(section):
    return {(section.name, row.workload, row.impl, t.text)
            for row in section.rows for t in row.targets
            if t.gated and t.applies and not t.met}


def _check(sections, args):
    """Re-measure each section with a gated miss once; (sections, summary, failed keys)."""
    gated = sum(t.gated and t.applies for s in sections for r in s.rows for t in r.targets)
    first = {key for s in sections for key in _gated_misses(s)}
    twice = set()
    for i, s in enumerate(sections):
        misses = _gated_misses(s)
        if misses:
            again = _run_section(s.name, args)
            twice |= misses & _gated_misses(again)
            sections[i] = again
    lines = [f"check: {gated} gated targets; {len(first)} missed in the first run"]
    for key in sorted(first):
        verdict = "MISSED twice" if key in twice else "met when re-measured"
        lines.append(f"- {key[0]} / {key[1]} / {key[2]}: target {key[3]}: {verdict}")
    if not gated:
        lines.append("(no gated target was evaluated in these sections: the core's are set "
                     "for the compiled core, some at the documented sizes only)")
    lines.append("check: FAILED" if twice else "check: passed")
    return sections, lines, twice


def _bench(args) -> int:
    # Logs go to stderr: hypha-rpc's modules call basicConfig(stream=sys.stdout) on import,
    # which would mix log lines into the report (and break --format json). A root handler
    # set first makes their call a no-op.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        print('polycodec bench --plot needs matplotlib: pip install "polycodec[bench]"',
              file=sys.stderr)
        return 2
    if args.size <= 0:
        print("polycodec bench: --size must be > 0", file=sys.stderr)
        return 2
    names = _selected(args)
    if "hypha" in names and hypha_server.find_python() is None:
        print(f"polycodec bench --hypha: {hypha_server.MISSING}.", file=sys.stderr)
        return 2
    report.progress.start()
    load0 = report.loadavg()
    try:
        sections = [_run_section(name, args) for name in names]
        footer, failed = [], set()
        if args.check:
            sections, footer, failed = _check(sections, args)
    finally:
        report.progress.clear()
    meta = report.run_meta(args, load0)
    meta["sections_run"] = names
    if args.check:
        meta["check"] = {"passed": not failed, "missed_twice": [
            {"section": k[0], "workload": k[1], "implementation": k[2], "target": k[3]}
            for k in sorted(failed)], "summary": footer}
    report.show(sections, save=args.save, fmt=args.format, meta=meta,
                footer=["\n".join(footer)] if footer else ())
    if args.plot:
        plot.draw(sections, args.plot, meta)
    return 1 if failed else 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "bench":
        return _bench(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
