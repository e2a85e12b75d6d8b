"""The CLI's flags as az ml v2 YAML fields: one mapping per kind, flag -> field.

Flags become ``params_override`` entries for azure-ai-ml's loaders, so a flag and the field it stands
for are validated the same way, and the order of precedence is file < flags < ``--set``.
Stdlib only: the CLI imports this before deciding whether azure-ai-ml is needed at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leafctl.backends.base import JobSpec

_AZ_TYPES = {"cluster": "amlcompute", "instance": "computeinstance"}


def compute_overrides(flags: dict[str, Any]) -> list[dict[str, Any]]:
    """Flags as az ml compute YAML overrides (they win over -f; --set wins over them)."""
    keys = {"name": "name", "type": "type", "size": "size", "min_nodes": "min_instances", "max_nodes": "max_instances",
            "idle_seconds": "idle_time_before_scale_down", "tier": "tier"}
    out = []
    for field, value in flags.items():
        if value is None or field not in keys:
            continue
        if field == "type":
            value = _AZ_TYPES.get(value, value)
        if field == "idle_seconds" and flags.get("type") == "instance":
            out.append({"idle_time_before_shutdown_minutes": max(1, round(value / 60))})
            continue
        out.append({keys[field]: value})
    return out


def job_overrides(spec: JobSpec) -> list[dict]:
    """The flags as az ml command job YAML overrides: they win over -f, and --set wins over them."""
    out: list[dict] = []
    for key, value in (("command", spec.command), ("code", spec.code), ("compute", spec.compute),
                       ("experiment_name", spec.experiment), ("display_name", spec.display_name),
                       ("environment", spec.environment)):
        if value:
            out.append({key: value})
    out += [{f"inputs.{k}": {"type": "uri_file" if Path(v).is_file() else "uri_folder", "path": v}} for k, v in spec.inputs.items()]
    out += [{f"outputs.{k}": {"type": "uri_folder", **({"path": v} if v else {})}} for k, v in spec.outputs.items()]
    out += [{f"environment_variables.{k}": v} for k, v in spec.env_vars.items()]
    out += [{f"tags.{k}": v} for k, v in spec.tags.items()]
    return out
