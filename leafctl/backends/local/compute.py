"""Local compute: the built-in ``local`` target plus named clusters and instances.

A cluster is a slot pool: ``max_nodes`` runs of it may execute at once (the run supervisor reads
``get_compute(name).max_nodes`` and refuses to start new runs while its state is ``Stopped``).
Create is get-or-create, so CI can run the same ``compute create`` every time.
"""

from __future__ import annotations

import json
import os
from typing import Any

from leafctl.backends.base import Compute
from leafctl.backends.common import SIZES, now_iso, validate_compute
from leafctl.backends.local.registry import Registry
from leafctl.errors import Conflict, NotFound, UsageError

LOCAL = "local"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS computes (
    name TEXT PRIMARY KEY, type TEXT NOT NULL, size TEXT, min_nodes INTEGER NOT NULL,
    max_nodes INTEGER NOT NULL, idle_seconds INTEGER NOT NULL, tier TEXT NOT NULL,
    state TEXT NOT NULL, created_at TEXT
)
"""


def _row(r: Any) -> Compute:
    extra = r["extra"] if "extra" in r.keys() else None
    return Compute(name=r["name"], type=r["type"], size=r["size"], min_nodes=r["min_nodes"], max_nodes=r["max_nodes"],
                   idle_seconds=r["idle_seconds"], tier=r["tier"], state=r["state"], created_at=r["created_at"],
                   extra=json.loads(extra) if extra else {})


class ComputeOps:
    registry: Registry

    def _computes(self) -> Registry:
        self.registry.ensure_schema("compute", _SCHEMA)
        self.registry.ensure_column("computes", "extra", "TEXT")  # the az ml fields beyond the typed ones
        return self.registry

    def _local_compute(self) -> Compute:
        n = os.cpu_count() or 1
        return Compute(name=LOCAL, type="local", size="local", min_nodes=0, max_nodes=n, idle_seconds=0, state="Running")

    def create_compute(self, compute: Compute, update: bool = False) -> Compute:
        c = validate_compute(Compute(**compute.to_dict()))
        if c.name == LOCAL:
            raise Conflict("compute 'local' is built in and cannot be created or changed", "choose another name")
        reg = self._computes()
        with reg.tx() as conn:
            row = conn.execute("SELECT * FROM computes WHERE name = ?", (c.name,)).fetchone()
            if row is not None:
                old = _row(row)
                if old.spec() == c.spec() and old.extra == c.extra:
                    return old
                if not update:
                    diff = ", ".join([f"{k} {old.spec()[k]!r} -> {v!r}" for k, v in c.spec().items() if old.spec()[k] != v]
                                     + [f"{k} {old.extra.get(k)!r} -> {c.extra.get(k)!r}" for k in sorted({*old.extra, *c.extra})
                                        if old.extra.get(k) != c.extra.get(k)])
                    raise Conflict(f"compute {c.name!r} exists with a different spec ({diff})", "pass --update to change it, or use another name")
                if old.type != c.type:
                    raise Conflict(f"compute {c.name!r} is a {old.type}; its type cannot change", "delete it first, or use another name")
                conn.execute("UPDATE computes SET size=?, min_nodes=?, max_nodes=?, idle_seconds=?, tier=?, extra=? WHERE name=?",
                             (c.size, c.min_nodes, c.max_nodes, c.idle_seconds, c.tier, json.dumps(c.extra, sort_keys=True), c.name))
            else:
                # An instance runs once created (as on Azure); a cluster is simply provisioned.
                state = "Running" if c.type == "instance" else "Succeeded"
                conn.execute("INSERT INTO computes (name, type, size, min_nodes, max_nodes, idle_seconds, tier, state, created_at, extra) "
                             "VALUES (?,?,?,?,?,?,?,?,?,?)",
                             (c.name, c.type, c.size, c.min_nodes, c.max_nodes, c.idle_seconds, c.tier, state, now_iso(),
                              json.dumps(c.extra, sort_keys=True)))
        return self.get_compute(c.name)

    def get_compute(self, name: str) -> Compute:
        if name == LOCAL:
            return self._local_compute()
        row = self._computes().one("SELECT * FROM computes WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"compute {name!r} not found", "see `leafctl compute list`, or create it with `leafctl compute create`")
        return _row(row)

    def list_computes(self) -> list[Compute]:
        rows = self._computes().query("SELECT * FROM computes ORDER BY name")
        return [self._local_compute()] + [_row(r) for r in rows]

    def delete_compute(self, name: str) -> None:
        if name == LOCAL:
            raise UsageError("compute 'local' is built in and cannot be deleted", "delete a cluster or instance you created")
        with self._computes().tx() as conn:
            if conn.execute("DELETE FROM computes WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"compute {name!r} not found", "see `leafctl compute list`")

    def _set_state(self, name: str, state: str) -> Compute:
        if name == LOCAL:
            raise UsageError("compute 'local' is always running and cannot be started or stopped", "start or stop a cluster or instance")
        with self._computes().tx() as conn:
            if conn.execute("UPDATE computes SET state = ? WHERE name = ?", (state, name)).rowcount == 0:
                raise NotFound(f"compute {name!r} not found", "see `leafctl compute list`")
        return self.get_compute(name)

    def start_compute(self, name: str) -> Compute:
        return self._set_state(name, "Running")

    def stop_compute(self, name: str) -> Compute:
        """Stopped: no new run starts on it until it is started again; running runs finish."""
        return self._set_state(name, "Stopped")

    def list_sizes(self) -> list[dict[str, Any]]:
        return [dict(name=n, vcpus=v, memory_gb=m, gpus=g, gpu_type=t) for n, v, m, g, t in SIZES]
