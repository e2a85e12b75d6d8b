"""`-f spec.yml` in the az ml v2 schema, read by azure-ai-ml's own loaders; backend-independent.

``load(kind, file, sets)`` validates a YAML with ``load_compute``/``load_job``/``load_data``/``load_model``/
``load_environment``/``load_batch_endpoint``/``load_batch_deployment`` (``--set key=value`` becomes
``params_override``; dotted keys reach nested fields, values are YAML scalars). Nothing touches the network,
so ``resolved(...)`` is what ``--dry-run`` prints. An invalid spec raises UsageError (exit 2) listing each
bad field. Batch deployments dispatch on ``type:`` as the az CLI does: ``type: model`` (an MLflow model
with ``settings:``, which ``load_batch_deployment`` rejects) goes to ``load_model_batch_deployment``.

The ``*_from_file`` helpers turn a spec into the records/kwargs the Backend protocol takes, so both
backends accept the same files. Importing this module is cheap; azure.ai.ml loads on first use (~1-2 s).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

from leafctl.backends.base import Compute, Environment, JobSpec
from leafctl.errors import UsageError

KINDS = ("compute", "job", "data", "model", "environment", "batch_endpoint", "batch_deployment")
DOCS = {
    "compute": "https://aka.ms/ml-cli-v2-compute-aml-yaml-reference",
    "job": "https://aka.ms/ml-cli-v2-job-command-yaml-reference",
    "data": "https://aka.ms/ml-cli-v2-data-yaml-reference",
    "model": "https://aka.ms/ml-cli-v2-model-yaml-reference",
    "environment": "https://aka.ms/ml-cli-v2-environment-yaml-reference",
    "batch_endpoint": "https://aka.ms/ml-cli-v2-endpoint-batch-yaml-reference",
    "batch_deployment": "https://aka.ms/ml-cli-v2-deployment-batch-yaml-reference",
}


def parse_sets(sets: Sequence[str] | None) -> list[dict[str, Any]]:
    """``--set a.b=2`` -> ``[{"a.b": 2}]`` (azure-ai-ml's params_override; values parsed as YAML scalars)."""
    import yaml

    out: list[dict[str, Any]] = []
    for item in sets or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r} is not key=value", "e.g. --set max_instances=4")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        out.append({key.strip(): value})
    return out


def _field_errors(messages: Any, prefix: str = "") -> list[str]:
    """Flatten marshmallow's nested {field: [msg] | {sub: ...}} into 'field.sub: msg' lines."""
    out: list[str] = []
    if isinstance(messages, dict):
        for k, v in messages.items():
            out += _field_errors(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(messages, (list, tuple)):
        for v in messages:
            out += _field_errors(v, prefix)
    else:
        out.append(f"{prefix or 'spec'}: {' '.join(str(messages).split())}")
    return out


def describe_invalid(e: BaseException) -> list[str]:
    """Each bad field of an azure-ai-ml validation failure, one 'field: problem' per entry."""
    text = str(getattr(e, "message", None) or e)
    m = re.search(r"failed:\s*(\{.*\})", text, re.S)
    if m:
        try:
            return _field_errors(json.loads(m.group(1)))
        except ValueError:
            pass
    messages = getattr(e, "messages", None)
    if isinstance(messages, dict):
        return _field_errors(messages)
    return [" ".join(text.split("Visit this link")[0].split())]


def _loader(kind: str, doc: dict[str, Any]) -> Any:
    import azure.ai.ml as ml

    if kind == "batch_deployment":
        from azure.ai.ml.entities import _load_functions as lf

        dtype = str(doc.get("type") or "").lower()
        if dtype == "model":
            return lf.load_model_batch_deployment
        if dtype in ("pipeline", "pipeline_component"):
            return lf.load_pipeline_component_batch_deployment
        return ml.load_batch_deployment
    return getattr(ml, f"load_{kind}")


def load(kind: str, file: str | Path, sets: Sequence[str] | None = None) -> Any:
    """The azure-ai-ml entity for a YAML spec, validated offline. UsageError (exit 2) when it is invalid."""
    import yaml

    if kind not in KINDS:
        raise UsageError(f"unknown spec kind {kind!r}", f"one of {', '.join(KINDS)}")
    path = Path(file)
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise UsageError(f"spec file {path} does not exist", "check the path given to -f/--file") from None
    except yaml.YAMLError as e:
        raise UsageError(f"{path} is not valid YAML: {' '.join(str(e).split())}", "fix the YAML syntax") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{path} does not hold a YAML mapping", f"see {DOCS[kind]}")
    from leafctl.backends.azure.client import quiet_sdk

    quiet_sdk()
    overrides = parse_sets(sets)
    for o in overrides:  # --set type=model must steer the deployment loader too
        doc.update({k: v for k, v in o.items() if "." not in k})
    try:
        return _loader(kind, doc)(str(path), params_override=overrides)
    except UsageError:
        raise
    except Exception as e:
        from marshmallow import ValidationError

        from azure.ai.ml.exceptions import MlException

        if not isinstance(e, (ValidationError, MlException, ValueError, TypeError, KeyError)):
            raise
        fields = describe_invalid(e)
        raise UsageError(f"invalid {kind.replace('_', ' ')} spec {path}: " + "; ".join(fields),
                         f"fix the listed field{'s' if len(fields) > 1 else ''} (schema: {DOCS[kind]})") from None


def resolved(kind: str, file: str | Path, sets: Sequence[str] | None = None) -> dict[str, Any]:
    """What --dry-run prints: the validated spec as azure-ai-ml resolved it (no network, no changes)."""
    entity = load(kind, file, sets)
    return _plain(entity._to_dict())


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(getattr(obj, "value", obj))


def _local(path: str | None, base: Path) -> str | None:
    """A local path in a spec is relative to the spec's folder; URIs and asset references pass through."""
    if path is None:
        return None
    s = str(path)
    if re.match(r"^[a-z][a-z0-9+.-]*:", s, re.I):
        return s
    p = Path(s)
    return str(p if p.is_absolute() else (base / p).resolve())


# ----- spec -> the records the Backend protocol takes -----

def compute_from_file(file: str | Path, sets: Sequence[str] | None = None) -> Compute:
    from leafctl.backends.azure.compute import compute_record

    c = compute_record(load("compute", file, sets))
    if c.type not in ("cluster", "instance"):
        raise UsageError(f"compute type {c.type!r} in {file} is not supported", "use type: amlcompute or computeinstance")
    return c


def data_from_file(file: str | Path, sets: Sequence[str] | None = None) -> dict[str, Any]:
    d = load("data", file, sets)
    return {"name": d.name, "path": _local(d.path, Path(file).parent), "type": d.type, "version": d.version,
            "description": d.description, "tags": dict(d.tags or {})}


def model_from_file(file: str | Path, sets: Sequence[str] | None = None) -> dict[str, Any]:
    m = load("model", file, sets)
    kind = (m.type or "custom_model").replace("_model", "")
    path = _local(m.path, Path(file).parent)
    hit = re.match(r"^azureml://jobs/(?P<run>[^/]+)/outputs/(?P<out>[^/]+)", path or "")
    spec: dict[str, Any] = {"name": m.name, "type": kind, "tags": dict(m.tags or {}), "description": m.description,
                            "version": m.version}
    if hit:
        spec.update(run_id=hit.group("run"), output=hit.group("out"))
    else:
        spec["path"] = Path(path) if path else None
    return spec


def environment_from_file(file: str | Path, sets: Sequence[str] | None = None) -> Environment:
    import yaml

    e = load("environment", file, sets)
    conda = e.conda_file
    if isinstance(conda, dict):
        conda = yaml.safe_dump(conda, sort_keys=False)
    return Environment(name=e.name, version=str(e.version) if e.version else None, image=e.image,
                       conda_file=conda, description=e.description)


def endpoint_from_files(endpoint_file: str | Path | None, deployment_file: str | Path | None,
                        sets: Sequence[str] | None = None) -> dict[str, Any]:
    """name/model/compute for Backend.create_endpoint from a batch endpoint and/or deployment YAML."""
    out: dict[str, Any] = {"name": None, "model": None, "compute": None}
    if endpoint_file:
        out["name"] = load("batch_endpoint", endpoint_file, sets if not deployment_file else None).name
    if deployment_file:
        d = load("batch_deployment", deployment_file, sets)
        out["name"] = out["name"] or d.endpoint_name
        model = d.model if isinstance(d.model, str) else getattr(d.model, "id", None) or (
            f"{d.model.name}:{d.model.version}" if d.model is not None else None)
        if model:
            m = re.search(r"/models/([^/]+)/versions/([^/]+)$", model)
            out["model"] = f"{m.group(1)}:{m.group(2)}" if m else model.removeprefix("azureml:")
        if d.compute:
            out["compute"] = str(d.compute).rsplit("/", 1)[-1].removeprefix("azureml:")
    return out


def job_from_file(file: str | Path, sets: Sequence[str] | None = None) -> JobSpec:
    job = load("job", file, sets)
    if getattr(job, "type", None) != "command":
        raise UsageError(f"{file} is a {getattr(job, 'type', 'unknown')} job", "leafctl runs command jobs (type: command)")
    base = Path(file).parent

    def io_path(v: Any) -> str | None:
        p = getattr(v, "path", v)
        return _local(str(p), base) if p is not None else None

    env = job.environment
    env = env if isinstance(env, str) or env is None else (f"{env.name}:{env.version}" if env.name else env.image)
    return JobSpec(
        command=job.command, code=_local(job.code, base) if isinstance(job.code, str) else None,
        inputs={k: io_path(v) for k, v in (job.inputs or {}).items() if io_path(v) is not None},
        outputs={k: io_path(v) for k, v in (job.outputs or {}).items()},
        environment=env, compute=job.compute, experiment=job.experiment_name, display_name=job.display_name,
        env_vars=dict(job.environment_variables or {}), tags=dict(job.tags or {}),
    )
