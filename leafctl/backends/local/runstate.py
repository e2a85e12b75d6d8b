"""Run rows in the workspace registry, shared by the RunOps mixin and the supervisor process.

Liveness: the supervisor of a run holds an exclusive ``flock`` on ``runs/<id>/supervisor.lock`` for its
whole life (the submitting process takes the lock first and hands the open file to the supervisor, so
there is no gap). A reader that can take the lock knows the supervisor is gone: unlike a recorded pid,
a lock cannot be fooled by pid reuse, and the kernel drops it however the process died.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from leafctl.backends.base import Run
from leafctl.backends.local.registry import Registry

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    compute TEXT NOT NULL,
    experiment TEXT,
    display_name TEXT,
    kind TEXT NOT NULL DEFAULT 'command',
    command TEXT,
    created_at TEXT,
    started_at TEXT,
    ended_at TEXT,
    exit_code INTEGER,
    error TEXT,
    pid INTEGER,
    child_pid INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    spec TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_compute_status ON runs (compute, status);
CREATE INDEX IF NOT EXISTS runs_experiment ON runs (experiment)
"""

ACTIVE = ("Queued", "Running")
DIED = "supervisor died"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def ensure(registry: Registry) -> Registry:
    registry.ensure_schema("runs", SCHEMA)
    return registry


def run_dir(ws: Path, run_id: str) -> Path:
    return ws / "runs" / run_id


def lock_path(ws: Path, run_id: str) -> Path:
    return run_dir(ws, run_id) / "supervisor.lock"


def to_run(ws: Path, row: sqlite3.Row) -> Run:
    spec = json.loads(row["spec"] or "{}")
    return Run(
        id=row["id"], status=row["status"], compute=row["compute"], experiment=row["experiment"],
        display_name=row["display_name"], kind=row["kind"], command=row["command"],
        created_at=row["created_at"], started_at=row["started_at"], ended_at=row["ended_at"],
        exit_code=row["exit_code"], error=row["error"],
        outputs_path=str(run_dir(ws.resolve(), row["id"]) / "outputs"),
        inputs=dict(spec.get("inputs", {})) | {k: str(v) for k, v in (spec.get("literals") or {}).items()}, outputs=dict(spec.get("outputs", {})), tags=dict(spec.get("tags", {})),
    )


def supervisor_alive(ws: Path, run_id: str) -> bool:
    """True while some process holds the run's supervisor lock."""
    try:
        fd = os.open(lock_path(ws, run_id), os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise
    finally:
        os.close(fd)  # closing also releases the lock if we took it
    return False


def reap(registry: Registry, ws: Path, row: sqlite3.Row) -> bool:
    """If ``row`` is Queued/Running but its supervisor is gone, mark it Failed. True if it did."""
    if row["status"] not in ACTIVE or supervisor_alive(ws, row["id"]):
        return False
    with registry.tx() as conn:
        cur = conn.execute(
            "UPDATE runs SET status='Failed', error=?, ended_at=? WHERE id=? AND status IN ('Queued','Running')",
            (DIED, now(), row["id"]),
        )
    if cur.rowcount and row["child_pid"]:
        kill_orphan(row["child_pid"], row["id"])
    return bool(cur.rowcount)


def kill_orphan(pid: int, run_id: str) -> None:
    """Stop the command a dead supervisor left behind, only if that pid still carries this run's id.

    The environment check guards against pid reuse: an unrelated process never has our AZUREML_RUN_ID.
    """
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return
    if f"AZUREML_RUN_ID={run_id}".encode() not in env:
        return
    try:
        os.killpg(pid, signal.SIGKILL)  # the command runs in its own session: pgid == pid
    except OSError:
        pass
