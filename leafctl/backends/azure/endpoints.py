"""Batch endpoints on Azure: an endpoint plus one deployment of a registered MLflow model (seed 002).

An MLflow model needs no scoring script and no environment: Azure ML generates both. Invoking starts a
batch scoring job over an ``azureml://`` folder or file (a local path is uploaded first).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from leafctl.backends.base import Endpoint, Run
from leafctl.backends.azure.assets import REMOTE, _created, fix_uri
from leafctl.backends.azure.client import lro
from leafctl.errors import NotFound, OperationFailed, UsageError

DEPLOYMENT = "default"


def _model_ref(model: str) -> tuple[str, str | None]:
    m = re.match(r"^(?:azureml:)?(?P<name>[A-Za-z0-9_.-]+)(?:[:@](?P<version>[A-Za-z0-9_.-]+))?$", model)
    if not m:
        raise UsageError(f"model {model!r} is not NAME or NAME:VERSION", "e.g. --model iris_classification:1")
    version = m.group("version")
    return m.group("name"), None if version in (None, "latest") else version


def _model_from_id(model_id: str | None) -> str | None:
    if not model_id:
        return None
    m = re.search(r"/models/(?P<name>[^/]+)/versions/(?P<v>[^/]+)$", model_id)
    if m:
        return f"{m.group('name')}:{m.group('v')}"
    return model_id.removeprefix("azureml:")


def _compute_name(compute: Any) -> str | None:
    if not compute:
        return None
    return str(compute).rsplit("/", 1)[-1].removeprefix("azureml:")


class EndpointOps:
    def _endpoint_record(self, ep: Any) -> Endpoint:
        deployment_name = getattr(getattr(ep, "defaults", None), "deployment_name", None)
        model = compute = None
        if deployment_name:
            from azure.core.exceptions import ResourceNotFoundError

            try:
                dep = self.client.batch_deployments.get(name=deployment_name, endpoint_name=ep.name)
                model = _model_from_id(dep.model if isinstance(dep.model, str) else getattr(dep.model, "id", None))
                compute = _compute_name(dep.compute)
            except ResourceNotFoundError:
                pass
        return Endpoint(name=ep.name, model=model, compute=compute, deployment=deployment_name,
                        state=str(getattr(ep.provisioning_state, 'value', ep.provisioning_state) or '') or "Succeeded", scoring_uri=ep.scoring_uri, created_at=_created(ep))

    def create_endpoint(self, name: str, model: str, compute: str | None = None) -> Endpoint:
        from azure.ai.ml.entities import BatchEndpoint, ModelBatchDeployment, ModelBatchDeploymentSettings

        compute = compute or self.settings.compute
        if not compute:
            raise UsageError("a batch deployment needs a compute cluster", "pass --compute NAME or `leafctl config set compute NAME`")
        model_name, version = _model_ref(model)
        registered = self.client.models.get(model_name, version=version) if version else self.client.models.get(model_name, label="latest")
        if (registered.type or "") != "mlflow_model":
            raise UsageError(f"model {model_name}:{registered.version} is a {registered.type or 'custom_model'}, not an MLflow model",
                             "batch deployments without a scoring script need an MLflow model (register it with --type mlflow)")
        self.client.compute.get(compute)  # NotFound (exit 3) before anything is created
        ep = lro(lambda: self.client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=name)))
        deployment = ModelBatchDeployment(
            name=DEPLOYMENT, endpoint_name=name, model=f"azureml:{registered.name}:{registered.version}", compute=compute,
            settings=ModelBatchDeploymentSettings(instance_count=1, max_concurrency_per_instance=1, mini_batch_size=10,
                                                  output_file_name="predictions.csv", output_action="append_row"),
        )
        lro(lambda: self.client.batch_deployments.begin_create_or_update(deployment))
        ep = self.client.batch_endpoints.get(name)
        ep.defaults.deployment_name = DEPLOYMENT
        ep = lro(lambda: self.client.batch_endpoints.begin_create_or_update(ep))
        return self._endpoint_record(ep)

    def get_endpoint(self, name: str) -> Endpoint:
        return self._endpoint_record(self.client.batch_endpoints.get(name))

    def list_endpoints(self) -> list[Endpoint]:
        return [self._endpoint_record(ep) for ep in self.client.batch_endpoints.list()]

    def delete_endpoint(self, name: str) -> None:
        self.client.batch_endpoints.get(name)  # NotFound (exit 3) rather than a silent no-op
        lro(lambda: self.client.batch_endpoints.begin_delete(name))

    def invoke_endpoint(self, name: str, input: str, output: Path | None = None) -> Run:
        """Start a batch scoring job; with ``output``, wait for it and copy its predictions there (a job that
        does not complete is an OperationFailed, exit 1: there are no predictions to copy)."""
        from azure.ai.ml import Input

        src = fix_uri(input)
        kind, path = self._scoring_input(name, src)
        job = self.client.batch_endpoints.invoke(endpoint_name=name, input=Input(type=kind, path=path))
        run = Run(id=job.name, status=_status(job), experiment=name, display_name=f"{name} batch scoring",
                  kind="batch", inputs={"input": path}, created_at=_created(job))
        if output is not None:
            done = self.wait_run(run.id)
            if done.status != "Completed":
                raise OperationFailed(f"batch scoring run {run.id} {done.status.lower()}: {done.error or 'no predictions written'}",
                                      f"see `leafctl run logs {run.id}`")
            run.status = done.status
            self._download_predictions(run.id, Path(output))
        return run

    def _scoring_input(self, name: str, src: str) -> tuple[str, str]:
        """(uri_file | uri_folder, path) of what to score. A file must go as uri_file: Azure ML mounts a
        uri_folder input as a folder, and a single blob mounted that way holds nothing to score."""
        from leafctl.backends.azure.storage import parse_any_uri

        if src.startswith("azureml:") and not src.startswith(REMOTE):  # a data asset: its own type
            asset = self._input("input", src)
            return asset.type, asset.path
        if not src.startswith(REMOTE):
            local = Path(src)
            if not local.exists():
                raise UsageError(f"input {src} is neither a local path nor an azureml:// URI", "pass a folder or file to score")
            return ("uri_file" if local.is_file() else "uri_folder"), self._remote_path(src, f"LocalUpload/endpoints/{name}")
        where = parse_any_uri(src)
        if where is not None:  # a datastore path: storage says whether it is one blob
            return self._uri_type(*where), src
        last = src.rstrip("/").rsplit("/", 1)[-1]
        return ("uri_file" if ("." in last and not src.endswith("/")) else "uri_folder"), src

    def _download_predictions(self, run_id: str, dest: Path) -> None:
        """The job's ``score`` output (predictions.csv) into ``dest`` itself, as the local backend writes it."""
        locations = self._output_locations(run_id)
        if "score" not in locations:
            self.download_run(run_id, dest)
            return
        ds, path = locations["score"]
        try:
            self.download(path, dest, datastore=ds)
        except NotFound:
            raise NotFound(f"batch scoring run {run_id} completed but wrote no predictions",
                           f"see `leafctl run logs {run_id}`") from None

def _status(job: Any) -> str:
    status = getattr(job, "status", None) or getattr(getattr(job, "properties", None), "status", None) or "Queued"
    return {"NotStarted": "Queued", "Starting": "Queued", "Preparing": "Queued", "Provisioning": "Queued",
            "Finalizing": "Running", "CancelRequested": "Running"}.get(status, status)
