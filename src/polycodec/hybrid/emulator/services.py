"""Services of the runner emulator: a JSON definition with Python-expression outputs, or a
registered Python callable.

SECURITY: expressions and the optional module in an uploaded zip are executed with eval/exec,
unsandboxed, with the emulator's rights. Only upload packages you wrote; the emulator binds
127.0.0.1 by default for this reason.

service.json (in the zip, or a dict):
    {"folder": "demo", "service": "adder", "version": "1.0.0",
     "inputs": [{"name": "a", "type": "number", "default": 0, "min": 0, "max": 10,
                 "required": false, "options": null}, ...],
     "outputs": {"total": "a + b", "ratio": "a / b"},
     "module": "service.py",          # optional: its names are visible to the expressions
     "metadata": {"Author": "me"}}    # optional: returned by the metadata endpoint
Input types: number (int or float), integer, string, boolean, any. A record that breaks an
input rule, or whose expressions raise, gets an entry in that record's `errors` and no outputs.
"""
from __future__ import annotations

import io
import json
import keyword
import math
import uuid
import zipfile
from itertools import chain
from operator import itemgetter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Optional

MISSING = object()
INPUT_TYPES = ("number", "integer", "string", "boolean", "any")
MAX_ZIP_BYTES = 64 << 20          # uncompressed size limit of an uploaded package


class DefinitionError(ValueError):
    """A service definition or package is invalid (the emulator answers 400)."""


class InvalidInput(Exception):
    def __init__(self, name, message):
        super().__init__(message)
        self.name = name


_TYPE_CHECK = {
    "number": "({v}.__class__ is int or {v}.__class__ is float)",
    "integer": "({v}.__class__ is int)",
    "string": "({v}.__class__ is str)",
    "boolean": "({v}.__class__ is bool)",
}


@dataclass
class Service:
    tenant: str
    folder: str
    service: str
    version: str
    inputs: list                   # [{"name", "type", "default", "min", "max", "required", ...}]
    outputs: list                  # output names
    run_rows: Callable             # rows (tuples in input order) -> (outputs list, errors list)
    metadata: dict = field(default_factory=dict)
    service_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    version_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    uploaded: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    @property
    def input_names(self):
        return [i["name"] for i in self.inputs]

    def extractor(self):
        """record dict -> tuple in input order (MISSING where absent)."""
        names = self.input_names
        if not names:
            return lambda r: ()
        src = "lambda r: (" + "".join(f"r.get({n!r}, M), " for n in names) + ")"
        return eval(src, {"M": MISSING})  # noqa: S307 - names are validated identifiers


def _norm_inputs(spec):
    if isinstance(spec, dict):
        spec = [{"name": k, **(v if isinstance(v, dict) else {"type": v})} for k, v in spec.items()]
    if not isinstance(spec, list):
        raise DefinitionError("'inputs' must be a list of input objects or a name -> spec map")
    out, seen = [], set()
    for i, item in enumerate(spec):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise DefinitionError(f"inputs[{i}] needs a string 'name'")
        name = item["name"]
        if not name.isidentifier() or keyword.iskeyword(name):
            raise DefinitionError(f"input name {name!r} must be a Python identifier")
        if name in seen:
            raise DefinitionError(f"input {name!r} is defined twice")
        seen.add(name)
        kind = item.get("type", "any")
        if kind not in INPUT_TYPES:
            raise DefinitionError(f"input {name!r}: type must be one of {INPUT_TYPES}")
        out.append({"name": name, "type": kind, "default": item.get("default"),
                    "min": item.get("min"), "max": item.get("max"),
                    "required": bool(item.get("required", False)),
                    "options": item.get("options"), "description": item.get("description")})
    return out


def _checks(inp, v):
    """Generated source lines validating local variable v for input inp."""
    name, lines = inp["name"], []
    if inp["required"]:
        lines.append(f"if {v} is M: raise Invalid({name!r}, 'required input is missing')")
    else:
        lines.append(f"if {v} is M: {v} = D[{name!r}]")
    cond = _TYPE_CHECK.get(inp["type"])
    guard = f"{v} is not None and " if not inp["required"] else ""
    if cond:
        lines.append(f"if {guard}not {cond.format(v=v)}: "
                     f"raise Invalid({name!r}, 'expected {inp['type']}, got ' + type({v}).__name__)")
    if inp["min"] is not None:
        lines.append(f"if {guard}{v} < {inp['min']!r}: raise Invalid({name!r}, "
                     f"'below minimum {inp['min']}')")
    if inp["max"] is not None:
        lines.append(f"if {guard}{v} > {inp['max']!r}: raise Invalid({name!r}, "
                     f"'above maximum {inp['max']}')")
    if inp["options"]:
        lines.append(f"if {v} not in O[{name!r}]: raise Invalid({name!r}, 'not an allowed option')")
    return lines


_ALLOWED = {"number": frozenset({int, float}), "integer": frozenset({int}),
            "string": frozenset({str}), "boolean": frozenset({bool})}
_NONE = type(None)


def batch_guard(inputs):
    """A function rows -> bool: True when column-wise checks at C speed (type sets, min/max)
    prove that no record breaks an input rule, so the per-record checks can be skipped.
    None when the rules need the per-record loop (options). MISSING (an `object`) is in no
    allowed set, so rows with absent inputs always take the checked loop."""
    specs, uniform = [], set()
    for j, inp in enumerate(inputs):
        if inp["options"]:
            return None
        allowed = _ALLOWED.get(inp["type"])
        if allowed is not None and not inp["required"]:
            allowed = allowed | {_NONE}              # None skips the type and range checks
        bounded = inp["min"] is not None or inp["max"] is not None
        specs.append((j, allowed, inp["min"], inp["max"], bounded))
        uniform.add((allowed, bounded))
    if not specs:
        return lambda rows: True
    if len(uniform) == 1 and not specs[0][4]:        # one rule for every column: one pass
        allowed = specs[0][1]
        if allowed is None:
            return lambda rows: object not in set(map(type, chain.from_iterable(rows)))
        return lambda rows: set(map(type, chain.from_iterable(rows))) <= allowed

    def guard(rows):
        for j, allowed, lo, hi, bounded in specs:
            col = list(map(itemgetter(j), rows))
            types = set(map(type, col))
            if object in types or (allowed is not None and not types <= allowed):
                return False
            if bounded:
                if _NONE in types or not types <= {int, float}:
                    return False                     # comparisons are the loop's business
                if col and ((lo is not None and min(col) < lo)
                            or (hi is not None and max(col) > hi)):
                    return False
        return True
    return guard


def compile_rows(inputs, body_expr, namespace, *, fast=True):
    """A function rows -> (outputs, errors) with the checks and expressions inlined.

    With fast=True (expression services), a batch whose columns pass `batch_guard` is first
    evaluated by one list comprehension without per-record checks; if any record raises, the
    whole batch is evaluated again by the checked loop (so expressions should be pure).
    Callables (fast=False) always take the checked loop: each is called once per record."""
    names = [i["name"] for i in inputs]
    target = "(" + "".join(f"{n}, " for n in names) + ")" if names else "_"
    lines = ["def __run_checked(rows):", "    outs = []; errs = []",
             "    oa = outs.append; ea = errs.append", f"    for {target} in rows:", "        try:"]
    for inp in inputs:
        lines += [" " * 12 + line for line in _checks(inp, inp["name"])]
    lines += [f"            oa({body_expr})", "            ea(None)",
              "        except Exception as exc:", "            oa(None); ea(exc)",
              "    return outs, errs",
              "def __run_fast(rows):",
              f"    return [{body_expr} for {target} in rows]"]
    ns = dict(namespace)
    ns.update({"M": MISSING, "Invalid": InvalidInput,
               "D": {i["name"]: i["default"] for i in inputs},
               "O": {i["name"]: list(i["options"] or []) for i in inputs}})
    try:
        exec("\n".join(lines), ns)  # noqa: S102 - documented: unsandboxed by design
    except SyntaxError as exc:
        raise DefinitionError(f"an output expression is not valid Python: {exc}") from exc
    checked, quick = ns["__run_checked"], ns["__run_fast"]
    guard = batch_guard(inputs) if fast else None
    if guard is None:
        return checked

    def run_rows(rows):
        if guard(rows):
            try:
                outs = quick(rows)
            except Exception:                        # some record fails: name it per record
                pass
            else:
                return outs, [None] * len(outs)
        return checked(rows)
    run_rows.checked = checked
    return run_rows


def from_definition(defn: dict, tenant: str, module_source: Optional[str] = None) -> Service:
    if not isinstance(defn, dict):
        raise DefinitionError("the service definition must be a JSON object")
    for key in ("folder", "service"):
        if not isinstance(defn.get(key), str) or not defn[key].strip():
            raise DefinitionError(f"service definition needs a non-empty string {key!r}")
    inputs = _norm_inputs(defn.get("inputs", []))
    outputs = defn.get("outputs")
    if not isinstance(outputs, dict) or not outputs:
        raise DefinitionError("'outputs' must map output names to Python expressions")
    for name, expr in outputs.items():
        if not isinstance(expr, str):
            raise DefinitionError(f"output {name!r} must be an expression string")
        try:
            compile(expr, f"<output {name}>", "eval")
        except SyntaxError as exc:
            raise DefinitionError(f"output {name!r}: invalid expression: {exc.msg}") from exc
    namespace = {"math": math}
    if module_source is not None:
        try:
            exec(compile(module_source, "<service module>", "exec"), namespace)  # noqa: S102
        except Exception as exc:
            raise DefinitionError(f"service module failed: {type(exc).__name__}: {exc}") from exc
    body = "{" + ", ".join(f"{k!r}: ({v})" for k, v in outputs.items()) + "}"
    run = compile_rows(inputs, body, namespace)
    return Service(tenant=tenant, folder=defn["folder"], service=defn["service"],
                   version=str(defn.get("version", "1.0.0")), inputs=inputs,
                   outputs=list(outputs), run_rows=run, metadata=dict(defn.get("metadata") or {}))


def from_callable(fn, tenant, folder, service, inputs, version="1.0.0", outputs=None,
                  metadata=None) -> Service:
    """fn(record dict) -> outputs dict, called once per record."""
    inputs = _norm_inputs(inputs)
    run = compile_rows(inputs, "F({" + ", ".join(f"{n!r}: {n}" for n in
                                                  (i["name"] for i in inputs)) + "})",
                       {"F": fn}, fast=False)
    return Service(tenant=tenant, folder=folder, service=service, version=version, inputs=inputs,
                   outputs=list(outputs or []), run_rows=run, metadata=dict(metadata or {}))


def from_zip(data: bytes, tenant: str) -> Service:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise DefinitionError("the upload is not a zip file") from exc
    with archive:
        if sum(i.file_size for i in archive.infolist()) > MAX_ZIP_BYTES:
            raise DefinitionError(f"the package expands beyond {MAX_ZIP_BYTES} bytes")
        names = {n.rsplit("/", 1)[-1]: n for n in archive.namelist()}
        if "service.json" not in names:
            raise DefinitionError("the package has no service.json")
        try:
            defn = json.loads(archive.read(names["service.json"]))
        except ValueError as exc:
            raise DefinitionError(f"service.json is not valid JSON: {exc}") from exc
        module = None
        if isinstance(defn, dict) and defn.get("module"):
            mod_name = str(defn["module"]).rsplit("/", 1)[-1]
            if mod_name not in names:
                raise DefinitionError(f"module {defn['module']!r} is not in the package")
            module = archive.read(names[mod_name]).decode("utf-8")
    return from_definition(defn, tenant, module)


def make_zip(definition: dict, module_source: Optional[str] = None) -> bytes:
    """A package the emulator accepts (helper for tests, benchmarks and users)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        defn = dict(definition)
        if module_source is not None:
            defn.setdefault("module", "service.py")
            zf.writestr(defn["module"], module_source)
        zf.writestr("service.json", json.dumps(defn))
    return buf.getvalue()


def numeric_definition(n_inputs=10, folder="bench", service="score", version="1.0.0"):
    """A service with n numeric inputs x0..x{n-1} and two outputs (sum, weighted)."""
    names = [f"x{i}" for i in range(n_inputs)]
    return {"folder": folder, "service": service, "version": version,
            "inputs": [{"name": n, "type": "number", "default": 0} for n in names],
            "outputs": {"total": " + ".join(names),
                        "weighted": " + ".join(f"{i + 1} * {n}" for i, n in enumerate(names))}}


def error_entry(exc) -> dict:
    if isinstance(exc, InvalidInput):
        return {"error_category": "Validation", "error_type": "Invalid input",
                "source_path": exc.name, "message": str(exc)}
    return {"error_category": "Calculation", "error_type": type(exc).__name__,
            "source_path": None, "message": str(exc)}


def engine_information(svc: Service) -> dict:
    return {"ProductName": svc.folder, "ServiceName": svc.service, "Revision": svc.version,
            "Tenant": svc.tenant, "ServiceGuid": svc.service_id,
            "ServiceVersionGuid": svc.version_id, "DefaultEngineType": "Neuron",
            "CompilerVersion": "polycodec-emulator", "ReleaseDate": svc.uploaded,
            "Description": svc.metadata.get("Description"), "Author": svc.metadata.get("Author")}


def upload_entry(svc: Service) -> dict:
    return {"EffectiveStartDate": svc.uploaded, "EffectiveEndDate": None,
            "EngineInformation": engine_information(svc),
            "XInputTable": [{"Input Name": i["name"], "Description": i["description"],
                             "Address": None} for i in svc.inputs],
            "XOutputTable": [{"Output Name": o, "Description": None, "Address": None}
                             for o in svc.outputs],
            "VersionId": svc.version_id, "HasSignatureChain": None}
