"""The rules that keep the docs runnable (the blocks themselves run through ../conftest.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = {"python", "sh", "bash"}
SHOWN = {"text", "json", "toml", "javascript", "js"}     # shown, never run
FENCE = re.compile(r"^```(\S*)")
SKIP = re.compile(r"<!--\s*skip:\s*next(.*?)-->")


def _blocks(path):
    """(line, language, the comment line just before) of every fenced block's opening."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, inside = [], False
    for i, line in enumerate(lines):
        m = FENCE.match(line)
        if not m:
            continue
        if not inside:
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            out.append((i + 1, m.group(1), before))
        inside = not inside
    return out


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_block_says_its_language(path):
    unlabelled = [line for line, lang, _ in _blocks(path) if lang not in RUN | SHOWN]
    assert unlabelled == [], (f"{path.name}: blocks at lines {unlabelled} need a language: "
                              f"python/sh/bash (run) or text (output, trees, usage)")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_skip_says_why(path):
    for line, lang, before in _blocks(path):
        m = SKIP.search(before)
        if m:
            assert lang in RUN, f"{path.name}:{line}: a skip before a block that never runs"
            assert m.group(1).strip().strip('"'), f"{path.name}:{line}: skip without a reason"


def test_the_docs_have_runnable_examples():
    runnable = [(p.name, line) for p in DOCS for line, lang, _ in _blocks(p) if lang in RUN]
    assert len(runnable) >= 14
    assert {"README.md", "hybrid.md", "hypha.md", "sockets.md", "backends.md"} <= \
        {name for name, _ in runnable}


def test_a_python_block_needs_no_top_level_await():
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for block in re.findall(r"^```python\n(.*?)^```", text, re.M | re.S):
            for line in block.splitlines():
                assert not line.startswith("await "), \
                    f"{path.name}: top-level await (wrap it in asyncio.run): {line}"


# --- the runners themselves (../conftest.py) ------------------------------------------------


@pytest.fixture(scope="module")
def runners():
    import importlib.util
    spec = importlib.util.spec_from_file_location("_docs_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _example(source):
    from types import SimpleNamespace
    return SimpleNamespace(parsed=source, path=str(ROOT / "README.md"), line=1)


def test_a_python_block_is_a_program_of_its_own(runners, tmp_path):
    runners.run_python(_example(
        "import os, sys\nassert __name__ == '__main__'\n"
        f"open({str(tmp_path / 'cwd')!r}, 'w').write(os.getcwd())\n"))
    cwd = (tmp_path / "cwd").read_text()
    assert cwd != str(ROOT) and not Path(cwd).exists()        # a temporary folder, removed
    with pytest.raises(AssertionError, match="exited 1"):
        runners.run_python(_example("import asyncio\nawait asyncio.sleep(0)\n"))


def test_a_shell_block_fails_on_the_first_error_and_leaves_nothing_running(runners, tmp_path):
    pidfile = tmp_path / "pid"
    runners.run_shell(_example(f"sleep 300 &\necho $! > {pidfile}\ntest -f pyproject.toml\n"))
    stat = Path(f"/proc/{int(pidfile.read_text())}/stat")
    # the background job is gone (or a zombie waiting for its new parent to reap it)
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    with pytest.raises(AssertionError, match="exited 1"):
        runners.run_shell(_example("false\necho never\n"))
