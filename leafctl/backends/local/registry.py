"""The local workspace registry: one SQLite file in WAL mode.

Every write is one ``BEGIN IMMEDIATE`` transaction, so parallel leafctl processes serialise on the
write lock instead of racing: a version number read and the row that claims it are written in the
same transaction, and no version is lost or duplicated.

A registry file SQLite cannot read ("file is not a database", a malformed image) is an OperationFailed
naming what to do, never a traceback and never a reason to start a new registry over the workspace.
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from leafctl.errors import OperationFailed


def _unreadable(path: Path, e: sqlite3.DatabaseError) -> OperationFailed:
    return OperationFailed(f"the workspace registry {path} is not a readable SQLite database ({e})",
                           "restore registry.sqlite from a backup; the model, run and data files beside it are "
                           "untouched, and leafctl will not start a new registry over them")


def _corrupt(e: BaseException) -> bool:
    # OperationalError (locked, busy, no such table) and IntegrityError are DatabaseError subclasses
    # that mean something else; only the plain class (and its malformed-image message) is corruption.
    return type(e) is sqlite3.DatabaseError or "malformed" in str(e)


class Registry:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._schemas: set[str] = set()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            read_only = self._read_only()
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.
            conn = sqlite3.connect(self._read_only_uri() if read_only else self.path, timeout=60, uri=read_only,
                                   isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            try:
                conn.execute("PRAGMA busy_timeout = 60000")
                if read_only:  # the first read of the file: corruption shows here
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                else:
                    conn.execute("PRAGMA journal_mode = WAL")  # the first read of the file: corruption shows here
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
            except sqlite3.DatabaseError as e:
                conn.close()
                if _corrupt(e):
                    raise _unreadable(self.path, e) from None
                raise
            self._conn = conn
        return self._conn

    def _read_only(self) -> bool:
        """A registry this user may read but not write (or whose folder it may not write)."""
        return self.path.exists() and not (os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK))

    def _read_only_uri(self) -> str:
        """How a user who may only read the registry opens it without leaving anything behind.

        A plain open of a WAL database by such a user creates -wal and -shm files with the registry's
        read-only mode and cannot remove them on close; every later command, even once the permissions
        are fixed, then finds a read-only -shm and fails. With no WAL content (the last writer
        checkpointed and removed it) the file alone is the whole database: ``immutable`` reads it with
        no -shm at all. A non-empty -wal means a writer is at work (or died): then read through it.
        """
        uri = "file:" + urllib.parse.quote(os.path.abspath(self.path)) + "?mode=ro"
        wal = Path(f"{self.path}-wal")
        try:
            busy = wal.stat().st_size > 0
        except OSError:
            busy = False
        return uri if busy else uri + "&immutable=1"

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
        except BaseException as e:
            conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.DatabaseError) and _corrupt(e):
                raise _unreadable(self.path, e) from None
            raise
        else:
            conn.execute("COMMIT")

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        conn = self._connect()
        try:
            return list(conn.execute(sql, args))
        except sqlite3.DatabaseError as e:
            if _corrupt(e):
                raise _unreadable(self.path, e) from None
            raise

    def one(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self.query(sql, args)
        return rows[0] if rows else None

    def tables(self) -> set[str]:
        """The tables in the file, read on a connection of its own that changes nothing in it (no
        journal-mode switch): for telling leafctl's registry apart from some other SQLite file."""
        read_only = self._read_only()
        conn = sqlite3.connect(self._read_only_uri() if read_only else self.path, uri=read_only, timeout=60)
        try:
            return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as e:
            if _corrupt(e):
                raise _unreadable(self.path, e) from None
            raise
        finally:
            conn.close()

    def ensure_schema(self, name: str, ddl: str) -> None:
        """Create a module's tables once per process (``ddl`` must be idempotent: IF NOT EXISTS)."""
        if name in self._schemas:
            return
        with self.tx() as conn:
            for stmt in ddl.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
        self._schemas.add(name)

    def ensure_column(self, table: str, column: str, decl: str) -> None:
        """Add a column that a newer leafctl needs to a table an older one created (once per process)."""
        key = f"{table}.{column}"
        if key in self._schemas:
            return
        if column not in {r["name"] for r in self.query(f"PRAGMA table_info({table})")}:
            with self.tx() as conn:  # re-read under the write lock: another process may have added it
                if column not in {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        self._schemas.add(key)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
