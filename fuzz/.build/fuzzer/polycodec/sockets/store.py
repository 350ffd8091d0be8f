"""SQLite storage of the emulator: sockets and their registered endpoints, per instance."""
from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timezone

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sockets (
    instance TEXT NOT NULL, name TEXT NOT NULL, description TEXT,
    endpoints TEXT NOT NULL, dependencies TEXT NOT NULL, metadata TEXT, config TEXT,
    status TEXT NOT NULL, status_info TEXT, install_url TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (instance, name));
CREATE TABLE IF NOT EXISTS endpoints (
    instance TEXT NOT NULL, full_name TEXT NOT NULL, socket TEXT NOT NULL, endpoint TEXT NOT NULL,
    calls TEXT NOT NULL, PRIMARY KEY (instance, full_name));
"""

_JSON_COLUMNS = ("endpoints", "dependencies", "metadata", "config", "status_info")


def now():
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class Store:
    """Thread-safe (one connection, one lock); `path` ':memory:' or a file."""

    def __init__(self, path=":memory:"):
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    def close(self):
        with self._lock:
            self._db.close()

    def _rows(self, sql, args=()):
        with self._lock:
            cur = self._db.execute(sql, args)
            cols = [c[0] for c in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    @staticmethod
    def _decode(row):
        for k in _JSON_COLUMNS:
            if row.get(k) is not None:
                row[k] = json.loads(row[k])
        return row

    # -- sockets
    def get(self, instance, name):
        rows = self._rows("SELECT * FROM sockets WHERE instance=? AND name=?", (instance, name))
        return self._decode(rows[0]) if rows else None

    def page(self, instance, after, size):
        rows = self._rows("SELECT * FROM sockets WHERE instance=? AND name>? ORDER BY name LIMIT ?",
                          (instance, after, size + 1))
        return [self._decode(r) for r in rows[:size]], len(rows) > size

    def put(self, instance, socket):
        """Insert or replace a socket row (dict with the socket's native fields)."""
        enc = {k: (json.dumps(socket.get(k)) if socket.get(k) is not None else None)
               for k in _JSON_COLUMNS}
        with self._lock:
            old = self.get(instance, socket["name"])
            created = old["created_at"] if old else now()
            self._db.execute(
                "INSERT OR REPLACE INTO sockets VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (instance, socket["name"], socket.get("description"), enc["endpoints"] or "{}",
                 enc["dependencies"] or "[]", enc["metadata"], enc["config"], socket["status"],
                 enc["status_info"], socket.get("install_url"), created, now()))

    def set_status(self, instance, name, status, info=None):
        with self._lock:
            self._db.execute("UPDATE sockets SET status=?, status_info=?, updated_at=? "
                             "WHERE instance=? AND name=?",
                             (status, json.dumps(info) if info is not None else None, now(),
                              instance, name))

    def delete(self, instance, name):
        with self._lock:
            self._db.execute("DELETE FROM endpoints WHERE instance=? AND socket=?", (instance, name))
            cur = self._db.execute("DELETE FROM sockets WHERE instance=? AND name=?", (instance, name))
            return cur.rowcount > 0

    # -- endpoints
    def taken(self, instance):
        """{full endpoint name: owning socket} for the instance."""
        rows = self._rows("SELECT full_name, socket FROM endpoints WHERE instance=?", (instance,))
        return {r["full_name"]: r["socket"] for r in rows}

    def register(self, instance, socket_name, endpoints):
        """Replace the socket's registered endpoints by `endpoints` ({name: {"calls": [...]}})."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM endpoints WHERE instance=? AND socket=?",
                                 (instance, socket_name))
                for ep, data in endpoints.items():
                    self._db.execute("INSERT INTO endpoints VALUES (?,?,?,?,?)",
                                     (instance, f"{socket_name}/{ep}", socket_name, ep,
                                      json.dumps(data["calls"])))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def unregister(self, instance, socket_name):
        with self._lock:
            self._db.execute("DELETE FROM endpoints WHERE instance=? AND socket=?",
                             (instance, socket_name))

    def endpoint(self, instance, full_name):
        rows = self._rows("SELECT * FROM endpoints WHERE instance=? AND full_name=?",
                          (instance, full_name))
        if not rows:
            return None
        rows[0]["calls"] = json.loads(rows[0]["calls"])
        return rows[0]

    def endpoint_page(self, instance, after, size, socket=None):
        sql = "SELECT * FROM endpoints WHERE instance=? AND full_name>?"
        args = [instance, after]
        if socket is not None:
            sql += " AND socket=?"
            args.append(socket)
        rows = self._rows(sql + " ORDER BY full_name LIMIT ?", (*args, size + 1))
        for r in rows:
            r["calls"] = json.loads(r["calls"])
        return rows[:size], len(rows) > size
