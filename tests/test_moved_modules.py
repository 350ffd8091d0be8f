"""Old module paths still import, warn DeprecationWarning, and are the moved modules."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

MOVED = {
    "polycodec.hybrid.emulated": "polycodec.hybrid.emulator.services",
    "polycodec.hybrid.workers": "polycodec.hybrid.emulator.processes",
    "polycodec.hybrid.shared": "polycodec.hybrid.emulator.store",
    "polycodec.hybrid.testing": "polycodec.hybrid.emulator.testing",
    "polycodec.hypha.server": "polycodec.bench.hypha_server",
    "polycodec.sockets.runner": "polycodec.sockets.emulator.scripts",
    "polycodec.sockets.store": "polycodec.sockets.emulator.store",
    "polycodec.sockets.testing": "polycodec.sockets.emulator.testing",
    "polycodec.backends._worker": "polycodec.backends.pyrun.interpreter",
}
SRC = Path(__file__).resolve().parents[1] / "src"


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


def _run(code, *args):
    env = dict(os.environ, PYTHONPATH=str(SRC))
    return subprocess.run([sys.executable, *args, "-c", code] if code else [sys.executable, *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_old_interpreter_command_line_still_runs_cells():
    # `python -m polycodec.backends._worker` (how an older server spawned it) still answers
    code = ("import subprocess, sys\n"
            "from polycodec.backends.pyrun import interpreter as i\n"
            "p = subprocess.Popen([sys.executable, '-m', 'polycodec.backends._worker'],"
            " stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
            "assert 'ready' in i.read_msg(p.stdout)\n"
            "p.stdin.write(i.encode_msg({'cellId': 'c', 'code': 'x = 6 * 7', 'capturedIn': {},"
            " 'capturedOut': ['x'], 'limits': {'max_output': 1000, 'max_result': 100000,"
            " 'nonfinite': 'error'}})); p.stdin.flush()\n"
            "print(i.read_msg(p.stdout)['capturedOut']); p.stdin.close()\n"
            "print(p.stderr.read().decode())\n")
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert "{'x': 42}" in out.stdout and "DeprecationWarning" in out.stdout


@pytest.mark.parametrize("module", ["polycodec.hybrid.emulator.testing",
                                    "polycodec.sockets.emulator.testing"])
def test_testing_helpers_import_without_pytest(module):
    code = (f"import sys; sys.modules['pytest'] = None\nimport {module} as m\n"
            "assert 'pytest' not in [n for n in sys.modules if sys.modules[n] is not None]\n"
            "try:\n    m.__getattr__('hybrid_emulator' if 'hybrid' in m.__name__ "
            "else 'sockets_emulator')\nexcept ImportError:\n    print('fixtures need pytest')\n")
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "fixtures need pytest"


@pytest.mark.parametrize("plugin", ["polycodec.hybrid.emulator.testing",
                                    "polycodec.hybrid.testing"])
def test_documented_fixture_plugin_serves_an_emulator(tmp_path, plugin):
    (tmp_path / "conftest.py").write_text(f"pytest_plugins = [{plugin!r}]\n")
    (tmp_path / "test_it.py").write_text(
        "import httpx\n"
        "def test_it(hybrid_emulator):\n"
        "    assert httpx.get(hybrid_emulator.url + '/healthcheck').json() == {'msg': 'ok'}\n")
    out = _run(None, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout
