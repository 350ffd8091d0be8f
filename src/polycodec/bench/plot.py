"""`polycodec bench --plot FILE.png`: one panel of bars per timed workload, log scale."""
from __future__ import annotations

import math
import sys

from .report import fmt_time

POLYCODEC = "#d62728"   # polycodec's own rows stand out; peers are grey-blue
FALLBACK = "#f2a0a0"
PEER = "#8da0b8"
TARGET = "#2ca02c"


def draw(sections, path, meta):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, NullFormatter

    rows = [r for s in sections for r in s.rows if r.seconds is not None]
    workloads = list(dict.fromkeys(r.workload for r in rows))
    if not workloads:
        print("plot: no timed rows to draw", file=sys.stderr)
        return
    heights = [0.6 + 0.28 * sum(r.workload == w for r in rows) for w in workloads]
    fig, axes = plt.subplots(len(workloads), 1, figsize=(9, 1.2 + sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights}, layout="constrained")
    for ax, workload in zip(axes[:, 0], workloads):
        sub = [r for r in rows if r.workload == workload]
        ms = [r.seconds * 1e3 for r in sub]
        colors = [FALLBACK if r.impl.startswith("polycodec[python]") else
                  POLYCODEC if r.impl.startswith("polycodec") else PEER for r in sub]
        ax.barh([r.impl for r in sub], ms, color=colors)
        ax.invert_yaxis()
        # peers span 1000x: a log axis, starting a little below the fastest bar
        lo, hi = min(ms), max(ms)
        limits = {t.limit * 1e3: t.text for r in sub for t in r.targets if t.limit and t.applies}
        hi = max([hi, *limits])
        ax.set_xscale("log")
        ax.set_xlim(10 ** math.floor(math.log10(lo * 0.5)), hi * 4)
        for y, (value, r) in enumerate(zip(ms, sub)):
            ax.text(value * 1.08, y, fmt_time(r.seconds), va="center", fontsize=7)
        for i, (limit, text) in enumerate(sorted(limits.items())):   # labels stacked upwards
            ax.axvline(limit, color=TARGET, linestyle="--", linewidth=1.2)
            ax.text(limit * 1.05, len(sub) - 0.6 - i, f"target {text}", color=TARGET,
                    fontsize=7, bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_time(v / 1e3)))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(workload, fontsize=9, loc="left")
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("time per call, log scale (lower is faster)", fontsize=8)
    m = meta.get("machine", {})
    load = meta.get("load", {}).get("start")
    mode = "quick" if meta.get("quick") else "full"
    fig.suptitle(f"polycodec bench ({mode} run, {meta.get('date', '')[:16].replace('T', ' ')}"
                 f" UTC)\n{m.get('cpu', '?')}, {m.get('cpus', '?')} CPUs, Python "
                 f"{m.get('python', '?')}, load average "
                 f"{'/'.join(map(str, load)) if load else 'n/a'}", fontsize=9)
    fig.legend(handles=[Patch(color=POLYCODEC, label="polycodec (compiled core)"),
                        Patch(color=FALLBACK, label="polycodec (pure-Python fallback)"),
                        Patch(color=PEER, label="peer / baseline"),
                        Line2D([], [], color=TARGET, linestyle="--", label="target")],
               loc="outside lower center", fontsize=8, ncol=4)
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}", file=sys.stderr)
