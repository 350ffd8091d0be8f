"""Benchmark sections behind `polycodec bench`.

Each section is a module of this package with `run(args) -> report.Section`; `args` has
`quick`, `repeat` (None: the section's default) and `size` (a factor on the workload sizes).
A new section is one line of `SECTIONS`.
"""
from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    module: str      # polycodec.bench.<module>
    default: bool    # runs when no section is named
    help: str        # what it measures, what it needs


# name (as `--only` takes it and as the report prints it) -> entry
SECTIONS = {
    "core": Entry("core", True, "codec workloads W1-W4 vs msgpack, msgspec, ormsgpack, "
                                "pickle, hypha-rpc"),
    "hybrid": Entry("hybrid", False, "Hybrid Runner bodies and batching vs cspark, through the "
                                     "emulator (about 20 s with --quick)"),
    "hypha": Entry("hypha", False, "echo through a local Hypha server, stock vs accelerated; "
                                   "needs the Hypha server venv (below)"),
    "realistic": Entry("realistic", True, "service-shaped payloads, encode and decode vs "
                                          "msgspec, ormsgpack, msgpack, hypha-rpc"),
    "pipelines": Entry("pipelines", False, "streaming decode, Dask serialization families and "
                                           "a 2-worker LocalCluster"),
}
