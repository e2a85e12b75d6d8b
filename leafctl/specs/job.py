"""Command job specs -> a JobSpec (flags as overrides; `${{...}}` checked; local paths relative to the YAML).

Every field of an az ml command job is carried (``FIELDS``): the typed ones (command, code, inputs and
outputs as paths, environment by reference, compute, experiment, display name, environment variables,
tags) become JobSpec fields, literal inputs go to ``JobSpec.literals``, and the whole validated document
is kept in ``JobSpec.doc`` (input/output types and modes, an inline environment, resources, distribution,
limits, services, identity, queue_settings, description, properties, name), which --dry-run prints and the
Azure backend sends. ``azureml:NAME@latest`` / ``azureml:NAME:1`` paths are read from the raw YAML:
azure-ai-ml's loader strips the ``azureml:`` prefix.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Sequence

from leafctl.errors import UsageError
from leafctl.specs import fields
from leafctl.specs.load import _base, _text, load_with_doc, local_path, parse_sets, read_doc

from leafctl.backends.base import JobSpec

C = fields.CARRY
FIELDS = {"job": {
    "$schema": C, "type": C, "name": C, "display_name": C, "experiment_name": C, "description": C, "tags": C,
    "properties": C, "command": C, "code": C, "inputs": C, "outputs": C, "environment": C, "compute": C,
    "environment_variables": C, "resources": C, "distribution": C, "limits": C, "services": C, "identity": C,
    "queue_settings": C,
    "parent_job_name": "names the pipeline a job step belongs to; leafctl submits standalone command jobs "
                       "(submit the pipeline with az ml job create)",
}}

_NO_ENV = "azureml:leafctl-no-environment@latest"
LITERAL_TYPES = {"integer": int, "number": float, "string": str, "boolean": bool}
# Fields whose values leafctl turns into typed JobSpec fields; everything else rides in JobSpec.doc.
_TYPED = ("command", "code", "compute", "experiment_name", "display_name", "environment_variables", "tags")


def _literal(name: str, value: dict[str, Any], where: str) -> Any:
    """``{type: integer, default: 10}`` (the component form, which az ml command jobs reject) -> 10."""
    kind = str(value.get("type"))
    key = "value" if "value" in value else "default"
    if key not in value:
        raise UsageError(f"{where}: input {name!r} of type {kind} has no value", f"write it as a literal, e.g. {name}: 10")
    raw = value[key]
    extra = sorted(set(value) - {"type", key, "description", "optional"})
    if extra:
        raise UsageError(f"{where}: input {name!r}: {', '.join(extra)} not allowed on a {kind} input", f"write it as a literal, e.g. {name}: {raw!r}")
    try:
        if kind == "boolean":
            if isinstance(raw, str) and raw.lower() in ("true", "false"):
                return raw.lower() == "true"
            if not isinstance(raw, bool):
                raise ValueError
            return raw
        if kind == "integer" and (isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer())):
            raise ValueError
        return LITERAL_TYPES[kind](raw)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: input {name!r}: {raw!r} is not a valid {kind}", f"give a {kind} value") from None


def _fold_literals(doc: dict[str, Any], where: str) -> None:
    inputs = doc.get("inputs")
    if isinstance(inputs, dict):
        for name, value in list(inputs.items()):
            if isinstance(value, dict) and str(value.get("type")) in LITERAL_TYPES:
                inputs[name] = _literal(str(name), value, where)


def _abs_env(env: dict[str, Any], base: Path | None) -> dict[str, Any]:
    """An inline environment with its local files (conda_file, build.path) relative to the YAML made absolute."""
    env = copy.deepcopy(env)
    if isinstance(env.get("conda_file"), str):
        env["conda_file"] = local_path(env["conda_file"], base)
    build = env.get("build")
    if isinstance(build, dict) and isinstance(build.get("path"), str):
        build["path"] = local_path(build["path"], base)
    return env


def _file_env(ref: str, base: Path | None, where: str) -> dict[str, Any]:
    """``environment: file:./env.yml`` (azureml-examples gpu_perf_job.yml) -> the environment spec it names,
    as an inline mapping: read relative to the job YAML (the working directory for flags), validated as an
    az ml environment, its conda file and build context made absolute relative to its own folder."""
    from leafctl.specs import assets

    rel = ref[len("file:"):]
    path = Path(rel).expanduser()
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    if not path.is_file():
        raise UsageError(f"{where}: environment {ref!r}: {path} not found",
                         "give environment: file:<an environment YAML next to the job spec>, azureml:NAME@latest or an inline mapping")
    env = read_doc(path)
    fields.refuse("environment", env, f"{where}: environment {ref}")
    load_with_doc("environment", path, doc=copy.deepcopy(env))  # validated as az ml validates an environment spec
    env.pop("$schema", None)
    if "version" in env:
        env["version"] = str(env["version"])
    return _abs_env(env, path.resolve().parent)


def env_label(env: Any) -> str:
    """How a note names an environment: a reference as written, an inline one by its image or build context."""
    if isinstance(env, dict):
        build = env.get("build") if isinstance(env.get("build"), dict) else {}
        return str(env.get("image") or (f"built from {build.get('path')}" if build.get("path") else "inline"))
    return str(env)


def job_from_file(file: str | Path | None, sets: Sequence[str] | None = None,
                  overrides: Sequence[dict[str, Any]] | None = None, extra: dict[str, Any] | None = None,
                  offline: bool = False) -> JobSpec:
    """A JobSpec from an az ml command job YAML (flags as overrides). Every ``${{...}}`` must name a
    declared input or output, local paths are relative to the YAML's folder; refused fields exit 2.
    ``offline``: checked by leafctl.specs.job_offline instead of azure-ai-ml's loader (--dry-run: no
    seconds-long SDK import; the submission itself validates with the SDK)."""
    from leafctl.specs import check_command

    where = str(file) if file else "the flags"
    raw = read_doc(file) if file else {}
    fields.refuse("job", raw, where)
    params = [*(overrides or []), *parse_sets(sets)]
    for o in params:
        for k in o:
            if k == "type":
                raw["type"] = o[k]
    for o in params:
        fields.refuse("job", {k.split(".")[0]: v for k, v in o.items()}, where)
    if isinstance(raw.get("environment"), str) and raw["environment"].startswith("file:"):
        raw["environment"] = _file_env(raw["environment"], _base(file), where)
    for o in params:  # --set environment=file:env.yml: relative to the working directory, as flags are
        if isinstance(o.get("environment"), str) and o["environment"].startswith("file:"):
            o["environment"] = _file_env(o["environment"], None, where)
    kind = str(raw.get("type") or "command")
    if kind != "command":
        raise UsageError(f"{where}: type {kind!r} is not supported", "leafctl runs command jobs (type: command)")
    _fold_literals(raw, where)
    params = [{k: v} for o in params for k, v in o.items()]
    for o in params:  # --set inputs.x={type: integer, default: 3} / --input-built literals fold the same way
        for k, v in o.items():
            if k.startswith("inputs.") and k.count(".") == 1 and isinstance(v, dict) and str(v.get("type")) in LITERAL_TYPES:
                o[k] = _literal(k[7:], v, where)
    job = None
    if offline:
        from leafctl.specs import job_offline
        from leafctl.specs.load import apply_overrides

        doc = copy.deepcopy(raw) if file else {}
        apply_overrides(doc, params)
        try:
            job = job_offline.check(doc, where, _base(file))
        except job_offline.Unsure:
            pass  # a shape only azure-ai-ml can judge: its loader decides, below
    if job is None:
        # A dry run signs in nowhere, so it does not need the profile's secret (sign_in=False).
        job, doc = load_with_doc("job", file, None, params, lend={"environment": _NO_ENV}, doc=raw if file else None,
                                 sign_in=not offline)
    _fold_literals(doc, where)
    base = _base(file)
    inputs: dict[str, str] = {}
    literals: dict[str, Any] = {}
    for name, value in (doc.get("inputs") or {}).items():
        name = str(name)
        if isinstance(value, dict):
            path = value.get("path")
            if path is None:
                raise UsageError(f"{where}: input {name!r} has no path", "give path: (a folder, a file, or azureml:NAME:VERSION)")
            inputs[name] = local_path(str(path), base)
        elif value is None:
            raise UsageError(f"{where}: input {name!r} has no value", f"give a path ({name}: {{path: ./data}}) or a literal ({name}: 10)")
        elif isinstance(value, str) and value.startswith("azureml:"):
            # `cifar: azureml:cifar-10-example:1`, as azureml-examples write a data input: an asset reference
            inputs[name] = value
        else:  # a literal: number, integer, boolean or string, as az ml reads a bare value
            literals[name] = value
    outputs: dict[str, str | None] = {}
    for name, v in (doc.get("outputs") or {}).items():
        path = v.get("path") if isinstance(v, dict) else None
        outputs[str(name)] = local_path(str(path), base) if path else None
    env = doc.get("environment")
    code = job.code if isinstance(job.code, str) else None
    if isinstance(doc.get("code"), dict) and doc["code"].get("local_path"):  # the old `code: {local_path: src}` form
        code = str(doc["code"]["local_path"])
    kept = {k: copy.deepcopy(v) for k, v in doc.items() if k not in _TYPED and not (k == "environment" and not isinstance(v, dict))}
    if isinstance(kept.get("environment"), dict):
        kept["environment"] = _abs_env(kept["environment"], base)
    spec = JobSpec(
        command=str(job.command or ""), code=local_path(code, base) if code else None, inputs=inputs,
        outputs=outputs, environment=str(env) if isinstance(env, str) else None,
        compute=str(job.compute).removeprefix("azureml:") if job.compute else None,
        experiment=job.experiment_name, display_name=job.display_name,
        env_vars={str(k): _text(v) for k, v in (job.environment_variables or {}).items()},
        tags={str(k): _text(v) for k, v in (job.tags or {}).items()},
        literals=literals, doc=kept,
    )
    check_command(spec)
    return spec


def timeout_seconds(spec: JobSpec) -> float | None:
    """``limits.timeout`` in seconds (az ml gives an integer number of seconds), or None."""
    limits = (spec.doc or {}).get("limits")
    value = limits.get("timeout") if isinstance(limits, dict) else None
    return float(value) if value not in (None, "") else None


def distribution(spec: JobSpec) -> tuple[str | None, int, int]:
    """(type, instance_count, processes per instance) of a job: (None, 1, 1) when it is not distributed.
    tensorflow's ``worker_count`` is the total number of workers (spread over the instances)."""
    doc = spec.doc or {}
    dist = doc.get("distribution") if isinstance(doc.get("distribution"), dict) else {}
    res = doc.get("resources") if isinstance(doc.get("resources"), dict) else {}
    count = int(res.get("instance_count") or 1)
    kind = str(dist.get("type")).lower() if dist.get("type") else None
    if kind == "tensorflow":
        workers = int(dist.get("worker_count") or count)
        return kind, 1, max(workers, 1)
    per = int(dist.get("process_count_per_instance") or 1)
    return kind, max(count, 1), max(per, 1)
