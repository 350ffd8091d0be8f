"""Tables for `polycodec bench`: every row is timed beside its peers in the same run."""
from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field


@dataclass
class Target:
    """A goal one row is judged against.

    `gated`: `--check` fails when it is missed twice (only goals that hold on a loaded 2-core
    machine). `applies=False`: the goal is set for another implementation (the compiled core)
    and this row only shows where it stands.
    """
    text: str                    # the goal, e.g. "< 50 us", "<= 1.2x memcpy"
    measured: str                # what was measured, e.g. "2.5 us, best round 2.4 us"
    met: bool
    gated: bool = False
    applies: bool = True
    limit: float | None = None   # the goal in seconds, where it is one (the plot marks it)

    @property
    def verdict(self) -> str:
        if not self.applies:
            return "info"
        return "met" if self.met else "MISSED"

    def describe(self) -> str:
        gate = ", gated" if self.gated and self.applies else ""
        who = "" if self.applies else ", set for the compiled core"
        return f"{self.measured} (target {self.text}{gate}{who}): {self.verdict}"


@dataclass
class Row:
    workload: str
    impl: str
    seconds: float | None     # median of the repetitions; None for rows that are not times
    baseline: str             # the impl of the same workload that ratios are taken against
    note: str = ""
    extra: dict = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    value: str = ""           # shown instead of the time when `seconds` is None


@dataclass
class Section:
    title: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    name: str = ""            # the registry name (`--only NAME`); set by the runner


def timeit(fn, repeat=7, number=1, min_time=0.0):
    """Median seconds of one call of `fn` over `repeat` repetitions of `number` calls."""
    fn()  # warm-up
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
        progress.tick()
    return statistics.median(samples)


def fmt_time(s):
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


# --- progress on a terminal -------------------------------------------------------------


class Progress:
    """One status line on stderr: section, workload and a bar for steps with several rounds.

    Silent unless stdout is a terminal (so pipes, files and CI logs get only the report)."""

    def __init__(self):
        self.enabled = False
        self.section = ""
        self.workload = ""
        self._t0 = time.monotonic()
        self._last = 0.0

    def start(self, enabled=None):
        self.enabled = sys.stdout.isatty() and sys.stderr.isatty() if enabled is None \
            else enabled
        self._t0 = time.monotonic()

    def set_section(self, name):
        self.section, self.workload = name, ""
        self._show("")

    def step(self, workload, done=None, total=None):
        self.workload = workload
        bar = ""
        if total:
            filled = int(20 * min(done, total) / total)
            bar = f" [{'#' * filled}{'.' * (20 - filled)}] {done}/{total}"
        self._show(bar)

    def tick(self):
        """A heartbeat from a long loop: redraw the clock at most 4 times a second."""
        if self.enabled and time.monotonic() - self._last > 0.25:
            self._show("")

    def _show(self, bar):
        if not self.enabled:
            return
        self._last = time.monotonic()
        wall = self._last - self._t0
        line = f"bench {wall:5.0f} s | {self.section}"
        if self.workload:
            line += f" | {self.workload}"
        width = 100
        sys.stderr.write("\r" + (line[:width - len(bar)] + bar).ljust(width))
        sys.stderr.flush()

    def clear(self):
        if self.enabled:
            sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.flush()


progress = Progress()


# --- machine facts ----------------------------------------------------------------------


def loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine():
    """What the numbers depend on: CPU, cores, Python, implementation."""
    import polycodec

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "system": platform.system(),
            "python": platform.python_version(), "polycodec": polycodec.__version__,
            "implementation": polycodec.IMPLEMENTATION}


# --- rendering --------------------------------------------------------------------------


def _ratio(row, impls):
    base = impls.get(row.baseline)
    if row.seconds is None or base is None or not base.seconds:
        return None
    return row.seconds / base.seconds


def _note(row):
    return "; ".join([row.note] * bool(row.note) + [t.describe() for t in row.targets])


def render(section: Section) -> str:
    by_workload = {}
    for row in section.rows:
        by_workload.setdefault(row.workload, {})[row.impl] = row
    named = section.name and not section.title.startswith(f"{section.name}:")
    head = f"{section.name}: {section.title}" if named else section.title
    lines = [f"## {head}", "", "| workload | impl | time | ratio | note |",
             "|---|---|---|---|---|"]
    for workload, impls in by_workload.items():
        for row in impls.values():
            ratio = _ratio(row, impls)
            shown = fmt_time(row.seconds) if row.seconds is not None else row.value
            lines.append(f"| {workload} | {row.impl} | {shown} | "
                         f"{'-' if ratio is None else f'{ratio:.2f}x'} | {_note(row)} |")
    lines.append("")
    lines.append("ratio = time / time of the row's baseline in the same workload (lower is faster).")
    lines.extend(section.notes)
    return "\n".join(lines)


def to_json(sections, meta) -> dict:
    """Every row with its time, ratio, targets and verdict; `meta` carries the run's facts."""
    out = dict(meta, sections=[])
    for s in sections:
        impls_of = {}
        for row in s.rows:
            impls_of.setdefault(row.workload, {})[row.impl] = row
        rows = []
        for row in s.rows:
            ratio = _ratio(row, impls_of[row.workload])
            rows.append({
                "workload": row.workload, "implementation": row.impl, "time": row.seconds,
                "value": row.value or None, "baseline": row.baseline,
                "ratio": None if ratio is None else round(ratio, 4),
                "target": "; ".join(t.text for t in row.targets) or None,
                "verdict": _worst(row.targets), "note": row.note,
                "targets": [{"target": t.text, "measured": t.measured, "gated": t.gated,
                             "applies": t.applies, "verdict": t.verdict,
                             "limit_seconds": t.limit}
                            for t in row.targets]})
        out["sections"].append({"name": s.name, "title": s.title, "rows": rows,
                                "notes": s.notes})
    return out


def _worst(targets):
    if not targets:
        return None
    verdicts = [t.verdict for t in targets]
    for v in ("MISSED", "info", "met"):
        if v in verdicts:
            return v


def run_meta(args, load_start):
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "quick": bool(getattr(args, "quick", False)),
            "size": getattr(args, "size", 1.0), "machine": machine(),
            "load": {"start": load_start, "end": loadavg()}}


def show(sections, save=None, fmt="markdown", meta=None, footer=()):
    meta = meta or {}
    text = "\n\n".join([render(s) for s in sections] + list(footer))
    data = to_json(sections, meta) if fmt == "json" or (save and save.endswith(".json")) \
        else None
    print(json.dumps(data, indent=1) if fmt == "json" else text)
    if save:
        with open(save, "w") as f:
            f.write(json.dumps(data, indent=1) + "\n" if save.endswith(".json") else text + "\n")
