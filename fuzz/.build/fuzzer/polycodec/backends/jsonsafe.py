"""Turn captured values (numpy arrays and scalars included) into JSON-safe plain values.

Arrays go through `ndarray.tolist()` (one C-level pass) after one vectorised finiteness check;
only object arrays are walked element by element. JSON has no NaN or infinity: the policy is
explicit, `"error"` (default, the error names the first offending index) or `"null"`.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import PayloadError
from .spec import MAX_DEPTH, NONFINITE_POLICIES

_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what orjson (the serialiser used here) accepts


def to_json_safe(value, *, nonfinite="error", max_depth=MAX_DEPTH, path="$"):
    """A copy of `value` made of dict/list/str/int/float/bool/None only.

    Raises PayloadError naming the path of the first value that has no JSON form.
    """
    if nonfinite not in NONFINITE_POLICIES:
        raise ValueError(f"nonfinite must be one of {NONFINITE_POLICIES}, not {nonfinite!r}")
    return _convert(value, nonfinite, max_depth, path)


def _fail(path, message):
    raise PayloadError([(path, message)])


def _convert(v, policy, depth, path):
    if v is None or v is True or v is False or type(v) is str:
        return v
    if isinstance(v, (np.ndarray, np.generic)):
        return _array(np.asarray(v), policy, depth, path)
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        if not _INT_MIN <= v <= _INT_MAX:
            _fail(path, f"integer {v} is outside the 64-bit range JSON peers can read")
        return int(v)
    if isinstance(v, float):
        if math.isfinite(v):
            return float(v)
        if policy == "null":
            return None
        _fail(path, f"{v!r} has no JSON form (use nonfinite='null' to send null)")
    if isinstance(v, str):
        return str(v)
    if depth <= 0:
        _fail(path, "nesting is deeper than max_depth")
    if isinstance(v, (list, tuple)):
        return [_convert(x, policy, depth - 1, f"{path}[{i}]") for i, x in enumerate(v)]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                _fail(path, f"key {k!r} is not a string (JSON object keys are strings)")
            out[str(k)] = _convert(x, policy, depth - 1, f"{path}[{k!r}]")
        return out
    _fail(path, f"a value of type {type(v).__name__} has no JSON form")


def _array(a, policy, depth, path):
    kind = a.dtype.kind
    if kind in "biuU":  # int64/uint64 both fit the JSON range; tolist() gives exact ints
        return a.tolist()
    if kind == "f":
        finite = np.isfinite(a)
        if finite.all():
            return a.tolist()
        if policy == "null":
            obj = a.astype(object)
            obj[~finite] = None
            return obj.tolist()
        bad = tuple(int(i) for i in np.argwhere(~finite)[0])
        where = path + "".join(f"[{i}]" for i in bad)
        _fail(where, f"{float(a[bad])!r} has no JSON form (use nonfinite='null' to send null)")
    if kind == "O":
        if depth <= 0:
            _fail(path, "nesting is deeper than max_depth")
        if a.ndim == 0:
            return _convert(a.item(), policy, depth - 1, path)
        # rows of an n-d object array are object arrays again: _convert recurses into them
        return [_convert(x, policy, depth - 1, f"{path}[{i}]") for i, x in enumerate(a)]
    names = {"c": "complex", "M": "datetime64", "m": "timedelta64", "S": "bytes",
             "V": "structured/void"}
    _fail(path, f"a numpy array of {names.get(kind, kind)} dtype {a.dtype} has no JSON form; "
                "convert it first")

