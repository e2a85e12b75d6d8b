"""Jobs and run history for the fake control plane (fake_arm.py), with log and output files in Azurite.

``install(fake, azurite)`` registers, on a ``fake_arm.FakeAzureML``:

- ``PUT .../jobs/<name>``: stored by fake_arm's generic route; the hook below makes it a job that Azure
  would return (status NotStarted -> reported "Queued", services, default artifacts output);
- ``GET .../jobs/<name>``: answers the current status, then moves the job one step along its script
  (default Queued -> Running -> Completed), writing ``user_logs/std_log.txt`` to Azurite at each step and,
  on Completed, one file per named output at the output's datastore path;
- batch scoring jobs (``POST <endpoint>/jobs``, stored by fake_arm as pipeline jobs with a ``score``
  output) move along the same script; on Completed the fake scores for real: it fetches the deployed
  MLflow model folder and the job's input (a uri_file blob, or every blob under a uri_folder) from Azurite,
  runs ``python -m leafctl.backends.local.batch_score`` on them and uploads ``predictions.csv`` to the
  ``score`` output; if scoring fails (or the input folder is empty) the job ends Failed with the
  scorer's error in its log. ``scored[name]`` records the model and input a batch job scored;
- ``POST .../jobs/<name>/cancel``: CancelRequested, then Canceled on the next GET;
- ``GET /history/v1.0/.../runs/<id>/details``: run history with ``logFiles`` = SAS URLs into Azurite
  (a poll moves the job along, as a job GET does).

Tests steer it through the returned ``FakeJobs``: ``script[name] = [...]``, ``default_script``,
``output_files[name] = {"result": {"pareto.csv": b"..."}}``, ``log_lines[name] = [...]``, and for jobs whose
name is not known in advance (``run submit --wait`` names its job itself) ``default_output_files`` and
``default_log_lines``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from fake_arm import NS, FakeAzureML, Reply, Request, _error

JOB = (r"management\.azure\.com(?P<ws>/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
       r"Microsoft\.MachineLearningServices/workspaces/[^/]+)/jobs/(?P<name>[^/]+)")
HISTORY = (r"\.api\.azureml\.ms/history/v1\.0(?P<ws>/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
           r"Microsoft\.MachineLearningServices/workspaces/[^/]+)(?:/experiments/[^/]+|/experimentids/[^/]+)?"
           r"/runs/(?P<name>[^/]+)/details$")
DEFAULT_SCRIPT = ["NotStarted", "Running", "Completed"]
ARTIFACTS = "azureml"  # container of workspaceartifactstore (fake_arm._add_default_datastore)


class FakeJobs:
    def __init__(self, fake: FakeAzureML, azurite: Any):
        self.fake, self.azurite = fake, azurite
        self.default_script = list(DEFAULT_SCRIPT)
        self.script: dict[str, list[str]] = {}
        self.step: dict[str, int] = {}
        self.output_files: dict[str, dict[str, dict[str, bytes]]] = {}
        self.log_lines: dict[str, list[str]] = {}
        self.default_output_files: dict[str, dict[str, bytes]] = {}  # output name -> files, for any job
        self.default_log_lines: list[str] = []
        self.logs: dict[str, str] = {}  # job -> log text written so far
        self.details_logs = True  # False: run history lists no log files (readers use the artifact store)
        self.scored: dict[str, dict[str, str]] = {}  # batch job -> the model and input it scored

    # --- storage ------------------------------------------------------------------------------
    def _container(self, name: str):
        from azure.core.exceptions import ResourceExistsError

        cc = self.azurite.service_client().get_container_client(name)
        try:
            cc.create_container()
        except ResourceExistsError:
            pass
        return cc

    def _log_blob(self, job: str) -> str:
        return f"ExperimentRun/dcid.{job}/user_logs/std_log.txt"

    def _write_log(self, job: str, text: str) -> None:
        self.logs[job] = self.logs.get(job, "") + text
        self._container(ARTIFACTS).upload_blob(self._log_blob(job), self.logs[job].encode(), overwrite=True)

    def log_url(self, job: str) -> str:
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        sas = generate_blob_sas(self.azurite.account, ARTIFACTS, self._log_blob(job), account_key=self.azurite.key,
                                permission=BlobSasPermissions(read=True),
                                expiry=datetime.now(timezone.utc) + timedelta(hours=1))
        return f"{self.azurite.blob_endpoint}/{ARTIFACTS}/{self._log_blob(job)}?{sas}"

    def _write_outputs(self, job: str, res: dict) -> None:
        stores = {"workspaceblobstore": "azureml-blobstore", "workspaceartifactstore": ARTIFACTS}
        for out, spec in (res["properties"].get("outputs") or {}).items():
            uri = (spec or {}).get("uri") or ""
            m = re.search(r"datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$", uri)
            if out == "default" or not m:
                continue
            files = (self.output_files.get(job) or self.default_output_files).get(
                out, {f"{out}.txt": f"output {out} of {job}\n".encode()})
            cc = self._container(stores.get(m.group("ds"), m.group("ds")))
            for fname, data in files.items():
                cc.upload_blob(f"{m.group('path').rstrip('/')}/{fname}", data, overwrite=True)

    # --- batch scoring -------------------------------------------------------------------------
    def _blob_location(self, ws: str, uri: str) -> tuple[Any, str]:
        """(container client, blob path) of an ``azureml://[subscriptions/.../]datastores/<ds>/paths/<p>`` URI."""
        m = re.search(r"datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$", uri)
        assert m, f"the fake cannot read {uri}"
        ds = self.fake.get(f"{ws}/datastores/{m.group('ds')}")
        container = ds["properties"]["containerName"] if ds else m.group("ds")
        return self._container(container), m.group("path")

    def _fetch(self, ws: str, uri: str, dest: Any, folder: bool) -> int:
        """Copy a blob (``folder`` False) or every blob under a folder from Azurite to ``dest``; the count."""
        cc, path = self._blob_location(ws, uri)
        prefix = path.rstrip("/") + "/"
        names = [path] if not folder else [b.name for b in cc.list_blobs(name_starts_with=prefix)]
        for name in names:
            target = dest / (name.rsplit("/", 1)[-1] if not folder else name[len(prefix):])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(cc.download_blob(name).readall())
        return len(names)

    def _score(self, job: str, res: dict) -> bool:
        """What the deployment's cluster does: fetch the deployed MLflow model and the job's input from
        Azurite, score with leafctl's pandas-free batch scorer (a subprocess, as on a node), and upload
        ``predictions.csv`` to the job's ``score`` output. False (with the error in the log) if scoring failed."""
        import subprocess
        import sys
        import tempfile
        from pathlib import Path

        from azure.core.exceptions import ResourceNotFoundError

        props, batch = res["properties"], res["_batch"]
        ws = batch["endpoint"].split("/batchEndpoints/")[0]
        dep = self.fake.get(f"{batch['endpoint']}/deployments/{batch['deployment']}")["properties"]
        model = self.fake.get(dep["model"]["assetId"])["properties"]
        (kind, spec), = (props.get("inputData") or {}).items()
        self.scored[job] = {"model": dep["model"]["assetId"], "input": spec["uri"], "input_type": kind}
        with tempfile.TemporaryDirectory(prefix="fake-batch-") as tmp:
            work = Path(tmp)
            self._fetch(ws, model["modelUri"], work / "model", folder=True)
            try:
                n = self._fetch(ws, spec["uri"], work / "input", folder=kind.lower() != "urifile")
            except ResourceNotFoundError:  # a file mounted as a folder, or a missing blob
                n = 0
            if n == 0:
                self._write_log(job, f"error: no input files at {spec['uri']} (mounted as {kind})\n")
                return False
            p = subprocess.run([sys.executable, "-m", "leafctl.backends.local.batch_score", str(work / "model"),
                                str(work / "input"), str(work / "out")], capture_output=True, text=True, timeout=120)
            self._write_log(job, p.stdout + p.stderr)
            if p.returncode != 0:
                return False
            cc, path = self._blob_location(ws, props["outputs"]["score"]["uri"])
            name = dep.get("outputFileName") or "predictions.csv"
            cc.upload_blob(f"{path.rstrip('/')}/{name}", (work / "out" / "predictions.csv").read_bytes(), overwrite=True)
        return True

    # --- state machine ------------------------------------------------------------------------
    def advance(self, rid: str, job: str) -> None:
        res = self.fake.resources.get(rid.lower())
        if res is None:
            return
        props = res["properties"]
        status = props.get("status")
        if status in ("Completed", "Failed", "Canceled"):
            return
        if status == "CancelRequested":
            props["status"] = "Canceled"
            self._write_log(job, "cancelled by user\n")
            return
        script = self.script.get(job, self.default_script)
        i = min(self.step.get(job, 0) + 1, len(script) - 1)
        self.step[job] = i
        new = script[i]
        if new == status:
            return
        props["status"] = new
        if new == "Running":
            self._write_log(job, f"starting {job}\n" + "".join(f"{ln}\n" for ln in self.log_lines.get(job, self.default_log_lines)))
        elif new == "Completed":
            if res.get("_batch") is not None:  # the scorer writes the batch job's one output itself
                if not self._score(job, res):
                    props["status"] = "Failed"
                    return
            else:
                self._write_outputs(job, res)
            self._write_log(job, f"{job} completed\n")
        elif new == "Failed":
            self._write_log(job, "Traceback (most recent call last):\nRuntimeError: boom\n")


def install(fake: FakeAzureML, azurite: Any) -> FakeJobs:
    jobs = FakeJobs(fake, azurite)

    def on_put_jobs(rid: str, res: dict, old: dict | None) -> None:
        p = res["properties"]
        name = res["name"]
        if old is None:
            p["status"] = jobs.default_script[0] if name not in jobs.script else jobs.script[name][0]
            jobs.step[name] = 0
            jobs._write_log(name, "")
        else:
            p["status"] = old["properties"].get("status")
        p.setdefault("experimentName", "Default")
        p["services"] = {**(p.get("services") or {}),  # the job's own (vs_code, jupyter_lab, ...) stay, as on Azure
                         "Studio": {"jobServiceType": "Studio", "endpoint": f"https://ml.azure.com/runs/{name}"},
                         "Tracking": {"jobServiceType": "Tracking", "endpoint": f"azureml://{fake.location}.api.azureml.ms/mlflow"}}
        outs = p.setdefault("outputs", {}) or {}
        p["outputs"] = outs
        outs.setdefault("default", {"jobOutputType": "uri_folder", "mode": "ReadWriteMount",
                                    "uri": f"azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.{name}"})

    fake._on_put_jobs = on_put_jobs  # fake_arm looks up ``_on_put_<kind>`` hooks by name

    @fake.route("GET", JOB + r"$")
    def get_job(f: FakeAzureML, req: Request, m: re.Match) -> Reply | None:
        rid = f"{m.group('ws')}/jobs/{m.group('name')}"
        res = f.get(rid)
        if res is None:
            return None  # fake_arm's generic route answers 404
        jobs.advance(rid, m.group("name"))
        return Reply(200, res)

    @fake.route("POST", JOB + r"/cancel$")
    def cancel_job(f: FakeAzureML, req: Request, m: re.Match) -> Reply:
        rid = f"{m.group('ws')}/jobs/{m.group('name')}"
        res = f.resources.get(rid.lower())
        if res is None:
            return _error(404, "ResourceNotFound", f"job '{m.group('name')}' was not found")
        if res["properties"].get("status") not in ("Completed", "Failed", "Canceled"):
            res["properties"]["status"] = "CancelRequested"
        return Reply(202, None, f.lro(None))

    @fake.route("GET", HISTORY)
    def run_details(f: FakeAzureML, req: Request, m: re.Match) -> Reply:
        name = m.group("name")
        res = f.get(f"{m.group('ws')}/jobs/{name}")
        if res is None:
            return _error(404, "RunNotFound", f"run {name} was not found")
        files = {"user_logs/std_log.txt": jobs.log_url(name)} if name in jobs.logs and jobs.details_logs else {}
        jobs.advance(f"{m.group('ws')}/jobs/{name}", name)  # run history polls move time on, as job GETs do
        return Reply(200, {"runId": name, "status": res["properties"].get("status"), "logFiles": files,
                           "target": (res["properties"].get("computeId") or "").rsplit("/", 1)[-1]})

    return jobs


__all__ = ["FakeJobs", "install", "NS"]
