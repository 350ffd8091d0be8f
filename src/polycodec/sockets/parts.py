"""The parts of a custom socket (calls, endpoints, dependencies) and the reading of their
raw form (the seed's ``{name: {"calls": [...]}}`` dict and list of dicts, or their JSON text).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import payload, spec
from .errors import Problem, SocketValidationError


class RuntimeChoices:
    """Runtime names, as attributes (``RuntimeChoices.PYTHON_V5_0 == "python_library_v5.0"``)."""

    ALL = spec.RUNTIME_NAMES


for _attr, _wire in spec.RUNTIMES.items():
    setattr(RuntimeChoices, _attr, _wire)


# --- calls and endpoints --------------------------------------------------------------------
@dataclass
class ScriptCall:
    """A call of an endpoint: run the script dependency `name` for `methods`."""

    name: Any
    methods: Any = field(default_factory=list)
    call_type = "script"

    def to_dict(self):
        methods = list(self.methods) if isinstance(self.methods, (list, tuple)) else self.methods
        values = {"type": self.call_type, "name": self.name, "methods": methods}
        return {k: values[k] for k in spec.CALL_KEYS}


class Endpoint:
    """A named endpoint and its calls. ``add_call(ScriptCall(name="s"), methods=["GET"])``."""

    def __init__(self, name, calls=None):
        self.name = name
        self.calls = list(calls or [])

    def add_call(self, call, methods=None):
        if methods is not None:
            call.methods = list(methods) if isinstance(methods, (list, tuple)) else methods
        self.calls.append(call)
        return self

    def remove_call(self, name):
        """Remove every call naming `name`; returns how many were removed."""
        before = len(self.calls)
        self.calls = [c for c in self.calls if c.name != name]
        return before - len(self.calls)

    def allowed_methods(self):
        """The methods some call accepts, ``["*"]`` expanded, in spec order."""
        found = set()
        for call in self.calls:
            methods = call.methods if isinstance(call.methods, (list, tuple)) else ()
            found.update(spec.METHODS if spec.WILDCARD in methods else methods)
        return [m for m in spec.METHODS if m in found]

    def to_dict(self):
        return {"calls": [c.to_dict() for c in self.calls]}

    def __eq__(self, other):
        return isinstance(other, Endpoint) and (self.name, self.to_dict()) == (other.name, other.to_dict())

    def __repr__(self):
        return f"Endpoint(name={self.name!r}, calls={self.calls!r})"


# --- dependencies ---------------------------------------------------------------------------
@dataclass
class Script:
    """A platform script (new, or read back with its `id`): what a script dependency copies."""

    runtime_name: Any
    source: Any
    id: Any = None
    label: Any = None


@dataclass
class ScriptEndpoint:
    """A platform script endpoint: a name bound to a script."""

    name: Any
    script: Script


class ScriptDependency:
    """A script dependency. Three ways in, one wire shape (``type, name, runtime_name, source``):

    - new script:       ``ScriptDependency(name="s", runtime_name=..., source=...)``
                        or ``ScriptDependency(name="s", script=Script(runtime_name, source))``
    - existing script:  ``ScriptDependency(existing_script, name="s")``
    - script endpoint:  ``ScriptDependency(script_endpoint=se)`` (name defaults to ``se.name``)

    The source is copied; no script id is sent (as the library does).
    """

    dependency_type = "script"

    def __init__(self, script_or_script_endpoint=None, name=None, *, script=None,
                 script_endpoint=None, runtime_name=None, source=None):
        obj = script_or_script_endpoint
        if isinstance(obj, ScriptEndpoint):
            script_endpoint = obj
        elif obj is not None:
            script = obj
        if script_endpoint is not None:
            self.origin = "script_endpoint"
            script = script_endpoint.script
            if name is None:
                name = script_endpoint.name
        elif script is not None:
            self.origin = "script"
        else:
            self.origin = "new"
        if script is not None:
            runtime_name = script.runtime_name if runtime_name is None else runtime_name
            source = script.source if source is None else source
        self.name = name
        self.runtime_name = runtime_name
        self.source = source

    def to_dict(self):
        values = {"type": "script", "name": self.name, "runtime_name": self.runtime_name,
                  "source": self.source}
        return {k: values[k] for k in spec.SCRIPT_DEPENDENCY_KEYS}

    def __eq__(self, other):
        return isinstance(other, ScriptDependency) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return (f"ScriptDependency(name={self.name!r}, runtime_name={self.runtime_name!r}, "
                f"source={self.source!r})")


class ClassDependency:
    """A class dependency: ``ClassDependency("books", schema=[{"name": "title", "type": "string"}])``."""

    dependency_type = "class"

    def __init__(self, name, schema=()):
        self.name = name
        if isinstance(schema, (list, tuple)):
            schema = [dict(zip(spec.CLASS_FIELD_KEYS, f)) if isinstance(f, (list, tuple)) else f
                      for f in schema]
        self.schema = schema

    def to_dict(self):
        schema = self.schema
        if isinstance(schema, list):
            schema = [{k: f[k] for k in spec.CLASS_FIELD_KEYS if k in f} if isinstance(f, dict) else f
                      for f in schema]
        values = {"type": "class", "name": self.name, "schema": schema}
        return {k: values[k] for k in spec.CLASS_DEPENDENCY_KEYS}

    def __eq__(self, other):
        return isinstance(other, ClassDependency) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return f"ClassDependency(name={self.name!r}, schema={self.schema!r})"


# --- reading the raw form -------------------------------------------------------------------
def read_endpoints(value, problems, path="$.endpoints", models_ok=True):
    """Endpoints from a JSON string, a native dict or (models_ok) a list of Endpoint models."""
    if value is None:
        return []
    value = payload.decoded(value, path, problems)
    if value is None:
        return []
    if models_ok and isinstance(value, (list, tuple)) and all(isinstance(e, Endpoint) for e in value):
        return list(value)
    if not payload.expect(value, dict, path, problems, "endpoints"):
        return []
    endpoints = []
    for ep_name, raw in value.items():
        ep_path = f"{path}[{ep_name!r}]"
        endpoint = Endpoint(ep_name)
        endpoints.append(endpoint)
        if not payload.expect(raw, dict, ep_path, problems, "an endpoint"):
            continue
        calls = raw.get("calls")
        if not payload.expect(calls, list, f"{ep_path}.calls", problems, "calls"):
            continue
        for i, call in enumerate(calls):
            c_path = f"{ep_path}.calls[{i}]"
            if not payload.expect(call, dict, c_path, problems, "a call"):
                continue
            if call.get("type") not in spec.CALL_TYPES:
                problems.append(Problem(f"{c_path}.type", f"call type must be one of "
                                        f"{list(spec.CALL_TYPES)}, got {call.get('type')!r}"))
                continue
            name, methods = call.get("name"), call.get("methods")
            ok = payload.expect(name, str, f"{c_path}.name", problems, "a call name")
            ok &= payload.expect(methods, list, f"{c_path}.methods", problems, "methods")
            if ok:
                endpoint.calls.append(ScriptCall(name=name, methods=list(methods)))
    return endpoints


def read_dependencies(value, problems, path="$.dependencies", models_ok=True):
    """Dependencies from a JSON string, a native list of dicts, or (models_ok) models."""
    if value is None:
        return []
    value = payload.decoded(value, path, problems)
    if value is None:
        return []
    if not payload.expect(value, list, path, problems, "dependencies"):
        return []
    deps = []
    for i, raw in enumerate(value):
        d_path = f"{path}[{i}]"
        if models_ok and isinstance(raw, (ScriptDependency, ClassDependency)):
            deps.append(raw)
            continue
        if not payload.expect(raw, dict, d_path, problems, "a dependency"):
            continue
        kind = raw.get("type")
        if kind not in spec.DEPENDENCY_TYPES:
            problems.append(Problem(f"{d_path}.type", f"dependency type must be one of "
                                    f"{list(spec.DEPENDENCY_TYPES)}, got {kind!r}"))
            continue
        ok = payload.expect(raw.get("name"), str, f"{d_path}.name", problems, "a dependency name")
        if kind == "script":
            ok &= payload.expect(raw.get("runtime_name"), str, f"{d_path}.runtime_name", problems,
                          "runtime_name")
            ok &= payload.expect(raw.get("source"), str, f"{d_path}.source", problems, "source")
            if ok:
                deps.append(ScriptDependency(name=raw["name"], runtime_name=raw["runtime_name"],
                                             source=raw["source"]))
            continue
        schema = raw.get("schema")
        if payload.expect(schema, list, f"{d_path}.schema", problems, "schema"):
            for j, f in enumerate(schema):
                f_path = f"{d_path}.schema[{j}]"
                if payload.expect(f, dict, f_path, problems, "a schema field"):
                    for key in spec.CLASS_FIELD_KEYS:
                        ok &= payload.expect(f.get(key), str, f"{f_path}.{key}", problems, f"field {key}")
                else:
                    ok = False
        else:
            ok = False
        if ok:
            deps.append(ClassDependency(raw["name"], schema=schema))
    return deps


def parse_endpoints(value):
    problems = []
    result = read_endpoints(value, problems)
    if problems:
        raise SocketValidationError(problems, "endpoints")
    return result


def parse_dependencies(value):
    problems = []
    result = read_dependencies(value, problems)
    if problems:
        raise SocketValidationError(problems, "dependencies")
    return result
