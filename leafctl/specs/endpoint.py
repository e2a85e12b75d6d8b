"""Batch endpoint and batch deployment specs -> what Backend.create_endpoint takes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from leafctl.errors import UsageError
from leafctl.specs.load import _base, _set_path, _text, load, load_with_doc, local_path, parse_sets, read_doc


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
