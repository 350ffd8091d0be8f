"""The Hypha server helper finds its python only through POLYCODEC_HYPHA_PYTHON."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from polycodec.bench import hypha_server

SRC = Path(__file__).resolve().parents[1] / "src"


def test_only_the_environment_variable_names_the_python(tmp_path, monkeypatch):
    monkeypatch.delenv("POLYCODEC_HYPHA_PYTHON", raising=False)
    assert hypha_server.find_python() is None
    monkeypatch.setenv("POLYCODEC_HYPHA_PYTHON", str(tmp_path / "missing" / "python"))
    assert hypha_server.find_python() is None
    python = tmp_path / "python"
    python.write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POLYCODEC_HYPHA_PYTHON", "python")   # relative: made absolute, since
    assert hypha_server.find_python() == str(python)         # the server runs elsewhere


def test_no_python_is_a_typed_error_saying_what_to_do(monkeypatch):
    monkeypatch.delenv("POLYCODEC_HYPHA_PYTHON", raising=False)
    with pytest.raises(hypha_server.NoServerPython) as info:
        hypha_server.LocalHyphaServer()
    assert isinstance(info.value, FileNotFoundError)
    assert hypha_server.INSTALL in str(info.value) and "POLYCODEC_HYPHA_PYTHON=" in str(info.value)


def test_the_source_names_no_machine_path():
    text = Path(hypha_server.__file__).read_text()
    assert "parents[" not in text and "/work/" not in text


def test_bench_hypha_without_a_server_says_one_sentence_and_exits_2():
    env = {k: v for k, v in os.environ.items() if k != "POLYCODEC_HYPHA_PYTHON"}
    env["PYTHONPATH"] = str(SRC)
    out = subprocess.run([sys.executable, "-m", "polycodec", "bench", "--hypha", "--quick"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2
    assert out.stdout == "" and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(".")
    assert "POLYCODEC_HYPHA_PYTHON" in lines[0] and hypha_server.INSTALL in lines[0]
