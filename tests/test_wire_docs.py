"""The wire pages in docs/ agree with the tables in code, and the docs point only inside the
repository."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from polycodec import spec
from polycodec.hypha.envelope import TRUSTED_KEYS

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]


def _value_table():
    """{row name: (wire column, decoded column)} from the value table of docs/wire-hypha.md."""
    text = (ROOT / "docs" / "wire-hypha.md").read_text()
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\| `([a-z_]+)` \|(.*)$", line)   # row names are lower case
        if m:
            cells = [c.strip() for c in m.group(2).rstrip("|").split(" | ")]
            rows[m.group(1)] = cells
    return rows


def test_value_table_has_every_row_of_spec():
    assert list(_value_table()) == [row.name for row in spec.ROWS]


@pytest.mark.parametrize("row", [r for r in spec.ROWS if r.rtype not in (None, "<any>")],
                         ids=lambda r: r.name)
def test_value_table_keys_in_emitted_order(row):
    wire = _value_table()[row.name][1]
    assert wire.startswith(f'`{{{spec.RTYPE}: "{row.rtype}"')
    keys = re.findall(r"(_r[a-z]+)", wire)
    assert tuple(keys) == row.keys


def test_constants_quoted_in_wire_page():
    text = (ROOT / "docs" / "wire-hypha.md").read_text()
    for name in ("CHUNK_SIZE", "CHUNK_MARGIN", "MAX_IN_FLIGHT"):
        assert f"| `{name}` | {getattr(spec, name)} " in text, name
    for dtype in spec.TYPEDARRAY_DTYPES:
        assert dtype in text
    assert all(f"`{key}`" in text for key in TRUSTED_KEYS)


_LINK = re.compile(r"\]\(([^)#]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_links_resolve_inside_the_repository(page):
    for target in _LINK.findall(page.read_text()):
        if re.match(r"[a-z]+://", target):
            continue
        path = (page.parent / target).resolve()
        assert ROOT in path.parents, f"{page.name} links outside the repository: {target}"
        assert path.exists(), f"{page.name} links to a missing file: {target}"
