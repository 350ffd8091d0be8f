"""pyrun_backend `POST /run` payloads: RunCell (request) and RunResult (response).

Both directions check every rule of spec.RUN_REQUEST_KEYS / RUN_RESPONSE_KEYS and report all
problems at once (PayloadError.problems), so the client and the local backend share one check.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Problem
from .errors import CellError, PayloadError
from .jsonsafe import to_json_safe
from .spec import RUN_REQUEST_KEYS, RUN_RESPONSE_KEYS, VALUE_MAX_DEPTH

_JSON_TYPE = {str: "a string", dict: "an object", list: "an array"}


def nesting(value, limit):
    """Nesting depth of dict/list containers in `value` (0 for a scalar), counted up to
    `limit + 1` at most; iterative, so a deep value cannot exhaust the Python stack."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list, tuple)):
            d += 1
            if d > limit:
                return d
            deepest = max(deepest, d)
            stack.extend((x, d) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def depth_problems(values, path):
    """Values of a {name: value} map nested deeper than VALUE_MAX_DEPTH (orjson's limit)."""
    return [Problem(f"{path}[{k!r}]", f"nested more than {VALUE_MAX_DEPTH} levels deep, the most a "
                               "/run body can carry (orjson's serialiser limit)")
            for k, v in values.items() if nesting(v, VALUE_MAX_DEPTH) > VALUE_MAX_DEPTH]


def _check_keys(payload, table, what, unknown=True):
    """Problems of `payload` against a {key: type} table (missing, wrong type, unknown)."""
    if not isinstance(payload, dict):
        return [Problem("$", f"{what} must be a JSON object, not {type(payload).__name__}")]
    problems = []
    for key, typ in table.items():
        if key not in payload:
            problems.append(Problem(f"$.{key}", "required field is missing"))
        elif not isinstance(payload[key], typ) or isinstance(payload[key], bool):
            problems.append(Problem(f"$.{key}", f"must be {_JSON_TYPE[typ]}, "
                                          f"not {type(payload[key]).__name__}"))
    for key in payload if unknown else ():
        if key not in table:
            problems.append(Problem(f"$.{key}", f"unknown field (expected {', '.join(table)})"))
    return problems


@dataclass
class RunCell:
    """One cell: run `code` with `captured_in` bound, return the names in `captured_out`."""

    cell_id: str
    code: str
    captured_in: dict = field(default_factory=dict)
    captured_out: list = field(default_factory=list)

    def problems(self):
        p = _check_keys({"cellId": self.cell_id, "code": self.code,
                         "capturedIn": self.captured_in,
                         "capturedOut": self.captured_out}, RUN_REQUEST_KEYS, "a cell")
        if isinstance(self.captured_in, dict):
            p += [Problem(f"$.capturedIn[{k!r}]", "names must be strings")
                  for k in self.captured_in if not isinstance(k, str)]
            p += [Problem(f"$.capturedIn[{k!r}]", "not a Python identifier")
                  for k in self.captured_in if isinstance(k, str) and not k.isidentifier()]
            p += depth_problems(self.captured_in, "$.capturedIn")
        if isinstance(self.captured_out, list):
            for i, name in enumerate(self.captured_out):
                if not isinstance(name, str):
                    p.append(Problem(f"$.capturedOut[{i}]", f"must be a string, not "
                                                     f"{type(name).__name__}"))
                elif name and not name.isidentifier():  # "" is skipped, as pyrun does
                    p.append(Problem(f"$.capturedOut[{i}]", f"{name!r} is not a Python identifier"))
        return p

    def to_payload(self, *, nonfinite="error"):
        """The JSON body; numpy values in captured_in become nested lists."""
        problems = self.problems()
        if problems:
            raise PayloadError(problems)
        return {"cellId": self.cell_id, "code": self.code,
                "capturedIn": to_json_safe(self.captured_in, nonfinite=nonfinite,
                                           max_depth=VALUE_MAX_DEPTH + 1,
                                           path="$.capturedIn"),
                "capturedOut": list(self.captured_out)}

    @classmethod
    def from_payload(cls, payload):
        problems = _check_keys(payload, RUN_REQUEST_KEYS, "a /run request body")
        if problems:
            raise PayloadError(problems)
        cell = cls(payload["cellId"], payload["code"], dict(payload["capturedIn"]),
                   list(payload["capturedOut"]))
        problems = cell.problems()
        if problems:
            raise PayloadError(problems)
        return cell


@dataclass
class RunResult:
    """A /run answer: stdout (`output`), stderr and errors (`error`), captured values."""

    output: str
    error: str = ""
    captured_out: dict = field(default_factory=dict)

    @property
    def ok(self):
        return not self.error

    def raise_for_error(self):
        if self.error:
            raise CellError(self)
        return self

    def to_payload(self, *, nonfinite="error"):
        problems = _check_keys({"output": self.output, "error": self.error,
                                "capturedOut": self.captured_out}, RUN_RESPONSE_KEYS,
                               "a result")
        if problems:
            raise PayloadError(problems)
        return {"output": self.output, "error": self.error,
                "capturedOut": to_json_safe(self.captured_out, nonfinite=nonfinite,
                                            path="$.capturedOut")}

    @classmethod
    def from_payload(cls, payload):
        # extra response fields are tolerated: a newer server may add some
        problems = _check_keys(payload, RUN_RESPONSE_KEYS, "a /run response body",
                               unknown=False)
        if problems:
            raise PayloadError(problems)
        return cls(payload["output"], payload["error"], dict(payload["capturedOut"]))
