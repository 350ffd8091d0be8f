"""The exported names: `__all__` is what each package exposes, every exported name exists and
is documented, the core's stub lists the same names, and both core implementations have the
same signatures for every public function and class."""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import polycodec
from polycodec import fallback

from .conftest import REQUIRE_EXT

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "polycodec"
PACKAGES = ["polycodec", "polycodec.hypha", "polycodec.hybrid", "polycodec.sockets",
            "polycodec.backends"]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _public(obj):
    return [n for n in dir(obj) if not n.startswith("_")]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_once(name):
    pkg = importlib.import_module(name)
    assert len(set(pkg.__all__)) == len(pkg.__all__), "a name is listed twice"
    missing = [n for n in pkg.__all__ if not hasattr(pkg, n)]
    assert not missing, f"{name}.__all__ lists names it does not have: {missing}"


@pytest.mark.parametrize("name", PACKAGES)
def test_dir_shows_only_the_api_and_subpackages(name):
    """No helper imports (`os`, `annotations`, ...) leak into the namespace."""
    pkg = importlib.import_module(name)
    children = {m.name for m in pkgutil.iter_modules(pkg.__path__)}
    stray = [n for n in _public(pkg) if n not in pkg.__all__ and n not in children]
    assert not stray, f"{name} exposes names outside __all__: {stray}"


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_is_documented(name):
    """Each name appears in code style (`name`, `pkg.name`, `name(...)`) in README.md or docs/."""
    pkg = importlib.import_module(name)
    text = "".join(page.read_text() for page in DOCS)
    undocumented = [n for n in pkg.__all__ if not re.search(rf"`[^`]*\b{n}\b", text)]
    assert not undocumented, f"{name}: not in README.md or docs/: {undocumented}"


def _stub_all(path):
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "__all__":
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} has no __all__")


def _stub(name):
    return SRC.joinpath(*name.split(".")[1:], "__init__.pyi")


STUBBED = [name for name in PACKAGES if _stub(name).exists()]


def test_core_has_a_stub():
    assert "polycodec" in STUBBED


@pytest.mark.parametrize("name", STUBBED)
def test_stub_lists_the_same_names(name):
    assert _stub_all(_stub(name)) == importlib.import_module(name).__all__


@pytest.mark.parametrize("name", STUBBED)
def test_stub_declares_every_name(name):
    """Each name of a stub's __all__ is imported or defined in the stub."""
    stub = _stub(name)
    assert set(_stub_all(stub)) <= _declared(stub)


def _declared(stub):
    """Names a stub re-exports (`import x as x`) or defines; a star import brings the other
    stub's public ones."""
    declared = set()
    for node in ast.parse(stub.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            if node.names[0].name == "*":
                other = stub.parent / f"{node.module}.pyi"
                declared |= {n for n in _declared(other) if not n.startswith("_")}
            declared |= {a.asname for a in node.names if a.asname == a.name}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            declared.add(node.name)
        elif isinstance(node, (ast.AnnAssign, ast.Assign)):
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            declared.add(getattr(target, "id", ""))
    return declared


def test_package_ships_its_typing_marker():
    assert (SRC / "py.typed").is_file()


# ------------------------------------------------------------ both implementations agree
# modules both implementations share: what comes from them is one object for both
SHARED = {"polycodec.errors", "polycodec.codecs", "polycodec._common", "polycodec.spec"}


def _impl_names():
    """Names of __all__ that each implementation provides on its own."""
    return [n for n in polycodec.__all__ if n != "IMPLEMENTATION" and hasattr(fallback, n)
            and getattr(getattr(fallback, n), "__module__", None) not in SHARED]


def _members(obj):
    """(qualified name, callable) for obj and, for a class, its public methods (the class's
    own signature is its constructor's)."""
    yield "", obj
    if inspect.isclass(obj):
        for n in _public(obj):
            member = inspect.getattr_static(obj, n)
            if callable(member) or isinstance(member, (staticmethod, classmethod)):
                yield f".{n}", getattr(obj, n)


@pytest.fixture(scope="module")
def compiled():
    impls = polycodec.implementations()
    if "cython" not in impls:
        if REQUIRE_EXT:
            pytest.fail("the compiled core is not built (POLYCODEC_REQUIRE_EXT=1)")
        pytest.skip("compiled core not built")
    return impls["cython"]


def test_impl_names_cover_the_core_api():
    assert {"packb", "pack_segments", "unpackb", "unpack_from", "skip", "encode", "decode",
            "chunks", "Reassembler"} <= set(_impl_names())


class _Shown:
    """A default as a signature text writes it: a type by its name (`dict_type=dict`)."""

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return self.value.__name__ if isinstance(self.value, type) else repr(self.value)


def _signature(obj):
    """The signature as text. A compiled class's comes from its docstring's first line (what
    `__text_signature__` reads); inspect cannot build one whose defaults are not literals."""
    try:
        sig = inspect.signature(obj)
    except ValueError:
        text = getattr(obj, "__text_signature__", None)
        assert text, f"{obj!r} has no introspectable signature"
        return text
    params = [p.replace(default=_Shown(p.default)) if p.default is not p.empty else p
              for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=sig.empty))


@pytest.mark.parametrize("name", _impl_names())
def test_implementations_have_identical_signatures(name, compiled):
    assert hasattr(compiled, name), f"polycodec._compiled lacks {name}"
    ours = dict(_members(getattr(fallback, name)))
    theirs = dict(_members(getattr(compiled, name)))
    assert sorted(theirs) == sorted(ours), f"{name}: public members differ"
    for member, fn in ours.items():
        assert _signature(theirs[member]) == _signature(fn), f"{name}{member}"


@pytest.mark.parametrize("name", _impl_names())
def test_exported_object_is_the_chosen_implementation(name):
    chosen = polycodec.implementations()[polycodec.IMPLEMENTATION]
    assert getattr(polycodec, name) is getattr(chosen, name)
