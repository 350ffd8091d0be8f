"""No import cycles in src/polycodec, counting imports inside function bodies too.

Every module is parsed with `ast`; each `import` / `from ... import` anywhere in it (module
level, functions, methods, try blocks) is an edge, except under `if TYPE_CHECKING:`. A
package's `__init__` importing its own children is not an edge (re-exporting is what an
`__init__` is for). `from . import x` resolves to the submodule `x` when there is one.
"""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def modules(src: Path, package: str) -> dict:
    """{dotted name: (path, is_package)} of every .py file under src/package."""
    found = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (path, is_package)
    return found


def _is_type_checking(test) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported_names(node, module: str, is_package: bool) -> list:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        origin = ".".join(base + ([node.module] if node.module else []))
    else:
        origin = node.module
    return [origin] + [f"{origin}.{alias.name}" for alias in node.names]


def edges(src: Path, package: str) -> dict:
    """{module: set of modules of the package it imports}."""
    known = modules(src, package)

    def resolve(name):
        while name and name not in known:      # x.y.func -> x.y; pkg.sub -> pkg.sub
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for module, (path, is_package) in known.items():
        deps = set()

        class Visitor(ast.NodeVisitor):
            def visit_If(self, node):
                if _is_type_checking(node.test):
                    for child in node.orelse:
                        self.visit(child)
                    return
                self.generic_visit(node)

            def visit_Import(self, node):
                deps.update(filter(None, map(resolve, _imported_names(node, module,
                                                                       is_package))))

            visit_ImportFrom = visit_Import

        Visitor().visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        deps.discard(module)
        if is_package:
            deps = {d for d in deps if not d.startswith(module + ".")}
        graph[module] = deps
    return graph


def cycles(graph: dict) -> list:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_polycodec_has_no_import_cycle():
    graph = edges(SRC, "polycodec")
    assert len(graph) > 40                      # the walk really saw the package
    assert "polycodec.hybrid.transport" in graph["polycodec.hybrid.batching"]
    assert cycles(graph) == []


def _tree(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


def test_a_cycle_through_a_function_body_is_found(tmp_path):
    src = _tree(tmp_path, {
        "pkg/__init__.py": "from .a import f\n",
        "pkg/a.py": "from . import b\n\ndef f():\n    return b.g()\n",
        "pkg/b.py": "def g():\n    from .a import f   # hidden in a body: still a cycle\n"
                    "    return f\n",
    })
    assert cycles(edges(src, "pkg")) == [["pkg.a", "pkg.b"]]


def test_a_three_module_cycle_and_absolute_imports_are_found(tmp_path):
    src = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/x.py": "import pkg.sub.y\n",
        "pkg/sub/y.py": "from pkg.z import thing\n",
        "pkg/z.py": "class C:\n    def m(self):\n        from .sub import x\n",
    })
    assert cycles(edges(src, "pkg")) == [["pkg.sub.x", "pkg.sub.y", "pkg.z"]]


def test_type_checking_imports_and_init_reexports_are_not_cycles(tmp_path):
    src = _tree(tmp_path, {
        "pkg/__init__.py": "from .a import A\nfrom .b import B\n",
        "pkg/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                    "    from .b import B\nclass A: ...\n",
        "pkg/b.py": "from . import a\nfrom pkg import A\nclass B(a.A): ...\n",
    })
    graph = edges(src, "pkg")
    assert graph["pkg.a"] == set() and graph["pkg.b"] == {"pkg.a", "pkg"}
    assert cycles(graph) == []
