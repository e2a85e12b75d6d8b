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
    out += [{f"inputs.{k}": v} for k, v in spec.literals.items()]
    out += [{f"outputs.{k}": {"type": "uri_folder", **({"path": v} if v else {})}} for k, v in spec.outputs.items()]
    for key, value in (spec.doc or {}).items():  # --instance-count, --distribution, --timeout ...
        if isinstance(value, dict):
            out += [{f"{key}.{k}": v} for k, v in value.items()]
        else:
            out.append({key: value})
    out += [{f"environment_variables.{k}": v} for k, v in spec.env_vars.items()]
    out += [{f"tags.{k}": v} for k, v in spec.tags.items()]
    return out


# --- `run submit` flags that are az ml fields beyond the typed JobSpec ones -----------------------------

DISTRIBUTIONS = ("mpi", "pytorch", "tensorflow")
_LITERAL_BOOL = {"true": True, "false": False}


def is_input_path(value: str) -> bool:
    """The rule ``--input NAME=VALUE`` uses: VALUE is a path when it is an existing local path, an
    ``azureml:`` / ``azureml://`` / ``https://`` (or other ``scheme://``) reference, or contains '/';
    anything else is a literal (``epochs=10``, ``lr=0.01``, ``verbose=true``, ``mode=fast``)."""
    return (value.startswith("azureml:") or "://" in value or "/" in value or "\\" in value
            or Path(value).expanduser().exists())


def literal_value(value: str) -> Any:
    """A literal --input as az ml YAML would read it: an integer, a number, true/false, else the string."""
    import re

    if re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", value):
        return float(value)
    return _LITERAL_BOOL.get(value.lower(), value)


def parse_duration(value: str) -> int:
    """``--timeout``: seconds (``3600``) or a duration (``90m``, ``2h``, ``1h30m``, ``45s``, ``1d``) -> seconds."""
    import re

    text = value.strip().lower()
    if re.fullmatch(r"\d+", text):
        seconds = int(text)
    else:
        parts = re.findall(r"(\d+)\s*([dhms])", text)
        if not parts or re.sub(r"(\d+)\s*([dhms])", "", text).strip():
            raise ValueError(value)
        seconds = sum(int(n) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(value)
    return seconds


def job_extras(instance_count: int | None, distribution: str | None, process_count: int | None,
               timeout: int | None) -> dict[str, Any]:
    """The az ml fields --instance-count, --distribution, --process-count-per-instance and --timeout stand for.
    For tensorflow, ``worker_count`` = instances x processes per instance (az ml counts all workers)."""
    doc: dict[str, Any] = {}
    if instance_count is not None:
        doc["resources"] = {"instance_count": instance_count}
    if distribution:
        dist: dict[str, Any] = {"type": distribution}
        if distribution == "tensorflow":
            if process_count is not None or instance_count is not None:
                dist["worker_count"] = (instance_count or 1) * (process_count or 1)
        elif process_count is not None:
            dist["process_count_per_instance"] = process_count
        doc["distribution"] = dist
    if timeout is not None:
        doc["limits"] = {"timeout": timeout}
    return doc
