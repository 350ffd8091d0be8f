"""The HTTP side of the local pyrun backend: routes and PyrunServer, on the shared JSON server."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

import orjson

from ..._jsonhttp import DEFAULT_READ_TIMEOUT, HTTPProblem, JSONHandler, JSONServer
from ..cells import RunCell
from ..errors import PayloadError
from ..rules import partition_problems
from ..spec import DEFAULT_PARTITION, PARTITION_HEADER, PYRUN_DEFAULTS, ROUTES, route
from .partitions import PARTITIONS_PREFIX, Partitions


class Handler(JSONHandler):
    server_version = "polycodec-pyrun/0.1"
    problems_key = "problems"

    def handle_json(self):
        srv = self.server
        path = unquote(urlsplit(self.path).path)
        if path.startswith("/backends/"):
            prefix = route("backend", name=srv.backend_name, version=srv.backend_version,
                           path="")
            if not path.startswith(prefix) and path + "/" != prefix:
                raise HTTPProblem(404, f"no backend at {path!r}: this server is "
                                       f"{srv.backend_name} {srv.backend_version} "
                                       f"(routes under {prefix})")
            path = "/" + path[len(prefix):]
        partition = self.headers.get(PARTITION_HEADER, DEFAULT_PARTITION)
        problems = partition_problems(partition, f"header {PARTITION_HEADER}")
        if problems:
            raise HTTPProblem(400, "bad partition header", problems)
        home_method, home = ROUTES["pyrun_home"]
        run_method, run = ROUTES["pyrun_run"]
        if path == home:
            if self.command not in (home_method, "HEAD"):
                raise HTTPProblem(405, f"{home} accepts {home_method}",
                                  headers={"Allow": home_method})
            return self.send_json(200, b"{}")
        if path == run:
            if self.command != run_method:
                raise HTTPProblem(405, f"{run} accepts {run_method}",
                                  headers={"Allow": run_method})
            return self._run(partition)
        if path.startswith(PARTITIONS_PREFIX):
            if self.command != "DELETE":
                raise HTTPProblem(405, f"{PARTITIONS_PREFIX}<id> accepts DELETE",
                                  headers={"Allow": "DELETE"})
            dropped = srv.partitions.drop(path[len(PARTITIONS_PREFIX):])
            return self.send_json(200 if dropped else 404, {"dropped": dropped})
        raise HTTPProblem(404, f"no route {path!r} (routes: {home}, {run})")

    def _run(self, partition):
        srv = self.server
        try:
            payload = self.read_json_body(srv.limits["max_body"], length_required=True,
                                          loads=orjson.loads)
        except HTTPProblem as e:
            if e.status == 413:
                e.detail += " (--max-body)"
            raise
        try:
            cell = RunCell.from_payload(payload)
        except PayloadError as e:
            raise HTTPProblem(422, f"invalid /run body: {e}", e.problems) from None
        status, body = srv.partitions.run(partition, cell)
        self.send_json(status, body)


class PyrunServer(JSONServer):
    """`with PyrunServer() as srv: srv.url ...` (start() serves in a background thread)."""

    def __init__(self, host=PYRUN_DEFAULTS["host"], port=0, *, name=PYRUN_DEFAULTS["name"],
                 version=PYRUN_DEFAULTS["version"], verbose=False, nonfinite="error",
                 read_timeout=DEFAULT_READ_TIMEOUT, **limits):
        unknown = set(limits) - set(PYRUN_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown limits: {', '.join(sorted(unknown))}")
        self.limits = {**PYRUN_DEFAULTS, **limits, "nonfinite": nonfinite}
        self.backend_name, self.backend_version = name, version
        self.verbose = verbose
        self.read_timeout = read_timeout
        self.partitions = Partitions(self.limits)
        super().__init__((host, port), Handler)

    def stop(self):
        super().stop()
        self.partitions.close()
