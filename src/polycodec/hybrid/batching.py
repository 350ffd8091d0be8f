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
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from . import bodies, gcpause, tables
from . import uri as _uri
from ..errors import require_bool
from .errors import BatchError, HybridApiError, HybridSdkError
from .results import BatchOutcome, BatchResult, RecordResult  # noqa: F401 - the public names
from .sources import SourceError, make_source
from .transport import encode_body, executor_transport


# ---- one batch ----------------------------------------------------------------------------
@dataclass
class BatchTask:
    """Everything an executor (thread, process, dask) needs to run one batch. Picklable."""

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
    """Entry point for executor= runs: a pooled client per executor process."""
    return run_batch(executor_transport(task.config, task.local), task)


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
    require_bool("pause_gc", pause_gc, HybridSdkError)
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
    require_bool("raise_on_error", raise_on_error, HybridSdkError)
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
    require_bool("raise_on_error", raise_on_error, HybridSdkError)
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
