"""Compute specs (amlcompute clusters, compute instances) -> the fields of a Compute record."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from leafctl.errors import UsageError
from leafctl.specs.load import _base, _set_path, _text, load, load_with_doc, local_path, parse_sets, read_doc


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
