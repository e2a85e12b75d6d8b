"""Compute specs (amlcompute clusters, compute instances) -> the fields of a Compute record, and back.

Every field of azure-ai-ml's AmlComputeSchema and ComputeInstanceSchema is carried (``FIELDS``): the ones
leafctl models (size, node counts, idle time, tier) become Compute fields, all others are kept as written in
``Compute.extra``; ``compute_doc`` turns a record back into the az ml document that --dry-run prints and the
Azure backend loads into the entity it sends. Secrets (``ssh_settings.admin_password``) are env:NAME only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from leafctl.errors import UsageError
from leafctl.specs import fields as _fields
from leafctl.specs.load import _plain, load_with_doc, read_doc

C = _fields.CARRY
_COMMON = {"$schema": C, "name": C, "type": C, "size": C, "description": C, "tags": C, "location": C, "identity": C,
           "network_settings": C, "ssh_settings": C, "ssh_public_access_enabled": C, "enable_node_public_ip": C,
           "resource_id": "names an existing compute to attach (az ml compute attach); leafctl creates clusters "
                          "and instances, it does not attach them"}
FIELDS = {"compute": {
    **_COMMON,
    # clusters
    "min_instances": C, "max_instances": C, "idle_time_before_scale_down": C, "tier": C,
    # instances
    "idle_time_before_shutdown": C, "idle_time_before_shutdown_minutes": C, "schedules": C, "setup_scripts": C,
    "custom_applications": C, "create_on_behalf_of": C, "enable_sso": C, "enable_root_access": C,
    "enable_os_patching": C, "release_quota_on_stop": C,
}}
# Fields a Compute record models itself (everything else lives in Compute.extra, as written).
TYPED = {"cluster": ("name", "type", "size", "min_instances", "max_instances", "idle_time_before_scale_down", "tier"),
         "instance": ("name", "type", "size")}
# extra fields that mean something locally: recorded and shown (the rest: recorded, "no effect locally").
LOCAL_MEANING = {"$schema", "description", "tags", "idle_time_before_shutdown", "idle_time_before_shutdown_minutes"}
SCHEMAS = {"cluster": "https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json",
           "instance": "https://azuremlschemas.azureedge.net/latest/computeInstance.schema.json"}


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


def check_secrets(extra: dict[str, Any], where: str) -> None:
    """ssh_settings.admin_password must be an env:NAME reference (it is printed and stored as given)."""
    from leafctl.profiles import is_reference

    ssh = extra.get("ssh_settings")
    pw = ssh.get("admin_password") if isinstance(ssh, dict) else None
    if pw is not None and not is_reference(pw):
        raise UsageError(f"{where}: ssh_settings.admin_password must be a reference to an environment variable, "
                         "not a literal secret", "export it and write admin_password: env:NAME")


def compute_from_file(file: str | Path | None, sets: Sequence[str] | None = None,
                      overrides: Sequence[dict[str, Any]] | None = None) -> tuple[dict[str, Any], list[str]]:
    """(Compute fields the spec gives, []) — every field is carried: typed ones as Compute fields, the rest in
    ``extra`` as written. Fields left out are absent, so the caller fills them from the profile; ``type``
    defaults to amlcompute (a cluster). (The second item, once the keys leafctl ignored, stays for callers.)"""
    where = str(file) if file else "the flags"
    raw = read_doc(file) if file else {}
    _fields.refuse("compute", raw, where)
    c, doc = load_with_doc("compute", file, sets, overrides, lend={"type": "amlcompute"}, doc=raw if file else None)
    _fields.refuse("compute", doc, where)
    kind = str(c.type or "").lower()
    if kind not in ("amlcompute", "computeinstance"):
        raise UsageError(f"compute type {c.type!r} in {where} is not supported", "use type: amlcompute (a cluster) or computeinstance")
    rtype = "cluster" if kind == "amlcompute" else "instance"
    if rtype == "instance" and doc.get("location") is not None:
        # azure-ai-ml replaces it with the workspace's region (a warning, then dropped): say so instead.
        raise UsageError(f"{where}: location: a compute instance is always created in its workspace's region",
                         "remove location (it applies to clusters only)")
    fields: dict[str, Any] = {"name": c.name, "type": rtype}
    if c.size:
        fields["size"] = c.size
    if rtype == "cluster":
        given = {"min_instances": "min_nodes", "max_instances": "max_nodes", "idle_time_before_scale_down": "idle_seconds"}
        fields.update({field: getattr(c, key) for key, field in given.items() if key in doc})
        if "tier" in doc and c.tier:
            fields["tier"] = str(c.tier).replace("-", "_").lower().replace("lowpriority", "low_priority")
    elif doc.get("idle_time_before_shutdown_minutes") is not None:
        fields["idle_seconds"] = int(c.idle_time_before_shutdown_minutes) * 60
    elif doc.get("idle_time_before_shutdown") is not None:
        fields["idle_seconds"] = _duration_seconds(c.idle_time_before_shutdown)
    extra = {k: _plain(v) for k, v in doc.items() if k not in TYPED[rtype] and v is not None}
    check_secrets(extra, where)
    fields["extra"] = extra
    return {k: v for k, v in fields.items() if v is not None}, []


def no_local_effect(extra: dict[str, Any]) -> list[str]:
    """The extra fields the local backend records but cannot apply."""
    return [k for k in extra if k not in LOCAL_MEANING]


def compute_doc(c: Any) -> dict[str, Any]:
    """A Compute record as the az ml document (what --dry-run prints, what the Azure backend loads)."""
    extra = dict(getattr(c, "extra", None) or {})
    doc: dict[str, Any] = {}
    if "$schema" in extra:
        doc["$schema"] = extra.pop("$schema")
    doc["name"] = c.name
    if c.type == "cluster":
        doc["type"] = "amlcompute"
        if c.size:
            doc["size"] = c.size
        doc.update(min_instances=c.min_nodes, max_instances=c.max_nodes, idle_time_before_scale_down=c.idle_seconds,
                   tier=c.tier)
    else:
        doc["type"] = "computeinstance"
        if c.size:
            doc["size"] = c.size
    doc.update(extra)
    return doc


def compute_entity(c: Any) -> Any:
    """The azure-ai-ml entity for a Compute record, loaded from its document (secrets resolved only here)."""
    import copy

    from leafctl.profiles import resolve_secret

    doc = copy.deepcopy(compute_doc(c))
    doc.pop("$schema", None)
    ssh = doc.get("ssh_settings")
    if isinstance(ssh, dict) and ssh.get("admin_password") is not None:
        ssh["admin_password"] = resolve_secret(ssh["admin_password"], "ssh_settings.admin_password")
    return load_with_doc("compute", None, overrides=[{k: v} for k, v in doc.items()])[0]
