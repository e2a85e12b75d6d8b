"""Data asset, model and environment specs -> the records and kwargs the Backend protocol takes.

Every field of azure-ai-ml's DataSchema, ModelSchema and EnvironmentSchema is carried or refused
(``FIELDS``). Fields the records model themselves become their fields; the rest are kept as written in the
record's ``extra`` (sent to Azure in the entity; recorded locally). ``*_doc`` give the az ml document that
--dry-run prints: the spec as given, local paths made absolute (they are relative to the YAML's folder).
A data *import* spec (DataImportSchema: ``source:`` with a database or file-system connection) is refused by
name rather than read as a plain data asset.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Sequence

from leafctl.errors import UsageError
from leafctl.specs import fields as _fields
from leafctl.specs.load import _base, _plain, _text, load_with_doc, local_path, parse_sets, read_doc

from leafctl.backends.base import Environment

C = _fields.CARRY
_ID = "is the asset's ARM id, which Azure sets; leave it out"
FIELDS = {
    "data": {"$schema": C, "name": C, "version": C, "description": C, "tags": C, "type": C, "path": C, "datastore": C,
             "auto_delete_setting": C, "id": _ID},
    "model": {"$schema": C, "name": C, "version": C, "description": C, "tags": C, "type": C, "path": C, "datastore": C,
              "properties": C, "stage": C, "flavors": C,
              "allowed_deployment_templates": "names registry deployment templates, which leafctl does not manage",
              "default_deployment_template": "names a registry deployment template, which leafctl does not manage",
              "system_metadata": "is metadata the service writes; leave it out"},
    "environment": {"$schema": C, "name": C, "version": C, "description": C, "tags": C, "image": C, "conda_file": C,
                    "build": C, "inference_config": C, "os_type": C, "datastore": C, "auto_delete_setting": C, "id": _ID},
}
DATA_TYPES = ("uri_file", "uri_folder", "mltable")
# Fields that mean something on the local backend (the rest of ``extra`` is recorded, with a note).
LOCAL_MEANING = {"$schema", "description", "tags", "datastore", "properties", "stage", "flavors"}


def no_local_effect(extra: dict[str, Any]) -> list[str]:
    return [k for k in extra if k not in LOCAL_MEANING]


def _raw(kind: str, file: str | Path | None) -> tuple[dict[str, Any], str]:
    where = str(file) if file else "the flags"
    raw = read_doc(file) if file else {}
    _fields.refuse(kind, raw, where)
    return raw, where


def _store_name(value: Any) -> str | None:
    """``datastore: azureml:name`` (as az ml writes it) -> ``name``."""
    if value is None:
        return None
    s = str(value)
    return s[len("azureml:"):] if s.startswith("azureml:") else s


def _abs_path(raw: Any, file: str | Path | None) -> Any:
    return local_path(str(raw), _base(file)) if raw is not None else None


# ----- data assets -----

def data_from_file(file: str | Path | None, sets: Sequence[str] | None = None,
                   overrides: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Backend.create_data_asset kwargs, plus ``doc`` (the az ml document for --dry-run). ``type`` only when
    the spec gives one (else it is detected)."""
    raw, where = _raw("data", file)
    if isinstance(raw.get("source"), dict) or "source" in raw:
        src = raw.get("source") if isinstance(raw.get("source"), dict) else {}
        kind = f" (source type {src.get('type')})" if src.get("type") else ""
        raise UsageError(f"{where}: data import specs are not supported: `source:`{kind} imports from an external "
                         "connection (`connection:`, `query:`), which leafctl does not run",
                         "import it with `az ml data import`, then register the data it wrote by its path")
    d, doc = load_with_doc("data", file, sets, overrides, doc=raw if file else None)
    _fields.refuse("data", doc, where)
    if doc.get("type") and str(d.type) not in DATA_TYPES:
        raise UsageError(f"{where}: data asset type {d.type!r} is not supported", f"use one of {', '.join(DATA_TYPES)}")
    path = _abs_path(doc.get("path"), file) if doc.get("path") is not None else d.path
    extra = {k: _plain(v) for k, v in doc.items()
             if k not in ("name", "version", "description", "tags", "type", "path", "datastore") and v is not None}
    out = {"name": d.name, "path": path, "type": d.type if doc.get("type") else None,
           "version": None if d.version is None else str(d.version), "description": d.description,
           "tags": {str(k): _text(v) for k, v in (d.tags or {}).items()}, "datastore": _store_name(doc.get("datastore")),
           "extra": extra}
    printed = {k: _plain(v) for k, v in doc.items() if v is not None}
    if path is not None:
        printed["path"] = path
    if "version" in printed:
        printed["version"] = str(printed["version"])
    out["doc"] = printed
    return out


def data_doc(spec: dict[str, Any]) -> dict[str, Any]:
    """The az ml document of create_data_asset kwargs given as flags (no file)."""
    doc = dict(spec.get("extra") or {})
    doc.update({k: spec.get(k) for k in ("name", "version", "description", "type", "path")})
    if spec.get("tags"):
        doc["tags"] = spec["tags"]
    if spec.get("datastore"):
        doc["datastore"] = f"azureml:{spec['datastore']}"
    return {k: v for k, v in doc.items() if v is not None}


def data_entity(name: str, path: str, type: str, version: str | None, description: str | None,
                tags: dict[str, str] | None, extra: dict[str, Any] | None) -> Any:
    """azure-ai-ml's Data entity, the extra fields (auto_delete_setting, ...) loaded through its own schema."""
    doc = {k: v for k, v in (extra or {}).items() if k != "$schema"}
    doc.update(name=name, path=path, type=type, description=description, tags=dict(tags or {}))
    if version is not None:
        doc["version"] = str(version)
    return load_with_doc("data", None, overrides=[{k: v} for k, v in doc.items() if v is not None])[0]


def check_mltable(path: Path, where: str) -> None:
    """An mltable data asset is a folder holding an MLTable file (as az ml requires)."""
    if not path.is_dir() or not (path / "MLTable").is_file():
        raise UsageError(f"{where} is not an MLTable folder (no MLTable file in it)",
                         "give the folder that holds the MLTable file, or use type uri_folder / uri_file")


# ----- models -----

_JOB_OUTPUT = re.compile(r"^azureml://jobs/(?P<run>[^/]+)/outputs/(?P<out>[^/]+)(?:/paths)?(?:/(?P<sub>.*))?$")
MODEL_TYPES = {"custom_model": "custom", "mlflow_model": "mlflow", "triton_model": "triton"}


def model_from_file(file: str | Path | None, sets: Sequence[str] | None = None,
                    overrides: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Backend.register_model kwargs (path, or run_id + output for ``azureml://jobs/<run>/outputs/<name>``),
    plus ``doc`` (the az ml document for --dry-run)."""
    raw, where = _raw("model", file)
    m, doc = load_with_doc("model", file, sets, overrides, doc=raw if file else None)
    _fields.refuse("model", doc, where)
    mtype = str(m.type or "custom_model")
    if mtype not in MODEL_TYPES:
        raise UsageError(f"{where}: model type {mtype!r} is not supported", f"use one of {', '.join(MODEL_TYPES)}")
    given = doc.get("path") if doc.get("path") is not None else m.path
    path = _abs_path(given, file) if given is not None else None
    store = _store_name(doc.get("datastore"))
    extra = {k: _plain(v) for k, v in doc.items()
             if k not in ("name", "version", "description", "tags", "type", "path", "datastore") and v is not None}
    spec: dict[str, Any] = {"name": m.name, "type": MODEL_TYPES[mtype], "tags": {str(k): _text(v) for k, v in (m.tags or {}).items()},
                            "description": m.description, "version": None if m.version is None else str(m.version),
                            "extra": extra}
    hit = _JOB_OUTPUT.match(path or "")
    if hit:
        sub = (hit.group("sub") or "").strip("/")
        spec.update(run_id=hit.group("run"), output=hit.group("out") + (f"/{sub}" if sub else ""))
    elif path is None:
        raise UsageError(f"{where}: the model has no path", "give path: a local file or folder, a datastore path or "
                                                           "azureml://jobs/<run>/outputs/<name>")
    elif store and not re.match(r"^[a-z][a-z0-9+.-]*:", path, re.I) and not Path(path).is_absolute():
        spec["path"] = f"azureml://datastores/{store}/paths/{path.lstrip('/')}"  # a path in the named datastore
    else:
        spec["path"] = path
    printed = {k: _plain(v) for k, v in doc.items() if v is not None}
    printed["path"] = path
    if "version" in printed:
        printed["version"] = str(printed["version"])
    spec["doc"] = printed
    return spec


def model_entity(name: str, path: str, type: str, version: str | None, description: str | None,
                 tags: dict[str, str] | None, extra: dict[str, Any] | None) -> Any:
    """azure-ai-ml's Model entity with every carried field (properties, stage, flavors ...)."""
    doc = {k: v for k, v in (extra or {}).items() if k != "$schema"}
    doc.update(name=name, path=path, type=type, description=description, tags=dict(tags or {}))
    if version is not None:
        doc["version"] = str(version)
    return load_with_doc("model", None, overrides=[{k: v} for k, v in doc.items() if v is not None])[0]


# ----- environments -----

def environment_from_file(file: str | Path | None, sets: Sequence[str] | None = None,
                          overrides: Sequence[dict[str, Any]] | None = None) -> Environment:
    """An Environment record; the conda file's contents, not its path (read relative to the YAML). ``build``
    (a docker build context: path made absolute), ``inference_config``, ``os_type``, ``tags`` ... are kept
    in ``extra`` as written."""
    import yaml

    raw, where = _raw("environment", file)
    e, doc = load_with_doc("environment", file, sets, overrides, doc=raw if file else None)
    _fields.refuse("environment", doc, where)
    conda = e.conda_file
    if isinstance(conda, dict):
        conda = yaml.safe_dump(conda, sort_keys=False)
    extra = {k: _plain(v) for k, v in doc.items()
             if k not in ("name", "version", "image", "conda_file", "description") and v is not None}
    build = extra.get("build")
    if isinstance(build, dict) and build.get("path") is not None:
        extra["build"] = {**build, "path": _abs_path(build["path"], file)}
    return Environment(name=e.name, version=str(e.version) if e.version is not None else "", image=e.image,
                       conda_file=conda, description=e.description, extra=extra)


def environment_doc(env: Environment) -> dict[str, Any]:
    """The az ml document of an Environment record (--dry-run; what the Azure backend loads)."""
    import yaml

    extra = dict(env.extra or {})
    doc: dict[str, Any] = {}
    if "$schema" in extra:
        doc["$schema"] = extra.pop("$schema")
    doc["name"] = env.name
    if env.version:
        doc["version"] = str(env.version)
    if env.image:
        doc["image"] = env.image
    if env.conda_file:
        p = Path(env.conda_file)
        if "\n" not in env.conda_file and p.exists():
            doc["conda_file"] = str(p.resolve())
        else:
            conda = yaml.safe_load(env.conda_file)
            doc["conda_file"] = conda if isinstance(conda, dict) else env.conda_file
    if env.description:
        doc["description"] = env.description
    doc.update(extra)
    return doc


def environment_entity(env: Environment, build_path: str | None = None) -> Any:
    """azure-ai-ml's Environment entity (a BuildContext for ``build:``); ``build_path`` replaces the build
    context's local folder (the Azure backend uploads it itself and gives the datastore URI)."""
    doc = copy.deepcopy(environment_doc(env))
    doc.pop("$schema", None)
    entity = load_with_doc("environment", None, overrides=[{k: v} for k, v in doc.items()])[0]
    if build_path is not None and entity.build is not None:
        # The schema reads build.path as a local folder; the uploaded context replaces it afterwards, and with no
        # local path left azure-ai-ml uploads nothing itself.
        entity.build.path = build_path
        entity.path = None
    return entity


__all__ = ["FIELDS", "data_from_file", "model_from_file", "environment_from_file", "environment_doc", "parse_sets"]
