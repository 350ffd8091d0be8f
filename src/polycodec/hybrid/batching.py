"""Execute batching: many records -> v4 batches, bounded concurrency, in-order merge.

Input forms (`inputs`):
  list of dicts (records) | table `[[header...], [row...], ...]` | dict of columns (lists or
  1-D numpy arrays) | numpy structured array | 2-D numpy array with `columns=[...]` |
  pandas DataFrame | any iterator of dicts (streamed; pass `total=` for a progress bar).
Each batch is encoded once, in table form by default (`form="records"` for a list of dicts per
batch). Batches run on `concurrency` threads over one pooled connection set, or on any
`concurrent.futures.Executor` / dask `distributed.Client` given as `executor=`. At most `window`
(default 2 x concurrency) batches are in flight or waiting to be merged, so an iterator input is
held in memory only `window x batch_size` records at a time.
The result has exactly one entry per input record, in input order: its outputs, or the error
of the batch that carried it (after retries). Nothing is dropped or duplicated.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import os
from operator import itemgetter
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import orjson

from . import bodies, gcpause, tables
from . import uri as _uri
from ..errors import EncodeError
from .errors import BatchError, HybridApiError, HybridSdkError
from .transport import encode_body, worker_transport

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

FORMS = ("table", "records")


# ---- results ------------------------------------------------------------------------------
@dataclass
class BatchOutcome:
    """One batch: records [start, start + count). `error` is None when it succeeded."""

    index: int
    start: int
    count: int
    outputs: Optional[list] = None
    warnings: Optional[list] = None
    errors: Optional[list] = None          # the runner's per-record errors (e.g. validation)
    process_time: Optional[list] = None
    error: Optional[dict] = None           # the batch failed: status, message, attempts
    attempts: int = 0
    seconds: float = 0.0
    meta: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RecordResult:
    index: int
    outputs: Any
    error: Optional[dict]
    warnings: Any = None
    service_errors: Any = None

    @property
    def ok(self):
        return self.error is None


class BatchResult:
    """Per input record, in input order: `outputs[i]` (None if failed) and `errors[i]`
    (None if it succeeded, else the failed batch's error dict)."""

    def __init__(self):
        self.outputs: list = []
        self.errors: list = []
        self.warnings: list = []
        self.service_errors: list = []
        self.process_time: list = []
        self.batches: list = []             # BatchOutcome without the per-record lists
        self.seconds = 0.0

    def add(self, outcome: BatchOutcome):
        n = outcome.count
        if outcome.ok:
            self.outputs.extend(outcome.outputs)
            self.errors.extend([None] * n)
            for name, values in (("warnings", outcome.warnings), ("service_errors", outcome.errors),
                                 ("process_time", outcome.process_time)):
                getattr(self, name).extend(values if values is not None and len(values) == n
                                           else [None] * n)
        else:
            self.outputs.extend([None] * n)
            self.errors.extend([outcome.error] * n)
            for name in ("warnings", "service_errors", "process_time"):
                getattr(self, name).extend([None] * n)
        self.batches.append(BatchOutcome(outcome.index, outcome.start, n, error=outcome.error,
                                         attempts=outcome.attempts, seconds=outcome.seconds))

    def __len__(self):
        return len(self.outputs)

    def __iter__(self):
        for i, (out, err) in enumerate(zip(self.outputs, self.errors)):
            yield RecordResult(i, out, err, self.warnings[i], self.service_errors[i])

    def __getitem__(self, i):
        return RecordResult(i, self.outputs[i], self.errors[i], self.warnings[i],
                            self.service_errors[i])

    @property
    def ok(self) -> bool:
        return all(b.ok for b in self.batches)

    @property
    def failed(self) -> list:
        """Indexes of the input records whose batch failed."""
        return [i for i, e in enumerate(self.errors) if e is not None]

    @property
    def attempts(self) -> int:
        return sum(b.attempts for b in self.batches)

    @property
    def data(self) -> dict:
        """The merged v4-like response: `{outputs, process_time, warnings, errors, ...}`."""
        return {"outputs": self.outputs, "process_time": self.process_time,
                "warnings": self.warnings, "errors": self.service_errors,
                "failures": self.errors}

    def raise_for_errors(self):
        if not self.ok:
            first = next(b for b in self.batches if not b.ok)
            raise BatchError(f"{len(self.failed)} of {len(self)} records failed; first: "
                             f"{first.error.get('message')}", result=self, error=first.error)
        return self

    def to_pandas(self):
        import pandas as pd
        return pd.DataFrame([o if isinstance(o, dict) else {} for o in self.outputs])

    def __repr__(self):
        return (f"BatchResult(records={len(self)}, batches={len(self.batches)}, "
                f"failed={len(self.failed)}, seconds={self.seconds:.3f})")


# ---- input sources: yield (start, count, inputs_json_bytes) --------------------------------
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


# ---- one batch ----------------------------------------------------------------------------
@dataclass
class BatchTask:
    """Everything a worker (thread, process, dask) needs to run one batch. Picklable."""

    index: int
    start: int
    count: int
    url: str
    body: bytes
    headers: dict
    config: Any
    error: Optional[dict] = None      # the batch could not be encoded: nothing is sent
    local: Optional[tuple] = None     # (pid, id) of the client's transport (executor= runs)


def _body(inputs_json: bytes, meta_json: bytes) -> bytes:
    if meta_json == b"{}":
        return b'{"inputs":' + inputs_json + b"}"
    return b'{"inputs":' + inputs_json + b"," + meta_json[1:]


def _table_outputs(outputs, count):
    """Runners may answer a table-form request with table-form outputs: turn into records."""
    if (isinstance(outputs, list) and len(outputs) == count + 1 and count > 0
            and isinstance(outputs[0], list) and all(isinstance(h, str) for h in outputs[0])
            and all(isinstance(r, list) for r in outputs[1:])):
        head = outputs[0]
        return [dict(zip(head, r)) for r in outputs[1:]]
    return outputs


def _outcome(task: BatchTask, response=None, exc=None, t0=0.0) -> BatchOutcome:
    out = BatchOutcome(task.index, task.start, task.count, seconds=time.perf_counter() - t0)
    if task.error is not None:
        out.error = task.error
        return out
    if exc is not None:
        out.error = _error_dict(exc, task)
        out.attempts = getattr(exc, "attempts", 1)
        return out
    out.attempts = response.attempts
    data = response.data
    outputs = _table_outputs(data.get("outputs"), task.count) if isinstance(data, dict) else None
    if not isinstance(outputs, list) or len(outputs) != task.count:
        got = len(outputs) if isinstance(outputs, list) else type(outputs).__name__
        out.error = {"status": response.status, "message": f"runner returned {got} outputs "
                     f"for {task.count} inputs", "batch": task.index, "attempts": out.attempts}
        return out
    out.outputs = outputs
    for name in ("warnings", "errors", "process_time"):
        setattr(out, name, data.get(name))
    out.meta = {k: v for k, v in data.items() if k not in tables.V4_PER_RECORD}
    return out


def _error_dict(exc, task, kind=None):
    if isinstance(exc, HybridApiError):
        d = exc.to_dict()
    else:
        d = {"status": None, "message": f"{type(exc).__name__}: {exc}"}
    if kind is not None:
        d["kind"] = kind
    d["batch"] = task.index
    return d


def run_batch(transport, task: BatchTask) -> BatchOutcome:
    t0 = time.perf_counter()
    if task.error is not None:
        return _outcome(task, t0=t0)
    try:
        request = transport.build("POST", task.url, content=task.body, headers=task.headers)
        response = transport.send(request)
    except Exception as exc:      # every failure becomes this batch's error, never a lost record
        return _outcome(task, exc=exc, t0=t0)
    return _outcome(task, response=response, t0=t0)


def run_batch_task(task: BatchTask) -> BatchOutcome:
    """Entry point for executor= workers: a pooled client per worker process."""
    return run_batch(worker_transport(task.config, task.local), task)


async def arun_batch(transport, task: BatchTask) -> BatchOutcome:
    t0 = time.perf_counter()
    if task.error is not None:
        return _outcome(task, t0=t0)
    try:
        request = transport.build("POST", task.url, content=task.body, headers=task.headers)
        response = await transport.send(request)
    except Exception as exc:
        return _outcome(task, exc=exc, t0=t0)
    return _outcome(task, response=response, t0=t0)


# ---- planning -----------------------------------------------------------------------------
def _plan(services, uri, inputs, *, batch_size=None, concurrency=None, form=None, encoding=None,
          columns=None, total=None, window=None, nan=None, lost_options=None, extras=None,
          pause_gc=None, **options):
    batch_size = tables.DEFAULT_BATCH_SIZE if batch_size is None else batch_size
    concurrency = tables.DEFAULT_CONCURRENCY if concurrency is None else concurrency
    for name, value in (("batch_size", batch_size), ("concurrency", concurrency)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise HybridSdkError(f"{name} must be a positive integer, got {value!r}")
    window = 2 * concurrency if window is None else window
    if isinstance(window, bool) or not isinstance(window, int) or window < concurrency:
        raise HybridSdkError(f"window must be an integer >= concurrency, got {window!r}")
    config = services.config
    pause_gc = config.pause_gc if pause_gc is None else pause_gc
    if not isinstance(pause_gc, bool):
        raise HybridSdkError(f"pause_gc must be True or False, not {pause_gc!r}")
    params = _uri.validate(uri)
    if params.proxy:
        raise HybridSdkError("a proxy URI cannot be batched (a v4 body has no locator for it)")
    opts = services._options(options)
    services.check_lost(opts, lost_options)
    meta = {**bodies.v4_meta(params, opts), **(extras or {})}
    nan = bodies.check_nan_policy(nan or config.nan)
    meta_json = bodies.dumps(meta, nan=nan)
    url = config.base_url + _uri.v4_path(params, config.tenant)
    _, headers = encode_body(b"", encoding, config.compress_level)
    n, source = make_source(inputs, batch_size, form or "table", nan, columns, total,
                            capture=True)

    def tasks():
        index = 0
        while True:
            with gcpause.paused(pause_gc):   # rows/tuples built per batch hold no cycles
                item = next(source, None)
                if item is None:
                    return
                start, count, inputs_json = item
                if isinstance(inputs_json, Exception):
                    task = BatchTask(index, start, count, url, b"", headers, config)
                    task.error = _error_dict(inputs_json, task, "encode")
                    task.error["attempts"] = 0
                else:
                    body, _ = encode_body(_body(inputs_json, meta_json), encoding,
                                          config.compress_level)
                    task = BatchTask(index, start, count, url, body, headers, config)
            yield task
            index += 1
    return n, tasks(), concurrency, window


class _Progress:
    def __init__(self, progress, total):
        self.callback, self.bar, self.done = None, None, 0
        if progress is True or progress == "tqdm":
            try:
                from tqdm.auto import tqdm
            except ImportError as exc:
                raise HybridSdkError("progress=True needs tqdm (pip install tqdm)") from exc
            self.bar = tqdm(total=total, unit="rec", desc="hybrid execute")
        elif callable(progress):
            self.callback = progress
        elif progress not in (None, False):
            raise HybridSdkError("progress must be True, 'tqdm' or a callable(done, total)")
        self.total = total

    def update(self, outcome):
        self.done += outcome.count
        if self.bar is not None:
            self.bar.update(outcome.count)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _check_pool(transport, concurrency):
    """More concurrent batches than pooled connections would only queue inside httpx (and
    time out there): refused. A caller's own http_client brings its own limits (not checked)."""
    limit = transport.config.max_connections
    if transport.owned and concurrency > limit:
        raise HybridSdkError(f"concurrency={concurrency} exceeds the client's connection pool "
                             f"(max_connections={limit}); pass Client(max_connections="
                             f"{concurrency}) or a lower concurrency")


def _executor_of(executor):
    """A concurrent.futures.Executor, or a dask distributed.Client (its executor view)."""
    if executor is None or hasattr(executor, "submit") and not hasattr(executor, "get_executor"):
        return executor
    return executor.get_executor(pure=False)


# ---- sync driver --------------------------------------------------------------------------
_CANCELLED = tuple({concurrent.futures.CancelledError, asyncio.CancelledError})


def _future_failed(task, exc) -> BatchOutcome:
    """The executor could not run the batch (BrokenProcessPool, dask KilledWorker, a cancelled
    future, a pickling error): that batch's error, its records accounted for."""
    return _outcome(task, exc=exc)


def _raise_for(outcome):
    raise BatchError(f"batch {outcome.index} (records {outcome.start}.."
                     f"{outcome.start + outcome.count - 1}) failed: "
                     f"{outcome.error.get('message')}", error=outcome.error)


def _refill(tasks, pending, window, start):
    """Start tasks until `window` are pending or the input ends. Returns the SourceError that
    ended the caller's input, if any (no task is started after it)."""
    while len(pending) < window:
        try:
            task = next(tasks, None)
        except SourceError as err:
            return err
        if task is None:
            return None
        pending.append(start(task))
    return None


def _source_failed(err: SourceError):
    raise BatchError(str(err), error={"status": None, "message": str(err), "kind": "source",
                                      "start": err.start}) from err.cause


def iter_batches(services, uri, inputs, *, executor=None, raise_on_error=False, progress=None,
                 **options) -> Iterator[BatchOutcome]:
    """BatchOutcome per batch, in input order, while later batches are still running.

    A batch that cannot be encoded or whose executor future fails is yielded as a failed
    outcome; if the inputs iterator itself raises, the batches already read are finished and
    yielded first, then BatchError is raised (from the iterator's exception)."""
    n, tasks, concurrency, window = _plan(services, uri, inputs, **options)
    transport = services._transport
    if executor is None:
        _check_pool(transport, concurrency)
    bar = _Progress(progress, n)
    if executor is not None:
        pool, own = _executor_of(executor), False
        local = (os.getpid(), id(transport))       # registered when the transport was made

        def submit(task):
            task.local = local
            return pool.submit(run_batch_task, task)
    else:
        pool, own = ThreadPoolExecutor(concurrency, thread_name_prefix="hybrid-batch"), True
        submit = lambda t: pool.submit(run_batch, transport, t)   # noqa: E731
    def start(task):
        stub = BatchTask(task.index, task.start, task.count, task.url, b"", {}, None)
        try:
            return stub, submit(task)
        except Exception as exc:                   # e.g. a shut-down executor
            return stub, exc

    pending: deque = deque()
    failed_source = None
    try:
        while True:
            if failed_source is None:
                failed_source = _refill(tasks, pending, window, start)
            if not pending:
                if failed_source is not None:
                    _source_failed(failed_source)
                return
            stub, fut = pending.popleft()
            if isinstance(fut, BaseException):
                outcome = _future_failed(stub, fut)
            else:
                try:
                    outcome = fut.result()
                except (Exception, *_CANCELLED) as exc:
                    outcome = _future_failed(stub, exc)
            bar.update(outcome)
            if raise_on_error and not outcome.ok:
                _raise_for(outcome)
            yield outcome
    finally:
        for _, fut in pending:
            if not isinstance(fut, BaseException):
                fut.cancel()
        bar.close()
        if own:
            pool.shutdown(wait=True, cancel_futures=True)


def execute_batches(services, uri, inputs, *, raise_on_error=False, **options) -> BatchResult:
    result = BatchResult()
    t0 = time.perf_counter()
    try:
        for outcome in iter_batches(services, uri, inputs, raise_on_error=raise_on_error,
                                    **options):
            result.add(outcome)
    except BatchError as err:
        result.seconds = time.perf_counter() - t0
        err.result = result
        raise
    result.seconds = time.perf_counter() - t0
    return result


# ---- async driver -------------------------------------------------------------------------
async def aiter_batches(services, uri, inputs, *, raise_on_error=False, progress=None,
                        executor=None, **options):
    if executor is not None:
        raise HybridSdkError("executor= is for the sync client; the async client runs batches "
                             "on its event loop")
    n, tasks, concurrency, window = _plan(services, uri, inputs, **options)
    transport = services._transport
    _check_pool(transport, concurrency)
    bar = _Progress(progress, n)
    gate = asyncio.Semaphore(concurrency)

    async def one(task):
        async with gate:
            return await arun_batch(transport, task)

    pending: deque = deque()
    failed_source = None
    try:
        while True:
            if failed_source is None:
                failed_source = _refill(tasks, pending, window,
                                        lambda task: asyncio.ensure_future(one(task)))
            if not pending:
                if failed_source is not None:
                    _source_failed(failed_source)
                return
            outcome = await pending.popleft()
            bar.update(outcome)
            if raise_on_error and not outcome.ok:
                _raise_for(outcome)
            yield outcome
    finally:
        for fut in pending:
            fut.cancel()
        bar.close()


async def aexecute_batches(services, uri, inputs, **options) -> BatchResult:
    result = BatchResult()
    t0 = time.perf_counter()
    try:
        async for outcome in aiter_batches(services, uri, inputs, **options):
            result.add(outcome)
    except BatchError as err:
        result.seconds = time.perf_counter() - t0
        err.result = result
        raise
    result.seconds = time.perf_counter() - t0
    return result
