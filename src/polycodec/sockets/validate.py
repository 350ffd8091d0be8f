"""Rule checks of a custom socket: every problem at once, each with its path.

Rules (spec page, library + platform 2018): name required, at most 64 chars, the platform's
name pattern, not a reserved name; at least one endpoint and one dependency; endpoint names
non-empty, at most 256 chars, not ending in /history or /traces, not duplicated; each endpoint
has calls; methods among METHODS (case-sensitive) or exactly ["*"], no method handled twice in
one endpoint; each call names a script dependency; runtime names known; dependency names not
duplicated; class schemas well formed; every string has a UTF-8 form (no lone surrogates). Global endpoint uniqueness needs the other sockets:
the emulator checks it (`endpoint_collisions`).
"""
from __future__ import annotations

from . import spec
from .errors import Problem, SocketValidationError
from .parts import ClassDependency, ScriptCall, ScriptDependency


def _check_name(name, problems):
    if name is None or name == "":
        problems.append(Problem("$.name", "name is required"))
        return
    if not isinstance(name, str):
        problems.append(Problem("$.name", f"name must be a string, got {type(name).__name__}"))
        return
    if len(name) > spec.SOCKET_NAME_MAX:
        problems.append(Problem("$.name", f"name is {len(name)} characters; at most "
                                f"{spec.SOCKET_NAME_MAX} allowed"))
    if not spec.SOCKET_NAME_RE.match(name):
        problems.append(Problem("$.name", f"name {name!r} must match {spec.SOCKET_NAME_RE.pattern} "
                                "(lowercase letter first, lowercase letter or digit last)"))
    if name in spec.SOCKET_NAME_RESERVED:
        problems.append(Problem("$.name", f"name {name!r} is reserved"))


def _check_methods(methods, path, problems):
    if not isinstance(methods, (list, tuple)):
        problems.append(Problem(path, f"methods must be a list, got {type(methods).__name__}"))
        return []
    if not methods:
        problems.append(Problem(path, "methods is empty: the call could never run"))
        return []
    if spec.WILDCARD in methods and len(methods) != 1:
        problems.append(Problem(path, "'*' must be the only method (it already means all)"))
    good = []
    for i, m in enumerate(methods):
        if m == spec.WILDCARD:
            continue
        if m in spec.METHODS:
            if m in good:
                problems.append(Problem(f"{path}[{i}]", f"method {m!r} is listed twice"))
            good.append(m)
            continue
        hint = ""
        if isinstance(m, str) and m.upper() in spec.METHODS:
            hint = f" (methods are case-sensitive: use {m.upper()!r})"
        problems.append(Problem(f"{path}[{i}]", f"method {m!r} is not one of "
                                f"{list(spec.METHODS)} or '*'{hint}"))
    return list(spec.METHODS) if spec.WILDCARD in methods else good


def _check_endpoint_name(name, path, problems):
    if not isinstance(name, str) or not name:
        problems.append(Problem(path, "endpoint name must be a non-empty string"))
        return
    if len(name) > spec.ENDPOINT_NAME_MAX:
        problems.append(Problem(path, f"endpoint name is {len(name)} characters; at most "
                                f"{spec.ENDPOINT_NAME_MAX} allowed"))
    for suffix in spec.ENDPOINT_NAME_FORBIDDEN_SUFFIXES:
        if name.endswith(suffix):
            problems.append(Problem(path, f"endpoint name must not end in {suffix!r}"))


def _dependency_problems(deps, problems):
    """Checks dependencies; returns {name: kind} of the named ones."""
    if not deps:
        problems.append(Problem("$.dependencies", "at least one dependency is required"))
    kinds = {}
    for i, dep in enumerate(deps):
        path = f"$.dependencies[{i}]"
        if not isinstance(dep, (ScriptDependency, ClassDependency)):
            problems.append(Problem(path, f"not a dependency: {type(dep).__name__}"))
            continue
        name = dep.name
        if not isinstance(name, str) or not name:
            problems.append(Problem(f"{path}.name", "dependency name must be a non-empty string"))
        elif name in kinds:
            problems.append(Problem(f"{path}.name", f"duplicate dependency name {name!r}"))
        else:
            kinds[name] = dep.dependency_type
        if isinstance(dep, ScriptDependency):
            if dep.runtime_name not in spec.RUNTIME_NAMES:
                problems.append(Problem(f"{path}.runtime_name", f"unknown runtime "
                                        f"{dep.runtime_name!r}; one of {list(spec.RUNTIME_NAMES)}"))
            if not isinstance(dep.source, str):
                problems.append(Problem(f"{path}.source", "source must be a string"))
        else:
            _check_schema(dep.schema, f"{path}.schema", problems)
    return kinds


def _check_schema(schema, path, problems):
    if not isinstance(schema, list):
        problems.append(Problem(path, "schema must be a list of {name, type} fields"))
        return
    seen = set()
    for j, f in enumerate(schema):
        f_path = f"{path}[{j}]"
        if not isinstance(f, dict):
            problems.append(Problem(f_path, "a schema field must be an object {name, type}"))
            continue
        for key in spec.CLASS_FIELD_KEYS:
            if not isinstance(f.get(key), str) or not f.get(key):
                problems.append(Problem(f"{f_path}.{key}", f"field {key} must be a non-empty string"))
        if isinstance(f.get("name"), str):
            if f["name"] in seen:
                problems.append(Problem(f"{f_path}.name", f"duplicate field name {f['name']!r}"))
            seen.add(f["name"])


def _text_problems(value, path, found, keyed):
    """Strings (values and keys) with no UTF-8 form, e.g. a lone surrogate from a JSON
    "\\ud800" escape: the platform stores UTF-8 text. Iterative: values may nest deeply.
    `keyed`: dict keys are user data (paths ['key']) rather than field names (paths .key)."""
    stack = [(value, path)]
    while stack:
        v, p = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as e:
                found.append(Problem(p, f"text has a character with no UTF-8 form at index "
                                        f"{e.start} ({v[e.start]!r}, a lone surrogate)"))
        elif isinstance(v, dict):
            for k, x in reversed(list(v.items())):
                child = f"{p}[{k!r}]" if keyed or not isinstance(k, str) else f"{p}.{k}"
                stack.append((x, child))
                if isinstance(k, str):
                    stack.append((k, f"{child} (key)"))
        elif isinstance(v, (list, tuple)):
            stack.extend((x, f"{p}[{i}]") for i, x in reversed(list(enumerate(v))))


def _socket_text_problems(socket, found):
    _text_problems(socket.name, "$.name", found, False)
    _text_problems(socket.description, "$.description", found, False)
    for ep in socket.endpoints:
        path = f"$.endpoints[{ep.name!r}]"
        _text_problems(ep.name, path, found, False)
        for i, call in enumerate(ep.calls):
            if isinstance(call, ScriptCall):
                _text_problems(call.to_dict(), f"{path}.calls[{i}]", found, False)
    for i, dep in enumerate(socket.dependencies):
        if isinstance(dep, (ScriptDependency, ClassDependency)):
            _text_problems(dep.to_dict(), f"$.dependencies[{i}]", found, False)
    for field in ("metadata", "config"):
        _text_problems(getattr(socket, field, None), f"$.{field}", found, True)


def problems(socket):
    """All rule problems of a CustomSocket, in path order of discovery."""
    found = []
    _socket_text_problems(socket, found)
    _check_name(socket.name, found)
    if socket.description is not None and not isinstance(socket.description, str):
        found.append(Problem("$.description", "description must be a string"))
    kinds = _dependency_problems(socket.dependencies, found)
    if not socket.endpoints:
        found.append(Problem("$.endpoints", "at least one endpoint is required"))
    seen = set()
    for ep in socket.endpoints:
        path = f"$.endpoints[{ep.name!r}]"
        _check_endpoint_name(ep.name, path, found)
        if ep.name in seen:
            found.append(Problem(path, f"duplicate endpoint name {ep.name!r}"))
        seen.add(ep.name)
        if not ep.calls:
            found.append(Problem(f"{path}.calls", "an endpoint needs at least one call"))
        handled = {}
        for i, call in enumerate(ep.calls):
            c_path = f"{path}.calls[{i}]"
            if not isinstance(call, ScriptCall):
                found.append(Problem(c_path, f"not a call: {type(call).__name__}"))
                continue
            if not isinstance(call.name, str) or not call.name:
                found.append(Problem(f"{c_path}.name", "a call must name a dependency"))
            elif call.name not in kinds:
                found.append(Problem(f"{c_path}.name", f"call names {call.name!r}, which is not "
                                     f"a dependency (dependencies: {sorted(kinds)})"))
            elif kinds[call.name] != call.call_type:
                found.append(Problem(f"{c_path}.name", f"call names {call.name!r}, a "
                                     f"{kinds[call.name]} dependency; calls run scripts"))
            for m in _check_methods(call.methods, f"{c_path}.methods", found):
                if m in handled and handled[m] != i:
                    found.append(Problem(f"{c_path}.methods", f"method {m!r} is already handled "
                                         f"by calls[{handled[m]}] of this endpoint"))
                handled.setdefault(m, i)
    return found


def validate(socket):
    """Raise SocketValidationError with every problem, or return None."""
    found = problems(socket)
    if found:
        raise SocketValidationError(found)


def endpoint_collisions(socket_name, endpoint_names, taken):
    """Problems for full endpoint names (``socket/endpoint``) already taken by other sockets.

    `taken` maps a full endpoint name to the socket that owns it.
    """
    found = []
    for ep in endpoint_names:
        full = f"{socket_name}/{ep}"
        owner = taken.get(full)
        if owner is not None and owner != socket_name:
            found.append(Problem(f"$.endpoints[{ep!r}]", f"endpoint name {full!r} is already "
                                 f"taken by socket {owner!r}"))
    return found
