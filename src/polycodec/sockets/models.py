"""Custom-socket models with the seed's vocabulary (CustomSocket, Endpoint, ScriptCall, ...).

Models never talk to the network (unlike the `syncano` library): building, comparing and
serialising a socket is pure. Constructors accept anything so that `validate()` can report
every problem at once; the parts are in parts.py, the wire text in payload.py, the rules in validate.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import payload, spec, validate
from .errors import SocketValidationError
from .parts import (ClassDependency, Endpoint, RuntimeChoices, Script, ScriptCall,  # noqa: F401
                    ScriptDependency, ScriptEndpoint, parse_dependencies, parse_endpoints,
                    read_dependencies, read_endpoints)


# --- the socket -----------------------------------------------------------------------------
class CustomSocket:
    """A custom socket. `endpoints` / `dependencies` take model objects, or the raw format of
    the seed (a ``{name: {"calls": [...]}}`` dict and a list of dicts), or their JSON strings.
    Raw input with a wrong shape raises SocketValidationError listing every problem.
    """

    def __init__(self, name=None, *, description=None, endpoints=None, dependencies=None,
                 metadata=None, config=None, status=None, status_info=None, links=None,
                 created_at=None, updated_at=None):
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
        return payload.to_payload(self)

    def to_body(self):
        return payload.to_body(self)

    @classmethod
    def from_payload(cls, data):
        return from_payload(data)

    def problems(self):
        return validate.problems(self)

    def validate(self):
        validate.validate(self)
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


# --- reading a socket body ------------------------------------------------------------------
def read_socket(data, problems):
    """A CustomSocket from a body (bytes/str JSON or a dict); shape problems are appended."""
    if isinstance(data, (bytes, bytearray, memoryview, str)):
        data = payload.loads(bytes(data) if isinstance(data, memoryview) else data, "$", problems)
        if data is None:
            return None
    if not payload.expect(data, dict, "$", problems, "the body"):
        return None
    name = data.get("name")
    if name is not None:
        payload.expect(name, str, "$.name", problems, "name")
    desc = data.get("description")
    if desc is not None:
        payload.expect(desc, str, "$.description", problems, "description")
    extra = {}
    for key in ("metadata", "config"):
        if data.get(key) is not None:
            extra[key] = payload.decoded(data[key], f"$.{key}", problems)
    for key in ("status", "created_at", "updated_at"):
        if data.get(key) is not None and payload.expect(data[key], str, f"$.{key}", problems, key):
            extra[key] = data[key]
    if data.get("status_info") is not None:
        extra["status_info"] = data["status_info"]  # free text or JSON
    if data.get("links") is not None and payload.expect(data["links"], dict, "$.links", problems, "links"):
        extra["links"] = data["links"]
    socket = CustomSocket(name, description=desc, **extra)
    socket.endpoints = read_endpoints(data.get("endpoints"), problems, models_ok=False)
    socket.dependencies = read_dependencies(data.get("dependencies"), problems, models_ok=False)
    return socket


def from_payload(data):
    """Read a socket body (wire strings or native values, bytes or dict).

    Shape problems (bad JSON, wrong types, unknown call/dependency types) raise
    SocketValidationError with all of them; rule problems are left to `validate()`.
    """
    problems = []
    socket = read_socket(data, problems)
    if problems:
        raise SocketValidationError(problems)
    return socket
