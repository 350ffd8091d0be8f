"""What a batched execute returns: BatchOutcome per batch, BatchResult per run, in input order."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import MissingDependency
from .errors import BatchError


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
        """One row per input record: its outputs (empty where its batch failed)."""
        try:
            import pandas as pd
        except ImportError:
            raise MissingDependency("BatchResult.to_pandas()", "pandas",
                                    'pip install "polycodec[pandas]"') from None
        return pd.DataFrame([o if isinstance(o, dict) else {} for o in self.outputs])

    def __repr__(self):
        return (f"BatchResult(records={len(self)}, batches={len(self.batches)}, "
                f"failed={len(self.failed)}, seconds={self.seconds:.3f})")
