"""Workspace specs (az ml workspace YAML) -> (name, location, extra), and back.

Every field of azure-ai-ml's WorkspaceSchema is carried or refused (``FIELDS``). ``name`` and ``location``
are the Workspace record's own; every other field given is kept as written in ``Workspace.extra``: the Azure
backend loads the whole document into azure-ai-ml's Workspace entity for ``workspaces.begin_create``; the local
backend records it in the workspace folder (description, display_name and tags are shown; the rest has no
effect locally, and says so once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from leafctl.specs import fields as _fields
from leafctl.specs.load import _plain, load_with_doc, read_doc

C = _fields.CARRY
FIELDS = {"workspace": {
    "$schema": C, "name": C, "location": C, "resource_group": C, "description": C, "display_name": C, "tags": C,
    "hbi_workspace": C, "storage_account": C, "container_registry": C, "key_vault": C, "application_insights": C,
    "customer_managed_key": C, "image_build_compute": C, "public_network_access": C, "network_acls": C,
    "system_datastores_auth_mode": C, "identity": C, "primary_user_assigned_identity": C, "managed_network": C,
    "provision_network_now": C, "enable_data_isolation": C, "allow_roleassignment_on_rg": C, "serverless_compute": C,
    "discovery_url": "is the workspace's service endpoint, which Azure sets; leave it out",
    "workspace_hub": "makes a project of an AI Foundry hub, which leafctl does not manage; create a plain Azure ML workspace",
}}
LOCAL_MEANING = {"$schema", "description", "display_name", "tags"}
SCHEMA = "https://azuremlschemas.azureedge.net/latest/workspace.schema.json"


def workspace_from_file(file: str | Path | None, sets: Sequence[str] | None = None,
                        overrides: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    """{name, location, extra} from an az ml workspace YAML (flags as overrides, --set over them)."""
    where = str(file) if file else "the flags"
    raw = read_doc(file) if file else {}
    _fields.refuse("workspace", raw, where)
    ws, doc = load_with_doc("workspace", file, sets, overrides, doc=raw if file else None)
    _fields.refuse("workspace", doc, where)
    extra = {k: _plain(v) for k, v in doc.items() if k not in ("name", "location") and v is not None}
    return {"name": ws.name, "location": ws.location, "extra": extra}


def no_local_effect(extra: dict[str, Any]) -> list[str]:
    return [k for k in extra if k not in LOCAL_MEANING]


def workspace_doc(name: str, location: str | None, extra: dict[str, Any] | None) -> dict[str, Any]:
    """The az ml document of a workspace (what --dry-run prints, what the Azure backend loads)."""
    extra = dict(extra or {})
    doc: dict[str, Any] = {}
    if "$schema" in extra:
        doc["$schema"] = extra.pop("$schema")
    doc["name"] = name
    if location:
        doc["location"] = location
    doc.update(extra)
    return doc


def workspace_entity(name: str, location: str | None, extra: dict[str, Any] | None) -> Any:
    doc = workspace_doc(name, location, extra)
    doc.pop("$schema", None)
    return load_with_doc("workspace", None, overrides=[{k: v} for k, v in doc.items()])[0]
