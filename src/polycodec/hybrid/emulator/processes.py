"""`python -m polycodec.hybrid.emulator --workers N`: N emulator processes on one port.

A real Hybrid Runner evaluates concurrent requests on several cores; one Python process
cannot (the GIL). With N > 1 the parent process binds the listening socket, creates the
shared state (store.py: uploads, fault settings, stats, recorded requests), stores the
--preload/--demo packages there, then forks N workers that all accept on that one socket.
Each worker is the ordinary threaded emulator (one thread per connection) in its own
interpreter, so N requests are evaluated on N cores at once.

Connections are spread least-connections style: each worker publishes its count of open
connections in a small shared-memory array; a worker whose count is above the lowest waits
ACCEPT_WAIT before it accepts (so the least busy worker takes a new connection first, and a
stalled one cannot hold it up for long). A keep-alive connection stays on the worker that
accepted it: one request (e.g. a client that sends everything in a single v4 call) always
runs on one worker.

Per-worker, by design: the random draws of fault injection (see store.py for seeds) and
the `x-emulator-worker` response header naming the worker that answered. POSIX only (fork).
The parent stops its workers on SIGTERM/SIGINT and removes the state folder; a worker also
exits when its parent is gone.
"""
from __future__ import annotations

import multiprocessing
import os
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback

from . import services
from .faults import Faults
from .server import Emulator
from .store import SharedStore

ACCEPT_WAIT = 0.05            # seconds a busier worker leaves a new connection to the others


def serve(emu, parent_pid, counts):
    """Accept loop of one worker on the shared, non-blocking listening socket."""
    httpd, me = emu.httpd, emu.worker
    httpd.connection_counts = counts
    with selectors.DefaultSelector() as sel:
        sel.register(httpd.socket, selectors.EVENT_READ)
        while True:
            if not sel.select(0.2):
                if os.getppid() != parent_pid:
                    return
                continue
            if counts[me] > min(counts):
                time.sleep(ACCEPT_WAIT)
            httpd._handle_request_noblock()          # another worker won: accept fails, fine


def _die_with_parent():
    try:                                             # Linux: SIGTERM when the parent dies
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except Exception:
        pass                                         # elsewhere the getppid() check does it


def _stop(*_):
    raise SystemExit(0)


def run(workers, host, port, emulator_kwargs, packages):
    """packages: [(tenant, zip bytes)] stored before the workers start. Blocks until stopped."""
    if not hasattr(os, "fork"):
        raise SystemExit("--workers > 1 needs os.fork (POSIX)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=128)
    sock.setblocking(False)
    state = tempfile.mkdtemp(prefix="polycodec-emulator-")
    path = os.path.join(state, "state.sqlite")
    pids = []
    counts = multiprocessing.RawArray("l", workers)     # open connections per worker
    try:
        store = SharedStore(path)
        store.create(Faults(**emulator_kwargs.get("faults", {})).as_dict())
        for tenant, data in packages:
            svc = services.from_zip(data, tenant)
            store.add_service(tenant, data, svc.service_id, svc.version_id, svc.uploaded)
            print(f"loaded {tenant}/{svc.folder}/{svc.service}[{svc.version}] "
                  f"version_id={svc.version_id}", flush=True)
        store.close()
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        for w in range(workers):
            pid = os.fork()
            if pid == 0:                             # worker
                code = 1
                try:
                    _die_with_parent()
                    emu = Emulator(host, port, shared=SharedStore(path), worker=w, sock=sock,
                                   **emulator_kwargs)
                    serve(emu, parent, counts)
                    code = 0
                except KeyboardInterrupt:
                    code = 0
                except BaseException:
                    traceback.print_exc()
                finally:
                    os._exit(code)
            pids.append(pid)
        signal.signal(signal.SIGTERM, _stop)
        shown = f"[{host}]" if ":" in host else host
        print(f"{workers} workers (pids {' '.join(map(str, pids))})", flush=True)
        print(f"polycodec hybrid emulator listening on http://{shown}:{sock.getsockname()[1]}",
              flush=True)
        while pids:
            pid, status = os.wait()
            pids.remove(pid)
            print(f"worker pid {pid} exited ({status}); stopping", file=sys.stderr, flush=True)
            return 1
        return 0
    except (KeyboardInterrupt, SystemExit):
        return 0
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        sock.close()
        shutil.rmtree(state, ignore_errors=True)
