"""Evaluating a v3 or v4 execute body: rows from records or a table, outputs, metadata."""
from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timezone
from operator import itemgetter

from . import services
from .errors import HttpError


def rows_from_table(svc, table):
    header = table[0]
    if not isinstance(header, list) or not all(isinstance(h, str) for h in header):
        raise HttpError(400, "INVALID_INPUTS", "the first row of table inputs must be the "
                        "header (a list of input names)")
    rows = table[1:]
    width = len(header)
    # whole-batch checks at C speed; the loop below only runs to name a bad row
    if set(map(type, rows)) - {list} or set(map(len, rows)) - {width}:
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != width:
                raise HttpError(400, "INVALID_INPUTS", f"inputs row {i + 1} must be a list of "
                                f"{width} values")
    names = svc.input_names
    if header == names:
        return rows
    index = {h: i for i, h in enumerate(header)}
    if all(n in index for n in names):
        if not names:
            return [()] * len(rows)
        get = itemgetter(*[index[n] for n in names])
        return list(map(get, rows)) if len(names) > 1 else [(get(r),) for r in rows]
    picks = [index.get(n) for n in names]
    return [tuple(services.MISSING if p is None else r[p] for p in picks) for r in rows]


def rows_from_records(svc, records):
    if set(map(type, records)) - {dict}:
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise HttpError(400, "INVALID_INPUTS", f"inputs[{i}] must be an object")
    names = svc.input_names
    if len(names) > 1 and set(map(len, records)) == {len(names)}:
        try:                                   # records holding exactly the inputs: one C pass
            return list(map(itemgetter(*names), records))
        except KeyError:
            pass
    return list(map(svc.extractor(), records))


def filter_outputs(names_csv, regex):
    keep = None
    if names_csv:
        wanted = {n.strip() for n in str(names_csv).split(",") if n.strip()}
        keep = lambda k: k in wanted                    # noqa: E731
    if regex:
        try:
            pat = re.compile(regex)
        except re.error as exc:
            raise HttpError(400, "INVALID_BODY", f"requested_output_regex: {exc}") from exc
        prev = keep
        keep = (lambda k: pat.search(k) is not None) if prev is None else (
            lambda k: prev(k) and pat.search(k) is not None)
    return keep


def run(svc, rows, keep):
    t0 = time.perf_counter()
    outs, errs = svc.run_rows(rows)
    if keep is not None:
        outs = [None if o is None else {k: v for k, v in o.items() if keep(k)} for o in outs]
    if errs.count(None) == len(errs):                  # the common case: no record failed
        errors = [[]] * len(errs)
    else:
        errors = [[] if e is None else [services.error_entry(e)] for e in errs]
    ms = (time.perf_counter() - t0) * 1000
    return outs, errors, ms


def meta(svc, correlation_id=None):
    return {"service_id": svc.service_id, "version_id": svc.version_id, "version": svc.version,
            "call_id": str(uuid.uuid4()), "compiler_type": "Neuron",
            "compiler_version": "polycodec-emulator", "correlation_id": correlation_id,
            "request_timestamp": datetime.now(timezone.utc).isoformat()}
