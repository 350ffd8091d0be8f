"""One module per parser; each has `one_input(data: bytes)` (raises on a finding)."""
import importlib

NAMES = ("decode", "reassembler", "hypha_frame", "sockets_payload", "pyrun_body")


def load(name):
    if name not in NAMES:
        raise SystemExit(f"fuzz: unknown target {name!r} (one of {', '.join(NAMES)})")
    return importlib.import_module(f"targets.{name}").one_input
