"""The error tree of polycodec.errors: one root, one base per layer, old built-in bases kept."""
from __future__ import annotations

import pytest

import polycodec
from polycodec import DecodeError, EncodeError, PolycodecError, Problem, RemoteError
from polycodec.backends import (BackendClient, BackendHTTPError, BackendsError, CellError,
                                PayloadError, ResponseTooLarge, RunCell)
from polycodec.hybrid import BatchError, HybridApiError, HybridError, HybridSdkError
from polycodec.hypha.envelope import BrokenFrame
from polycodec.sockets import (CustomSocket, MethodNotAllowedError, SocketsError,
                               SocketsHTTPError, SocketValidationError)

# class -> (its layer base, the built-in bases it had before the tree existed)
TREE = {
    EncodeError: (PolycodecError, (ValueError,)),
    DecodeError: (PolycodecError, (ValueError,)),
    BrokenFrame: (DecodeError, (ValueError,)),
    RemoteError: (PolycodecError, ()),
    HybridSdkError: (HybridError, (ValueError,)),
    HybridApiError: (HybridError, ()),
    BatchError: (HybridError, ()),
    SocketValidationError: (SocketsError, (ValueError,)),
    MethodNotAllowedError: (SocketsError, (ValueError,)),
    SocketsHTTPError: (SocketsError, ()),
    PayloadError: (BackendsError, (ValueError,)),
    ResponseTooLarge: (BackendsError, (ValueError,)),
    BackendHTTPError: (BackendsError, ()),
    CellError: (BackendsError, (RuntimeError,)),
}


@pytest.mark.parametrize("cls", list(TREE), ids=lambda c: c.__name__)
def test_every_error_sits_in_the_tree_and_keeps_its_builtin_base(cls):
    base, builtins = TREE[cls]
    assert issubclass(cls, base) and issubclass(cls, PolycodecError)
    for builtin in builtins:
        assert issubclass(cls, builtin)


@pytest.mark.parametrize("base", [HybridError, SocketsError, BackendsError])
def test_layer_bases_are_distinct_children_of_the_root(base):
    assert base.__bases__ == (PolycodecError,)
    others = {HybridError, SocketsError, BackendsError} - {base}
    assert not any(issubclass(base, o) for o in others)


def test_the_docstring_draws_every_class():
    doc = polycodec.errors.__doc__
    for cls in [PolycodecError, *TREE, HybridError, SocketsError, BackendsError]:
        assert cls.__name__ in doc


def test_raised_errors_are_caught_by_old_and_new_clauses():
    with pytest.raises(ValueError):
        polycodec.unpackb(b"\xc1")
    with pytest.raises(PolycodecError) as info:
        polycodec.unpackb(b"\xc1")
    assert isinstance(info.value, DecodeError) and info.value.offset == 0
    with pytest.raises(SocketsError) as info:
        CustomSocket("s").validate()
    assert isinstance(info.value, (SocketValidationError, ValueError))
    with pytest.raises(BackendsError):
        BackendClient("ftp://x", "pyrun_backend", "0.1.0")


def test_status_is_the_one_name_and_status_code_its_alias():
    sockets = SocketsHTTPError(404, "GET", "http://h/x", {"detail": "gone"})
    assert sockets.status == sockets.status_code == 404 and sockets.detail == "gone"
    assert BackendHTTPError(502, "bad gateway", url="http://h").status == 502
    assert HybridApiError("down", status=503).status == 503
    assert HybridApiError("unreachable").status is None


def test_problem_lists_are_problems_everywhere():
    p = Problem("$.x", "missing")
    assert p == ("$.x", "missing") and str(p) == "$.x: missing"
    assert p.to_dict() == {"path": "$.x", "message": "missing"}
    assert polycodec.sockets.Problem is Problem
    with pytest.raises(PayloadError) as info:
        RunCell("c", 5).to_payload()
    assert info.value.problems and all(type(q) is Problem for q in info.value.problems)
    assert info.value.problems[0].path == "$.code"
    with pytest.raises(PayloadError) as info:
        BackendClient("ftp://x", "bad name", "1", partition=" p")
    assert [q.path for q in info.value.problems] == ["name", "version", "partition", "base_url"]
    assert all(type(q) is Problem for q in info.value.problems)
    with pytest.raises(SocketValidationError) as info:
        CustomSocket("s").validate()
    assert all(type(q) is Problem for q in info.value.problems)


def test_root_and_problem_are_exported():
    assert {"PolycodecError", "Problem"} <= set(polycodec.__all__)
    assert "SocketsError" in polycodec.sockets.__all__
    assert "BackendsError" in polycodec.backends.__all__
    assert "HybridError" in polycodec.hybrid.__all__
