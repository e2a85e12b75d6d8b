"""Datastore specs (azure_blob, azure_data_lake_gen2, and leafctl's own `type: local`) -> a DatastoreSpec."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from leafctl.errors import UsageError
from leafctl.specs.load import _base, _set_path, _text, load, load_with_doc, local_path, parse_sets, read_doc

from leafctl.backends.base import DatastoreSpec
from leafctl.specs import fields as _fields

C = _fields.CARRY
# Every field of AzureBlobSchema and AzureDataLakeGen2Schema is carried; secrets in `credentials` are env:NAME
# references only (a literal is refused), resolved by the Azure backend at the moment of the request.
FIELDS = {"datastore": {"$schema": C, "name": C, "type": C, "description": C, "tags": C, "account_name": C,
                        "container_name": C, "filesystem": C, "endpoint": C, "protocol": C, "credentials": C}}
SCHEMAS = {"azure_blob": "https://azuremlschemas.azureedge.net/latest/azureBlob.schema.json",
           "azure_data_lake_gen2": "https://azuremlschemas.azureedge.net/latest/azureDataLakeGen2.schema.json"}


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
    _fields.refuse("datastore", doc, str(file) if file else "the flags")
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
                             path=local_path(_text(doc["path"]), _base(file)) if doc.get("path") else None,
                             description=_text(doc["description"]) if doc.get("description") is not None else None,
                             tags={str(k): _text(v) for k, v in (doc.get("tags") or {}).items()})
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
                         client_secret=secret("client_secret"), description=s.description,
                         tags={str(k): _text(v) for k, v in (s.tags or {}).items()})


def datastore_doc(spec: DatastoreSpec) -> dict[str, Any]:
    """A DatastoreSpec as the az ml document (--dry-run): secrets stay env:NAME references."""
    if spec.type == "local":  # leafctl's own kind: az ml has no schema for it
        doc: dict[str, Any] = {"name": spec.name, "type": "local", "path": spec.path}
    else:
        doc = {"$schema": SCHEMAS.get(spec.type), "name": spec.name, "type": spec.type, "account_name": spec.account_name}
        doc["filesystem" if spec.type == "azure_data_lake_gen2" else "container_name"] = spec.container_name
        doc.update(endpoint=spec.endpoint, protocol=spec.protocol)
        creds = {k: getattr(spec, k) for k in ("account_key", "sas_token", "tenant_id", "client_id", "client_secret")}
        creds = {k: v for k, v in creds.items() if v is not None}
        if creds:
            doc["credentials"] = creds
    doc.update(description=spec.description, tags=dict(spec.tags) or None)
    return {k: v for k, v in doc.items() if v is not None}
