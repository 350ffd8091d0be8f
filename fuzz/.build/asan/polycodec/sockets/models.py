"""Custom-socket models with the seed's vocabulary (CustomSocket, Endpoint, ScriptCall, ...).

Models never talk to the network (unlike the `syncano` library): building, comparing and
serialising a socket is pure. Constructors accept anything so that `validate()` can report
every problem at once; the wire form lives in payload.py, the rules in validate.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import spec


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


# --- the socket -----------------------------------------------------------------------------
class CustomSocket:
    """A custom socket. `endpoints` / `dependencies` take model objects, or the raw format of
    the seed (a ``{name: {"calls": [...]}}`` dict and a list of dicts), or their JSON strings.
    Raw input with a wrong shape raises SocketValidationError listing every problem.
    """

    def __init__(self, name=None, *, description=None, endpoints=None, dependencies=None,
                 metadata=None, config=None, status=None, status_info=None, links=None,
                 created_at=None, updated_at=None):
        from .payload import parse_dependencies, parse_endpoints  # payload imports models

        self.name = name
        self.description = description
        self.endpoints = parse_endpoints(endpoints)
        self.dependencies = parse_dependencies(dependencies)
        self.metadata = metadata
        self.config = config
        self.status = status
        self.status_info = status_info
        self.links = links
        self.created_at = created_at
        self.updated_at = updated_at

    # -- the seed's editing vocabulary
    def add_endpoint(self, endpoint):
        self.endpoints.append(endpoint)
        return self

    def remove_endpoint(self, endpoint_name):
        """Remove the endpoint named `endpoint_name`; KeyError if there is none."""
        for i, ep in enumerate(self.endpoints):
            if ep.name == endpoint_name:
                del self.endpoints[i]
                return self
        raise KeyError(f"no endpoint named {endpoint_name!r}")

    def add_dependency(self, dependency=None, *, script_endpoint=None, script=None, name=None):
        """``add_dependency(dep)`` or the seed's ``add_dependency(script_endpoint=se)``."""
        if dependency is None:
            dependency = ScriptDependency(script=script, script_endpoint=script_endpoint, name=name)
        self.dependencies.append(dependency)
        return self

    def remove_dependency(self, dependency_name):
        """Remove the dependency named `dependency_name`; KeyError if there is none."""
        for i, dep in enumerate(self.dependencies):
            if dep.name == dependency_name:
                del self.dependencies[i]
                return self
        raise KeyError(f"no dependency named {dependency_name!r}")

    def get_endpoint(self, endpoint_name):
        for ep in self.endpoints:
            if ep.name == endpoint_name:
                return ep
        raise KeyError(f"no endpoint named {endpoint_name!r}")

    # -- data forms
    @property
    def endpoints_data(self):
        """Decoded endpoints: ``{name: {"calls": [...]}}`` (last one wins on duplicates)."""
        return {ep.name: ep.to_dict() for ep in self.endpoints}

    @property
    def dependencies_data(self):
        return [d.to_dict() for d in self.dependencies]

    def to_dict(self):
        """Decoded (native) form of the writable fields; None fields left out."""
        values = {"name": self.name, "description": self.description,
                  "endpoints": self.endpoints_data, "dependencies": self.dependencies_data,
                  "metadata": self.metadata, "config": self.config}
        return {k: values[k] for k in spec.WRITE_FIELDS if values[k] is not None}

    def to_payload(self):
        from .payload import to_payload
        return to_payload(self)

    def to_body(self):
        from .payload import to_body
        return to_body(self)

    @classmethod
    def from_payload(cls, data):
        from .payload import from_payload
        return from_payload(data)

    def problems(self):
        from .validate import problems
        return problems(self)

    def validate(self):
        from .validate import validate
        validate(self)
        return self

    def __eq__(self, other):
        if not isinstance(other, CustomSocket):
            return NotImplemented
        return (self.to_dict(), self.endpoints, self.read_only()) == (
            other.to_dict(), other.endpoints, other.read_only())

    def read_only(self):
        return {k: getattr(self, k) for k in spec.READ_ONLY_FIELDS}

    def __repr__(self):
        return (f"CustomSocket(name={self.name!r}, endpoints={self.endpoints!r}, "
                f"dependencies={self.dependencies!r}, status={self.status!r})")


@dataclass
class SocketEndpoint:
    """An endpoint as the server lists it: full name ``<socket>/<endpoint>``."""

    name: str
    allowed_methods: list
    calls: list = field(default_factory=list)
    links: dict = field(default_factory=dict)
    socket: Any = None  # the owning socket, when the server says (names may contain '/')

    def accepts(self, method):
        return spec.WILDCARD in self.allowed_methods or method in self.allowed_methods
