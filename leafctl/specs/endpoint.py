"""Batch endpoint and batch deployment specs (az ml v2) -> the documents both backends carry whole.

A batch endpoint is ``name`` plus what the endpoint itself holds (description, tags, auth_mode, defaults,
identity, location, properties); a batch deployment is everything ``az ml batch-deployment create`` takes:
name, endpoint_name, model (a registered reference ``azureml:NAME:VERSION`` / ``azureml:NAME@latest`` or an
inline model ``{name, path}``), ``code_configuration`` + ``environment`` (custom scoring) or none (MLflow),
compute, ``resources.instance_count``, and the run settings either under ``settings:`` (``type: model``,
ModelBatchDeploymentSchema) or flat at the top level (BatchDeploymentSchema).

Every field of azure-ai-ml's schemas is in ``FIELDS``: carried (kept in the document, printed by --dry-run,
sent to Azure, honoured locally where it means something) or refused by name. The documents keep what the
user wrote, local paths made absolute, so --dry-run prints them whole and azure-ai-ml loads them back into
equal entities.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Sequence

from leafctl.errors import UsageError
from leafctl.specs import fields as _fields
from leafctl.specs.load import _base, _plain, load_with_doc, local_path, read_doc

C = _fields.CARRY
_PIPELINE = ("pipeline component deployments (type: pipeline) are not supported; leafctl deploys models "
             "(type: model, or a model with code_configuration)")
FIELDS = {
    "batch_endpoint": {
        "$schema": C, "name": C, "description": C, "tags": C, "auth_mode": C, "defaults": C, "location": C,
        "properties": C,
        "identity": "azure-ai-ml 1.35 cannot create a batch endpoint with an identity (its BatchEndpoint takes none); "
                    "batch scoring jobs run as the workspace's or the compute's identity",
        "id": _fields.READ_ONLY, "provisioning_state": _fields.READ_ONLY, "scoring_uri": _fields.READ_ONLY,
        "openapi_uri": _fields.READ_ONLY,
    },
    "batch_deployment": {
        "$schema": C, "name": C, "endpoint_name": C, "description": C, "tags": C, "properties": C, "type": C,
        "model": C, "code_configuration": C, "environment": C, "environment_variables": C, "compute": C,
        "resources": C, "settings": C,
        # the flat forms of `settings:` that BatchDeploymentSchema takes
        "mini_batch_size": C, "max_concurrency_per_instance": C, "output_action": C, "output_file_name": C,
        "retry_settings": C, "error_threshold": C, "logging_level": C,
        "id": _fields.READ_ONLY, "job_definition": _PIPELINE, "component": _PIPELINE,
    },
}
SETTINGS = ("mini_batch_size", "max_concurrency_per_instance", "output_action", "output_file_name", "retry_settings",
            "error_threshold", "logging_level")
# What Azure ML uses when a setting is left out (az ml batch deployment YAML reference).
DEFAULTS: dict[str, Any] = {"mini_batch_size": 10, "max_concurrency_per_instance": 1, "output_action": "append_row",
                            "output_file_name": "predictions.csv", "retry_settings": {"max_retries": 3, "timeout": 30},
                            "error_threshold": -1, "logging_level": "info"}
# endpoint fields with no meaning on the local backend (recorded, sent to Azure on the azure backend)
ENDPOINT_NOT_LOCAL = ("auth_mode", "location")
DEPLOYMENT_NOT_LOCAL = ("resources", "environment", "max_concurrency_per_instance", "retry_settings.timeout")
SCHEMA = "https://azuremlschemas.azureedge.net/latest/batchDeployment.schema.json"


def _is_deployment(doc: dict[str, Any]) -> bool:
    return any(k in doc for k in ("endpoint_name", "model", "settings", "code_configuration", "resources")) or \
        str(doc.get("type") or "").lower() in ("model", "pipeline", "pipeline_component")


def _absolute(doc: dict[str, Any], base: Path | None) -> None:
    """Local paths in a deployment document made absolute (relative to the spec's folder, as az ml reads them)."""
    model = doc.get("model")
    if isinstance(model, dict) and isinstance(model.get("path"), str):
        model["path"] = local_path(model["path"], base)
    cc = doc.get("code_configuration")
    if isinstance(cc, dict) and isinstance(cc.get("code"), str):
        cc["code"] = local_path(cc["code"], base)
    env = doc.get("environment")
    if isinstance(env, dict):
        if isinstance(env.get("conda_file"), str):
            env["conda_file"] = local_path(env["conda_file"], base)
        build = env.get("build")
        if isinstance(build, dict) and isinstance(build.get("path"), str):
            build["path"] = local_path(build["path"], base)


def endpoint_doc(file: str | Path | None, sets: Sequence[str] | None = None, name: str | None = None) -> dict[str, Any]:
    """The batch endpoint document (file < NAME < --set), validated offline; refused fields exit 2."""
    where = str(file) if file else "the flags"
    raw = read_doc(file) if file else {}
    _fields.refuse("batch_endpoint", raw, where)
    ep, doc = load_with_doc("batch_endpoint", file, sets, [{"name": name}] if name else None, doc=raw if file else None)
    _fields.refuse("batch_endpoint", doc, where)
    if not ep.name:
        raise UsageError("the endpoint has no name", "give NAME, or `name:` in the endpoint YAML")
    return _plain(doc)


def deployment_doc(file: str | Path | None, sets: Sequence[str] | None = None, *, name: str | None = None,
                   endpoint: str | None = None, model: str | None = None, compute: str | None = None) -> dict[str, Any]:
    """The batch deployment document (file < flags < --set), validated offline, local paths absolute."""
    where = str(file) if file else "the flags"
    raw = read_doc(file) if file else {}
    _fields.refuse("batch_deployment", raw, where)
    flags: list[dict[str, Any]] = []
    flags += [{"endpoint_name": endpoint}] if endpoint else []
    flags += [{"name": name}] if name else []
    flags += [{"model": model if model.startswith("azureml:") else f"azureml:{model}"}] if model else []
    flags += [{"compute": compute if compute.startswith("azureml:") else f"azureml:{compute}"}] if compute else []
    if not file:
        flags.insert(0, {"type": "model"})
    d, doc = load_with_doc("batch_deployment", file, sets, flags, doc=raw if file else None)
    _fields.refuse("batch_deployment", doc, where)
    doc = _plain(doc)
    _absolute(doc, _base(file))
    if not d.endpoint_name:
        raise UsageError("the deployment names no endpoint", "give --endpoint NAME, or `endpoint_name:` in the deployment YAML")
    if not d.name:
        raise UsageError("the deployment has no name", "give --name NAME, or `name:` in the deployment YAML")
    if doc.get("model") is None:
        raise UsageError(f"deployment {d.name} has no model",
                         "give `model: azureml:NAME:VERSION` (or an inline `model: {name, path}`), or --model NAME:VERSION")
    cc = doc.get("code_configuration")
    if cc is not None and not (isinstance(cc, dict) and cc.get("scoring_script")):
        raise UsageError(f"deployment {d.name}: code_configuration needs scoring_script",
                         "e.g. code_configuration: {code: ./code, scoring_script: batch_driver.py}")
    if cc is not None and isinstance(cc.get("code"), str) and not cc["code"].startswith("azureml:") \
            and not Path(cc["code"], cc["scoring_script"]).is_file():
        raise UsageError(f"deployment {d.name}: scoring script {cc['scoring_script']} not found in {cc['code']}",
                         "code_configuration.code is the folder (relative to the YAML), scoring_script the file in it")
    return doc


# ----- what a deployment document says -----

def model_ref(doc: dict[str, Any]) -> str | dict[str, Any]:
    """``NAME:VERSION`` / ``NAME@latest`` / ``NAME`` for a registered model, or the inline model mapping."""
    m = doc.get("model")
    if isinstance(m, dict):
        return m
    s = str(m)
    arm = re.search(r"/models/([^/]+)/versions/([^/]+)$", s)
    if arm:
        return f"{arm.group(1)}:{arm.group(2)}"
    return s.removeprefix("azureml:")


def compute_of(doc: dict[str, Any]) -> str | None:
    c = doc.get("compute")
    return str(c).rsplit("/", 1)[-1].removeprefix("azureml:") if c else None


def settings_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The run settings, from ``settings:`` or the flat top-level forms, Azure's defaults for the rest."""
    given = dict(doc.get("settings") or {})
    given.update({k: doc[k] for k in SETTINGS if k in doc})
    out = copy.deepcopy(DEFAULTS)
    for k, v in given.items():
        if k == "retry_settings" and isinstance(v, dict):
            out["retry_settings"].update({kk: vv for kk, vv in v.items() if vv is not None})
        elif v is not None:
            out[k] = v
    out["output_action"] = str(out["output_action"]).lower().replace("-", "_")
    if out["output_action"] not in ("append_row", "summary_only"):
        raise UsageError(f"output_action {out['output_action']!r} is not append_row or summary_only", "use append_row or summary_only")
    return out


def instance_count(doc: dict[str, Any]) -> int:
    res = doc.get("resources") or {}
    return int(res.get("instance_count") or 1) if isinstance(res, dict) else 1


def scoring(doc: dict[str, Any]) -> dict[str, Any] | None:
    """``{code, scoring_script}`` of a custom deployment; None for an MLflow deployment (no scoring script)."""
    cc = doc.get("code_configuration")
    return dict(cc) if isinstance(cc, dict) and cc.get("scoring_script") else None


def no_local_effect(doc: dict[str, Any]) -> list[str]:
    """Fields a deployment document sets that the local backend records but cannot apply."""
    names = [k for k in ("resources", "environment") if doc.get(k)]
    s = {**(doc.get("settings") or {}), **{k: doc[k] for k in SETTINGS if k in doc}}
    if int(s.get("max_concurrency_per_instance") or 1) > 1:
        names.append("max_concurrency_per_instance")
    if isinstance(s.get("retry_settings"), dict) and s["retry_settings"].get("timeout") is not None:
        names.append("retry_settings.timeout")
    return names


def deployment_entity(doc: dict[str, Any]) -> Any:
    """The azure-ai-ml entity for a deployment document (what the Azure backend sends)."""
    d = copy.deepcopy(doc)
    d.pop("$schema", None)
    head = {"type": d.pop("type")} if "type" in d else {}
    return load_with_doc("batch_deployment", None, overrides=[head, *({k: v} for k, v in d.items())])[0]


def endpoint_entity(doc: dict[str, Any]) -> Any:
    d = copy.deepcopy(doc)
    d.pop("$schema", None)
    return load_with_doc("batch_endpoint", None, overrides=[{k: v} for k, v in d.items()])[0]


# ----- `endpoint create -f endpoint.yml [-f deployment.yml]` -----

def resolve_files(files: Sequence[str | Path], sets: Sequence[str] | None = None, name: str | None = None,
                  model: str | None = None, compute: str | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(endpoint document, deployment document or None) from a batch endpoint YAML and/or a batch deployment
    YAML (told apart by their keys), NAME/--model/--compute on top. --set applies to the deployment when
    there is one, else to the endpoint. --model without a deployment YAML makes a deployment ``default``."""
    by_kind: dict[str, str | Path] = {}
    for f in files:
        kind = "batch_deployment" if _is_deployment(read_doc(f)) else "batch_endpoint"
        if kind in by_kind:
            raise UsageError(f"two batch {kind.split('_')[1]} specs: {by_kind[kind]} and {f}", "give one endpoint YAML and one deployment YAML")
        by_kind[kind] = f
    dep_file, ep_file = by_kind.get("batch_deployment"), by_kind.get("batch_endpoint")
    dep_sets = sets if dep_file or (model and not ep_file) else None
    ep_name = name
    ep: dict[str, Any] | None = None
    if ep_file or (not dep_file and not model):
        ep = endpoint_doc(ep_file, None if dep_sets else sets, name)
        ep_name = ep["name"]
    dep = None
    if dep_file or model:
        dep = deployment_doc(dep_file, dep_sets, endpoint=ep_name, model=model, compute=compute,
                             name=None if dep_file else "default")
        ep_name = ep_name or dep["endpoint_name"]
    if ep is None:
        ep = {"name": ep_name}
    return ep, dep


def endpoint_from_files(files: Sequence[str | Path], sets: Sequence[str] | None = None, name: str | None = None,
                        model: str | None = None, compute: str | None = None) -> dict[str, Any]:
    """name/model/compute that a pair of endpoint and deployment YAMLs give (the summary of ``resolve_files``)."""
    ep, dep = resolve_files(files, sets, name, model, compute)
    ref = model_ref(dep) if dep else None
    if isinstance(ref, dict):
        ref = f"{ref.get('name')}:{ref.get('version')}" if ref.get("version") else ref.get("name")
    return {"name": ep["name"], "model": ref, "compute": compute_of(dep) if dep else compute}
