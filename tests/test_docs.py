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
