"""`-f spec.yml` in the az ml v2 schema, read by azure-ai-ml's own loaders, on both backends.

``load(kind, file, sets)`` validates a YAML with ``load_compute``/``load_job``/``load_data``/``load_model``/
``load_environment``/``load_datastore``/``load_batch_endpoint``/``load_batch_deployment``. Command-line flags
and ``--set key=value`` both become ``params_override`` (file < flags < --set; dotted keys reach nested
fields, --set values are YAML scalars). Nothing touches the network, so ``resolved(...)`` and the
``*_from_file`` records are what ``--dry-run`` prints. An invalid spec raises UsageError (exit 2) naming
every bad field on one line. Batch deployments dispatch on ``type:`` as the az CLI does: ``type: model``
(an MLflow model with ``settings:``, which ``load_batch_deployment`` rejects) goes to
``load_model_batch_deployment``.

The ``*_from_file`` helpers add what the loaders do not do and leafctl needs: ``${{inputs.x}}`` checks,
literal-input refusal, local paths relative to the YAML's folder (paths found nowhere near it are datastore
paths and stay as written), the defaults a field left out gets from the profile, and leafctl's own
``type: local`` datastore. They return the records/kwargs the Backend protocol takes, so one file runs
locally and on Azure. Importing this module is cheap; azure.ai.ml loads on first use (~1-2 s), so the CLI
imports it only when -f or --set is given.
"""

from __future__ import annotations

import difflib
import io
import json
import re
from pathlib import Path
from typing import Any, Sequence

from leafctl.backends.base import DatastoreSpec, Environment, JobSpec
from leafctl.errors import UsageError

KINDS = ("compute", "job", "data", "model", "environment", "datastore", "batch_endpoint", "batch_deployment")
DOCS = {
    "compute": "https://aka.ms/ml-cli-v2-compute-aml-yaml-reference",
    "job": "https://aka.ms/ml-cli-v2-job-command-yaml-reference",
    "data": "https://aka.ms/ml-cli-v2-data-yaml-reference",
    "model": "https://aka.ms/ml-cli-v2-model-yaml-reference",
    "environment": "https://aka.ms/ml-cli-v2-environment-yaml-reference",
    "datastore": "https://aka.ms/ml-cli-v2-datastore-blob-yaml-reference",
    "batch_endpoint": "https://aka.ms/ml-cli-v2-endpoint-batch-yaml-reference",
    "batch_deployment": "https://aka.ms/ml-cli-v2-deployment-batch-yaml-reference",
}
# A command job must name an environment; a local run needs none. One is lent for validation, then dropped.
_NO_ENV = "azureml:leafctl-no-environment@latest"
_INPUT_TYPES = {"uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model", "triton_model"}


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


def read_doc(file: str | Path) -> dict[str, Any]:
    """The raw YAML mapping of a spec file: exit 3 when it is missing, 2 when it is not a YAML mapping."""
    from leafctl.backends.common import read_yaml_mapping

    return read_yaml_mapping(file, "spec file", "-f/--file")[1]


def _set_path(doc: dict[str, Any], key: str, value: Any) -> None:
    """What a params_override entry does to the document (pydash.set_ on dotted keys)."""
    parts = key.split(".")
    node = doc
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[parts[-1]] = value


# ----- validation errors -> one line naming every bad field -----

def _unknown_hint(schema: str | None, field: str) -> str:
    """' (did you mean X?)' for a misspelt top-level key, from the schema's own field names."""
    if not schema:
        return ""
    try:
        from marshmallow import class_registry

        found = class_registry.get_class(schema, all=True)
    except Exception:
        return ""
    classes = found if isinstance(found, list) else [found]
    names = {f.data_key or n for c in classes for n, f in getattr(c, "_declared_fields", {}).items()}
    close = difflib.get_close_matches(field, sorted(names), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _from_text(text: str) -> list[str] | None:
    """'Validation for XSchema failed: {json} ...' -> field lines; None when the text holds no such JSON."""
    m = re.search(r"Validation for (\w+) failed:\s*(\{.*\})", text, re.S)
    if not m:
        return None
    try:
        messages = json.loads(m.group(2))
    except ValueError:
        return None
    return _field_errors(messages, "", m.group(1))


def _field_errors(messages: Any, prefix: str = "", schema: str | None = None) -> list[str]:
    """Flatten marshmallow's nested {field: [msg] | {sub: ...}} into 'field.sub: msg' lines."""
    out: list[str] = []
    if isinstance(messages, dict):
        if "errors" in messages and "result" in messages:  # a validation result wrapping schema errors
            for err in messages.get("errors") or []:
                msg = str(err.get("message", err)) if isinstance(err, dict) else str(err)
                out += _from_text(msg) or [f"{prefix or err.get('path', 'spec') if isinstance(err, dict) else 'spec'}: "
                                           f"{_clean(msg)}"]
            return out
        for k, v in messages.items():
            sub = prefix if k in ("_schema", "null", None, "value") else (f"{prefix}.{k}" if prefix else str(k))
            out += _field_errors(v, sub, schema)
    elif isinstance(messages, (list, tuple)):
        alternatives = [v for v in messages if isinstance(v, dict)]
        if len(alternatives) > 1:  # a union field: no form matched; the first form's complaints say why
            out += _field_errors(alternatives[0], prefix, schema)
        else:
            for v in messages:
                out += _field_errors(v, prefix, schema)
    else:
        text = _clean(str(messages))
        nested = _from_text(str(messages))
        if nested:
            return nested
        if text == "Unknown field." and prefix and "." not in prefix:
            text += _unknown_hint(schema, prefix)
        out.append(f"{prefix or 'spec'}: {text}")
    return list(dict.fromkeys(out))


def _clean(text: str) -> str:
    for cut in ("Visit this link", "If you are trying to configure", "The easiest way to author"):
        text = text.split(cut)[0]
    return " ".join(text.split())


def describe_invalid(e: BaseException) -> list[str]:
    """Each bad field of an azure-ai-ml validation failure, one 'field: problem' per entry."""
    text = str(getattr(e, "message", None) or e)
    found = _from_text(text)
    if found:
        return found
    messages = getattr(e, "messages", None)
    if isinstance(messages, dict):
        return _field_errors(messages)
    return [_clean(text)]


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


def load_with_doc(kind: str, file: str | Path | None, sets: Sequence[str] | None = None,
                  overrides: Sequence[dict[str, Any]] | None = None,
                  lend: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """(entity, document): the azure-ai-ml entity for a spec validated offline, and the YAML document with
    the same overrides applied (what the user wrote, to tell given fields from defaults). ``overrides`` are
    the command's flags; ``lend`` fills required fields the user left out, for validation only.
    No file: the flags and --set alone make the document. UsageError (exit 2) when it is invalid."""
    if kind not in KINDS:
        raise UsageError(f"unknown spec kind {kind!r}", f"one of {', '.join(KINDS)}")
    doc = read_doc(file) if file else {}
    params: list[dict[str, Any]] = []
    for o in [dict(o) for o in overrides or [] if o] + parse_sets(sets):
        for k in o:  # `--set inputs.data.mode=...` on a bare `data: ./a`: promote it to {path: ./a} first
            parts = k.split(".")
            bare = (doc.get(parts[0]) or {}).get(parts[1]) if len(parts) > 2 and isinstance(doc.get(parts[0]), dict) else None
            if parts[0] in ("inputs", "outputs") and isinstance(bare, str):
                params.append({f"{parts[0]}.{parts[1]}": {"path": bare}})
                _set_path(doc, f"{parts[0]}.{parts[1]}", {"path": bare})
        # Tags and environment variables are strings: `--set tags.n=3` means "3", `...=true` means "true".
        params.append({k: _text(v) if k.startswith(("tags.", "environment_variables.")) and not isinstance(v, (dict, list))
                       else v for k, v in o.items()})
    for o in params:
        for k, v in o.items():
            _set_path(doc, k, v)
    params += [{k: v} for k, v in (lend or {}).items() if k not in doc]
    from leafctl.backends.azure.client import quiet_sdk

    quiet_sdk()
    where = str(file) if file else "the flags"
    source: Any = str(file) if file else io.StringIO("{}")
    try:
        return _loader(kind, {**doc, **{k: v for o in params for k, v in o.items() if "." not in k}})(
            source, params_override=params), doc
    except UsageError:
        raise
    except Exception as e:
        from marshmallow import ValidationError

        from azure.ai.ml.exceptions import MlException

        if not isinstance(e, (ValidationError, MlException, ValueError, TypeError, KeyError, FileNotFoundError)):
            raise
        fields = describe_invalid(e)
        raise UsageError(f"invalid {kind.replace('_', ' ')} spec {where}: " + "; ".join(fields),
                         f"fix the listed field{'s' if len(fields) > 1 else ''} (schema: {DOCS[kind]})") from None


def load(kind: str, file: str | Path | None, sets: Sequence[str] | None = None,
         overrides: Sequence[dict[str, Any]] | None = None) -> Any:
    """The azure-ai-ml entity for a YAML spec, validated offline. UsageError (exit 2) when it is invalid."""
    return load_with_doc(kind, file, sets, overrides)[0]


def resolved(kind: str, file: str | Path, sets: Sequence[str] | None = None) -> dict[str, Any]:
    """The validated spec as azure-ai-ml resolved it (no network, no changes)."""
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


def local_path(path: str | None, base: Path | None) -> str | None:
    """A path in a spec is relative to the spec's folder, as in az ml. URIs, asset references, absolute
    paths and relative paths that exist nowhere near the file (datastore paths) are left as written."""
    if path is None:
        return None
    s = str(path)
    if base is None or re.match(r"^[a-z][a-z0-9+.-]*:", s, re.I) or Path(s).expanduser().is_absolute():
        return s
    near = base / s
    return str(near.resolve()) if near.exists() else s


def _base(file: str | Path | None) -> Path | None:
    return Path(file).resolve().parent if file else None


def _text(value: Any) -> str:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


# ----- spec -> the records the Backend protocol takes -----

# Compute YAML keys leafctl's Compute record holds; any other (location, identity, ...) is dropped, with a warning.
COMPUTE_KEYS = {"$schema", "name", "type", "size", "min_instances", "max_instances", "idle_time_before_scale_down",
                "tier", "idle_time_before_shutdown", "idle_time_before_shutdown_minutes"}


def _duration_seconds(value: Any) -> int:
    """ISO-8601 durations as az ml writes them (PT30M, PT2H, PT120S) or plain seconds."""
    if isinstance(value, str):
        m = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", value.strip().upper())
        if m and any(m.groups()):
            h, mi, sec = (int(g or 0) for g in m.groups())
            return h * 3600 + mi * 60 + sec
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UsageError(f"idle_time_before_shutdown must be a duration such as PT30M, got {value!r}",
                         "e.g. idle_time_before_shutdown: PT30M") from None


def compute_from_file(file: str | Path | None, sets: Sequence[str] | None = None,
                      overrides: Sequence[dict[str, Any]] | None = None) -> tuple[dict[str, Any], list[str]]:
    """(Compute fields the spec gives, keys it gives that leafctl ignores). Fields left out are absent,
    so the caller fills them from the profile; ``type`` defaults to amlcompute (a cluster)."""
    c, doc = load_with_doc("compute", file, sets, overrides, lend={"type": "amlcompute"})
    kind = str(c.type or "").lower()
    if kind not in ("amlcompute", "computeinstance"):
        raise UsageError(f"compute type {c.type!r} in {file or 'the flags'} is not supported",
                         "use type: amlcompute (a cluster) or computeinstance")
    fields: dict[str, Any] = {"name": c.name, "type": "cluster" if kind == "amlcompute" else "instance"}
    if c.size:
        fields["size"] = c.size
    if kind == "amlcompute":
        given = {"min_instances": "min_nodes", "max_instances": "max_nodes", "idle_time_before_scale_down": "idle_seconds"}
        fields.update({field: getattr(c, key) for key, field in given.items() if key in doc})
        if "tier" in doc and c.tier:
            fields["tier"] = str(c.tier).replace("-", "_").lower().replace("lowpriority", "low_priority")
    elif doc.get("idle_time_before_shutdown_minutes") is not None:
        fields["idle_seconds"] = int(c.idle_time_before_shutdown_minutes) * 60
    elif doc.get("idle_time_before_shutdown") is not None:
        fields["idle_seconds"] = _duration_seconds(c.idle_time_before_shutdown)
    ignored = [k for k in doc if k not in COMPUTE_KEYS and not (kind == "amlcompute" and k == "tier")]
    return {k: v for k, v in fields.items() if v is not None}, ignored


def data_from_file(file: str | Path | None, sets: Sequence[str] | None = None,
                   overrides: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Backend.create_data_asset kwargs. ``type`` only when the spec gives one (else it is detected)."""
    d, doc = load_with_doc("data", file, sets, overrides)
    raw = doc.get("path")
    return {"name": d.name, "path": local_path(str(raw), _base(file)) if raw is not None else d.path,
            "type": d.type if doc.get("type") else None, "version": None if d.version is None else str(d.version),
            "description": d.description, "tags": {str(k): _text(v) for k, v in (d.tags or {}).items()}}


def model_from_file(file: str | Path, sets: Sequence[str] | None = None) -> dict[str, Any]:
    m, doc = load_with_doc("model", file, sets)
    kind = (m.type or "custom_model").replace("_model", "")
    path = local_path(doc.get("path") or m.path, _base(file))
    hit = re.match(r"^azureml://jobs/(?P<run>[^/]+)/outputs/(?P<out>[^/]+)", path or "")
    spec: dict[str, Any] = {"name": m.name, "type": kind, "tags": dict(m.tags or {}), "description": m.description,
                            "version": m.version}
    if hit:
        spec.update(run_id=hit.group("run"), output=hit.group("out"))
    else:
        spec["path"] = Path(path) if path else None
    return spec


def environment_from_file(file: str | Path | None, sets: Sequence[str] | None = None,
                          overrides: Sequence[dict[str, Any]] | None = None) -> Environment:
    """An Environment record; the conda file's contents, not its path (read relative to the YAML)."""
    import yaml

    e, doc = load_with_doc("environment", file, sets, overrides)
    if doc.get("build") is not None:
        raise UsageError(f"{file}: `build:` (a docker build context) is not supported", "build and push the image, then give `image:`")
    conda = e.conda_file
    if isinstance(conda, dict):
        conda = yaml.safe_dump(conda, sort_keys=False)
    return Environment(name=e.name, version=str(e.version) if e.version is not None else "", image=e.image,
                       conda_file=conda, description=e.description)


def datastore_from_file(file: str | Path | None, sets: Sequence[str] | None = None,
                        flags: dict[str, Any] | None = None) -> DatastoreSpec:
    """A DatastoreSpec from an az ml datastore YAML (azure_blob, azure_data_lake_gen2), or leafctl's own
    ``type: local`` (an existing folder: name, path, description, tags), which az ml has no schema for.
    ``flags`` are DatastoreSpec field names (the command's flags); they win over the file, --set over them."""
    doc = read_doc(file) if file else {}
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    kind = str(flags.get("type") or doc.get("type") or "local")
    secrets = ("account_key", "sas_token", "tenant_id", "client_id", "client_secret")
    overrides: list[dict[str, Any]] = []
    for key, value in flags.items():
        if key == "path":
            value = str(Path(value).expanduser().resolve())
        elif key == "container_name" and kind == "azure_data_lake_gen2":
            key = "filesystem"
        overrides.append({f"credentials.{key}" if key in secrets else key: value})
    if kind == "local":
        for o in [*overrides, *parse_sets(sets)]:
            for k, v in o.items():
                _set_path(doc, k, v)
        extra = sorted(set(doc) - {"$schema", "name", "type", "path", "description", "tags"})
        if extra:
            raise UsageError(f"invalid datastore spec {file or 'the flags'}: "
                             + "; ".join(f"{k}: not a field of a local datastore" for k in extra),
                             "a local datastore has name and path; give type: azure_blob or azure_data_lake_gen2 for storage")
        return DatastoreSpec(name=_text(doc.get("name")) or None, type="local",
                             path=local_path(_text(doc["path"]), _base(file)) if doc.get("path") else None)
    s = load("datastore", file, sets, overrides)
    kind = {"azure_blob": "azure_blob", "azureblob": "azure_blob", "azure_data_lake_gen2": "azure_data_lake_gen2",
            "azuredatalakegen2": "azure_data_lake_gen2"}.get(str(getattr(s.type, "value", s.type)).lower())
    if kind is None:
        raise UsageError(f"datastore type {doc.get('type')!r} is not supported", "use azure_blob or azure_data_lake_gen2")
    cred = s.credentials
    get = (cred.get if isinstance(cred, dict) else lambda k: getattr(cred, k, None)) if cred is not None else (lambda k: None)
    secret = lambda k: None if get(k) is None else _text(get(k))  # noqa: E731
    return DatastoreSpec(name=s.name, type=kind, account_name=s.account_name,
                         container_name=getattr(s, "container_name", None) or getattr(s, "filesystem", None),
                         endpoint=s.endpoint, protocol=s.protocol or "https", account_key=secret("account_key"),
                         sas_token=secret("sas_token"), tenant_id=secret("tenant_id"), client_id=secret("client_id"),
                         client_secret=secret("client_secret"))


def _is_deployment(doc: dict[str, Any]) -> bool:
    return any(k in doc for k in ("endpoint_name", "model", "settings", "code_configuration", "resources")) or \
        str(doc.get("type") or "").lower() in ("model", "pipeline", "pipeline_component")


def endpoint_from_files(files: Sequence[str | Path], sets: Sequence[str] | None = None, name: str | None = None,
                        model: str | None = None, compute: str | None = None) -> dict[str, Any]:
    """name/model/compute for Backend.create_endpoint from a batch endpoint YAML and/or a batch deployment
    YAML (told apart by their keys), flags on top. --set applies to the deployment when there is one."""
    by_kind: dict[str, str | Path] = {}
    for f in files:
        kind = "batch_deployment" if _is_deployment(read_doc(f)) else "batch_endpoint"
        if kind in by_kind:
            raise UsageError(f"two batch {kind.split('_')[1]} specs: {by_kind[kind]} and {f}", "give one endpoint YAML and one deployment YAML")
        by_kind[kind] = f
    dep_file, ep_file = by_kind.get("batch_deployment"), by_kind.get("batch_endpoint")
    out: dict[str, Any] = {"name": name, "model": model, "compute": compute}
    if ep_file:
        out["name"] = load("batch_endpoint", ep_file, None if dep_file else sets, [{"name": name}] if name else None).name
    if dep_file:
        flags = [{"endpoint_name": out["name"]}] if out["name"] else []
        flags += [{"model": model}] if model else []
        flags += [{"compute": compute}] if compute else []
        d = load("batch_deployment", dep_file, sets, flags)
        out["name"] = out["name"] or d.endpoint_name
        ref = d.model if isinstance(d.model, str) else getattr(d.model, "id", None) or (
            f"{d.model.name}:{d.model.version}" if d.model is not None else None)
        if ref:
            m = re.search(r"/models/([^/]+)/versions/([^/]+)$", ref)
            out["model"] = f"{m.group(1)}:{m.group(2)}" if m else ref.removeprefix("azureml:")
        if d.compute:
            out["compute"] = str(d.compute).rsplit("/", 1)[-1].removeprefix("azureml:")
    elif sets and not ep_file:
        raise UsageError("--set needs a spec file", "give -f endpoint.yml and/or -f deployment.yml")
    return out


def job_from_file(file: str | Path | None, sets: Sequence[str] | None = None,
                  overrides: Sequence[dict[str, Any]] | None = None) -> JobSpec:
    """A JobSpec from an az ml command job YAML (flags as overrides). Literal inputs are refused, every
    ``${{...}}`` must name a declared input or output, and local paths are relative to the YAML's folder."""
    from leafctl.specs import check_command

    where = str(file) if file else "the flags"
    raw = read_doc(file) if file else {}
    for o in [*(overrides or []), *parse_sets(sets)]:
        for k in o:
            if k == "type":
                raw["type"] = o[k]
    kind = str(raw.get("type") or "command")
    if kind != "command":
        raise UsageError(f"{where}: type {kind!r} is not supported", "leafctl runs command jobs (type: command)")
    job, doc = load_with_doc("job", file, sets, overrides, lend={"environment": _NO_ENV})
    base = _base(file)
    inputs: dict[str, str] = {}
    for name, value in (doc.get("inputs") or {}).items():
        v = (job.inputs or {}).get(name)
        data = getattr(v, "_data", v)
        if isinstance(data, str) and not isinstance(value, dict):
            inputs[str(name)] = local_path(data, base)
            continue
        if getattr(data, "type", None) in _INPUT_TYPES and getattr(data, "path", None) is not None:
            inputs[str(name)] = local_path(str(data.path), base)
            continue
        what = f" ({data.type})" if getattr(data, "type", None) else ""
        raise UsageError(f"{where}: input {name!r} is a literal{what}; literal inputs are not supported yet",
                         "give a path (a folder, a file, or azureml:NAME:VERSION); pass values in the command or as environment variables")
    outputs: dict[str, str | None] = {}
    for name, v in (job.outputs or {}).items():
        path = getattr(getattr(v, "_data", v), "path", None)
        outputs[str(name)] = local_path(str(path), base) if path else None
    env = doc.get("environment")
    code = job.code if isinstance(job.code, str) else None
    spec = JobSpec(
        command=str(job.command or "").strip(), code=local_path(code, base) if code else None, inputs=inputs,
        outputs=outputs, environment=str(env) if isinstance(env, str) else None,
        compute=str(job.compute).removeprefix("azureml:") if job.compute else None,
        experiment=job.experiment_name, display_name=job.display_name,
        env_vars={str(k): _text(v) for k, v in (job.environment_variables or {}).items()},
        tags={str(k): _text(v) for k, v in (job.tags or {}).items()},
    )
    check_command(spec)
    return spec
