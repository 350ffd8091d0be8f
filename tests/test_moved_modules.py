"""Old module paths still import, warn DeprecationWarning, and are the moved modules."""
from __future__ import annotations

import importlib
import sys
import warnings

import pytest

MOVED = {
    "polycodec.hybrid.emulated": "polycodec.hybrid.emulator.services",
    "polycodec.hybrid.workers": "polycodec.hybrid.emulator.processes",
    "polycodec.hybrid.shared": "polycodec.hybrid.emulator.store",
    "polycodec.hybrid.testing": "polycodec.hybrid.emulator.testing",
    "polycodec.hypha.server": "polycodec.bench.hypha_server",
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_warns_and_is_the_new_module(old, monkeypatch):
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=MOVED[old].replace(".", r"\.")):
        module = importlib.import_module(old)
    assert module is importlib.import_module(MOVED[old])


@pytest.mark.parametrize("new", sorted(set(MOVED.values())))
def test_new_paths_import_without_warnings(new):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.import_module(new)
