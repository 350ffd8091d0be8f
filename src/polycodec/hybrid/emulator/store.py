"""State shared by the worker processes of one emulator (`--workers N`, N > 1).

One SQLite file in a private temporary folder (created by the parent process, removed when
it stops) holds what must look the same from every worker:
- services: every uploaded package (zip bytes) with the ids the uploading worker gave it.
  A worker reloads the rows it has not seen when the newest row id changes (checked at the
  start of each request: one indexed SELECT, ~20 us), so an upload answered by one worker is
  executable on every worker by the time the upload response is sent.
- faults: one row of settings with a version number; a change made through any worker's
  `/_emulator/faults` or `/_emulator/reset` is picked up by every worker on its next request.
  Random draws stay per worker: with a seed, worker w draws from `Random(f"{seed}/{w}")`
  (worker 0 from `Random(seed)`), so a run is reproducible per worker, not per request order
  across workers.
- counters (stats) and recorded requests: written by each worker before it answers, read by
  whichever worker serves `/_emulator/stats` or `/_emulator/requests`. Complete across workers.
WAL journal, synchronous=OFF: the file is scratch state, never needed after a crash.
"""
from __future__ import annotations

import os
import sqlite3
import threading

import orjson

_SCHEMA = """
CREATE TABLE IF NOT EXISTS services(seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT,
    package BLOB, service_id TEXT, version_id TEXT, uploaded TEXT);
CREATE TABLE IF NOT EXISTS faults(id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER,
    settings TEXT);
CREATE TABLE IF NOT EXISTS counters(key TEXT PRIMARY KEY, n INTEGER);
CREATE TABLE IF NOT EXISTS requests(seq INTEGER PRIMARY KEY AUTOINCREMENT, worker INTEGER,
    method TEXT, path TEXT, headers TEXT, body BLOB);
"""


class SharedStore:
    """Thread-safe within a process; one connection per process (reopened after fork)."""

    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()
        self._conn = None
        self._pid = None

    def _db(self):
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def create(self, faults: dict):
        with self._lock:
            db = self._db()
            db.executescript(_SCHEMA)
            db.execute("INSERT OR REPLACE INTO faults VALUES (1, 1, ?)", (orjson.dumps(faults),))

    def close(self):
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    # versions: what a worker compares with what it has loaded
    def versions(self):
        with self._lock:
            return self._db().execute(
                "SELECT (SELECT COALESCE(MAX(seq), 0) FROM services), "
                "(SELECT version FROM faults WHERE id = 1)").fetchone()

    # services
    def add_service(self, tenant, package: bytes, service_id, version_id, uploaded) -> int:
        with self._lock:
            cur = self._db().execute(
                "INSERT INTO services(tenant, package, service_id, version_id, uploaded) "
                "VALUES (?, ?, ?, ?, ?)", (tenant, package, service_id, version_id, uploaded))
            return cur.lastrowid

    def services_after(self, seq):
        with self._lock:
            return self._db().execute(
                "SELECT seq, tenant, package, service_id, version_id, uploaded FROM services "
                "WHERE seq > ? ORDER BY seq", (seq,)).fetchall()

    # faults
    def faults(self):
        with self._lock:
            version, settings = self._db().execute(
                "SELECT version, settings FROM faults WHERE id = 1").fetchone()
        return version, orjson.loads(settings)

    def set_faults(self, settings: dict):
        with self._lock:
            self._db().execute("UPDATE faults SET version = version + 1, settings = ? "
                               "WHERE id = 1", (orjson.dumps(settings),))

    # stats
    def count(self, items):
        """items: [(key, increment)], e.g. ("requests", 1), ("status:200", 1)."""
        if not items:
            return
        with self._lock:
            self._db().executemany(
                "INSERT INTO counters(key, n) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET n = n + excluded.n", items)

    def stats(self):
        with self._lock:
            rows = self._db().execute("SELECT key, n FROM counters").fetchall()
        stats = {"requests": 0, "by_status": {}, "records": 0, "faults": {}}
        for key, n in rows:
            kind, _, name = key.partition(":")
            if kind == "status":
                stats["by_status"][name] = n
            elif kind == "fault":
                stats["faults"][name] = n
            else:
                stats[kind] = n
        return stats

    # recorded requests
    def record(self, limit, worker, method, path, headers, body):
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                cur = db.execute("INSERT INTO requests(worker, method, path, headers, body) "
                                 "VALUES (?, ?, ?, ?, ?)",
                                 (worker, method, path, orjson.dumps(headers), body))
                db.execute("DELETE FROM requests WHERE seq <= ?", (cur.lastrowid - limit,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def requests(self):
        with self._lock:
            rows = self._db().execute("SELECT worker, method, path, headers, body FROM requests "
                                      "ORDER BY seq").fetchall()
        return [{"method": m, "path": p, "headers": [tuple(h) for h in orjson.loads(hs)],
                 "body": bytes(b), "worker": w} for w, m, p, hs, b in rows]

    def reset(self, faults: dict):
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM counters")
            db.execute("DELETE FROM requests")
            db.execute("UPDATE faults SET version = version + 1, settings = ? WHERE id = 1",
                       (orjson.dumps(faults),))
            db.execute("COMMIT")
