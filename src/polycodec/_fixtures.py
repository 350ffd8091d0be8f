"""pytest fixtures in a module that imports pytest only when pytest looks them up.

The emulators' test helpers (spawners, API keys) must import without pytest, which is only a
test extra; pytest finds fixtures through `dir(module)` and `getattr`, so a module-level
`__getattr__`/`__dir__` (PEP 562) can build each fixture on first use.
"""
from __future__ import annotations


def lazy_fixtures(namespace: dict, **fixtures):
    """`fixtures`: name=(function, pytest.fixture keyword arguments). Returns the module's
    `(__getattr__, __dir__)`."""

    def __getattr__(name):
        if name not in fixtures:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        import pytest

        function, options = fixtures[name]
        namespace[name] = fixture = pytest.fixture(function, name=name, **options)
        return fixture

    def __dir__():
        return sorted({*namespace, *fixtures})

    return __getattr__, __dir__
