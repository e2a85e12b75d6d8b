"""Batch endpoints and deployments on the local backend: registry rows, invoked as ordinary runs whose
command is ``leafctl.backends.local.batch_score``.

An endpoint may have no deployment, one, or several; one of them is its default (``defaults.deployment_name``),
which ``invoke`` uses unless told ``--deployment NAME``. A deployment is the az ml document as given (kept
whole in the ``spec`` column) plus the registered model it resolved to (an inline local model is registered
when the deployment is created) and its compute. A deployment with ``code_configuration`` is scored by its
own scoring script (``init()`` once, then ``run(mini_batch)`` per mini batch of file paths, as Azure ML's
batch driver does); one without is an MLflow model scored by ``predict``.

So an invocation queues for compute slots, has logs, can be waited for, cancelled and downloaded like any
run, and its ``predictions`` output holds the deployment's output file. ``endpoint create NAME --model M``
is get-or-create: the same model and compute twice returns the endpoint; a different one is a Conflict
(exit 5). ``create_endpoint`` with a spec and ``create_deployment`` create or update, as az ml does.

Registry: ``endpoints`` (one row per endpoint; ``default_deployment`` and ``spec`` were added after the first
release, and a row from then, which held its model and compute itself, becomes a deployment ``default``)
and ``batch_deployments``.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

from leafctl import specs
from leafctl.backends.base import Deployment, Endpoint, JobSpec, Run
from leafctl.backends.common import check_name, inside, now_iso
from leafctl.errors import Conflict, NotFound, UsageError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS endpoints (
    name TEXT PRIMARY KEY, model TEXT NOT NULL, compute TEXT NOT NULL, created_at TEXT
);
CREATE TABLE IF NOT EXISTS batch_deployments (
    endpoint TEXT NOT NULL, name TEXT NOT NULL, model TEXT NOT NULL, compute TEXT NOT NULL,
    spec TEXT NOT NULL, created_at TEXT, PRIMARY KEY (endpoint, name)
)
"""
DEPLOYMENT = "default"  # the deployment `endpoint create NAME --model M` makes


def _dep(r: Any, default: str | None) -> Deployment:
    from leafctl.specs.endpoint import instance_count, scoring, settings_of

    spec = json.loads(r["spec"])
    sc = scoring(spec)
    return Deployment(name=r["name"], endpoint=r["endpoint"], model=r["model"], compute=r["compute"],
                      scoring_script=sc["scoring_script"] if sc else None, instance_count=instance_count(spec),
                      settings=settings_of(spec), is_default=r["name"] == default, created_at=r["created_at"], spec=spec)


class EndpointOps:
    _endpoints_migrated = False

    def _endpoints(self):
        reg = self.registry
        reg.ensure_schema("endpoints", _SCHEMA)
        reg.ensure_column("endpoints", "default_deployment", "TEXT")
        reg.ensure_column("endpoints", "spec", "TEXT")
        if not self._endpoints_migrated:
            legacy = reg.query("SELECT * FROM endpoints WHERE default_deployment IS NULL AND model != ''")
            if legacy:
                with reg.tx() as conn:
                    for r in conn.execute("SELECT * FROM endpoints WHERE default_deployment IS NULL AND model != ''").fetchall():
                        spec = {"name": DEPLOYMENT, "endpoint_name": r["name"], "type": "model",
                                "model": f"azureml:{r['model']}", "compute": f"azureml:{r['compute']}"}
                        conn.execute("INSERT OR IGNORE INTO batch_deployments VALUES (?,?,?,?,?,?)",
                                     (r["name"], DEPLOYMENT, r["model"], r["compute"], json.dumps(spec), r["created_at"]))
                        conn.execute("UPDATE endpoints SET default_deployment=?, model='', compute='' WHERE name=?",
                                     (DEPLOYMENT, r["name"]))
            self._endpoints_migrated = True
        return reg

    # ----- endpoints -----

    def _endpoint_row(self, name: str):
        row = self._endpoints().one("SELECT * FROM endpoints WHERE name=?", (name,))
        if row is None:
            raise NotFound(f"endpoint {name!r} not found", "see `leafctl endpoint list`, or create it with `leafctl endpoint create`")
        return row

    def _ep(self, row) -> Endpoint:
        model = compute = None
        default = row["default_deployment"]
        if default:
            d = self._endpoints().one("SELECT model, compute FROM batch_deployments WHERE endpoint=? AND name=?",
                                      (row["name"], default))
            if d is not None:
                model, compute = d["model"], d["compute"]
        extra = {k: v for k, v in json.loads(row["spec"] or "{}").items() if k != "name"}
        if default:
            extra["defaults"] = {**(extra.get("defaults") or {}), "deployment_name": default}
        return Endpoint(name=row["name"], model=model, compute=compute, deployment=default, state="Succeeded",
                        scoring_uri=None, created_at=row["created_at"], extra=extra)

    def create_endpoint(self, name: str, model: str | None = None, compute: str | None = None,
                        spec: dict[str, Any] | None = None) -> Endpoint:
        check_name("endpoint", name)
        doc = {k: v for k, v in (spec or {}).items() if k != "name"}
        wanted = (doc.get("defaults") or {}).get("deployment_name")
        ref = None
        if model is not None:  # checked before anything is written: NotFound (exit 3) for a model or compute
            model_name, version = specs.parse_model_ref(model)
            m = self.get_model(model_name, version)
            ref = f"{m.name}:{m.version}"
            compute = specs.strip_azureml(compute) or self.settings.get("compute") or "local"
            self.get_compute(compute)
            row = self._endpoints().one("SELECT * FROM endpoints WHERE name=?", (name,))
            if row is not None and row["default_deployment"]:
                ep = self._ep(row)  # get-or-create: the default deployment must be this model on this compute
                if (ep.model, ep.compute) == (ref, compute):
                    return ep
                raise Conflict(f"endpoint {name!r} exists with model {ep.model} on {ep.compute}",
                               "delete it first, choose another name, or add a deployment with `leafctl endpoint deployment create`")
        if wanted and wanted != (DEPLOYMENT if ref else None) and self._endpoints().one(
                "SELECT 1 FROM batch_deployments WHERE endpoint=? AND name=?", (name, str(wanted))) is None:
            raise NotFound(f"endpoint {name!r} has no deployment {wanted!r} for defaults.deployment_name",
                           "create the endpoint without defaults, add the deployment (`leafctl endpoint deployment create "
                           "--set-default`), or name an existing deployment")
        with self._endpoints().tx() as conn:
            row = conn.execute("SELECT * FROM endpoints WHERE name=?", (name,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO endpoints (name, model, compute, created_at, default_deployment, spec) "
                             "VALUES (?,'','',?,NULL,?)", (name, now_iso(), json.dumps(doc)))
            elif doc:
                conn.execute("UPDATE endpoints SET spec=? WHERE name=?", (json.dumps(doc), name))
        if ref is not None:
            self.create_deployment({"name": DEPLOYMENT, "endpoint_name": name, "type": "model",
                                    "model": f"azureml:{ref}", "compute": f"azureml:{compute}"}, set_default=True)
        if wanted:
            self._set_default(name, str(wanted))
        return self.get_endpoint(name)

    def get_endpoint(self, name: str) -> Endpoint:
        return self._ep(self._endpoint_row(name))

    def list_endpoints(self) -> list[Endpoint]:
        return [self._ep(r) for r in self._endpoints().query("SELECT * FROM endpoints ORDER BY name")]

    def delete_endpoint(self, name: str) -> None:
        with self._endpoints().tx() as conn:
            if conn.execute("DELETE FROM endpoints WHERE name=?", (name,)).rowcount == 0:
                raise NotFound(f"endpoint {name!r} not found", "see `leafctl endpoint list`")
            conn.execute("DELETE FROM batch_deployments WHERE endpoint=?", (name,))

    def _set_default(self, endpoint: str, deployment: str) -> None:
        with self._endpoints().tx() as conn:
            if conn.execute("SELECT 1 FROM batch_deployments WHERE endpoint=? AND name=?", (endpoint, deployment)).fetchone() is None:
                raise NotFound(f"endpoint {endpoint!r} has no deployment {deployment!r} to make its default",
                               f"see `leafctl endpoint deployment list {endpoint}`")
            conn.execute("UPDATE endpoints SET default_deployment=? WHERE name=?", (deployment, endpoint))

    # ----- deployments -----

    def _deployment_model(self, doc: dict[str, Any]) -> Any:
        """The registered model a deployment uses; an inline local model ``{name, path}`` is registered now."""
        from leafctl.specs.endpoint import model_ref

        ref = model_ref(doc)
        if isinstance(ref, str):
            name, version = specs.parse_model_ref(ref)
            return self.get_model(name, version)
        name = ref.get("name") or f"{doc['endpoint_name']}-{doc['name']}-model"
        if ref.get("version") is not None:
            try:
                return self.get_model(name, str(ref["version"]))
            except NotFound:
                pass
        path = ref.get("path")
        if not path or str(path).startswith(("azureml:", "http:", "https:")):
            raise UsageError(f"deployment {doc['name']}: the inline model {name} has no local path",
                             "give model.path: ./model (a local folder or file), or a registered model azureml:NAME:VERSION")
        mtype = {"mlflow_model": "mlflow", "custom_model": "custom", "triton_model": "triton"}.get(
            str(ref.get("type") or "custom_model"), "custom")
        return self.register_model(name, path=Path(path), type=mtype)

    def create_deployment(self, spec: dict[str, Any], set_default: bool = False) -> Deployment:
        from leafctl.specs.endpoint import compute_of, scoring, settings_of

        endpoint, name = str(spec.get("endpoint_name") or ""), str(spec.get("name") or "")
        check_name("deployment", name)
        ep = self._endpoint_row(endpoint)  # NotFound (exit 3): create the endpoint first, as az ml requires
        settings_of(spec)  # bad output_action: exit 2 before anything changes
        compute = compute_of(spec) or self.settings.get("compute") or "local"
        self.get_compute(compute)
        sc = scoring(spec)
        if sc and not str(sc.get("code") or "").startswith("azureml:"):
            if not Path(str(sc.get("code") or "."), sc["scoring_script"]).is_file():
                raise NotFound(f"scoring script {sc['scoring_script']} not found in {sc.get('code')}",
                               "code_configuration.code is the folder holding scoring_script")
        elif sc:
            raise UsageError(f"deployment {name}: code_configuration.code {sc['code']} is a registered code asset",
                             "the local backend scores from a local folder: give code_configuration.code: ./code")
        m = self._deployment_model(spec)
        if sc is None and m.type != "mlflow":
            raise UsageError(f"model {m.name}:{m.version} is a {m.type} model, not an MLflow model",
                             "a deployment without code_configuration needs an MLflow model; give code_configuration "
                             "{code, scoring_script} and an environment for a custom model")
        ref = f"{m.name}:{m.version}"
        with self._endpoints().tx() as conn:
            old = conn.execute("SELECT created_at FROM batch_deployments WHERE endpoint=? AND name=?", (endpoint, name)).fetchone()
            conn.execute("INSERT OR REPLACE INTO batch_deployments VALUES (?,?,?,?,?,?)",
                         (endpoint, name, ref, compute, json.dumps(spec), old["created_at"] if old else now_iso()))
            if set_default or not ep["default_deployment"]:
                conn.execute("UPDATE endpoints SET default_deployment=? WHERE name=?", (name, endpoint))
        return self.get_deployment(endpoint, name)

    def get_deployment(self, endpoint: str, name: str) -> Deployment:
        ep = self._endpoint_row(endpoint)
        r = self._endpoints().one("SELECT * FROM batch_deployments WHERE endpoint=? AND name=?", (endpoint, name))
        if r is None:
            raise NotFound(f"endpoint {endpoint!r} has no deployment {name!r}", f"see `leafctl endpoint deployment list {endpoint}`")
        return _dep(r, ep["default_deployment"])

    def list_deployments(self, endpoint: str) -> list[Deployment]:
        ep = self._endpoint_row(endpoint)
        rows = self._endpoints().query("SELECT * FROM batch_deployments WHERE endpoint=? ORDER BY name", (endpoint,))
        return [_dep(r, ep["default_deployment"]) for r in rows]

    def delete_deployment(self, endpoint: str, name: str) -> None:
        self.get_deployment(endpoint, name)
        with self._endpoints().tx() as conn:
            conn.execute("DELETE FROM batch_deployments WHERE endpoint=? AND name=?", (endpoint, name))
            conn.execute("UPDATE endpoints SET default_deployment=NULL WHERE name=? AND default_deployment=?", (endpoint, name))

    # ----- invoke -----

    def invoke_endpoint(self, name: str, input: str, output: Path | None = None, deployment: str | None = None) -> Run:
        ep = self.get_endpoint(name)
        dep_name = deployment or ep.deployment
        if not dep_name:
            raise UsageError(f"endpoint {name!r} has no default deployment",
                             f"give --deployment NAME, or create one with `leafctl endpoint deployment create -f deployment.yml "
                             f"--endpoint {name} --set-default`")
        dep = self.get_deployment(name, dep_name)
        model_name, version = specs.parse_model_ref(dep.model or "")
        model = self.get_model(model_name, version)
        # The model's folder comes from a registry row: checked to lie in the workspace before the scorer reads it.
        model_dir = inside(model.path or "", self.ws, f"model {model.name}:{model.version}")
        sc = dep.spec.get("code_configuration") if dep.scoring_script else None
        env_vars = {str(k): str(v) for k, v in (dep.spec.get("environment_variables") or {}).items()}
        env_vars["AZUREML_MODEL_DIR"] = str(model_dir)
        # Run without a shell: the input path is the user's (a file may be named `x$(touch P).csv`).
        argv = [sys.executable, "-m", "leafctl.backends.local.batch_score"]
        if sc:
            argv += ["--driver", str(sc["scoring_script"])]
        argv += ["--settings", json.dumps(dep.settings, sort_keys=True), str(model_dir), "${{inputs.data}}",
                 "${{outputs.predictions}}"]
        spec = JobSpec(
            command=shlex.join(argv), argv=argv, inputs={"data": input}, code=str(sc["code"]) if sc else None,
            outputs={"predictions": str(output) if output is not None else None}, env_vars=env_vars,
            compute=dep.compute, experiment=name, display_name=f"{name} batch scoring", kind="batch",
            tags={"endpoint": name, "deployment": dep.name, "model": dep.model or ""},
        )
        return self.submit_run(spec)
