"""az ml v2 YAML specs -> records: command jobs (JobSpec) and batch endpoints.

Shared by both backends and the CLI, so a spec that validates here runs the same locally and on Azure.
``--set key=value`` overrides use dotted keys on the raw document (``inputs.data.path=./other``), with
the value read as a YAML scalar, before validation. Relative paths in a file are relative to the file,
as in ``az ml``; flags' paths are relative to the working directory. pyyaml is imported on demand.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from leafctl.backends.base import JobSpec
from leafctl.errors import UsageError

PLACEHOLDER = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
_BINDING = re.compile(r"^(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

JOB_KEYS = {"$schema", "type", "name", "code", "command", "inputs", "outputs", "compute", "experiment_name",
            "environment", "environment_variables", "display_name", "description", "tags", "resources",
            "distribution", "limits", "identity", "services", "queue_settings"}
ENDPOINT_KEYS = {"$schema", "name", "description", "model", "compute", "endpoint_name", "type", "tags",
                 "resources", "mini_batch_size", "output_file_name", "instance_count", "max_concurrency_per_instance",
                 "retry_settings", "error_threshold", "logging_level", "environment", "code_configuration", "settings"}
# Env var names whose literal values are hidden in printed specs (references env:NAME are shown).
_SECRETISH = re.compile(r"(?i)(secret|password|passwd|token|key|credential|sas|connection)")


def strip_azureml(value: str | None) -> str | None:
    """``azureml:cpu-cluster`` -> ``cpu-cluster`` (compute references); other values unchanged."""
    if value and value.startswith("azureml:") and not value.startswith("azureml://"):
        return value[len("azureml:"):]
    return value


def placeholders(command: str) -> list[str]:
    return PLACEHOLDER.findall(command)


def check_command(spec: JobSpec) -> None:
    """Every ``${{...}}`` must name a declared input or output: unknown -> UsageError (exit 2)."""
    if not spec.command or not spec.command.strip():
        raise UsageError("the job has no command", "give --command \"...\" or `command:` in the job YAML")
    for name in (*spec.inputs, *spec.outputs):
        if not _NAME.match(name):
            raise UsageError(f"invalid input/output name {name!r}", "use letters, digits and '_', not starting with a digit")
    for ref in placeholders(spec.command):
        m = _BINDING.match(ref)
        declared = spec.inputs if m and m.group(1) == "inputs" else spec.outputs
        if not m or m.group(2) not in declared:
            known = [f"inputs.{n}" for n in spec.inputs] + [f"outputs.{n}" for n in spec.outputs]
            raise UsageError(f"the command refers to ${{{{{ref}}}}}, which the job does not declare",
                             f"declare it with --input/--output (declared: {', '.join(known) or 'none'})")


def substitute(command: str, values: dict[str, str]) -> str:
    """Replace ``${{inputs.x}}``/``${{outputs.y}}`` with ``values['inputs.x']``; raw, as Azure ML does."""
    def one(m: re.Match) -> str:
        key = m.group(1)
        if key not in values:
            raise UsageError(f"the command refers to ${{{{{key}}}}}, which the job does not declare", "declare it with --input/--output")
        return values[key]

    return PLACEHOLDER.sub(one, command)


def apply_sets(doc: dict[str, Any], sets: Sequence[str] | None) -> dict[str, Any]:
    import yaml

    for item in sets or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r} is not key=value", "e.g. --set compute=azureml:cpu-cluster")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        parts = key.strip().split(".")
        node = doc
        for p in parts[:-1]:
            nxt = node.get(p)
            if nxt is None:
                nxt = node[p] = {}
            if not isinstance(nxt, dict):
                # e.g. `inputs.data.path=...` when `inputs.data` was a bare string: promote it.
                nxt = node[p] = {"path": nxt} if isinstance(nxt, str) else None
                if nxt is None:
                    raise UsageError(f"--set {key}: {'.'.join(parts[:-1])} is not a mapping", "set the whole value instead")
            node = nxt
        node[parts[-1]] = value
    return doc


def read_yaml(path: str | Path) -> dict[str, Any]:
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        from leafctl.errors import NotFound

        raise NotFound(f"spec file {p} not found", "check the path given to -f/--file") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise UsageError(f"spec file {p} is not a UTF-8 YAML file", "give a .yml file to -f/--file") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UsageError(f"{p}: invalid YAML{where}: {getattr(e, 'problem', None) or e}", "fix the file") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise UsageError(f"{p}: the spec must be a YAML mapping", "see the az ml v2 command job schema")
    return doc


def _unknown(doc: dict, allowed: set[str], where: str) -> None:
    for k in doc:
        if k not in allowed:
            import difflib

            close = difflib.get_close_matches(str(k), allowed, n=1)
            raise UsageError(f"{where}: unknown key {k!r}", f"did you mean {close[0]}?" if close else "see the az ml v2 schema")


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{what} must be a mapping of names to values", f"e.g. {what}: {{key: value}}")
    return {str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}


def _rel(path: str, base: Path | None) -> str:
    """Paths in a YAML file are relative to the file, as in az ml. URIs, asset references and relative
    paths that exist nowhere near the file (paths in the default datastore) are left alone."""
    if base is None or path.startswith("azureml:") or "://" in path or Path(path).expanduser().is_absolute():
        return path
    near = base / path
    return str(near.resolve()) if near.exists() else path


def job_from_doc(doc: dict[str, Any], base: Path | None = None, where: str = "job spec") -> JobSpec:
    _unknown(doc, JOB_KEYS, where)
    kind = doc.get("type", "command")
    if kind != "command":
        raise UsageError(f"{where}: type {kind!r} is not supported", "only `type: command` jobs can be submitted")
    inputs: dict[str, str] = {}
    raw_inputs = doc.get("inputs") or {}
    if not isinstance(raw_inputs, dict):
        raise UsageError(f"{where}: inputs must be a mapping", "e.g. inputs: {data: {type: uri_folder, path: ./data}}")
    for name, val in raw_inputs.items():
        if isinstance(val, dict) and val.get("type") in ("integer", "number", "string", "boolean"):
            raise UsageError(f"{where}: input {name!r} is a literal ({val['type']}); literal inputs are not supported yet",
                             "pass the value in the command or as an environment variable")
        if isinstance(val, dict):
            path = val.get("path")
            if path is None:
                raise UsageError(f"{where}: input {name!r} has no path", "give `path:` (a folder, a file, or azureml:NAME:VERSION)")
            val = path
        if not isinstance(val, str):
            raise UsageError(f"{where}: input {name!r} is not a path (literal inputs are not supported yet)",
                             "give a path or a mapping with `path:`; pass values in the command or as environment variables")
        inputs[str(name)] = _rel(val, base)
    outputs: dict[str, str | None] = {}
    raw_outputs = doc.get("outputs") or {}
    if not isinstance(raw_outputs, dict):
        raise UsageError(f"{where}: outputs must be a mapping", "e.g. outputs: {model: {type: uri_folder}}")
    for name, val in raw_outputs.items():
        dest = val.get("path") if isinstance(val, dict) else val
        outputs[str(name)] = _rel(str(dest), base) if dest else None
    code = doc.get("code")
    spec = JobSpec(
        command=str(doc.get("command") or "").strip(),
        code=_rel(str(code), base) if code else None,
        inputs=inputs,
        outputs=outputs,
        environment=doc.get("environment") if isinstance(doc.get("environment"), str) else None,
        compute=strip_azureml(str(doc["compute"])) if doc.get("compute") else None,
        experiment=str(doc["experiment_name"]) if doc.get("experiment_name") else None,
        display_name=str(doc["display_name"]) if doc.get("display_name") else None,
        env_vars=_str_map(doc.get("environment_variables"), "environment_variables"),
        tags=_str_map(doc.get("tags"), "tags"),
    )
    check_command(spec)
    return spec


def load_job(path: str | Path, sets: Sequence[str] | None = None) -> JobSpec:
    doc = apply_sets(read_yaml(path), sets)
    return job_from_doc(doc, base=Path(path).resolve().parent, where=str(path))


def job_to_doc(spec: JobSpec) -> dict[str, Any]:
    """The resolved spec in az ml's shape, for --dry-run. Literal secret-looking env values are hidden."""
    doc: dict[str, Any] = {"$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json", "type": "command"}
    if spec.code:
        doc["code"] = spec.code
    doc["command"] = spec.command
    if spec.inputs:
        doc["inputs"] = {k: {"path": v} for k, v in spec.inputs.items()}
    if spec.outputs:
        doc["outputs"] = {k: ({"type": "uri_folder", "path": v} if v else {"type": "uri_folder"}) for k, v in spec.outputs.items()}
    if spec.environment:
        doc["environment"] = spec.environment
    if spec.compute:
        doc["compute"] = f"azureml:{spec.compute}" if spec.compute != "local" else "local"
    if spec.experiment:
        doc["experiment_name"] = spec.experiment
    if spec.display_name:
        doc["display_name"] = spec.display_name
    if spec.env_vars:
        doc["environment_variables"] = {k: redact_env(k, v) for k, v in spec.env_vars.items()}
    if spec.tags:
        doc["tags"] = dict(spec.tags)
    return doc


def redact_env(key: str, value: str) -> str:
    if value.startswith("env:") or not _SECRETISH.search(key):
        return value
    return "<redacted>"


def parse_model_ref(ref: str) -> tuple[str, str | None]:
    """``NAME:VERSION``, ``azureml:NAME:VERSION``, ``NAME@latest`` or ``NAME`` -> (name, version|None)."""
    r = ref[len("azureml:"):] if ref.startswith("azureml:") else ref
    if "@" in r:
        name, _, label = r.partition("@")
        if label != "latest":
            raise UsageError(f"model reference {ref!r}: only the label @latest is supported", "use NAME:VERSION or NAME@latest")
        version = None
    else:
        name, _, version = r.partition(":")
        version = version or None
    if not name or "/" in name:
        raise UsageError(f"invalid model reference {ref!r}", "use NAME:VERSION, e.g. --model leaf-esp:1")
    return name, version


def load_endpoint(path: str | Path, sets: Sequence[str] | None = None) -> dict[str, Any]:
    """A batch endpoint/deployment YAML (the deployment's ``model`` and ``compute`` on one document)."""
    doc = apply_sets(read_yaml(path), sets)
    return endpoint_from_doc(doc, where=str(path))


def endpoint_from_doc(doc: dict[str, Any], where: str = "endpoint spec") -> dict[str, Any]:
    _unknown(doc, ENDPOINT_KEYS, where)
    name = doc.get("name") or doc.get("endpoint_name")
    if not name:
        raise UsageError(f"{where}: the endpoint has no name", "give NAME or `name:` in the YAML")
    model = doc.get("model")
    if isinstance(model, dict):
        raise UsageError(f"{where}: model must reference a registered model", "e.g. model: azureml:leaf-esp:1")
    if not model:
        raise UsageError(f"{where}: the endpoint has no model", "give --model NAME:VERSION or `model: azureml:NAME:VERSION`")
    parse_model_ref(str(model))
    compute = doc.get("compute")
    return {"name": str(name), "model": str(model), "compute": strip_azureml(str(compute)) if compute else None}
