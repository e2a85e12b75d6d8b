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
# azureml://jobs/<run>/outputs/<output>[/paths/<path inside it>] (azure-ai-ml's JOB_URI_FORMAT); earlier
# leafctl versions wrote a folder inside an output without the ``paths/`` segment: read that too.
JOB_OUTPUT_PATH = re.compile(r"^azureml://jobs/(?P<run>[^/]+)/outputs/(?P<output>[^/]+)(?:/paths)?(?:/(?P<sub>.*))?$", re.I)


def job_output_uri(run_id: str, output: str | None) -> str:
    """``--run R --output result/model`` -> ``azureml://jobs/R/outputs/result/paths/model/``."""
    name, _, sub = (output or "artifacts").strip("/").partition("/")
    return f"azureml://jobs/{run_id}/outputs/{name}" + (f"/paths/{sub.strip('/')}/" if sub.strip("/") else "")


def model_record(m: Any) -> Model:
    kind = (m.type or "custom_model").replace("_model", "")
    run_id = getattr(m, "job_name", None)
    if not run_id and m.path:
        hit = JOB_OUTPUT.match(m.path)
        run_id = hit.group("run") if hit else None
    extra = {"stage": getattr(m, "stage", None), "properties": dict(getattr(m, "properties", None) or {}) or None,
             "flavors": dict(getattr(m, "flavors", None) or {}) or None}
    return Model(name=m.name, version=str(m.version), type=kind, path=short_uri(m.path), tags=dict(m.tags or {}),
                 description=m.description, run_id=run_id, created_at=_created(m),
                 extra={k: v for k, v in extra.items() if v is not None})


class ModelOps:
    def register_model(self, name: str, path: Path | None = None, run_id: str | None = None, output: str | None = None,
                       type: str = "custom", tags: dict[str, str] | None = None, description: str | None = None,
                       version: str | None = None, extra: dict[str, Any] | None = None,
                       follow_links: bool = False, links: list[str] | None = None) -> Model:
        from leafctl.backends.common import check_name, check_version
        from leafctl.specs.assets import model_entity

        check_name("model", name)
        if version is not None:
            check_version("model", str(version))

        az_type = MODEL_TYPES.get(type)
        if az_type is None:
            raise UsageError(f"model type {type!r} is not known", "use custom, mlflow or triton")
        if (path is None) == (run_id is None):
            raise UsageError("give exactly one of a path and --run", "e.g. --path ./model or --run <run-id> --output model")
        if run_id is not None:
            # The run's named output, as `az ml model create --path azureml://jobs/<run>/outputs/<name>` takes it;
            # a folder inside it (an evolve run's result/model) as .../outputs/<name>/paths/<folder>/.
            remote = job_output_uri(run_id, output)
            # The run and its output exist (NotFound, exit 3, as the local backend says); an MLflow model's
            # folder holds MLmodel.
            files = self._job_output_files(remote)
            if az_type == "mlflow_model":
                self._check_mlflow_output(remote, *files)
        else:
            src = fix_uri(path)
            local = Path(src)
            if az_type == "mlflow_model" and local.exists() and not (local / "MLmodel").is_file():
                raise UsageError(f"{src} is not an MLflow model folder (no MLmodel file)",
                                 "register it with --type custom, or point at the folder that holds MLmodel")
            # Links in the folder: left out and named in `links` unless follow_links, as `data upload` does.
            remote = self._remote_path(src, f"LocalUpload/models/{name}", follow_links=follow_links, links=links)
        # Every carried field of the spec (stage, properties, flavors ...) through azure-ai-ml's own schema.
        entity = model_entity(name, remote, az_type, version, description, tags, extra)
        if run_id:
            entity.job_name = run_id
        return model_record(self.client.models.create_or_update(entity))

    def _job_output_files(self, uri: str) -> tuple[str, str, str, str]:
        """(run, output, datastore, path) of ``azureml://jobs/<run>/outputs/<output>[/paths/<sub>]``."""
        hit = JOB_OUTPUT_PATH.match(uri)
        assert hit is not None
        run, output = hit.group("run"), hit.group("output")
        ds, path = self._output_locations(run, output)[output]
        sub = (hit.group("sub") or "").strip("/")
        return run, output, ds, (f"{path.rstrip('/')}/{sub}" if sub else path.rstrip("/"))

    def _check_mlflow_output(self, uri: str, run: str, output: str, ds: str, path: str) -> None:
        """An MLflow model from a run's output needs MLmodel at the top of that folder, as a local path does."""
        from leafctl.errors import LeafctlError

        try:
            names = {e.path for e in self.ls(path, datastore=ds)}
        except NotFound:
            raise NotFound(f"run {run}'s output {uri.split('/outputs/', 1)[1].replace('/paths/', '/').rstrip('/')!r} "
                           "has no files (yet)", f"wait for the run to complete: leafctl run wait {run}") from None
        except LeafctlError:
            return  # storage cannot be read from here; Azure ML checks the model when it is used
        if f"{path}/MLmodel" not in names:
            raise UsageError(f"run {run}'s output {output!r} is not an MLflow model folder (no MLmodel file at its top)",
                             "register it with --type custom, or give --output the folder that holds MLmodel")

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
        if JOB_OUTPUT_PATH.match(model.path or ""):
            # The model's files themselves into dest (as the local backend and `az ml model download` give
            # them), not the run's output folder around them.
            run, output, ds, path = self._job_output_files(model.path or "")
            try:
                self.download(path, dest, datastore=ds)
            except NotFound:
                raise NotFound(f"the files of model {name}:{model.version} are missing from run {run}'s output {output!r}",
                               f"see `leafctl run show {run}`") from None
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
