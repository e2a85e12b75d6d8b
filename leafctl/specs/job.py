"""Command job specs -> a JobSpec (flags as overrides; `${{...}}` checked; local paths relative to the YAML)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from leafctl.errors import UsageError
from leafctl.specs.load import _base, _set_path, _text, load, load_with_doc, local_path, parse_sets, read_doc

from leafctl.backends.base import JobSpec


_NO_ENV = "azureml:leafctl-no-environment@latest"
_INPUT_TYPES = {"uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model", "triton_model"}


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
    job, doc = load_with_doc("job", file, sets, overrides, lend={"environment": _NO_ENV}, doc=raw if file else None)
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
