"""Data asset, model and environment specs -> the records and kwargs the Backend protocol takes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from leafctl.errors import UsageError
from leafctl.specs.load import _base, _set_path, _text, load, load_with_doc, local_path, parse_sets, read_doc

from leafctl.backends.base import Environment


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
