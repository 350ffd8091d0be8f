"""A local Syncano custom-socket emulator: ``python -m polycodec.sockets.emulator --port P``.

Stores sockets in SQLite, validates like the platform (same checks as polycodec.sockets.validate
plus global endpoint-name uniqueness), answers the documented status values, and runs Python
script dependencies in a subprocess with a time limit. Binds 127.0.0.1 by default.
SCRIPTS RUN UNSANDBOXED with the emulator's user rights: run only code you trust.
Bad input always gets a 4xx with ``{"detail": ..., "errors": [{path, message}]}``.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx

from .._jsonhttp import DEFAULT_READ_TIMEOUT, HTTPProblem, JSONHandler
from . import spec
from .errors import Problem, SocketValidationError
from .models import CustomSocket, read_socket
from .runner import ScriptCrashed, ScriptTimeout, run_python
from .store import Store
from .validate import endpoint_collisions, problems as rule_problems

_PREFIX = re.compile(rf"^/{re.escape(spec.API_VERSION)}/instances/([^/]+)/(.*)$")


# set by the emulator from the body it sends, never taken from a script's response
_FRAMING_HEADERS = ("content-length", "content-type", "transfer-encoding", "connection")


class Config:
    def __init__(self, api_key="polycodec-dev", max_body=spec.DEFAULT_MAX_BODY,
                 script_timeout=spec.DEFAULT_SCRIPT_TIMEOUT,
                 max_output=spec.DEFAULT_MAX_SCRIPT_OUTPUT, page_size=spec.DEFAULT_PAGE_SIZE,
                 install_hosts=("127.0.0.1", "localhost", "::1"), python=None):
        self.api_key = api_key
        self.max_body = max_body
        self.script_timeout = script_timeout
        self.max_output = max_output
        self.page_size = page_size
        self.install_hosts = tuple(install_hosts)
        self.python = python


class Emulator:
    """The platform logic, independent of HTTP: methods return (status, body)."""

    def __init__(self, store, config):
        self.store = store
        self.config = config
        # name checks and the writes that follow them happen under this lock, so two
        # concurrent requests cannot both pass a check (e.g. an endpoint name still free)
        self.lock = threading.RLock()

    # -- socket representation
    def socket_obj(self, instance, row):
        i, s = quote(instance, safe=""), quote(row["name"], safe="/")
        obj = {k: row[k] for k in ("name", "description", "endpoints", "dependencies", "metadata",
                                   "config", "status", "status_info", "created_at", "updated_at")
               if row.get(k) is not None}
        obj["links"] = {"self": spec.ROUTES["socket"].format(i=i, s=s),
                        "recheck": spec.ROUTES["recheck"].format(i=i, s=s),
                        "endpoints": spec.ROUTES["socket_endpoints"].format(i=i, s=s)}
        if row.get("install_url"):
            obj["install_url"] = row["install_url"]
        return obj

    def endpoint_obj(self, instance, row):
        methods = set()
        for call in row["calls"]:
            methods.update(call["methods"])
        allowed = [spec.WILDCARD] if spec.WILDCARD in methods else [m for m in spec.METHODS if m in methods]
        i = quote(instance, safe="")
        return {"name": row["full_name"], "socket": row["socket"], "endpoint": row["endpoint"],
                "allowed_methods": allowed, "calls": row["calls"],
                "links": {"self": spec.ROUTES["run"].format(i=i, s=quote(row["socket"], safe="/"),
                                                            e=quote(row["endpoint"], safe="/"))}}

    # -- validation like the platform
    def checked(self, body, *, name=None):
        """Parse + validate a socket body; HTTPProblem(400) with every problem."""
        found = []
        socket = read_socket(body, found)
        if socket is not None and name is not None:
            if socket.name not in (None, name):
                found.append(Problem("$.name", f"name cannot be changed (socket is {name!r})"))
            socket.name = name
        if socket is not None and not found:
            found = rule_problems(socket)
        if found:
            raise HTTPProblem(400, SocketValidationError(found).args[0].splitlines()[0], found)
        return socket

    def activate(self, instance, name):
        """Check the stored socket against the others and register its endpoints: ok or error."""
        with self.lock:
            return self._activate(instance, name)

    def _activate(self, instance, name):
        row = self.store.get(instance, name)
        self.store.set_status(instance, name, spec.STATUS_CHECKING)
        clash = endpoint_collisions(name, row["endpoints"], self.store.taken(instance))
        if clash:
            self.store.unregister(instance, name)
            self.store.set_status(instance, name, spec.STATUS_ERROR,
                                  {"errors": [p.to_dict() for p in clash]})
        else:
            self.store.register(instance, name, row["endpoints"])
            self.store.set_status(instance, name, spec.STATUS_OK)
        return self.socket_obj(instance, self.store.get(instance, name))

    def save(self, instance, socket, status=spec.STATUS_PROCESSING, info=None, install_url=None):
        native = socket.to_dict()
        native.update(status=status, status_info=info, install_url=install_url)
        self.store.put(instance, native)

    # -- routes
    def create(self, instance, body):
        socket = self.checked(body)
        with self.lock:
            if self.store.get(instance, socket.name) is not None:
                raise HTTPProblem(400, f"socket {socket.name!r} already exists",
                                  [Problem("$.name", "a socket with this name already exists")])
            self.save(instance, socket)
            return 201, self.activate(instance, socket.name)

    def update(self, instance, name, body, partial):
        row = self.existing(instance, name)
        if not isinstance(body, dict):
            raise HTTPProblem(400, "the body must be a JSON object", [Problem("$", "not an object")])
        merged = dict(body)
        if partial:
            for k in ("description", "endpoints", "dependencies", "metadata", "config"):
                if k not in merged and row.get(k) is not None:
                    merged[k] = row[k]
        socket = self.checked(merged, name=name)
        with self.lock:
            self.save(instance, socket)
            return 200, self.activate(instance, name)

    def recheck(self, instance, name):
        row = self.existing(instance, name)
        if row["status"] == spec.STATUS_PROMPT:
            return 200, self.socket_obj(instance, row)  # still waiting for config
        return 200, self.activate(instance, name)

    def install(self, instance, body):
        if not isinstance(body, dict):
            raise HTTPProblem(400, "the body must be a JSON object", [Problem("$", "not an object")])
        found = []
        name, url, config = body.get("name"), body.get("install_url"), body.get("config", {})
        if not isinstance(name, str) or not name:
            found.append(Problem("$.name", "name is required (a string)"))
        elif not spec.SOCKET_NAME_RE.match(name) or name in spec.SOCKET_NAME_RESERVED \
                or len(name) > spec.SOCKET_NAME_MAX:
            found.append(Problem("$.name", f"invalid socket name {name!r}"))
        if not isinstance(url, str) or not url:
            found.append(Problem("$.install_url", "install_url is required (a string)"))
        if config is None:
            config = {}
        if not isinstance(config, dict):
            found.append(Problem("$.config", "config must be an object (not string-encoded)"))
        if found:
            raise HTTPProblem(400, "invalid install request", found)
        if self.store.get(instance, name) is not None:
            raise HTTPProblem(400, f"socket {name!r} already exists", [Problem("$.name", "exists")])
        try:
            doc = self.fetch(url)
        except HTTPProblem:
            raise  # a refused URL is bad input
        except Exception as e:  # any fetch failure: the socket is kept with status error
            doc, error = None, f"could not fetch {url}: {e}"
        else:
            error = None
        socket = None
        if doc is not None:
            spec_doc = {k: doc.get(k) for k in ("description", "endpoints", "dependencies")} \
                if isinstance(doc, dict) else doc
            if isinstance(spec_doc, dict):
                spec_doc["name"] = name
                spec_doc["config"] = config or None
            try:
                socket = self.checked(spec_doc)
            except HTTPProblem as e:
                error = {"detail": f"the socket at {url} is invalid", "errors": e.problems}
        if socket is None:
            self.save(instance, CustomSocket(name, config=config or None), spec.STATUS_ERROR, error, url)
            return 201, self.socket_obj(instance, self.store.get(instance, name))
        wanted = doc.get("config") if isinstance(doc.get("config"), dict) else {}
        missing = [k for k, v in wanted.items()
                   if isinstance(v, dict) and v.get("required") and k not in config]
        if missing:
            self.save(instance, socket, spec.STATUS_PROMPT,
                      {"detail": "config values required", "missing_config": missing}, url)
            return 201, self.socket_obj(instance, self.store.get(instance, name))
        self.save(instance, socket, install_url=url)
        return 201, self.activate(instance, name)

    def fetch(self, url):
        """GET a JSON socket document, only from the allowed hosts (loopback by default)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not _host_allowed(parts.hostname,
                                                                       self.config.install_hosts):
            raise HTTPProblem(400, f"install_url host {parts.hostname!r} is not allowed here "
                              f"(allowed: {', '.join(self.config.install_hosts)})",
                              [Problem("$.install_url", "host not allowed")])
        with httpx.stream("GET", url, timeout=10.0, follow_redirects=False) as resp:
            resp.raise_for_status()
            data = b""
            for chunk in resp.iter_bytes():
                data += chunk
                if len(data) > self.config.max_body:
                    raise ValueError(f"document larger than {self.config.max_body} bytes")
        return json.loads(data)

    def existing(self, instance, name):
        row = self.store.get(instance, name)
        if row is None:
            raise HTTPProblem(404, f"socket {name!r} not found")
        return row

    def listing(self, path, query, rows_fn, to_obj):
        try:
            size = int(query.get("page_size", [self.config.page_size])[0])
        except ValueError:
            raise HTTPProblem(400, "page_size must be an integer") from None
        if not 1 <= size <= spec.MAX_PAGE_SIZE:
            raise HTTPProblem(400, f"page_size must be within 1..{spec.MAX_PAGE_SIZE}")
        after = query.get("last", [""])[0]
        rows, more = rows_fn(after, size)
        objects = [to_obj(r) for r in rows]
        nxt = None
        if more:
            last = rows[-1].get("full_name") or rows[-1]["name"]
            nxt = f"{path}?page_size={size}&last={quote(last, safe='')}"
        return 200, {"objects": objects, "next": nxt, "prev": None}

    def run(self, instance, full_name, method, query, body):
        ep = self.store.endpoint(instance, full_name)
        if ep is None:
            raise HTTPProblem(404, f"socket endpoint {full_name!r} not found")
        call = next((c for c in ep["calls"]
                     if method in c["methods"] or spec.WILDCARD in c["methods"]), None)
        if call is None:
            allowed = self.endpoint_obj(instance, ep)["allowed_methods"]
            raise HTTPProblem(405, f"method {method!r} not allowed on {full_name!r} "
                              f"(allowed: {', '.join(allowed)})", headers={"Allow": ", ".join(allowed)})
        row = self.existing(instance, ep["socket"])
        if row["status"] != spec.STATUS_OK:
            raise HTTPProblem(409, f"socket {row['name']!r} is not ready (status {row['status']!r})")
        dep = next((d for d in row["dependencies"] if d["name"] == call["name"]), None)
        if dep is None or dep["type"] != "script":
            raise HTTPProblem(409, f"call {call['name']!r} has no script dependency")
        if dep["runtime_name"] not in spec.PYTHON_RUNTIMES:
            raise HTTPProblem(501, f"runtime {dep['runtime_name']!r} is not available here: the "
                              f"emulator runs only {', '.join(spec.PYTHON_RUNTIMES)}")
        args = {k: v[0] if len(v) == 1 else v for k, v in query.items()}
        if method in spec.BODY_METHODS and body is not None:
            if not isinstance(body, dict):
                raise HTTPProblem(400, "the request data must be a JSON object",
                                  [Problem("$", "not an object")])
            args.update(body)
        meta = {"method": method, "instance": instance, "socket": ep["socket"],
                "endpoint": ep["endpoint"], "dependency": dep["name"],
                "path": spec.ROUTES["run"].format(i=instance, s=ep["socket"], e=ep["endpoint"])}
        try:
            outcome, ms = run_python(dep["source"], args, meta, timeout=self.config.script_timeout,
                                     max_output=self.config.max_output, python=self.config.python)
        except ScriptTimeout as e:
            return 408, {"status": "timeout", "detail": str(e)}
        except ScriptCrashed as e:
            return 400, {"status": "failure", "detail": str(e)}
        result = {"stdout": outcome["stdout"], "stderr": outcome["stderr"]}
        if outcome["error"]:
            result["stderr"] = (result["stderr"] + outcome["error"])
            return 400, {"status": "failure", "duration": ms, "result": result,
                         "detail": f"script {dep['name']!r} failed: "
                                   f"{outcome['error'].strip().splitlines()[-1]}"}
        if outcome["response"] is not None:
            return "raw", outcome["response"]
        return 200, {"status": "success", "duration": ms, "result": result}


def _host_allowed(host, allowed):
    return host is not None and host.lower() in {a.lower() for a in allowed}


class Handler(JSONHandler):
    server_version = "polycodec-sockets-emulator"
    problems_key = "errors"
    app: Emulator  # set on the subclass made by make_server

    def authorized(self):
        key = self.app.config.api_key
        auth = self.headers.get(spec.AUTH_HEADER, "")
        if auth:
            return auth == f"{spec.AUTH_SCHEME} {key}"
        api, user = self.headers.get(spec.API_KEY_HEADER), self.headers.get(spec.USER_KEY_HEADER)
        if api or user:
            return api == key and bool(user)
        raise HTTPProblem(401, "authentication credentials were not provided")

    def handle_json(self):
        method = self.command
        if not self.authorized():
            raise HTTPProblem(403, "invalid api key")
        parts = urlsplit(self.path)
        m = _PREFIX.match(parts.path)
        if not m:
            raise HTTPProblem(404, f"no route {parts.path!r}")
        instance, rest = unquote(m.group(1)), m.group(2)
        query = parse_qs(parts.query)
        if method in spec.BODY_METHODS:
            body = self.read_json_body(self.app.config.max_body)
        else:  # GET/DELETE carry no data: a body is read (bounded) and ignored
            self.read_body(self.app.config.max_body)
            body = None
        status, answer = self.route(method, instance, rest, parts.path, query, body)
        if status != "raw":
            return self.send_json(status, answer)
        try:  # the script's own response, checked in full before anything is sent
            self.send_reply(answer["status_code"], answer["content"].encode("utf-8"),
                            answer["content_type"],
                            {k: v for k, v in answer["headers"].items()
                             if k.lower() not in _FRAMING_HEADERS})
        except (ValueError, TypeError) as e:  # UnicodeEncodeError is a ValueError
            self.send_json(400, {"status": "failure",
                                 "detail": f"the script's HttpResponse cannot be sent: {e}"})

    def route(self, method, instance, rest, path, query, body):
        """Match `rest` (the path after /{API_VERSION}/instances/{i}/) to a spec.ROUTES row;
        a method that row does not list in spec.ROUTE_METHODS gets 405."""
        app = self.app

        def allow(route_name):
            methods = spec.ROUTE_METHODS[route_name]
            if method not in methods:
                raise HTTPProblem(405, f"method {method} not allowed on {path} (allowed: "
                                       f"{', '.join(methods)})", headers={"Allow": ", ".join(methods)})

        if rest == "sockets/":
            allow("sockets")
            if method == "POST":
                return app.create(instance, body)
            return app.listing(path, query, lambda a, n: app.store.page(instance, a, n),
                               lambda r: app.socket_obj(instance, r))
        if rest == "sockets/install/":
            allow("install")
            return app.install(instance, body)
        if rest == "endpoints/sockets/":
            allow("all_endpoints")
            return app.listing(path, query, lambda a, n: app.store.endpoint_page(instance, a, n),
                               lambda r: app.endpoint_obj(instance, r))
        if rest.startswith("endpoints/sockets/") and rest.endswith("/"):
            allow("run")
            return app.run(instance, unquote(rest[len("endpoints/sockets/"):-1]), method, query, body)
        if rest.startswith("sockets/") and rest.endswith("/"):
            tail = unquote(rest[len("sockets/"):-1])
            # a socket name may contain '/', so an existing socket wins over a sub-route
            if app.store.get(instance, tail) is not None and not (
                    tail.endswith("/recheck") and method == "POST"):
                allow("socket")
                if method == "GET":
                    return 200, app.socket_obj(instance, app.store.get(instance, tail))
                if method in ("PUT", "PATCH"):
                    return app.update(instance, tail, body, partial=method == "PATCH")
                app.store.delete(instance, tail)
                return 204, None
            if tail.endswith("/recheck"):
                allow("recheck")
                return app.recheck(instance, tail[: -len("/recheck")])
            if tail.endswith("/endpoints"):
                allow("socket_endpoints")
                sock = tail[: -len("/endpoints")]
                app.existing(instance, sock)
                return app.listing(path, query,
                                   lambda a, n: app.store.endpoint_page(instance, a, n, sock),
                                   lambda r: app.endpoint_obj(instance, r))
            if "/endpoints/" in tail:
                allow("socket_endpoint")
                for i in [m.start() for m in re.finditer("/endpoints/", tail)]:
                    sock, ep = tail[:i], tail[i + len("/endpoints/"):]
                    row = app.store.endpoint(instance, f"{sock}/{ep}")
                    if row is not None and row["socket"] == sock:
                        return 200, app.endpoint_obj(instance, row)
                raise HTTPProblem(404, f"socket endpoint not found: {tail!r}")
            raise HTTPProblem(404, f"socket {tail!r} not found")
        raise HTTPProblem(404, f"no route {path!r}")


def make_server(host="127.0.0.1", port=0, db=":memory:", config=None, *,
                read_timeout=DEFAULT_READ_TIMEOUT, verbose=False):
    """A ThreadingHTTPServer serving the emulator (call serve_forever / shutdown)."""
    app = Emulator(Store(db), config or Config())
    handler = type("BoundHandler", (Handler,), {"app": app})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.app = app
    server.read_timeout = read_timeout
    server.verbose = verbose
    return server


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m polycodec.sockets.emulator",
                                description="Local Syncano custom-socket emulator. Scripts run "
                                            "UNSANDBOXED: run only code you trust.")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    p.add_argument("--db", default=":memory:", help="SQLite file (default in memory)")
    p.add_argument("--api-key", default="polycodec-dev")
    p.add_argument("--max-body", type=int, default=spec.DEFAULT_MAX_BODY)
    p.add_argument("--script-timeout", type=float, default=spec.DEFAULT_SCRIPT_TIMEOUT)
    p.add_argument("--max-output", type=int, default=spec.DEFAULT_MAX_SCRIPT_OUTPUT)
    p.add_argument("--page-size", type=int, default=spec.DEFAULT_PAGE_SIZE)
    p.add_argument("--install-host", action="append", dest="install_hosts",
                   help="host install URLs may name (repeatable; default loopback only)")
    p.add_argument("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT,
                   help="seconds a client may take to send its request")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    config = Config(api_key=a.api_key, max_body=a.max_body, script_timeout=a.script_timeout,
                    max_output=a.max_output, page_size=a.page_size,
                    **({"install_hosts": a.install_hosts} if a.install_hosts else {}))
    server = make_server(a.host, a.port, a.db, config, read_timeout=a.read_timeout,
                         verbose=a.verbose)
    host, port = server.server_address[:2]
    print(f"polycodec sockets emulator listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
