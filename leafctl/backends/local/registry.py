"""The local workspace registry: one SQLite file in WAL mode.

Every write is one ``BEGIN IMMEDIATE`` transaction, so parallel leafctl processes serialise on the
write lock instead of racing: a version number read and the row that claims it are written in the
same transaction, and no version is lost or duplicated.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence


class Registry:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._schemas: set[str] = set()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._conn = conn
        return self._conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: commits on success, rolls back on any exception."""
        conn = self._connect()
        for attempt in range(200):
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as e:  # busy beyond busy_timeout: back off and retry
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                time.sleep(min(0.05 * (attempt + 1), 1.0))
        else:
            raise sqlite3.OperationalError(f"registry {self.path} stayed locked")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return list(self._connect().execute(sql, args))

    def one(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self.query(sql, args)
        return rows[0] if rows else None

    def ensure_schema(self, name: str, ddl: str) -> None:
        """Create a module's tables once per process (``ddl`` must be idempotent: IF NOT EXISTS)."""
        if name in self._schemas:
            return
        with self.tx() as conn:
            for stmt in ddl.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
        self._schemas.add(name)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
