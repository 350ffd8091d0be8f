"""The HTTP side of the emulator: auth, the spec.ROUTES routing, and make_server."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, unquote, urlsplit

from ..._jsonhttp import DEFAULT_READ_TIMEOUT, HTTPProblem, JSONHandler, JSONServer
from .. import spec
from .app import Config, Emulator
from .store import Store

_PREFIX = re.compile(rf"^/{re.escape(spec.API_VERSION)}/instances/([^/]+)/(.*)$")


# set by the emulator from the body it sends, never taken from a script's response
_FRAMING_HEADERS = ("content-length", "content-type", "transfer-encoding", "connection")



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
            # the stdlib reads what syncano writes (ASCII escapes, lone surrogates included),
            # so validation can name the field instead of refusing the whole body
            body = self.read_json_body(self.app.config.max_body, loads=json.loads)
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
    """A JSONServer serving the emulator (serve_forever / shutdown, or start / stop)."""
    app = Emulator(Store(db), config or Config())
    handler = type("BoundHandler", (Handler,), {"app": app})
    server = JSONServer((host, port), handler)
    server.app = app
    server.read_timeout = read_timeout
    server.verbose = verbose
    return server


