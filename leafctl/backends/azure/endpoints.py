"""Batch endpoints and deployments on Azure, through azure-ai-ml's ``batch_endpoints`` and ``batch_deployments``.

``endpoint create NAME --model M`` is an endpoint plus one deployment ``default`` of a registered MLflow model
(seed 002): an MLflow model needs no scoring script and no environment, Azure ML generates both. A deployment
document (``endpoint deployment create -f``) is loaded into azure-ai-ml's entity whole and sent as it is:
name, model (a registered reference, or an inline local model the SDK uploads and registers), code_configuration
+ environment, compute, resources, settings. Invoking starts a batch scoring job over an ``azureml://`` folder
or file (a local path is uploaded first) on the default deployment or the one named.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from leafctl.backends.base import Deployment, Endpoint, Run
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


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(getattr(value, "value", value))


def _settings(dep: Any) -> dict[str, Any]:
    """A deployment entity's run settings (``settings:`` of a model deployment, or the flat attributes)."""
    src = getattr(dep, "settings", None) or dep
    retry = getattr(src, "retry_settings", None)
    out = {k: _plain(getattr(src, k, None)) for k in ("mini_batch_size", "max_concurrency_per_instance", "output_action",
                                                      "output_file_name", "error_threshold", "logging_level")}
    out["retry_settings"] = {"max_retries": getattr(retry, "max_retries", None), "timeout": getattr(retry, "timeout", None)} \
        if retry is not None else None
    return {k: v for k, v in out.items() if v is not None}


def _default_of(ep: Any) -> str | None:
    d = getattr(ep, "defaults", None)
    return d.get("deployment_name") if isinstance(d, dict) else getattr(d, "deployment_name", None)


class EndpointOps:
    def _deployment_record(self, dep: Any, default: str | None) -> Deployment:
        model = dep.model if isinstance(dep.model, str) else getattr(dep.model, "id", None)
        cc = getattr(dep, "code_configuration", None)
        res = getattr(dep, "resources", None)
        try:
            spec = _plain(dep._to_dict())
        except Exception:  # a service-side shape the SDK cannot dump: the record still says what matters
            spec = {}
        return Deployment(name=dep.name, endpoint=dep.endpoint_name, model=_model_from_id(model),
                          compute=_compute_name(dep.compute), scoring_script=getattr(cc, "scoring_script", None),
                          instance_count=int(getattr(res, "instance_count", None) or getattr(dep, "instance_count", None) or 1),
                          settings=_settings(dep), is_default=dep.name == default,
                          state=str(getattr(dep, "provisioning_state", None) or "Succeeded"),
                          created_at=_created(dep), spec=spec)

    def _endpoint_record(self, ep: Any) -> Endpoint:
        deployment_name = _default_of(ep)
        model = compute = None
        if deployment_name:
            from azure.core.exceptions import ResourceNotFoundError

            try:
                dep = self.client.batch_deployments.get(name=deployment_name, endpoint_name=ep.name)
                model = _model_from_id(dep.model if isinstance(dep.model, str) else getattr(dep.model, "id", None))
                compute = _compute_name(dep.compute)
            except ResourceNotFoundError:
                pass
        extra = {k: _plain(v) for k, v in (("description", ep.description), ("tags", ep.tags or None),
                                           ("auth_mode", getattr(ep, "auth_mode", None)), ("location", ep.location),
                                           ("properties", ep.properties or None)) if v}
        if deployment_name:
            extra["defaults"] = {"deployment_name": deployment_name}
        return Endpoint(name=ep.name, model=model, compute=compute, deployment=deployment_name,
                        state=str(getattr(ep.provisioning_state, 'value', ep.provisioning_state) or '') or "Succeeded",
                        scoring_uri=ep.scoring_uri, created_at=_created(ep), extra=extra)

    def _put_endpoint(self, name: str, spec: dict[str, Any] | None) -> Any:
        """Create or update the endpoint from its document; an update keeps the default deployment unless the
        document names one."""
        from azure.core.exceptions import ResourceNotFoundError

        from leafctl.specs.endpoint import endpoint_entity

        entity = endpoint_entity({**(spec or {}), "name": name})
        if not (spec or {}).get("defaults"):
            try:
                old = self.client.batch_endpoints.get(name)
                entity.defaults = old.defaults
            except ResourceNotFoundError:
                pass
        return lro(lambda: self.client.batch_endpoints.begin_create_or_update(entity))

    def _set_default(self, endpoint: str, deployment: str) -> Any:
        ep = self.client.batch_endpoints.get(endpoint)
        ep.defaults = {"deployment_name": deployment}
        return lro(lambda: self.client.batch_endpoints.begin_create_or_update(ep))

    def create_endpoint(self, name: str, model: str | None = None, compute: str | None = None,
                        spec: dict[str, Any] | None = None) -> Endpoint:
        if model is None:
            return self._endpoint_record(self._put_endpoint(name, spec))
        from azure.ai.ml.entities import ModelBatchDeployment, ModelBatchDeploymentSettings

        compute = compute or self.settings.compute
        if not compute:
            raise UsageError("a batch deployment needs a compute cluster", "pass --compute NAME or `leafctl config set compute NAME`")
        model_name, version = _model_ref(model)
        registered = self.client.models.get(model_name, version=version) if version else self.client.models.get(model_name, label="latest")
        if (registered.type or "") != "mlflow_model":
            raise UsageError(f"model {model_name}:{registered.version} is a {registered.type or 'custom_model'}, not an MLflow model",
                             "batch deployments without a scoring script need an MLflow model (register it with --type mlflow)")
        self.client.compute.get(compute)  # NotFound (exit 3) before anything is created
        self._put_endpoint(name, spec)
        deployment = ModelBatchDeployment(
            name=DEPLOYMENT, endpoint_name=name, model=f"azureml:{registered.name}:{registered.version}", compute=compute,
            settings=ModelBatchDeploymentSettings(instance_count=1, max_concurrency_per_instance=1, mini_batch_size=10,
                                                  output_file_name="predictions.csv", output_action="append_row"),
        )
        lro(lambda: self.client.batch_deployments.begin_create_or_update(deployment))
        return self._endpoint_record(self._set_default(name, DEPLOYMENT))

    # ----- deployments -----

    def create_deployment(self, spec: dict[str, Any], set_default: bool = False) -> Deployment:
        """The deployment document loaded into azure-ai-ml's entity and sent whole. A registered model is
        resolved first (``@latest`` to its version; an MLflow model may go without a scoring script); an
        inline local model, the code folder and an inline environment are uploaded by azure-ai-ml."""
        from leafctl.specs.endpoint import compute_of, deployment_entity, model_ref, scoring

        endpoint, name = spec["endpoint_name"], spec["name"]
        ep = self.client.batch_endpoints.get(endpoint)  # NotFound (exit 3): the endpoint comes first, as in az ml
        doc = dict(spec)
        ref = model_ref(spec)
        sc = scoring(spec)
        if isinstance(ref, str):
            model_name, version = _model_ref(ref)
            registered = self.client.models.get(model_name, version=version) if version else \
                self.client.models.get(model_name, label="latest")
            if sc is None and (registered.type or "") != "mlflow_model":
                raise UsageError(f"model {model_name}:{registered.version} is a {registered.type or 'custom_model'}, not an MLflow model",
                                 "a deployment without code_configuration needs an MLflow model; give code_configuration "
                                 "{code, scoring_script} and an environment for a custom model")
            doc["model"] = f"azureml:{registered.name}:{registered.version}"
        else:
            if sc is None and str(ref.get("type") or "custom_model") != "mlflow_model":
                raise UsageError(f"deployment {name}: the inline model {ref.get('name')} is not an MLflow model (type: mlflow_model)",
                                 "give code_configuration {code, scoring_script} and an environment, or an MLflow model")
            doc["model"] = self._inline_model(ref, spec)
        local_code = sc is not None and "://" not in str(sc.get("code") or "") and not str(sc.get("code") or "").startswith("azureml:")
        compute = compute_of(spec) or self.settings.compute
        if not compute:
            raise UsageError("a batch deployment needs a compute cluster", "give `compute: azureml:NAME`, --compute NAME, "
                             "or `leafctl config set compute NAME`")
        self.client.compute.get(compute)  # NotFound (exit 3) before anything is created
        doc["compute"] = f"azureml:{compute}"
        entity = deployment_entity(doc)
        if local_code:
            from azure.ai.ml._utils._endpoint_utils import validate_scoring_script

            validate_scoring_script(entity)  # az ml's own check (the file parses), on the local folder
            # uploaded by leafctl's own transfer (as a job's code is), so the same path works against Azurite
            entity.code_configuration.code = self._upload_code(str(sc["code"]))
        dep = lro(lambda: self.client.batch_deployments.begin_create_or_update(entity, skip_script_validation=local_code))
        default = _default_of(ep)
        if set_default or not default:
            self._set_default(endpoint, name)
            default = name
        return self._deployment_record(self.client.batch_deployments.get(name=name, endpoint_name=endpoint) if dep is None
                                       or not getattr(dep, "name", None) else dep, default)

    def _inline_model(self, ref: dict[str, Any], spec: dict[str, Any]) -> str:
        """An inline model ``{name, path}`` registered (a local path uploaded) -> ``azureml:NAME:VERSION``."""
        from azure.core.exceptions import ResourceNotFoundError

        name = ref.get("name") or f"{spec['endpoint_name']}-{spec['name']}-model"
        if ref.get("version") is not None:
            try:
                m = self.client.models.get(name, version=str(ref["version"]))
                return f"azureml:{m.name}:{m.version}"
            except ResourceNotFoundError:
                pass
        path = ref.get("path")
        if not path:
            raise UsageError(f"deployment {spec['name']}: the inline model {name} has no path",
                             "give model.path (a local folder or an azureml:// URI), or a registered model azureml:NAME:VERSION")
        mtype = {"mlflow_model": "mlflow", "triton_model": "triton"}.get(str(ref.get("type") or ""), "custom")
        m = self.register_model(name, path=Path(str(path)) if "://" not in str(path) else path, type=mtype,
                                version=str(ref["version"]) if ref.get("version") is not None else None,
                                description=ref.get("description"), tags=ref.get("tags"))
        return f"azureml:{m.name}:{m.version}"

    def get_deployment(self, endpoint: str, name: str) -> Deployment:
        ep = self.client.batch_endpoints.get(endpoint)
        return self._deployment_record(self.client.batch_deployments.get(name=name, endpoint_name=endpoint),
                                       _default_of(ep))

    def list_deployments(self, endpoint: str) -> list[Deployment]:
        ep = self.client.batch_endpoints.get(endpoint)
        default = _default_of(ep)
        return [self._deployment_record(d, default) for d in self.client.batch_deployments.list(endpoint_name=endpoint)]

    def delete_deployment(self, endpoint: str, name: str) -> None:
        self.client.batch_deployments.get(name=name, endpoint_name=endpoint)  # NotFound (exit 3), not a silent no-op
        lro(lambda: self.client.batch_deployments.begin_delete(name=name, endpoint_name=endpoint))

    def get_endpoint(self, name: str) -> Endpoint:
        return self._endpoint_record(self.client.batch_endpoints.get(name))

    def list_endpoints(self) -> list[Endpoint]:
        return [self._endpoint_record(ep) for ep in self.client.batch_endpoints.list()]

    def delete_endpoint(self, name: str) -> None:
        self.client.batch_endpoints.get(name)  # NotFound (exit 3) rather than a silent no-op
        lro(lambda: self.client.batch_endpoints.begin_delete(name))

    def invoke_endpoint(self, name: str, input: str, output: Path | None = None, deployment: str | None = None) -> Run:
        """Start a batch scoring job (on ``deployment``, else the endpoint's default); with ``output``, wait for
        it and copy its predictions there (a job that does not complete is an OperationFailed, exit 1: there are
        no predictions to copy)."""
        from azure.ai.ml import Input

        if deployment:
            self.client.batch_deployments.get(name=deployment, endpoint_name=name)  # NotFound (exit 3) first
        src = fix_uri(input)
        kind, path = self._scoring_input(name, src)
        extra = {"deployment_name": deployment} if deployment else {}
        # azure-ai-ml 1.35 writes the deployment (and the bearer token) into its class-level DEFAULT_HEADER
        # dict, so in one process a later invoke without --deployment went to the earlier one's deployment
        # (a notebook calling invoke twice). Restore the dict after every call.
        from azure.ai.ml.constants._endpoint import EndpointInvokeFields

        saved = dict(EndpointInvokeFields.DEFAULT_HEADER)
        try:
            job = self.client.batch_endpoints.invoke(endpoint_name=name, input=Input(type=kind, path=path), **extra)
        finally:
            EndpointInvokeFields.DEFAULT_HEADER.clear()
            EndpointInvokeFields.DEFAULT_HEADER.update(saved)
        run = Run(id=job.name, status=_status(job), experiment=name, display_name=f"{name} batch scoring",
                  kind="batch", inputs={"input": path}, created_at=_created(job),
                  tags={"endpoint": name, **({"deployment": deployment} if deployment else {})})
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
