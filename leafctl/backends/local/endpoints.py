"""Batch endpoints on the local backend: a registry row naming a registered model (and a compute),
invoked as an ordinary run whose command is ``leafctl.backends.local.batch_score``.

So an invocation queues for compute slots, has logs, can be waited for, cancelled and downloaded like
any run, and its ``predictions`` output holds ``predictions.csv``. Create is get-or-create: the same
spec twice returns the endpoint; a different one is a Conflict (exit 5).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from leafctl import specs
from leafctl.backends.base import Endpoint, JobSpec, Run
from leafctl.backends.common import check_name, inside, now_iso
from leafctl.errors import Conflict, NotFound

_SCHEMA = """
CREATE TABLE IF NOT EXISTS endpoints (
    name TEXT PRIMARY KEY, model TEXT NOT NULL, compute TEXT NOT NULL, created_at TEXT
)
"""
DEPLOYMENT = "default"


def _row(r) -> Endpoint:
    return Endpoint(name=r["name"], model=r["model"], compute=r["compute"], deployment=DEPLOYMENT,
                    state="Succeeded", scoring_uri=None, created_at=r["created_at"])


class EndpointOps:
    def _endpoints(self):
        self.registry.ensure_schema("endpoints", _SCHEMA)
        return self.registry

    def create_endpoint(self, name: str, model: str, compute: str | None = None) -> Endpoint:
        check_name("endpoint", name)
        model_name, version = specs.parse_model_ref(model)
        m = self.get_model(model_name, version)  # NotFound (exit 3) for an unknown model or version
        ref = f"{m.name}:{m.version}"
        compute = specs.strip_azureml(compute) or self.settings.get("compute") or "local"
        self.get_compute(compute)
        with self._endpoints().tx() as conn:
            row = conn.execute("SELECT * FROM endpoints WHERE name=?", (name,)).fetchone()
            if row is not None:
                if (row["model"], row["compute"]) == (ref, compute):
                    return _row(row)
                raise Conflict(f"endpoint {name!r} exists with model {row['model']} on {row['compute']}",
                               "delete it first, or choose another name")
            conn.execute("INSERT INTO endpoints VALUES (?,?,?,?)", (name, ref, compute, now_iso()))
        return self.get_endpoint(name)

    def get_endpoint(self, name: str) -> Endpoint:
        row = self._endpoints().one("SELECT * FROM endpoints WHERE name=?", (name,))
        if row is None:
            raise NotFound(f"endpoint {name!r} not found", "see `leafctl endpoint list`, or create it with `leafctl endpoint create`")
        return _row(row)

    def list_endpoints(self) -> list[Endpoint]:
        return [_row(r) for r in self._endpoints().query("SELECT * FROM endpoints ORDER BY name")]

    def delete_endpoint(self, name: str) -> None:
        with self._endpoints().tx() as conn:
            if conn.execute("DELETE FROM endpoints WHERE name=?", (name,)).rowcount == 0:
                raise NotFound(f"endpoint {name!r} not found", "see `leafctl endpoint list`")

    def invoke_endpoint(self, name: str, input: str, output: Path | None = None) -> Run:
        ep = self.get_endpoint(name)
        model_name, version = specs.parse_model_ref(ep.model or "")
        model = self.get_model(model_name, version)
        # The model's folder comes from a registry row: checked to lie in the workspace before the scorer reads it.
        model_dir = inside(model.path or "", self.ws, f"model {model.name}:{model.version}")
        # Run without a shell: the input path is the user's (a file may be named `x$(touch P).csv`).
        argv = [sys.executable, "-m", "leafctl.backends.local.batch_score", str(model_dir),
                "${{inputs.data}}", "${{outputs.predictions}}"]
        spec = JobSpec(
            command=shlex.join(argv), argv=argv, inputs={"data": input},
            outputs={"predictions": str(output) if output is not None else None},
            compute=ep.compute, experiment=name, display_name=f"{name} batch scoring", kind="batch",
            tags={"endpoint": name, "model": ep.model or ""},
        )
        return self.submit_run(spec)
