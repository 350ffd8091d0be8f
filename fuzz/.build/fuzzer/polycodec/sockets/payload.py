"""The wire form of a custom socket, exactly as the `syncano` 5.4.6 library sends it.

`endpoints`, `dependencies`, `metadata` and `config` travel as JSON *strings* inside the JSON
body, written with ``json.dumps`` defaults (", " and ": " separators, ASCII escapes) so the
bytes match the library's. Reading accepts a string or a native value for each of them.
"""
from __future__ import annotations

import json

from . import spec
from .errors import Problem, SocketValidationError
from .models import ClassDependency, CustomSocket, Endpoint, ScriptCall, ScriptDependency


def dumps(value):
    """JSON text the way the library writes it (json.dumps defaults)."""
    return json.dumps(value)


def to_payload(socket):
    """The create body as a dict: string-encoded fields already JSON strings, None left out."""
    native = socket.to_dict()
    return {k: dumps(v) if k in spec.STRING_ENCODED else v for k, v in native.items()}


def update_payload(socket):
    """The PATCH body of update(): the full name, endpoints and dependencies (strings)."""
    native = socket.to_dict()
    return {k: dumps(native[k]) if k in spec.STRING_ENCODED else native[k]
            for k in spec.UPDATE_FIELDS if k in native}


def to_body(socket):
    """The create body as bytes (what goes on the wire)."""
    return dumps(to_payload(socket)).encode()


# --- reading --------------------------------------------------------------------------------
class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise _DuplicateKey(k)
        seen[k] = v
    return seen


def loads(text, path, problems):
    """Parse JSON text; a syntax error or duplicate key becomes a Problem (returns None)."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as e:
        problems.append(Problem(path, f"duplicate key {e.args[0]!r} in JSON"))
    except (ValueError, RecursionError) as e:
        problems.append(Problem(path, f"not valid JSON: {e}"))
    return None


def _decoded(value, path, problems):
    """A field that may be string-encoded: decode strings, pass native values through."""
    if isinstance(value, (str, bytes, bytearray)):
        return loads(value, path, problems)
    return value


def _type_name(value):
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
            int: "number", float: "number"}.get(type(value), type(value).__name__)


def _expect(value, kind, path, problems, what):
    if not isinstance(value, kind):
        problems.append(Problem(path, f"{what} must be {_KINDS[kind]}, got {_type_name(value)}"))
        return False
    return True


_KINDS = {dict: "an object", list: "an array", str: "a string"}


def read_endpoints(value, problems, path="$.endpoints", models_ok=True):
    """Endpoints from a JSON string, a native dict or (models_ok) a list of Endpoint models."""
    if value is None:
        return []
    value = _decoded(value, path, problems)
    if value is None:
        return []
    if models_ok and isinstance(value, (list, tuple)) and all(isinstance(e, Endpoint) for e in value):
        return list(value)
    if not _expect(value, dict, path, problems, "endpoints"):
        return []
    endpoints = []
    for ep_name, raw in value.items():
        ep_path = f"{path}[{ep_name!r}]"
        endpoint = Endpoint(ep_name)
        endpoints.append(endpoint)
        if not _expect(raw, dict, ep_path, problems, "an endpoint"):
            continue
        calls = raw.get("calls")
        if not _expect(calls, list, f"{ep_path}.calls", problems, "calls"):
            continue
        for i, call in enumerate(calls):
            c_path = f"{ep_path}.calls[{i}]"
            if not _expect(call, dict, c_path, problems, "a call"):
                continue
            if call.get("type") not in spec.CALL_TYPES:
                problems.append(Problem(f"{c_path}.type", f"call type must be one of "
                                        f"{list(spec.CALL_TYPES)}, got {call.get('type')!r}"))
                continue
            name, methods = call.get("name"), call.get("methods")
            ok = _expect(name, str, f"{c_path}.name", problems, "a call name")
            ok &= _expect(methods, list, f"{c_path}.methods", problems, "methods")
            if ok:
                endpoint.calls.append(ScriptCall(name=name, methods=list(methods)))
    return endpoints


def read_dependencies(value, problems, path="$.dependencies", models_ok=True):
    """Dependencies from a JSON string, a native list of dicts, or (models_ok) models."""
    if value is None:
        return []
    value = _decoded(value, path, problems)
    if value is None:
        return []
    if not _expect(value, list, path, problems, "dependencies"):
        return []
    deps = []
    for i, raw in enumerate(value):
        d_path = f"{path}[{i}]"
        if models_ok and isinstance(raw, (ScriptDependency, ClassDependency)):
            deps.append(raw)
            continue
        if not _expect(raw, dict, d_path, problems, "a dependency"):
            continue
        kind = raw.get("type")
        if kind not in spec.DEPENDENCY_TYPES:
            problems.append(Problem(f"{d_path}.type", f"dependency type must be one of "
                                    f"{list(spec.DEPENDENCY_TYPES)}, got {kind!r}"))
            continue
        ok = _expect(raw.get("name"), str, f"{d_path}.name", problems, "a dependency name")
        if kind == "script":
            ok &= _expect(raw.get("runtime_name"), str, f"{d_path}.runtime_name", problems,
                          "runtime_name")
            ok &= _expect(raw.get("source"), str, f"{d_path}.source", problems, "source")
            if ok:
                deps.append(ScriptDependency(name=raw["name"], runtime_name=raw["runtime_name"],
                                             source=raw["source"]))
            continue
        schema = raw.get("schema")
        if _expect(schema, list, f"{d_path}.schema", problems, "schema"):
            for j, f in enumerate(schema):
                f_path = f"{d_path}.schema[{j}]"
                if _expect(f, dict, f_path, problems, "a schema field"):
                    for key in spec.CLASS_FIELD_KEYS:
                        ok &= _expect(f.get(key), str, f"{f_path}.{key}", problems, f"field {key}")
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


def read_socket(data, problems):
    """A CustomSocket from a body (bytes/str JSON or a dict); shape problems are appended."""
    if isinstance(data, (bytes, bytearray, memoryview, str)):
        data = loads(bytes(data) if isinstance(data, memoryview) else data, "$", problems)
        if data is None:
            return None
    if not _expect(data, dict, "$", problems, "the body"):
        return None
    name = data.get("name")
    if name is not None:
        _expect(name, str, "$.name", problems, "name")
    desc = data.get("description")
    if desc is not None:
        _expect(desc, str, "$.description", problems, "description")
    extra = {}
    for key in ("metadata", "config"):
        if data.get(key) is not None:
            extra[key] = _decoded(data[key], f"$.{key}", problems)
    for key in ("status", "created_at", "updated_at"):
        if data.get(key) is not None and _expect(data[key], str, f"$.{key}", problems, key):
            extra[key] = data[key]
    if data.get("status_info") is not None:
        extra["status_info"] = data["status_info"]  # free text or JSON
    if data.get("links") is not None and _expect(data["links"], dict, "$.links", problems, "links"):
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
