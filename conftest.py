"""Docs that run: every ```python, ```sh and ```bash block of README.md and docs/*.md is a test.

Collected by Sybil (https://sybil.readthedocs.io). Each block runs the way a user would run it:
a python block as a complete program in a fresh interpreter (in an empty folder), a shell block
with `bash -e` from a copy of the repository's layout (links to its files, so outputs land in a
temporary folder), with this interpreter's bin folder first on PATH (as an activated venv).
Each runs in its own process group, stopped afterwards (background jobs do not outlive it).
A block is skipped only by `<!-- skip: next "the reason" -->` just before it.

A block that reads `HYPHA_SERVER_URL` from the environment gets a local Hypha server started
for it (as the line before such a block tells the user to do).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

try:
    from sybil import Sybil
    from sybil.parsers.markdown import CodeBlockParser, SkipParser
except ImportError:     # the test extra is not installed: the rest of the suite still runs
    Sybil = None

ROOT = Path(__file__).resolve().parent
TIMEOUT = 300
RUN_LANGUAGES = ("python", "sh", "bash")


class _Services:
    """Servers the docs tell the user to start themselves, started once per test run."""

    def __init__(self):
        self._hypha = None

    def env_for(self, source: str) -> dict:
        env = {}
        if "HYPHA_SERVER_URL" in source:
            env["HYPHA_SERVER_URL"] = self.hypha().url
        return env

    def hypha(self):
        if self._hypha is None:
            from polycodec.bench.hypha_server import LocalHyphaServer, find_python
            if find_python() is None:
                reason = "no Hypha server environment (POLYCODEC_HYPHA_PYTHON; docs/hypha.md)"
                if os.environ.get("POLYCODEC_REQUIRE_ALL") == "1":
                    pytest.fail(reason)
                pytest.skip(reason)
            self._hypha = LocalHyphaServer().start()
        return self._hypha

    def close(self):
        if self._hypha is not None:
            self._hypha.stop()
            self._hypha = None


SERVICES = _Services()


def pytest_sessionfinish(session):
    SERVICES.close()


def _env(source):
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update(SERVICES.env_for(source))
    return env


def _check(proc, what, example):
    if proc.returncode != 0:
        raise AssertionError(
            f"{what} in {Path(example.path).relative_to(ROOT)} line {example.line} exited "
            f"{proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n"
            f"{proc.stderr[-4000:]}")


def _run(args, cwd, source):
    """Run one block in its own process group; whatever it left running (`cmd &`, servers)
    is stopped with the group when the block ends. Output goes to files: a background job
    that keeps a pipe open would otherwise hold the reader."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(args, cwd=cwd, env=_env(source), stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            err.write(f"\n(timed out after {TIMEOUT} s)")
        finally:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                time.sleep(0.2)
            proc.wait()
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, proc.returncode, out.read(), err.read())


def run_python(example):
    source = example.parsed
    with tempfile.TemporaryDirectory(prefix="polycodec-doc-") as tmp:
        script = Path(tmp, "example.py")
        script.write_text(source)
        proc = _run([sys.executable, str(script)], tmp, source)
    _check(proc, "python block", example)


def run_shell(example):
    source = example.parsed
    with tempfile.TemporaryDirectory(prefix="polycodec-doc-") as tmp:
        for entry in ROOT.iterdir():      # the repository's layout; new files stay in tmp
            if entry.name not in (".git",):
                os.symlink(entry, Path(tmp, entry.name))
        proc = _run(["bash", "-e", "-o", "pipefail", "-c", source], tmp, source)
    _check(proc, "shell block", example)


if Sybil is None:
    class _NoSybil(pytest.Item):
        def runtest(self):
            message = "the docs' examples need sybil (the test extra: pip install -e '.[test]')"
            if os.environ.get("POLYCODEC_REQUIRE_ALL") == "1":
                pytest.fail(message)
            pytest.skip(message)

    def pytest_collect_file(file_path, parent):
        if file_path.suffix == ".md" and (file_path.name == "README.md"
                                           or file_path.parent.name == "docs"):
            return _DocFile.from_parent(parent, path=file_path)

    class _DocFile(pytest.File):
        def collect(self):
            yield _NoSybil.from_parent(self, name="examples")
else:
    class ReasonedSkipParser(SkipParser):
        """`skip: next` must say why: a bare skip would hide an example silently."""

        def __call__(self, document):
            for region in super().__call__(document):
                action, reason = region.parsed
                if action in ("next", "start") and not (reason or "").strip():
                    raise ValueError(f"{document.path}: '<!-- skip: {action} -->' needs a "
                                     f"reason, e.g. <!-- skip: {action} \"needs network\" -->")
                yield region

    pytest_collect_file = Sybil(
        parsers=[ReasonedSkipParser(), CodeBlockParser("python", run_python),
                 CodeBlockParser("sh", run_shell), CodeBlockParser("bash", run_shell)],
        patterns=["README.md", "docs/*.md"],
    ).pytest()
