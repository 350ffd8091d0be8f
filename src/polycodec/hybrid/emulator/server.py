"""The in-process emulator: its state (services, faults, stats, recordings) and its server."""
from __future__ import annotations

import random
import socket
import threading
import time
from http.server import ThreadingHTTPServer

from . import services
from .faults import Faults
from .handler import Handler
from .registry import Registry

DEFAULT_MAX_BODY = 256 << 20


class Emulator:
    """In-process emulator: `with Emulator() as emu: emu.url ...`; or `python -m ...`."""

    def __init__(self, host="127.0.0.1", port=0, *, token=None, api_key=None, faults=None,
                 record=0, max_body=DEFAULT_MAX_BODY, max_records=None, shared=None, worker=0,
                 sock=None):
        """shared/worker/sock: set by the `--workers N` runner (processes.py) for
        each worker process: a SharedStore and the listening socket all workers accept on."""
        self.registry = Registry()
        self.faults = Faults(**(faults or {}))
        self.token, self.api_key = token, api_key
        self.max_body, self.max_records = max_body, max_records
        self.record_limit = record
        self.requests: list = []
        self.stats = {"requests": 0, "by_status": {}, "records": 0, "faults": {}}
        self._stats_lock = threading.Lock()
        self.shared, self.worker = shared, worker
        self._seen_services, self._seen_faults = 0, None
        self._sync_lock = threading.Lock()
        if sock is None:
            self.httpd = _Server((host, port), Handler)
        else:
            self.httpd = _Server(sock.getsockname()[:2], Handler, bind_and_activate=False)
            self.httpd.socket.close()
            self.httpd.socket = sock
            self.httpd.server_address = sock.getsockname()
        self.httpd.emulator = self
        self._thread = None
        if shared is not None:
            self.sync()

    # lifecycle
    @property
    def port(self):
        return self.httpd.server_address[1]

    @property
    def url(self):
        host = self.httpd.server_address[0]
        return f"http://{host}:{self.port}"

    def start(self):
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="hybrid-emulator",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop accepting, close open keep-alive connections, release the port. Safe to call
        when never started (shutdown() would wait forever for a serve loop) and twice."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self.httpd.close_connections()
        self.httpd.server_close()
        if self.shared is not None:
            self.shared.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # services
    def register(self, tenant, folder, service, fn=None, *, inputs=(), outputs=None,
                 version="1.0.0", metadata=None):
        """Add a service: fn(record) -> outputs dict, or outputs={name: expression}."""
        if self.shared is not None:
            if fn is not None:
                raise ValueError("a Python callable cannot be shared between worker processes; "
                                 "register outputs={name: expression} or upload a package")
            return self.upload_zip(tenant, services.make_zip(
                {"folder": folder, "service": service, "version": version,
                 "inputs": list(inputs), "outputs": outputs, "metadata": metadata}))
        if fn is not None:
            svc = services.from_callable(fn, tenant, folder, service, list(inputs), version,
                                         metadata=metadata)
        else:
            svc = services.from_definition({"folder": folder, "service": service,
                                            "version": version, "inputs": list(inputs),
                                            "outputs": outputs, "metadata": metadata}, tenant)
        return self.registry.add(svc)

    def upload_zip(self, tenant, data: bytes):
        svc = services.from_zip(data, tenant)              # validates before anything is stored
        if self.shared is None:
            return self.registry.add(svc)
        self.shared.add_service(tenant, data, svc.service_id, svc.version_id, svc.uploaded)
        self.sync()
        return next(s for s in reversed(self.registry.services)
                    if s.version_id == svc.version_id)

    def set_faults(self, **kw):
        if self.shared is None:
            self.faults.set(**kw)
            return
        self.sync()
        merged = Faults(**{**self.faults.as_dict(), **kw})     # validates
        self.shared.set_faults(merged.as_dict())
        self.sync()

    def reset(self):
        if self.shared is not None:
            self.shared.reset(Faults().as_dict())
            self.sync()
            return
        self.faults = Faults()
        with self._stats_lock:
            self.requests.clear()
            self.stats = {"requests": 0, "by_status": {}, "records": 0, "faults": {}}

    # shared state of --workers N (no-op for a single-process emulator)
    def sync(self):
        """Load the uploads and fault settings other workers stored since the last call."""
        if self.shared is None:
            return
        seq, fver = self.shared.versions()
        if seq == self._seen_services and fver == self._seen_faults:
            return
        with self._sync_lock:
            for row_seq, tenant, package, sid, vid, uploaded in self.shared.services_after(
                    self._seen_services):
                svc = services.from_zip(bytes(package), tenant)
                svc.service_id, svc.version_id, svc.uploaded = sid, vid, uploaded
                self.registry.add(svc)
                self._seen_services = row_seq
            if fver != self._seen_faults:
                version, settings = self.shared.faults()
                faults = Faults(**settings)
                if settings.get("seed") is not None and self.worker:
                    faults.rng = random.Random(f"{settings['seed']}/{self.worker}")
                self.faults, self._seen_faults = faults, version

    def get_stats(self):
        return self.shared.stats() if self.shared is not None else self.stats

    def get_requests(self):
        return self.shared.requests() if self.shared is not None else list(self.requests)

    def _count(self, status=None, records=0, fault=None):
        if self.shared is not None:
            items = [("records", records)] if records else []
            if status is not None:
                items += [("requests", 1), (f"status:{status}", 1)]
            if fault:
                items.append((f"fault:{fault}", 1))
            self.shared.count(items)
            return
        with self._stats_lock:
            if status is not None:
                self.stats["requests"] += 1
                key = str(status)
                self.stats["by_status"][key] = self.stats["by_status"].get(key, 0) + 1
            self.stats["records"] += records
            if fault:
                self.stats["faults"][fault] = self.stats["faults"].get(fault, 0) + 1

    def _record(self, handler, body):
        if not self.record_limit:
            return
        if self.shared is not None:
            self.shared.record(self.record_limit, self.worker, handler.command, handler.path,
                               list(handler.headers.items()), body)
            return
        with self._stats_lock:
            self.requests.append({"method": handler.command, "path": handler.path,
                                  "headers": list(handler.headers.items()), "body": body})
            del self.requests[:-self.record_limit]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    allow_reuse_address = True
    open_connections = 0
    connection_counts = None      # --workers: shared array the accept loops compare

    def __init__(self, *args, **kwargs):
        self.connections = set()          # accepted sockets not yet shut down
        super().__init__(*args, **kwargs)

    def _opened(self, delta):
        with _CONN_LOCK:
            self.open_connections += delta
            if self.connection_counts is not None:
                self.connection_counts[self.emulator.worker] = self.open_connections

    def process_request(self, request, client_address):
        self._opened(1)                   # shutdown_request() takes it back, on every path
        with _CONN_LOCK:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with _CONN_LOCK:
            self.connections.discard(request)
        self._opened(-1)
        super().shutdown_request(request)

    def close_connections(self, wait=2.0):
        """Wake every keep-alive handler (its next read sees EOF) so none answers after
        stop(); wait up to `wait` seconds for the handlers to finish."""
        with _CONN_LOCK:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)     # the handler thread closes it
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while self.connections and time.monotonic() < deadline:
            time.sleep(0.01)


_CONN_LOCK = threading.Lock()
