"""Registered models on Azure: custom and MLflow, from a local path, a datastore URI or a run's output."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from leafctl.backends.base import Model
from leafctl.backends.azure.assets import _created, fix_uri, short_uri, split_datastore_uri
from leafctl.errors import NotFound, UsageError

MODEL_TYPES = {"custom": "custom_model", "mlflow": "mlflow_model", "custom_model": "custom_model",
               "mlflow_model": "mlflow_model", "triton": "triton_model", "triton_model": "triton_model"}
JOB_OUTPUT = re.compile(r"^azureml://jobs/(?P<run>[^/]+)/outputs/", re.I)


def model_record(m: Any) -> Model:
    kind = (m.type or "custom_model").replace("_model", "")
    run_id = getattr(m, "job_name", None)
    if not run_id and m.path:
        hit = JOB_OUTPUT.match(m.path)
        run_id = hit.group("run") if hit else None
    return Model(name=m.name, version=str(m.version), type=kind, path=short_uri(m.path), tags=dict(m.tags or {}),
                 description=m.description, run_id=run_id, created_at=_created(m))


class ModelOps:
    def register_model(self, name: str, path: Path | None = None, run_id: str | None = None, output: str | None = None,
                       type: str = "custom", tags: dict[str, str] | None = None, description: str | None = None) -> Model:
        from azure.ai.ml.entities import Model as AzModel

        az_type = MODEL_TYPES.get(type)
        if az_type is None:
            raise UsageError(f"model type {type!r} is not known", "use custom or mlflow")
        if (path is None) == (run_id is None):
            raise UsageError("give exactly one of a path and --run", "e.g. --path ./model or --run <run-id> --output model")
        if run_id is not None:
            # The run's named output, as `az ml model create --path azureml://jobs/<run>/outputs/<name>` takes it.
            remote = f"azureml://jobs/{run_id}/outputs/{output or 'artifacts'}"
        else:
            src = fix_uri(path)
            local = Path(src)
            if az_type == "mlflow_model" and local.exists() and not (local / "MLmodel").is_file():
                raise UsageError(f"{src} is not an MLflow model folder (no MLmodel file)",
                                 "register it with --type custom, or point at the folder that holds MLmodel")
            remote = self._remote_path(src, f"LocalUpload/models/{name}")
        entity = AzModel(name=name, path=remote, type=az_type, tags=tags or {}, description=description)
        if run_id:
            entity.job_name = run_id
        return model_record(self.client.models.create_or_update(entity))

    def get_model(self, name: str, version: str | None = None) -> Model:
        if version and version != "latest":
            return model_record(self.client.models.get(name, version=str(version)))
        return model_record(self.client.models.get(name, label="latest"))

    def list_models(self, name: str | None = None) -> list[Model]:
        if name:
            return [model_record(m) for m in self.client.models.list(name=name)]
        out: list[Model] = []
        for container in self.client.models.list():
            out.extend(model_record(m) for m in self.client.models.list(name=container.name))
        return out

    def download_model(self, name: str, version: str, dest: Path) -> Path:
        model = self.get_model(name, version)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        where = split_datastore_uri(model.path or "")
        if where is not None:
            # leafctl's own transfer (azure-storage-blob), the same code path as `data download`.
            self.download(where[1], dest, datastore=where[0])
            return dest
        if JOB_OUTPUT.match(model.path or ""):
            hit = JOB_OUTPUT.match(model.path or "")
            output = (model.path or "")[hit.end():].split("/", 1)[0]
            self.download_run(hit.group("run"), dest, output=output or None)
            return dest
        raise UsageError(f"model {name}:{model.version} lives at {model.path}, which leafctl cannot download",
                         "download it with the Azure ML studio or `az ml model download`")

    def delete_model(self, name: str, version: str | None = None) -> None:
        ops = self.client.models
        rg, ws = self.settings.resource_group, self.settings.workspace
        versions = [str(version)] if version else [m.version for m in self.list_models(name)]
        if not versions:
            raise NotFound(f"model '{name}' not found in workspace '{ws}'", "see `leafctl model list`")
        for v in versions:
            ops.get(name, version=v)  # NotFound (exit 3) for a wrong version
            ops._model_versions_operation.delete(rg, ws, name, v)
        if not version or not list(ops.list(name=name)):
            ops._model_container_operation.delete(rg, ws, name)
