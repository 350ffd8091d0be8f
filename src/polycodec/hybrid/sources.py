"""Inputs of a batched execute -> encoded batches: `make_source` yields (start, count, the
batch's inputs as JSON bytes) for records, tables, columns, arrays, DataFrames and iterators."""
from __future__ import annotations

import itertools
from operator import itemgetter
from typing import Iterator

import orjson

from . import bodies
from ..errors import EncodeError
from .errors import HybridSdkError

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

FORMS = ("table", "records")


def _is_dataframe(obj):
    return hasattr(obj, "columns") and hasattr(obj, "dtypes") and hasattr(obj, "iloc")


def _batches_of(seq, size):
    for start in range(0, len(seq), size):
        yield start, seq[start:start + size]


def _check_dicts(recs, start):
    if set(map(type, recs)) != {dict}:
        bad = next((i for i, r in enumerate(recs) if not isinstance(r, dict)), None)
        if bad is not None:
            raise HybridSdkError(f"inputs[{start + bad}] is a {type(recs[bad]).__name__}; "
                                 "a list of records must hold dicts only")


def _table_rows(recs):
    """Records with the same keys -> [header, *rows] (values in header order whatever each
    record's own key order), or None for ragged keys or non-dict records. One C-level pass
    (itemgetter); the key-count check makes "every header key present" mean "same keys"."""
    first = recs[0]
    # every record a plain dict: itemgetter on a defaultdict (or any __missing__ mapping)
    # would insert the missing keys into the caller's record
    if not first or set(map(type, recs)) != {dict}:
        return None
    header = tuple(first)
    try:
        if len(header) > 1:
            rows = list(map(itemgetter(*header), recs))
        else:
            key = header[0]
            rows = [(r[key],) for r in recs]
        if set(map(len, recs)) != {len(header)}:
            return None
    except KeyError:                                   # plain dicts: the only failure
        return None
    rows.insert(0, header)
    return rows


def _records_batch(recs, start, form, nan):
    try:
        if form == "table":
            table = _table_rows(recs)
            if table is not None:
                return bodies.dumps(table, nan=nan)
        _check_dicts(recs, start)
        return bodies.dumps(recs, nan=nan)                     # ragged keys: records form
    except EncodeError:
        for i, rec in enumerate(recs):                         # name the record and field
            where = bodies.find_nonfinite(rec, f"$.inputs[{start + i}]")
            if where is not None:
                raise bodies._nan_error(where) from None
        raise


def _table_batch(header, rows, start, form, nan):
    lengths = set(map(len, rows))
    if lengths - {len(header)}:
        bad = next(i for i, r in enumerate(rows) if len(r) != len(header))
        raise HybridSdkError(f"table row {start + bad + 1} has {len(rows[bad])} values, the "
                             f"header has {len(header)}")
    if form == "records":
        return bodies.dumps([dict(zip(header, r)) for r in rows], nan=nan)
    table = [header]
    table.extend(rows)
    try:
        return bodies.dumps(table, nan=nan)
    except EncodeError:
        for i, row in enumerate(rows):                         # name the row (1 = first data row)
            where = bodies.find_nonfinite(list(row), f"$.inputs[{start + i + 1}]")
            if where is not None:
                raise bodies._nan_error(where) from None
        raise


def _columns_batch(names, cols, start, stop, form, nan):
    """Columns -> one batch's inputs JSON. Numeric numpy columns are NaN-checked vectorised;
    one dtype throughout -> one 2-D array for orjson; else tolist + zip into rows."""
    names = list(names)
    if not names:
        return b"[[]]" if form == "table" else b"[]"
    parts = [c[start:stop] for c in cols]
    pairs = [bodies.column_values(p, n, nan, start) for n, p in zip(names, parts)]
    checked = all(ok for _, ok in pairs)
    if form == "table" and checked and not (nan == "string" and _any_nonfinite(parts)):
        grid = bodies.stack_numeric(parts)     # the raw slices: only when nothing was replaced
        if grid is not None:
            return (b"[" + orjson.dumps(names) + b","
                    + orjson.dumps(grid, option=orjson.OPT_SERIALIZE_NUMPY)[1:])
    values = [v for v, _ in pairs]
    if form == "records":
        obj = [dict(zip(names, row)) for row in zip(*values)]
    else:
        obj = [names]
        obj.extend(zip(*values))
    try:
        return bodies.dumps(obj, nan="null" if checked else nan)
    except EncodeError:
        for (column, ok), name in zip(pairs, names):          # name the column and record
            if ok:
                continue
            for i, value in enumerate(column):
                if bodies.find_nonfinite(value) is not None:
                    raise bodies._nan_error(f"$.{name}[{start + i}]") from None
        raise


def _any_nonfinite(parts):
    return any(isinstance(p, np.ndarray) and p.dtype.kind == "f" and not np.isfinite(p).all()
               for p in parts)


def _as_columns(inputs, columns):
    """dict of columns / structured array / 2-D array / DataFrame -> (names, cols, n)."""
    if np is not None and isinstance(inputs, np.ndarray):
        if inputs.dtype.names:
            names = list(inputs.dtype.names)
            cols = [inputs[n] for n in names]
        elif inputs.ndim == 2:
            if columns is None or len(columns) != inputs.shape[1]:
                raise HybridSdkError("a 2-D array needs columns=[...] naming its "
                                     f"{inputs.shape[1]} columns")
            names, cols = list(columns), [inputs[:, k] for k in range(inputs.shape[1])]
        else:
            raise HybridSdkError("a numpy input must be a structured array or a 2-D array")
    elif _is_dataframe(inputs):
        names = [str(c) for c in inputs.columns]
        cols = [_frame_column(inputs.iloc[:, k]) for k in range(len(names))]
    else:
        names = [str(k) for k in inputs]
        cols = list(inputs.values())
        for n, c in zip(names, cols):
            if not (isinstance(c, (list, tuple)) or (np is not None and isinstance(c, np.ndarray))):
                raise HybridSdkError(f"column {n!r} is a {type(c).__name__}; a dict of columns "
                                     "needs lists or 1-D arrays (pass one record as a dict "
                                     "without batching options)")
    lengths = {len(c) for c in cols}
    if len(lengths) > 1:
        raise HybridSdkError("columns have different lengths: "
                             + ", ".join(f"{n}={len(c)}" for n, c in zip(names, cols)))
    return names, cols, (lengths.pop() if lengths else 0)


def _frame_column(series):
    arr = series.to_numpy()
    if arr.dtype.kind == "M":                          # datetimes as ISO strings, NaT as null
        out = np.datetime_as_string(arr).astype(object)
        out[np.isnat(arr)] = None
        return out
    return arr


class SourceError(Exception):
    """The caller's input iterator raised: no later record can be read."""

    def __init__(self, start, cause):
        super().__init__(f"the inputs iterator raised after {start} records: "
                         f"{type(cause).__name__}: {cause}")
        self.start, self.cause = start, cause


def _encoded(capture, fn, *args):
    """fn(*args); with capture=True a failure to encode this batch (NaN under nan='raise', a
    short row, a non-dict record, ...) is returned as the batch's value instead of raised."""
    if not capture:
        return fn(*args)
    try:
        return fn(*args)
    except Exception as exc:
        return exc


def make_source(inputs, batch_size, form="table", nan="raise", columns=None, total=None,
                capture=False):
    """(total records or None, iterator of (start, count, inputs JSON bytes)).

    capture=True: a batch that cannot be encoded yields its exception in place of the bytes
    (so the run reports it as that batch's error); a failing inputs iterator raises
    SourceError. capture=False: both raise as they are."""
    if form not in FORMS:
        raise HybridSdkError(f"form must be one of {FORMS}, not {form!r}")
    if isinstance(inputs, str):
        inputs = bodies.loads(inputs)
    if isinstance(inputs, tuple):
        inputs = list(inputs)
    if isinstance(inputs, list):
        if not inputs:
            return 0, iter(())
        first = inputs[0]
        if isinstance(first, (list, tuple)) and all(isinstance(h, str) for h in first):
            header, rows = list(first), inputs[1:]
            gen = ((s, len(part), _encoded(capture, _table_batch, header, part, s, form, nan))
                   for s, part in _batches_of(rows, batch_size))
            return len(rows), gen
        gen = ((s, len(part), _encoded(capture, _records_batch, part, s, form, nan))
               for s, part in _batches_of(inputs, batch_size))
        return len(inputs), gen
    if isinstance(inputs, dict) or _is_dataframe(inputs) or (
            np is not None and isinstance(inputs, np.ndarray)):
        names, cols, n = _as_columns(inputs, columns)
        gen = ((s, min(batch_size, n - s),
                _encoded(capture, _columns_batch, names, cols, s, s + batch_size, form, nan))
               for s in range(0, n, batch_size))
        return n, gen
    if hasattr(inputs, "__iter__"):
        return total, _stream(iter(inputs), batch_size, form, nan, capture)
    raise HybridSdkError(f"cannot batch inputs of type {type(inputs).__name__}")


def _stream(it: Iterator, batch_size, form, nan, capture=False):
    start = 0
    while True:
        try:
            part = list(itertools.islice(it, batch_size))   # pulled only when a slot is free
        except Exception as exc:
            if not capture:
                raise
            raise SourceError(start, exc) from exc
        if not part:
            return
        yield start, len(part), _encoded(capture, _records_batch, part, start, form, nan)
        start += len(part)
