"""Tables for `polycodec bench`: every row is timed beside its peers in the same run."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field


@dataclass
class Row:
    workload: str
    impl: str
    seconds: float            # median of the repetitions
    baseline: str             # the impl of the same workload that ratios are taken against
    note: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Section:
    title: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)


def timeit(fn, repeat=7, number=1, min_time=0.0):
    """Median seconds of one call of `fn` over `repeat` repetitions of `number` calls."""
    fn()  # warm-up
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples)


def fmt_time(s):
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def render(section: Section) -> str:
    by_workload = {}
    for row in section.rows:
        by_workload.setdefault(row.workload, {})[row.impl] = row
    lines = [f"## {section.title}", "", "| workload | impl | time | ratio | note |",
             "|---|---|---|---|---|"]
    for workload, impls in by_workload.items():
        for row in impls.values():
            base = impls.get(row.baseline)
            ratio = f"{row.seconds / base.seconds:.2f}x" if base and base.seconds else "-"
            lines.append(f"| {workload} | {row.impl} | {fmt_time(row.seconds)} | {ratio} "
                         f"| {row.note} |")
    lines.append("")
    lines.append("ratio = time / time of the row's baseline in the same workload (lower is faster).")
    lines.extend(section.notes)
    return "\n".join(lines)


def show(sections, plot=None, save=None):
    text = "\n\n".join(render(s) for s in sections)
    print(text)
    if save:
        with open(save, "w") as f:
            f.write(text + "\n")
    if plot:
        _plot(sections, plot)


def _plot(sections, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for s in sections for r in s.rows]
    workloads = list(dict.fromkeys(r.workload for r in rows))
    fig, axes = plt.subplots(len(workloads), 1, figsize=(8, 1.2 + 0.9 * len(rows) / max(1, len(workloads)) * len(workloads) / 2), squeeze=False)
    for ax, workload in zip(axes[:, 0], workloads):
        sub = [r for r in rows if r.workload == workload]
        ax.barh([r.impl for r in sub], [r.seconds * 1e3 for r in sub])
        ax.set_title(workload, fontsize=9)
        ax.set_xscale("log")   # peers span 1000x: a linear axis hides the fast bars
        ax.set_xlabel("ms, log scale (lower is faster)", fontsize=8)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}")
